#!/usr/bin/env bash
# Trains microgpt on the GPU, e.g. ./run-gpu.sh --n-embd 64 --block-size 64. Every argument goes to the trainer
# (--help lists them); without a usable GPU it says why and exits 1. MICROGPT_GPU=emulated runs it on the emulated CUDA
# device (the kernels on the CPU, for development without a GPU; see bin/microgpt).
exec "$(dirname "${BASH_SOURCE[0]}")/bin/microgpt" --device gpu "$@"
