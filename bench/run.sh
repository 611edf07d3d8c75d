#!/usr/bin/env bash
# bench/run.sh: the training-step benchmark of every engine and GPU mode, in one command (see bench/README.md).
#
# For two datasets, names.txt (one name per step, so a step trains on a few positions) and long documents made from
# it that fill the context (consecutive names joined, so a step trains on all block_size positions), and for each
# size n_embd = block_size (16 and 64, plus the sweep 32 and 128), it runs dev.microgpt.bench.StepBenchmark once per
# engine: cpu-fast, gpu-eager, gpu-graph, gpu-fused (the whole step in one kernel), and eager and graph with cuBLAS for
# the linear layers (gpu-eager-cublas, gpu-graph-cublas). Each row is the median ms/step of real training steps (Adam
# included) over repeats after a warm-up; GPU rows add launches/step, GPU busy ms/step from CUDA events and the
# launch-overhead share, (wall - busy) / wall; fused rows also say their grid. Java reads the engine names
# (dev.microgpt.bench.BenchEngine, every name checked before anything runs) and writes every JSON row
# (StepBenchmark --bench-engine NAME --row-file FILE): this script only loops over engines and sizes. Without a
# usable GPU the GPU rows say why ("unavailable"), as the cuBLAS rows do where libcublas.so.12 cannot load; the CPU
# rows still run.
# Step counts are calibrated per row: a short trial run estimates ms/step, then the warm-up and each repeat get
# enough steps to last about --warmup-seconds and --repeat-seconds (the counts are in the report).
#
# Writes to OUT (default bench/out/, git-ignored): results.md, results.json, ms_per_step.png and docs_per_second.png (by
# dev.microgpt.bench.BenchReport), rows.jsonl (the raw rows the report was made from), long-docs.txt (the generated
# dataset) and run.log (every JVM's stderr). Exit 0 when every row was measured or says why it could not be
# (unavailable); 1 when a run failed (its row says how; the report is still written); 2 usage.
#
# Usage: bench/run.sh [options]
#   --quick                 16/16 and 64/64 only, shorter runs: a few minutes on a 2-core machine (under one with
#                           --batch-sizes 1)
#   --input FILE            the names dataset (default ../shared/data/names.txt, else .gpu/shared/data/names.txt)
#   --sizes "N ..."         sizes, n_embd = block_size, multiples of 4 (default "16 32 64 128"; --quick "16 64")
#   --engines "E ..."       from cpu-fast cpu-tape gpu-eager gpu-graph gpu-fused gpu-eager-cublas gpu-graph-cublas,
#                           and the fused variants gpu-fused-bN (a grid of N >= 1 blocks instead of the engine's
#                           choice), gpu-fused-kK (K = 2 to 256 steps a launch) and gpu-fused-bN-kK (default: all but
#                           cpu-tape and the variants, plus gpu-fused-k16)
#   --batch-sizes "B ..."   documents a step: every engine but cuBLAS is also measured at each B > 1, as ENGINE-bsB,
#                           a fused variant with at most 256 / B steps a launch (gpu-fused-k16 at 32 is
#                           gpu-fused-k8-bs32) (default "1 8 32 128"; "1" for one document a step only)
#   --repeats R             timed repeats per row, the median reported (default 7; --quick 5)
#   --repeat-seconds S      about how long one repeat lasts (default 1; --quick 0.4)
#   --warmup-seconds S      about how long the untimed warm-up lasts (default 3; --quick 2)
#   --warmup-steps W --steps S   fixed step counts for every row instead of calibrated ones (both needed)
#   --time-emulated         time the GPU rows on the emulated CUDA device too: a rehearsal of their code, whose timings
#                           are no GPU's (bench/gpu-proof.sh --rehearse)
#   --max-seconds S         start no row after S seconds, and write the report of the rows measured by then (rows go
#                           names then long documents, each by size, each by engine), saying how many were left
#   --out DIR               where everything goes (default bench/out)
#   --java CMD              run the classes as `CMD MAIN_CLASS ARGS` (e.g. .gpu/java, the GPU bundle's launcher,
#                           which honours JAVA_OPTS and adds the Vector API module itself) instead of
#                           `java -cp JAR`; nothing is built then. Chosen by itself when mvn is not on PATH and
#                           .gpu/java exists.
#   --build-dir DIR         Maven build directory holding the jar (default target), built when missing or stale
#   -h, --help              this text
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | grep '^#' | cut -c3-; }
die() { echo "bench/run.sh: $1" >&2; exit "${2:-2}"; }
invocation="bench/run.sh${*:+ $(printf '%q ' "$@" | sed 's/ $//')}"  # as given, for the report

quick=0; time_emulated=(); max_s=""; input=""; sizes=""; repeats=""; repeat_s=""; warmup_s=""; batch_sizes="1 8 32 128"
engines="cpu-fast gpu-eager gpu-graph gpu-fused gpu-fused-k16 gpu-eager-cublas gpu-graph-cublas"
fixed_warmup=""; fixed_steps=""; out=""; java_cmd=""; build_dir=target
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) quick=1; shift; continue ;;
    --time-emulated) time_emulated=(--time-emulated); shift; continue ;;
  esac
  [ $# -ge 2 ] || die "$1 needs a value (see --help)"
  case "$1" in
    --input) input=$2 ;;
    --sizes) sizes=$2 ;;
    --engines) engines=$2 ;;
    --batch-sizes) batch_sizes=$2 ;;
    --repeats) repeats=$2 ;;
    --repeat-seconds) repeat_s=$2 ;;
    --warmup-seconds) warmup_s=$2 ;;
    --warmup-steps) fixed_warmup=$2 ;;
    --max-seconds) max_s=$2 ;;
    --steps) fixed_steps=$2 ;;
    --out) out=$2 ;;
    --java) java_cmd=$2 ;;
    --build-dir) build_dir=$2 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift 2
done

if [ "$quick" = 1 ]; then
  : "${sizes:=16 64}" "${repeats:=5}" "${repeat_s:=0.4}" "${warmup_s:=2}"
else
  : "${sizes:=16 32 64 128}" "${repeats:=7}" "${repeat_s:=1}" "${warmup_s:=3}"
fi
is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
is_seconds() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ ]] && awk -v s="$1" 'BEGIN { exit !(s > 0) }'; }
# shellcheck disable=SC2086 # split into words on purpose
sizes=$(printf '%s\n' $sizes | sort -n | uniq | xargs)
[ -n "$sizes" ] || die "--sizes is empty"
for s in $sizes; do
  { is_count "$s" && [ $((s % 4)) = 0 ]; } || die "--sizes: $s is not a positive multiple of 4 (n_head is 4)"
done
# shellcheck disable=SC2086 # split into words on purpose
engines=$(printf '%s\n' $engines | xargs)
[ -n "$engines" ] || die "--engines is empty"
# shellcheck disable=SC2086 # split into words on purpose
batch_sizes=$(printf '%s\n' $batch_sizes | sort -n | uniq | xargs)
[ -n "$batch_sizes" ] || die "--batch-sizes is empty"
for b in $batch_sizes; do
  is_count "$b" || die "--batch-sizes: $b is not a positive integer"
done
is_count "$repeats" || die "--repeats must be a positive integer, got $repeats"
is_seconds "$repeat_s" || die "--repeat-seconds must be a positive number, got $repeat_s"
is_seconds "$warmup_s" || die "--warmup-seconds must be a positive number, got $warmup_s"
[ -z "$max_s" ] || is_count "$max_s" || die "--max-seconds must be a positive integer, got $max_s"
if [ -n "$fixed_warmup$fixed_steps" ]; then
  if ! [[ $fixed_warmup =~ ^[0-9]+$ ]] || ! is_count "$fixed_steps"; then
    die "--warmup-steps W (0 or more) and --steps S (1 or more) go together"
  fi
fi
tmp=$(mktemp -d) || die "mktemp failed" 1
trap 'rm -rf "$tmp"' EXIT

# How classes run: the GPU bundle's launcher (or another given command), else the jar, built when missing or stale.
jvm_flags="-XX:+UseSerialGC --add-modules jdk.incubator.vector -Djava.awt.headless=true"
if [ -z "$java_cmd" ] && ! command -v mvn >/dev/null 2>&1 && [ -x "$root/.gpu/java" ]; then
  java_cmd="$root/.gpu/java"
  echo "bench/run.sh: no mvn here; running the GPU bundle's classes through $java_cmd" >&2
fi
if [ -n "$java_cmd" ]; then
  # The launcher adds the Vector API module itself where its runtime has it (the bundle's reads .gpu/jvm-options);
  # asking for a module that a trimmed runtime lacks would stop the JVM.
  jvm_flags="-XX:+UseSerialGC -Djava.awt.headless=true"
  launcher_options="$(dirname "${java_cmd%% *}")/jvm-options"
  if [ -f "$launcher_options" ]; then jvm_flags="$jvm_flags $(tr '\n' ' ' < "$launcher_options" | xargs)"; fi
  # The command is split into words on purpose (e.g. --java "env FOO=1 .gpu/java").
  run_java() { JAVA_OPTS="-XX:+UseSerialGC -Djava.awt.headless=true ${JAVA_OPTS:-}" $java_cmd "$@"; }
  classes="$java_cmd"
else
  jar="$root/$build_dir/microgpt-jcuda.jar"
  if [ ! -f "$jar" ] || [ -n "$(find "$root/src/main" "$root/kernels" "$root/pom.xml" -newer "$jar" -print -quit 2>/dev/null)" ]; then
    command -v mvn >/dev/null 2>&1 || die "$jar is missing or older than the sources and mvn is not on PATH (pass --java .gpu/java to use the GPU bundle)"
    echo "bench/run.sh: building $jar ..." >&2
    mvn -q -B -Dstyle.color=never -f "$root/pom.xml" -Dbuild.dir="$build_dir" -DskipTests package >&2 || die "the build failed" 1
  fi
  # shellcheck disable=SC2086 # the flags are words
  run_java() { java $jvm_flags ${MICROGPT_JAVA_OPTS:-} -cp "$jar" "$@"; }
  classes="$jar"
fi

# The rows, from Java (dev.microgpt.bench.BenchEngine, the grammar StepBenchmark and the report share): each engine at
# each batch size (not cuBLAS beyond one document, and a fused variant's steps a launch lowered to what a launch of B
# documents holds), with its StepBenchmark options for the log; or one line saying what is wrong with a name, before
# anything runs.
# shellcheck disable=SC2086 # the names are words
run_java dev.microgpt.bench.BenchEngine --batch-sizes "$batch_sizes" $engines > "$tmp/engines" 2> "$tmp/engines.err"
case $? in
  0) ;;
  2) die "--engines: $(tail -1 "$tmp/engines.err")" ;;
  *) die "could not check --engines: $(tail -1 "$tmp/engines.err")" 1 ;;
esac
engines=$(cut -d: -f1 "$tmp/engines" | xargs)

if [ -z "$input" ]; then
  for candidate in "$root/../shared/data/names.txt" "$root/.gpu/shared/data/names.txt"; do
    if [ -f "$candidate" ]; then input=$candidate; break; fi
  done
fi
[ -f "$input" ] || die "dataset ${input:-../shared/data/names.txt} not found; pass --input names.txt"
input="$(cd "$(dirname "$input")" && pwd)/$(basename "$input")"

out=${out:-$root/bench/out}
mkdir -p "$out" || die "cannot create $out" 1
out="$(cd "$out" && pwd)"
rows="$out/rows.jsonl"; log="$out/run.log"; long="$out/long-docs.txt"
rm -f "$rows" "$log" "$out/results.md" "$out/results.json" "$out/ms_per_step.png" "$out/docs_per_second.png"
: > "$rows"
started=$(date +%s)
{
  echo "bench/run.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), classes from $classes"
  echo "engines (StepBenchmark --bench-engine NAME stands for these options):"
  sed 's/^/  /' "$tmp/engines"
} > "$log"

# Long documents: consecutive names joined without a separator (the vocabulary, and so the model, stays the
# dataset's), each at least as long as the largest context measured, so every step trains on block_size positions.
max_size=${sizes##* }
min_chars=$(( max_size > 64 ? max_size : 64 ))
run_java dev.microgpt.bench.LongDocuments --input "$input" --min-chars "$min_chars" --output "$long" 2>>"$log" \
  || die "could not make the long documents from $input (see $log)" 1

failed=0
left=0  # rows not started, past --max-seconds

# step_benchmark ENGINE DATASET_KEY FILE SIZE WARMUP STEPS REPEATS: one StepBenchmark run, its JSON row into
# $tmp/row and what it printed of it into $status (measured, unavailable), $median and $min (ms/step); when it failed,
# the line of its stderr that best says why into $last_error. Its stderr (after the command) goes to the log.
step_benchmark() {
  local args rc summary
  args=(--bench-engine "$1" --dataset "$2" --input "$3" --n-embd "$4" --block-size "$4" --warmup-steps "$5" --steps "$6"
    --repeats "$7" "${time_emulated[@]}")
  echo "== StepBenchmark ${args[*]}" >> "$log"
  rm -f "$tmp/row"
  run_java dev.microgpt.bench.StepBenchmark "${args[@]}" --row-file "$tmp/row" > "$tmp/stdout" 2> "$tmp/stderr"
  rc=$?
  cat "$tmp/stderr" >> "$log"
  summary=$(grep -E '^(measured|unavailable)( |$)' "$tmp/stdout" | tail -1)
  read -r status median min <<< "$summary"
  last_error="exit $rc: $( (grep -m1 -E 'Exception|Error|error' "$tmp/stderr" || tail -1 "$tmp/stderr") | head -1)"
  [ "$rc" = 0 ] && [ -s "$tmp/row" ] && [ -n "$status" ]
}

# failed_row ENGINE DATASET_KEY FILE SIZE REASON: the row of a run that failed, made by StepBenchmark, into rows.jsonl.
failed_row() {
  failed=1
  echo "  $1 · $2 · $4/$4: FAILED ($5)" >&2
  rm -f "$tmp/row"
  if run_java dev.microgpt.bench.StepBenchmark --bench-engine "$1" --dataset "$2" --input "$3" --n-embd "$4" \
      --block-size "$4" --failed "$5" --row-file "$tmp/row" > /dev/null 2>> "$log" && [ -s "$tmp/row" ]; then
    cat "$tmp/row" >> "$rows"
  else
    echo "bench/run.sh: could not write the failed row of $1 · $2 · $4/$4 (see $log)" >&2
  fi
}

# measure ENGINE DATASET_KEY FILE SIZE: one row into rows.jsonl.
measure() {
  local engine=$1 key=$2 file=$3 size=$4 warmup steps est trial trial_steps status median min
  if [ -n "$fixed_steps" ]; then
    warmup=$fixed_warmup; steps=$fixed_steps
  else
    # Trial runs, no warm-up, 3 repeats: 100 steps each; where those took under half a second in all (the JIT had
    # barely started), again with repeats of about a third of a second at the first estimate. The fastest repeat
    # of the last trial, still partly cold, estimates a step on the high side: the real runs err on the short side.
    trial_steps=100
    for trial in 1 2; do
      if ! step_benchmark "$engine" "$key" "$file" "$size" 0 "$trial_steps" 3; then
        failed_row "$engine" "$key" "$file" "$size" "trial run: $last_error"
        return
      fi
      if [ "$status" = unavailable ]; then
        cat "$tmp/row" >> "$rows"
        echo "  $engine · $key · $size/$size: unavailable" >&2
        return
      fi
      est=$min
      [ "$trial" = 1 ] || break
      trial_steps=$(awk -v e="${est:-1}" -v n="$trial_steps" 'BEGIN {
        if (!(e > 0) || 3 * n * e >= 500) print 0; else { s = int(333 / e); print (s > 1000000 ? 1000000 : s) } }')
      [ "$trial_steps" -gt 100 ] || break
    done
    read -r warmup steps < <(awk -v e="${est:-1}" -v w="$warmup_s" -v r="$repeat_s" 'BEGIN {
      if (!(e > 0)) e = 1
      w = int(w * 1000 / e + 0.5); r = int(r * 1000 / e + 0.5)
      print (w < 50 ? 50 : w > 5000000 ? 5000000 : w), (r < 20 ? 20 : r > 1000000 ? 1000000 : r) }')
  fi
  if ! step_benchmark "$engine" "$key" "$file" "$size" "$warmup" "$steps" "$repeats"; then
    failed_row "$engine" "$key" "$file" "$size" "$last_error"
    return
  fi
  cat "$tmp/row" >> "$rows"
  if [ "$status" = unavailable ]; then
    echo "  $engine · $key · $size/$size: unavailable" >&2
  else
    echo "  $engine · $key · $size/$size: $median ms/step (warm-up $warmup, $repeats x $steps steps)" >&2
  fi
}

echo "bench/run.sh: sizes $sizes; engines $engines; $repeats repeats; data $input; output $out" >&2
for key in names long; do
  if [ "$key" = names ]; then file=$input; else file=$long; fi
  for size in $sizes; do
    for engine in $engines; do
      if [ -n "$max_s" ] && [ $(( $(date +%s) - started )) -ge "$max_s" ]; then
        left=$((left + 1))
        continue
      fi
      measure "$engine" "$key" "$file" "$size"
    done
  done
done

[ "$left" = 0 ] || echo "bench/run.sh: $left rows left unmeasured at --max-seconds $max_s" >&2

# What the report says it was measured on.
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | xargs)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
machine="$(nproc 2>/dev/null || echo '?') cores${cpu:+, $cpu}${mem:+, $mem}, $(uname -sm)"
gpu=$(run_java dev.microgpt.bench.GpuProbe 2>>"$log" | tail -1)
if command -v nvidia-smi >/dev/null 2>&1; then
  smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
  [ -n "$smi" ] && gpu="$gpu (nvidia-smi: $smi)"
fi
if [[ $classes == *.gpu/java* ]] && [ -f "$root/.gpu/commit" ]; then
  commit="$(cat "$root/.gpu/commit") (the GPU bundle's)"
elif commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
  git -C "$root" diff --quiet HEAD -- src pom.xml kernels 2>/dev/null || commit="$commit (with uncommitted changes to src, pom.xml or kernels)"
else
  commit=$(cat "$root/.gpu/commit" 2>/dev/null || echo unknown)
fi
if [ -n "$fixed_steps" ]; then
  method="fixed step counts: warm-up $fixed_warmup steps, then $repeats repeats of $fixed_steps steps; median of the repeats"
else
  method="per row, a short trial run estimates ms/step (the fastest of 3 repeats of 100 steps, or of about 0.33 s where those were quick); then a warm-up of about $warmup_s s and $repeats repeats of about $repeat_s s each (exact counts below); median of the repeats"
fi
names_docs=$(grep -c '[^[:space:]]' "$input")
names_mean=$(awk 'NF { n++; c += length($0) } END { if (n) printf "%.1f", c / n }' "$input")
long_docs=$(grep -c . "$long")
long_mean=$(awk 'NF { n++; c += length($0) } END { if (n) printf "%.0f", c / n }' "$long")

run_java dev.microgpt.bench.BenchReport --rows "$rows" --out "$out" \
  --meta "machine=$machine" --meta "gpu=${gpu:-unknown}" --meta "jvm flags=$jvm_flags" \
  --meta "date=$(date -u +%Y-%m-%dT%H:%MZ)" --meta "commit=$commit" \
  --meta "run=$invocation, $(( $(date +%s) - started )) s$([ "$left" = 0 ] || echo ", $left rows left unmeasured at --max-seconds $max_s")" \
  --meta "method=$method" \
  --dataset "names=$(basename "$input"): $names_docs documents of $names_mean characters on average, one per step, so a step trains on min(block_size, length + 1) positions" \
  --dataset "long=long-docs.txt: $long_docs documents of at least $min_chars characters ($long_mean on average), consecutive names of $(basename "$input") joined without a separator (same vocabulary and parameters), so a step trains on all block_size positions" \
  2>>"$log" || die "writing the report failed (see $log)" 1
cat "$out/results.md"
charts="$([ -f "$out/ms_per_step.png" ] && echo ', ms_per_step.png')$([ -f "$out/docs_per_second.png" ] && echo ', docs_per_second.png')"
echo "bench/run.sh: wrote $out/results.md, results.json$charts in $(( $(date +%s) - started )) s" >&2
if [ "$failed" = 1 ]; then
  echo "bench/run.sh: some runs FAILED; their rows say how, and $log has their output" >&2
  exit 1
fi
