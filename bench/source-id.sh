#!/usr/bin/env bash
# bench/source-id.sh: one line naming the sources a bundle is built from (src, kernels, pom.xml, by content), so that
# bench/gpu-proof.sh can tell, on a machine without git, whether .gpu was made from the tree beside it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
find src kernels pom.xml -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
