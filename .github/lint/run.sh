#!/usr/bin/env bash
# Lints docker/Dockerfile, .dockerignore and .github/workflows/*.yml offline (see lint.cjs): installs the pinned
# linters from npm into .github/lint/node_modules (git-ignored) when they are missing or package-lock.json changed,
# then runs them. Needs Node.js 18+ and npm; .ci/run and .github/workflows/ci.yml run it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "lint: node and npm are needed" >&2
  exit 1
fi
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.microgpt-lock-sha256 2> /dev/null)" != "$lock" ]; then
  # One retry: a registry hiccup alone should not fail CI.
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error \
    || { sleep 5; npm ci --no-audit --no-fund --ignore-scripts --loglevel=error; }
  echo "$lock" > node_modules/.microgpt-lock-sha256
fi
exec node lint.cjs
