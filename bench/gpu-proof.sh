#!/usr/bin/env bash
# bench/gpu-proof.sh: the proof on real hardware, one command on a CUDA machine, from the repository root with the
# bundle bench/gpu-bundle.sh made (.gpu/). Stages, in order of value, each with its own time limit, each packing its
# logs into $OUT as soon as it ends (a command killed at its limit returns what is already there):
#   1. machine    what the machine has: GPU, driver, the bundle's Java, libcuda, libcublas.so.12, compute-sanitizer;
#                 a one-step fused run with the driver's JIT cache empty and full (PTX compiled, where it is loaded)
#   2. runs       1000-step runs at 16/16, 32/32 and 64/64 in eager, graph, fused and fused with 16 steps a launch,
#                 and fused with 128 documents a step at 16/16 and 64/64: us/step, documents/s and the largest
#                 |loss - CPU loss| against the CPU losses the bundle carries; then the CPU fast engine's 128
#                 documents a step timed on the same machine, on one thread and on its cores, for the speed-up
#   3. tests      the GPU test suite (JUnit tag gpu)
#   4. sanitizer  compute-sanitizer: memcheck on a 5-step fused 16/16 run first (the stage stops there if the tool
#                 cannot run), then memcheck on eager and fused 64/64, racecheck and synccheck on fused 16/16
#   5. bench      bench/run.sh: gpu-eager, gpu-graph, gpu-fused, gpu-fused-k16 and cpu-fast at 16/16 and 64/64, one
#                 document a step and 128, with launches/step, GPU busy time and documents/s (cuBLAS rows only where
#                 libcublas.so.12 loads, one document a step); rows of names.txt first, then of long documents, none
#                 started in the stage's last 30 s (each takes several JVMs: 40 rows would need about 5 minutes); then
#                 issue 11's targets, each met, MISSED or not measured
#   6. tune       what the defaults are chosen from: cpu-fast, gpu-graph and gpu-fused at 16/16, 32/32 and 64/64, one
#                 document a step and 8 (--device auto's threshold, the default --gpu-mode), then 1000-step fused runs
#                 on grids of 1 to 64 blocks at one document a step and 32 to 128 at 128 (the fused grid choice)
#   7. profile    Nsight Compute (ncu) on three launches of the fused step at 16/16 and 64/64: duration, speed of
#                 light, occupancy, warp states (what a missed target calls for); and the duration of each kernel of
#                 one eager step (what the graph replays), where the GPU's counters can be read
# The whole command has a budget (PROOF_SECONDS, default 420: the 7 minutes a device call of about 8 leaves room for):
# each limit (the machine stage's three JVMs and each run 25 s, tests 130 s, sanitizer 145 s, bench 150 s, tune 150 s:
# 90 for its benchmark, the rest for its runs)
# is cut to what is left of it, a stage with under 30 s left is skipped and a run with under 5 s not started, each
# named in the summary, so the least valuable stages give way. A process at its limit gets SIGTERM, then SIGKILL 10 s
# later: training takes SIGTERM as Ctrl-C and stops at the next step, which a hung kernel never reaches. A mode that
# runs out of time is not run again at a larger size. A JVM that crashes writes its hs_err log to $OUT/crashes.tar.gz.
# Before anything, the bundle is checked against the sources here (bench/source-id.sh): a stale bundle is named.
# Writes $OUT (default bench/out/gpu-proof): summary.md and STAGE.tar.gz per stage (the benchmark's rows as
# bench.tar.gz's bench/results.json), crashes.tar.gz where a JVM crashed: at most 8 files, what a device call returns.
# Usage: bench/gpu-proof.sh [--rehearse] [STAGE ...]   (default: all seven; the machine stage always runs)
#   --rehearse  run on the emulated CUDA device (target/emulated-cuda, which it puts first on LD_LIBRARY_PATH), with
#               20-step runs and the benchmark's GPU rows timed there at 16/16, 5 steps a row (run.sh
#               --time-emulated): a rehearsal of the command, whose numbers are no GPU's (the summary says so).
#               Without it, a machine whose only CUDA device is the emulated one is refused.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
rehearse=0
if [ "${1:-}" = --rehearse ]; then
  rehearse=1
  shift
  # The bundle's build skips the tests, and with them the emulated device: built here when missing.
  if [ ! -f target/emulated-cuda/libcuda.so.1 ]; then
    echo "gpu-proof.sh --rehearse: building the emulated CUDA device ..." >&2
    mvn -q -B -Dstyle.color=never process-classes 2>&1 | sed 's/\x1b\[0m//g' >&2  # Maven's stray colour resets
  fi
  if [ ! -f target/emulated-cuda/libcuda.so.1 ]; then
    echo "gpu-proof.sh --rehearse: the emulated CUDA device (target/emulated-cuda) could not be built; build it with" \
      "mvn -B process-classes, which says what it lacks" >&2
    exit 2
  fi
  export LD_LIBRARY_PATH="$root/target/emulated-cuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
chmod +x .gpu/java .gpu/test 2>/dev/null  # in case a copy to the GPU machine lost the modes
stages=${*:-runs tests sanitizer bench tune profile}
for stage in $stages; do
  case "$stage" in
    runs|tests|sanitizer|bench|tune|profile) ;;
    *) echo "gpu-proof.sh: unknown stage $stage (runs, tests, sanitizer, bench, tune, profile)" >&2; exit 2 ;;
  esac
done
[ -x .gpu/java ] || { echo "gpu-proof.sh: no .gpu bundle here; make it with bench/gpu-bundle.sh" >&2; exit 2; }
wants() {  # a stage asked for, and budget left for it (left and note are defined below, before the first use)
  [[ " $stages " == *" $1 "* ]] || return 1
  local l
  l=$(left)
  [ "$l" -ge 30 ] || { note ""; note "## $1: skipped, the proof's budget is spent ($(( l > 0 ? l : 0 )) s left)"; return 1; }
}
out=${OUT:-bench/out/gpu-proof}
mkdir -p "$out"
out=$(cd "$out" && pwd)  # the JVMs' crash logs are named from here
crashes=$(mktemp -d)
summary="$out/summary.md"
steps=1000
slow=1  # time limits are for an H100; the emulated device runs the GPU suite about twice as long on two cores
if [ "$rehearse" = 1 ]; then
  steps=20
  slow=3
fi
names=.gpu/shared/data/names.txt
cuda_tool() { command -v "$1" || echo "${CUDA_HOME:-/usr/local/cuda}/bin/$1"; }  # cuda_tool NAME: where it is
sanitizer=$(cuda_tool compute-sanitizer)
export JAVA_OPTS="-Dmicrogpt.test.classpath=$root/.gpu/microgpt.jar:$root/.gpu/lib/* -XX:ErrorFile=$crashes/hs_err_%p.log"
note() { echo "$*" >> "$summary"; }
# rate LOG STATUS: "us/step | documents/s" from a training run's summary line, or its exit status
rate() {
  [ "$2" != "$spent" ] || { echo "not run: the proof's budget is spent | —"; return; }
  sed -n 's/^trained .* \([0-9.]*\) ms\/step, \([0-9]*\) documents\/s.*/\1 \2/p' "$1" | tail -1 \
    | awk -v status="$2" '{ printf "%.1f | %s", $1 * 1000, $2; found = 1 } END { if (!found) printf "exit %s | —", status }'
}
# tarred DIR FILE: DIR packed into FILE beside it first, then moved: a command cut short keeps the previous FILE whole
tarred() { tar -czf "$2.partial" -C "$1" . 2>/dev/null && mv "$2.partial" "$2"; }
# pack STAGE DIR: the stage's logs into $OUT at once, and the crash logs so far where there are any
pack() {
  tarred "$2" "$out/$1.tar.gz"
  pack_crashes
}
pack_crashes() { [ -z "$(ls -A "$crashes")" ] || tarred "$crashes" "$out/crashes.tar.gz"; }
trap pack_crashes EXIT  # the machine stage's JVMs too, before the proof stops there
deadline=$(( $(date +%s) + ${PROOF_SECONDS:-420} * slow ))
left() { echo $(( deadline - $(date +%s) )); }
spent=254  # limited's exit status where it ran nothing
# limited N COMMAND...: COMMAND for at most N seconds, or what is left of the budget where that is less (cut=1 then):
# exit 124 at the limit, 137 when it had to be killed, $spent without running it where under 5 s are left
limited() {
  local seconds=$1 l
  l=$(left)
  shift
  cut=0
  [ "$l" -ge 5 ] || return "$spent"
  [ "$l" -ge "$seconds" ] || { seconds=$l; cut=1; }
  timeout -k 10 "$seconds" "$@"
}

# ---- 1. machine
# The driver's cache of kernels compiled from PTX, empty here: where the kernels load as PTX (a GPU the build made no
# machine code for), the first one-step run below compiles them for this GPU, the second finds them cached, and every
# later JVM loads them from it (without it, each would compile them again).
CUDA_CACHE_PATH=$(mktemp -d)
export CUDA_CACHE_PATH CUDA_CACHE_MAXSIZE=4294967296
millis() { echo $(( $(date +%s%N) / 1000000 )); }
{
  echo "# GPU proof: $(date -u +%Y-%m-%dT%H:%MZ), bundle of commit $(cat .gpu/commit)"
  [ "$rehearse" = 0 ] || echo "**REHEARSAL on the emulated CUDA device: no number here is a GPU result.**"
  case "$(cat .gpu/source-id 2>/dev/null)" in
    "$(bench/source-id.sh)") ;;
    unknown*) echo "**UNCHECKED BUNDLE: packed with --no-build, from a build of sources it cannot name.**" ;;
    *) echo "**STALE BUNDLE: .gpu was built from other sources than this tree's (bench/gpu-bundle.sh makes it anew).**" ;;
  esac
  echo
  echo '```'
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,compute_mode --format=csv 2>&1 | head -3
  echo "$(.gpu/java -version 2>&1 | grep -m1 version); it needs glibc $(cat .gpu/glibc), this machine has $(ldd --version 2>&1 | head -1)"
  echo "libcuda.so.1: $(ldconfig -p | grep -c 'libcuda.so.1 ') in ldconfig; libcublas.so.12: $(ldconfig -p | grep -c 'libcublas.so.12 ') in ldconfig"
  echo "compute-sanitizer: $([ -x "$sanitizer" ] && echo "$sanitizer" || echo missing)"
  echo "libnvidia-ptxjitcompiler.so.1 (loads PTX): $(ldconfig -p | grep -c 'libnvidia-ptxjitcompiler.so.1 ') in ldconfig"
  # The probe loads every module (and says whether as machine code or PTX), into a cache of its own: the first run
  # below finds the shared one empty.
  CUDA_CACHE_PATH=$(mktemp -d) limited $((25 * slow)) .gpu/java dev.microgpt.bench.GpuProbe 2>&1
  probe=$?
  if [ "$probe" = 0 ] || { [ "$probe" = 3 ] && [ "$rehearse" = 1 ]; }; then  # a one-step fused run loads every module
    for cache in empty full; do
      start=$(millis)
      limited $((25 * slow)) .gpu/java dev.microgpt.cli.Main --device gpu --gpu-mode fused --input "$names" --steps 1 \
        --num-samples 0 --quiet > /dev/null 2>&1
      status=$?
      echo "a one-step fused run, start to end, the driver's cache $cache: $(( $(millis) - start )) ms (exit $status)"
    done
  fi
  echo "cuBLAS: $(limited $((25 * slow)) .gpu/java dev.microgpt.bench.GpuProbe cublas 2>/dev/null)"
  echo '```'
} > "$summary"
if [ "$probe" = 3 ] && [ "$rehearse" = 0 ]; then
  note "Refused: the CUDA device is the emulated one (kernels/emu); run this on a GPU, or --rehearse."
  cat "$summary"
  exit 3
fi
if [ "$probe" != 0 ] && [ "$probe" != 3 ]; then
  note "No usable GPU: nothing to prove."
  cat "$summary"
  exit 1
fi

# ---- 2. runs
if wants runs; then
  logs=$(mktemp -d)
  hung=""
  note ""
  note "## 1000-step runs on names.txt, seed 42$([ "$steps" = 1000 ] || echo ", stopped after $steps steps"), against the CPU fast engine's losses (carried)"
  note "| mode | n_embd/block | us/step (whole run) | documents/s | largest abs loss diff | over the first 50 | mean of the last 100, GPU - CPU |"
  note "|---|---|---|---|---|---|---|"
  for size in 16 32 64; do
    for mode in eager graph fused fused-k16 fused-bs128; do
      [ "$mode" != fused-bs128 ] || [ "$size" != 32 ] || continue
      if [[ " $hung " == *" $mode "* ]]; then
        note "| $mode | $size/$size | skipped: it ran out of time at a smaller size | — | — | — |"
        continue
      fi
      args=(--device gpu --input "$names" --n-embd "$size" --block-size "$size" --steps 1000)
      [ "$steps" = 1000 ] || args+=(--stop-after "$steps" --checkpoint "$logs/$mode-$size.safetensors")
      losses=".gpu/cpu-losses/$size.csv"
      case "$mode" in
        fused-k16) args+=(--gpu-mode fused --steps-per-launch 16) ;;
        fused-bs128) args+=(--gpu-mode fused --batch-size 128); losses=".gpu/cpu-losses/$size-bs128.csv" ;;
        *) args+=(--gpu-mode "$mode") ;;
      esac
      limited $((25 * slow)) .gpu/java dev.microgpt.cli.Main "${args[@]}" --metrics "$logs/$mode-$size.csv" \
        > "$logs/$mode-$size.txt" 2>&1
      status=$?
      { [ "$status" = 124 ] || [ "$status" = 137 ]; } && [ "$cut" = 0 ] && hung="$hung $mode"
      diffs=$(awk -F, -v n=1000 'NR == FNR { if (FNR > 1) cpu[$1] = $2; next }
        FNR > 1 && ($1 in cpu) { d = $2 - cpu[$1]; a = d < 0 ? -d : d; if (a > all) all = a
          if ($1 <= 50 && a > first) first = a; if ($1 > n - 100) { tail += d; k++ } }
        END { if (FNR > 1) printf "%.2e | %.2e | %s", all, first, k ? sprintf("%+.2e", tail / k) : "-" }' \
        "$losses" "$logs/$mode-$size.csv")
      note "| $mode | $size/$size | $(rate "$logs/$mode-$size.txt" "${status}") | ${diffs:-no losses} |"
      pack runs "$logs"  # after every run: a command cut at its limit still returns the logs of the failures
    done
  done
  # The CPU at 128 documents a step on this machine (200 steps), for the speed-up at the same batch size: on one
  # thread, and on the machine's cores (at most 16), the trainer's default.
  cores=$(nproc); [ "$cores" -le 16 ] || cores=16
  for size in 16 64; do
    for threads in $(printf '%s\n' 1 "$cores" | uniq); do # once on a one-core machine
      limited $((25 * slow)) .gpu/java dev.microgpt.cli.Main --device cpu --input "$names" --n-embd "$size" \
        --block-size "$size" --batch-size 128 --threads "$threads" --steps 1000 --stop-after 200 \
        --checkpoint "$logs/cpu-$size-t$threads.safetensors" > "$logs/cpu-bs128-$size-t$threads.txt" 2>&1
      status=$?
      note "| cpu-fast-bs128, $threads thread$([ "$threads" = 1 ] || echo s) (200 steps) | $size/$size |" \
        "$(rate "$logs/cpu-bs128-$size-t$threads.txt" "$status") | — | — | — |"
    done
  done
  pack runs "$logs"
fi

# ---- 3. tests
if wants tests; then
  logs=$(mktemp -d)
  note ""
  note "## GPU test suite (tag gpu)"
  limited $((130 * slow)) .gpu/test --include-tag gpu > "$logs/gpu-tests.txt" 2>&1
  note "exit $?: $(grep -E 'tests (successful|failed|skipped|aborted)' "$logs/gpu-tests.txt" | tr -s ' []' ' ' | paste -sd';')"
  grep -E '✘' "$logs/gpu-tests.txt" | head -30 | sed 's/^/    /' >> "$summary"
  pack tests "$logs"
fi

# ---- 4. sanitizer
if wants sanitizer; then
  logs=$(mktemp -d)
  note ""
  note "## compute-sanitizer"
  # tool mode size steps limit: the canary first; if it cannot run, the rest is skipped
  canary="memcheck fused 16 5 40"
  [ -x "$sanitizer" ] || note "- compute-sanitizer is not here: stage skipped"
  [ -x "$sanitizer" ] && for run in "$canary" "memcheck eager 64 20 25" "memcheck fused 64 20 25" "racecheck fused 16 5 30" \
             "synccheck fused 16 5 25"; do
    read -r tool mode size n limit <<< "$run"
    log="$logs/$tool-$mode-$size.txt"
    limited $((limit * slow)) "$sanitizer" --tool "$tool" --error-exitcode 9 .gpu/java dev.microgpt.cli.Main --device gpu \
      --gpu-mode "$mode" --input "$names" --n-embd "$size" --block-size "$size" --steps "$n" --quiet > "$log" 2>&1
    status=$?
    note "- $tool, $mode $size/$size, $n steps: exit $status; $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)"
    if [ "$run" = "$canary" ] && ! grep -q 'ERROR SUMMARY' "$log"; then
      if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        note "- the canary ran out of its $((limit * slow)) s (the kernels' JIT under the tool?): stage stopped"
      else
        note "- the tool did not run here ($(grep -m1 -iE 'error|not supported' "$log")): stage skipped"
      fi
      break
    fi
  done
  pack sanitizer "$logs"
fi

# ---- 5. bench
if wants bench; then
  logs=$(mktemp -d)
  note ""
  note "## Benchmark (bench/run.sh$([ "$rehearse" = 1 ] && echo ' --time-emulated, 16/16, 5 steps a row' || echo ' --quick'))"
  engines="cpu-fast gpu-eager gpu-graph gpu-fused gpu-fused-k16"
  if ! limited $((25 * slow)) .gpu/java dev.microgpt.bench.GpuProbe cublas > /dev/null 2>&1; then
    note "No cuBLAS rows: libcublas.so.12 does not load here (this machine's CUDA may carry only another cuBLAS)."
  else
    engines="$engines gpu-eager-cublas gpu-graph-cublas"
  fi
  # Shorter repeats than --quick's, and no row started in the last 30 s of the stage's limit (a row takes several
  # JVMs), so that the report is written within it
  seconds=$(( $(left) < 150 * slow ? $(left) : 150 * slow ))
  scope=(--quick --sizes "16 64" --batch-sizes "1 128" --warmup-seconds 1 --repeat-seconds 0.2
         --max-seconds $((seconds > 40 ? seconds - 30 : 10)))
  # Rehearsed on the emulated device at 16/16 with a few steps a row: the GPU rows' code runs, no GPU's timings
  [ "$rehearse" = 0 ] || scope=(--time-emulated --sizes 16 --batch-sizes "1 8" --warmup-steps 2 --steps 5 --repeats 1)
  limited "$seconds" bench/run.sh "${scope[@]}" --java .gpu/java --engines "$engines" --out "$logs/bench" \
    > "$logs/bench-run.txt" 2>&1
  note "exit $?"
  sed -n '/^## Median/,/^## All rows/p' "$logs/bench/results.md" 2>/dev/null | sed '$d' >> "$summary"
  note ""
  note "Several documents a step (documents/s, and the speed-up over cpu-fast at the same B, measured in the same run):"
  sed -n '/^## All rows/,/^## Notes/p' "$logs/bench/results.md" 2>/dev/null | grep -E '^\| engine |^\|---|^\| [a-z0-9-]*-bs[0-9]+ ' \
    >> "$summary"
  note ""
  note "Issue 11's targets (steady state, names.txt, one document a step; medians of the rows above):"
  python3 - "$logs/bench/results.json" >> "$summary" 2>&1 <<'EOF' || note "(not checked: $(command -v python3 > /dev/null || echo 'no python3; ')no rows)"
import json, sys
ms = {(r["engine"], r["n_embd"]): r["median_ms_per_step"] for r in json.load(open(sys.argv[1]))["rows"]
      if r.get("dataset") == "names" and r.get("status") == "measured" and r.get("batch_size", 1) == 1}
def us(engine, size):
    return ms[(engine, size)] * 1000 if (engine, size) in ms else None
def check(what, value, limit, unit):
    met = "not measured" if value is None else ("met" if value <= limit else "MISSED")
    print(f"- {what}: {'-' if value is None else f'{value:.1f}'} {unit} (target <= {limit:g}): {met}")
check("gpu-fused 16/16", us("gpu-fused", 16), 20, "us/step")
check("gpu-fused-k16 16/16", us("gpu-fused-k16", 16), 10, "us/step")
check("gpu-fused 64/64", us("gpu-fused", 64), 50, "us/step")
for size in (16, 64):
    fused, graph = us("gpu-fused", size), us("gpu-graph", size)
    check(f"gpu-graph / gpu-fused {size}/{size}", graph / fused if graph and fused else None, 2, "x")
cpu = {size: us("cpu-fast", size) for size in (16, 64)}
for engine, size in [("gpu-eager", 64), ("gpu-graph", 64), ("gpu-fused", 64), ("gpu-fused-k16", 64), ("gpu-fused", 16)]:
    gpu = us(engine, size)
    check(f"{engine} / cpu-fast {size}/{size}", gpu / cpu[size] if gpu and cpu[size] else None, 1, "x")
EOF
  pack bench "$logs"
fi

# ---- 6. tune
if wants tune; then
  logs=$(mktemp -d)
  note ""
  note "## Tuning: what --device auto, the default --gpu-mode and the fused grid are chosen from"
  stage_end=$(( $(date +%s) + 150 * slow ))
  seconds=$(( $(left) < 90 * slow ? $(left) : 90 * slow ))
  sizes="16 32 64"
  scope=(--sizes "$sizes" --batch-sizes "1 8" --repeats 3 --warmup-seconds 0.5 --repeat-seconds 0.2
         --max-seconds $((seconds > 40 ? seconds - 30 : 10)))
  if [ "$rehearse" = 1 ]; then
    sizes=16
    scope=(--time-emulated --sizes 16 --batch-sizes "1 2" --warmup-steps 2 --steps 5 --repeats 1)
  fi
  limited "$seconds" bench/run.sh "${scope[@]}" --java .gpu/java --engines "cpu-fast gpu-graph gpu-fused" \
    --out "$logs/bench" > "$logs/bench-run.txt" 2>&1
  note "bench/run.sh, median ms/step on names.txt: exit $?"
  note ""
  sed -n '/^### names/,/^##/p' "$logs/bench/results.md" 2>/dev/null | grep '^|' >> "$summary"
  note ""
  note "| fused grid (1000-step run) | n_embd/block | documents a step | us/step (whole run) | documents/s |"
  note "|---|---|---|---|---|"
  for size in $sizes; do
    for run in "1 1" "1 2" "1 4" "1 8" "1 16" "1 32" "1 64" "128 32" "128 64" "128 128"; do
      read -r batch blocks <<< "$run"
      [ "$size" != 16 ] || [ "$blocks" -le 4 ] || continue  # 16/16: one block, shared memory, or a few in global
      if [ "$(date +%s)" -ge "$stage_end" ]; then
        note "| $blocks blocks | $size/$size | $batch | not run: the stage's 150 s are spent | — |"
        continue
      fi
      log="$logs/fused-$size-bs$batch-b$blocks.txt"
      limited $((25 * slow)) .gpu/java dev.microgpt.cli.Main --device gpu --gpu-mode fused --fused-blocks "$blocks" \
        --input "$names" --n-embd "$size" --block-size "$size" --batch-size "$batch" --steps "$steps" \
        --num-samples 0 > "$log" 2>&1
      status=$?
      note "| $blocks blocks | $size/$size | $batch | $(rate "$log" "$status") |"
    done
  done
  pack tune "$logs"
fi

# ---- 7. profile
if wants profile; then
  logs=$(mktemp -d)
  note ""
  note "## Nsight Compute: the fused step's launches 11 to 13 of a 20-step run (clocks left alone)"
  ncu=$(cuda_tool ncu)
  [ -x "$ncu" ] || note "- ncu is not here: stage skipped"
  [ -x "$ncu" ] && for size in 16 64; do
    log="$logs/ncu-fused-$size.txt"
    limited $((60 * slow)) "$ncu" --target-processes all --clock-control none --kernel-name train_step_fused \
      --launch-skip 10 --launch-count 3 --section SpeedOfLight --section LaunchStats --section Occupancy \
      --section WarpStateStats --section SchedulerStats .gpu/java dev.microgpt.cli.Main --device gpu --gpu-mode fused \
      --input "$names" --n-embd "$size" --block-size "$size" --steps 20 --num-samples 0 --quiet > "$log" 2>&1
    status=$?
    note "- fused $size/$size: exit $status; $(grep -E '^ *Duration ' "$log" | tr -s ' ' | paste -sd';')"
    if ! grep -qE '^ *Duration ' "$log"; then
      note "- no profile ($(grep -m1 -E '==ERROR==|==WARNING==' "$log")): stage stopped"
      ncu=""
      break
    fi
  done
  # One eager step's kernels, each timed alone (kernels/README.md's launch order: 7 + 14 n_layer, after 10 steps)
  [ -x "$ncu" ] && for size in 16 64; do
    log="$logs/ncu-eager-$size.txt"
    limited $((40 * slow)) "$ncu" --target-processes all --clock-control none --launch-skip 210 --launch-count 21 \
      --metrics gpu__time_duration.sum .gpu/java dev.microgpt.cli.Main --device gpu --gpu-mode eager \
      --input "$names" --n-embd "$size" --block-size "$size" --steps 20 --num-samples 0 --quiet > "$log" 2>&1
    status=$?
    note "- eager $size/$size, one step's kernels: exit $status; $(awk '/^  [a-z_0-9]+ \(/ { name = $1 }
      /gpu__time_duration.sum/ { printf "%s %s %s; ", name, $(NF), $(NF - 1) }' "$log")"
  done
  pack profile "$logs"
fi
cat "$summary"
