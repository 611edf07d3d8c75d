#!/usr/bin/env bash
# The proof on real hardware, in one command on a CUDA machine (see bench/README.md):
#   1. what the machine has (GPU, driver, the bundle's Java, libcuda/libcublas, compute-sanitizer);
#   2. the whole GPU test suite (JUnit tag gpu) from the bundle made by ../shared/tools/gpu-bundle.sh (.gpu/);
#   3. compute-sanitizer memcheck, racecheck and synccheck over 20-step GPU runs: eager at 64/64, and the fused step
#      at 16/16 (one block, activations in shared memory) and 64/64 (a cooperative grid);
#   4. 1000-step runs at 16/16 and 64/64 on the GPU (eager, graph, fused), and the same on the CPU fast engine;
#   5. the benchmark harness (bench/run.sh --quick: 16/16 and 64/64): ms/step, launches, GPU busy time of every engine
#      and mode.
# Writes $OUT (default bench/out/gpu-proof): summary.md, results.json (the harness's rows; BenchReport redraws the
# chart from it on a machine with AWT) and logs-STAGES.tar.gz (every log, the JUnit XML reports, the harness's
# outputs).
# Usage, from the repository root: bench/gpu-proof.sh [STAGE ...]   (needs .gpu/ and .gpu/shared/data/names.txt)
#   STAGE: tests, sanitizer, runs, bench (default: all four, in that order; step 1 always runs). At their time limits
#   the stages take at most 5, 9, 4 and 9 minutes, so on a machine that allows 10 minutes a command, run them as
#   `tests runs`, then `sanitizer`, then `bench`; each command writes summary.md afresh, starting with step 1.
# Each stage has its own time limit (seconds, below), so that within a 10-minute command a hung stage costs only
# itself and the summary is always written; a stage that ran out says "exit 124".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
out=${OUT:-bench/out/gpu-proof}
logs=$(mktemp -d)
mkdir -p "$out"
names=.gpu/shared/data/names.txt
summary="$out/summary.md"
stages=${*:-tests sanitizer runs bench}
for stage in $stages; do
  case "$stage" in tests|sanitizer|runs|bench) ;; *) echo "gpu-proof.sh: unknown stage $stage" >&2; exit 2 ;; esac
done
wants() { [[ " $stages " == *" $1 "* ]]; }
export JAVA_OPTS="-Dmicrogpt.test.classpath=$root/.gpu/classes:$root/.gpu/lib/* -Dmicrogpt.shared=$root/.gpu/shared"

{
  echo "# GPU proof ($stages): $(date -u +%Y-%m-%dT%H:%MZ), commit $(cat .gpu/commit 2>/dev/null || git rev-parse --short HEAD 2>/dev/null)"
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1
  .gpu/jre/bin/java -version 2>&1 | head -1
  echo "libcuda: $(ldconfig -p | grep -c 'libcuda.so.1') entries; libcublas.so.12: $(ldconfig -p | grep -c 'libcublas.so.12') entries"
  echo "compute-sanitizer: $(command -v compute-sanitizer || echo missing)"
  .gpu/java dev.microgpt.bench.GpuProbe 2>&1
  echo "probe exit $?"
  echo '```'
} > "$summary"
# The emulated device (kernels/emu) runs everything here, and nothing it measures is a GPU result (GpuProbe.EMULATED).
if grep -q '^probe exit 3$' "$summary"; then
  echo "gpu-proof.sh: the CUDA device is the emulated one (kernels/emu): its results are no GPU proof; run this on a GPU" \
    | tee -a "$summary" >&2
  exit 3
fi

if wants tests; then
  echo "## GPU test suite (tag gpu)" >> "$summary"
  timeout 300 .gpu/test --include-tag gpu --reports-dir "$logs/junit" > "$logs/gpu-tests.txt" 2>&1
  echo "exit $?: $(grep -E 'tests (successful|failed|skipped|aborted)' "$logs/gpu-tests.txt" | tr -s ' ' | paste -sd';')" >> "$summary"
  grep -E '✘|MethodSource|JUnit Jupiter:.*✘' "$logs/gpu-tests.txt" | head -40 | sed 's/^/    /' >> "$summary"
fi

if wants sanitizer; then
  echo "## compute-sanitizer over 20 steps" >> "$summary"
  for run in "eager 64" "fused 16" "fused 64"; do
    read -r mode s <<< "$run"
    for tool in memcheck racecheck synccheck; do
      timeout 60 compute-sanitizer --tool "$tool" --error-exitcode 9 .gpu/java dev.microgpt.cli.Main --device gpu \
        --gpu-mode "$mode" --input "$names" --n-embd "$s" --block-size "$s" --steps 20 --quiet \
        > "$logs/sanitizer-$tool-$mode-$s.txt" 2>&1
      echo "- $mode $s/$s $tool: exit $?; $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/sanitizer-$tool-$mode-$s.txt" | tail -1)" >> "$summary"
    done
  done
fi

if wants runs; then
  echo "## 1000 steps, names.txt, seed 42" >> "$summary"
  echo "| device | mode | n_embd/block | wall ms/step (whole run, from the trainer's summary) | final loss | mean of last 100 |" >> "$summary"
  echo "|---|---|---|---|---|---|" >> "$summary"
  for run in "gpu eager" "gpu graph" "gpu fused" "cpu -"; do
    read -r device mode <<< "$run"
    for s in 16 64; do
      args=(--device "$device" --input "$names" --n-embd "$s" --block-size "$s")
      [ "$mode" = - ] || args+=(--gpu-mode "$mode")
      timeout 30 .gpu/java dev.microgpt.cli.Main "${args[@]}" --metrics "$logs/metrics-$device-$mode-$s.csv" \
        > "$logs/run-$device-$mode-$s.txt" 2>&1
      line=$(grep 'trained ' "$logs/run-$device-$mode-$s.txt" | tail -1)
      ms=$(echo "$line" | sed -n 's/.* \([0-9.]*\) ms\/step.*/\1/p')
      final=$(echo "$line" | sed -n 's/.*final loss \([0-9.]*\).*/\1/p')
      mean=$(echo "$line" | sed -n 's/.*mean of the last [0-9]* \([0-9.]*\).*/\1/p')
      echo "| $device | $mode | $s/$s | $ms | $final | $mean |" >> "$summary"
    done
  done
fi

if wants bench; then
  echo "## Benchmark harness (bench/run.sh)" >> "$summary"
  # the default engines plus two forced fused grids: about 40 rows of a few seconds each
  timeout 540 bench/run.sh --quick --java .gpu/java --engines "cpu-fast gpu-eager gpu-graph gpu-fused gpu-fused-k16 gpu-fused-b1 gpu-fused-b4 gpu-eager-cublas gpu-graph-cublas" \
    --out "$logs/bench" > "$logs/bench-run.txt" 2>&1
  echo "exit $?" >> "$summary"
  sed -n '/^## Median/,/^## All rows/p' "$logs/bench/results.md" | sed '$d' >> "$summary"
  cp "$logs/bench/results.json" "$out/results.json" 2>/dev/null
fi
tar -czf "$out/logs-$(echo "$stages" | tr ' ' '-').tar.gz" -C "$logs" .
cat "$summary"
