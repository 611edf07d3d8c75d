#!/usr/bin/env bash
# bench/source-id.sh: one line naming the sources a bundle is built from (src, kernels, pom.xml, by content), so that
# bench/gpu-proof.sh can tell, on a machine without git, whether .gpu was made from the tree beside it. The files are
# those a copy of the working tree carries: git's tracked and untracked-but-not-ignored ones where git can say, else all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z -co --exclude-standard -- src kernels pom.xml
else
  find src kernels pom.xml -type f -print0
fi | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
