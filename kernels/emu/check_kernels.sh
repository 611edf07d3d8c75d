#!/usr/bin/env bash
# Checks every kernel in kernels/*.cu against a float64 reference (the formulas of the Java CPU twins in
# dev.microgpt.ops) by running the kernels on the host through cuda_emu.h. No GPU or nvcc needed: g++ >= 12.
# Usage: kernels/emu/check_kernels.sh [work-dir]      prints "N passed, N failed"; exit status 1 on failure.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$(dirname "$here")"
if [[ $# -ge 1 ]]; then
    work="$1"
else
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/src"
# The one construct the emulator cannot express as a macro: dynamic shared memory.
for f in "$kernels"/*.cu "$kernels"/*.cuh; do
    sed -E 's/extern __shared__ ([A-Za-z_0-9]+) ([A-Za-z_0-9]+)\[\];/\1* \2 = (\1*) emu_dynamic_smem();/' \
        "$f" > "$work/src/$(basename "$f")"
done
: > "$work/src/cuda_runtime.h"
: > "$work/src/cooperative_groups.h"  # cuda_emu.h defines the namespace
g++ -std=c++20 -O1 -pthread -include "$here/cuda_emu.h" -I"$work/src" -I"$here" \
    -o "$work/check_kernels" "$here/check_kernels.cpp"
"$work/check_kernels"
