#!/usr/bin/env bash
# Trains microgpt on the GPU, e.g. ./run-gpu.sh --n-embd 64 --block-size 64. Every argument goes to the trainer
# (--help lists them); without a usable GPU it says why and exits 1.
exec "$(dirname "${BASH_SOURCE[0]}")/bin/microgpt" --device gpu "$@"
