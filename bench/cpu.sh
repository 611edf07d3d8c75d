#!/usr/bin/env bash
# The CPU reference path's speed and memory, as a Markdown report on stdout (and bench/out/cpu.md):
#  - steady-state ms/step in process (StepBenchmark: real training steps with Adam, after a JIT warm-up, median of
#    repeats) of the fast engine at 16/16 and 64/64 and of the tape engine at the same sizes;
#  - the whole default run (1000 steps at 16/16, then 20 samples) through ./run-cpu.sh: wall time and peak RSS
#    from /usr/bin/time -v, best of 3.
# Usage: bench/cpu.sh [names.txt]   (default ../shared/data/names.txt)
set -euo pipefail
usage="usage: bench/cpu.sh [names.txt]   (default ../shared/data/names.txt)"
case "${1:-}" in
  -h|--help) echo "$usage"; exit 0 ;;
  -*) echo "bench/cpu.sh: unknown option $1; $usage" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/cpu.sh: one dataset at most; $usage" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=$(realpath -m "${1:-$root/../shared/data/names.txt}")
[ -f "$data" ] || { echo "bench/cpu.sh: dataset $data not found; pass the makemore names.txt" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "bench/cpu.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
mvn -q -B -Dstyle.color=never -f "$root/pom.xml" -DskipTests package 2>&1 | sed 's/\x1b\[0m//g' >&2  # colour resets
jar="$root/target/microgpt-jcuda.jar"
mkdir -p "$root/bench/out"
report="$root/bench/out/cpu.md"
: > "$root/bench/out/cpu-stderr.log" # the benchmark runs' stderr, where a failed row says why

step_benchmark() { # engine size warmup steps repeats
  java -XX:+UseSerialGC --add-modules jdk.incubator.vector -cp "$jar" dev.microgpt.bench.StepBenchmark \
    --input "$data" --engine "$1" --n-embd "$2" --block-size "$2" --warmup-steps "$3" --steps "$4" --repeats "$5" \
    2>>"$root/bench/out/cpu-stderr.log"
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

{
  echo "# CPU reference path: speed and memory"
  echo
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- java: $(java -version 2>&1 | head -1)"
  echo "- date: $(date -u +%Y-%m-%d), commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src pom.xml || echo ' (with uncommitted changes)')"
  echo "- dataset: $(basename "$data"), one document per step, lr schedule far longer than the run"
  echo
  echo "| engine | n_embd/block | params | median ms/step | min ms/step |"
  echo "|---|---|---|---|---|"
  for spec in "fast 16 20000 5000 7" "fast 64 3000 1000 7" "tape 16 3000 1000 5" "tape 64 200 100 5"; do
    read -r engine size warmup steps repeats <<< "$spec"
    json=$(step_benchmark "$engine" "$size" "$warmup" "$steps" "$repeats")
    echo "| cpu-$engine | $size/$size | $(echo "$json" | field params) | $(echo "$json" | field median_ms_per_step) | $(echo "$json" | field min_ms_per_step) |"
  done
  echo
  best_wall=""; best_rss=""
  for _ in 1 2 3; do
    /usr/bin/time -v "$root/run-cpu.sh" --input "$data" --quiet >/dev/null 2>"$root/bench/out/time.txt"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); print t[1] * 60 + t[2]}' "$root/bench/out/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$root/bench/out/time.txt")
    if [ -z "$best_wall" ] || awk "BEGIN {exit !($wall < $best_wall)}"; then best_wall=$wall; best_rss=$rss; fi
  done
  echo "Whole default run (\`./run-cpu.sh --input names.txt --quiet\`: JVM start, 1000 steps at 16/16, 20 samples), best of 3:"
  echo "wall $best_wall s ($(awk "BEGIN {printf \"%.3f\", $best_wall}") ms/step all included), peak RSS $((best_rss / 1024)) MB."
} | tee "$report"
