#!/usr/bin/env bash
# Trains microgpt on the CPU; defaults reproduce microgpt.py. Every argument goes to the trainer (--help lists them).
exec "$(dirname "${BASH_SOURCE[0]}")/bin/microgpt" --device cpu "$@"
