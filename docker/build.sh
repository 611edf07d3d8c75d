#!/usr/bin/env bash
# The build steps of the Docker image (docker/Dockerfile RUNs this script in its build stage), runnable without
# Docker: CI runs it after the tests (.ci/run, .github/workflows/ci.yml), so a broken step fails there too.
#
#   docker/build.sh           mvn package with the CUDA kernels required (tests skipped), then checks the jar
#   docker/build.sh --tests   mvn verify instead: the whole test suite, with the kernels required
#
# Then it checks that the jar holds /kernels/NAME.ptx for every kernels/NAME.cu (all of one PTX ISA .version and
# the requested .target), beside it the machine code the build made (NAME.sm_90.cubin, kernels.properties' cuda.sass),
# and /kernels/kernels.properties with built=true, lays out what the runtime image gets
# under BUILD_DIR/docker-image (bin/microgpt, run-cpu.sh, run-gpu.sh, target/microgpt-jcuda.jar: the Dockerfile
# copies it to /opt/microgpt) and runs that copy's launcher once (--help, and two CPU training steps).
#
# Environment:
#   CUDA_ARCH            virtual architecture of the PTX (default compute_75: Turing and every newer GPU by JIT;
#                        also the lowest nvcc 13 still accepts, so the image and a CUDA 13 machine build one target)
#   NVCC                 the nvcc to use (default: nvcc on PATH, else $CUDA_HOME/bin/nvcc, as the pom finds it)
#   BUILD_DIR            Maven's build directory, relative to the checkout (default target; the pom's -Dbuild.dir)
#   MICROGPT_MAVEN_ARGS  extra arguments for mvn, e.g. "-q" or "-o -Dmaven.repo.local=/cache/m2"
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

goal=package
skip_tests=(-DskipTests)
for arg in "$@"; do
  case "$arg" in
    --tests) goal=verify; skip_tests=() ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "docker/build.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

arch=${CUDA_ARCH:-compute_75}
build_dir=${BUILD_DIR:-target}
fail() { echo "docker/build.sh: $*" >&2; exit 1; }

nvcc_args=()
if [ -n "${NVCC:-}" ]; then
  [ -x "$NVCC" ] || fail "NVCC=$NVCC is not an executable"
  nvcc_args=("-Dnvcc=$NVCC")
fi
# shellcheck disable=SC2206 # a list of words by design
extra=(${MICROGPT_MAVEN_ARGS:-})

echo "docker/build.sh: mvn $goal with -Dkernels.required=true -Dcuda.arch=$arch -Dbuild.dir=$build_dir" >&2
mvn -B -ntp -Dstyle.color=never -Dkernels.required=true -Dcuda.arch="$arch" -Dbuild.dir="$build_dir" \
  "${nvcc_args[@]}" "${skip_tests[@]}" "${extra[@]}" "$goal"

jar="$root/$build_dir/microgpt-jcuda.jar"
[ -f "$jar" ] || fail "the build did not produce $jar"

# What the jar holds under /kernels, compared with kernels/*.cu.
check=$(mktemp -d)
trap 'rm -rf "$check"' EXIT
(cd "$check" && jar xf "$jar" kernels)
[ -f "$check/kernels/kernels.properties" ] || fail "$jar has no /kernels/kernels.properties"
grep -qx 'built=true' "$check/kernels/kernels.properties" \
  || fail "$jar says the kernels were not built: $(tr '\n' ' ' < "$check/kernels/kernels.properties")"
nvcc_version=$(sed -n 's/^nvcc\.version=.*cuda_\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' "$check/kernels/kernels.properties")
sass=$(sed -n 's/^cuda\.sass=//p' "$check/kernels/kernels.properties")
expected_target="sm_${arch#*_}"
versions=()
count=0
for cu in kernels/*.cu; do
  family=$(basename "$cu" .cu)
  ptx="$check/kernels/$family.ptx"
  [ -f "$ptx" ] || fail "$jar has no /kernels/$family.ptx for $cu"
  version=$(sed -n 's/^[[:space:]]*\.version[[:space:]]\{1,\}\([0-9][0-9]*\.[0-9][0-9]*\)[[:space:]]*$/\1/p' "$ptx" | head -n 1)
  target=$(sed -n 's/^[[:space:]]*\.target[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$ptx" | head -n 1)
  [ -n "$version" ] || fail "/kernels/$family.ptx declares no .version"
  [ "$target" = "$expected_target" ] \
    || fail "/kernels/$family.ptx has .target '$target', not $expected_target (CUDA_ARCH=$arch)"
  [ -z "$sass" ] || [ -s "$check/kernels/$family.$sass.cubin" ] || fail "$jar has no /kernels/$family.$sass.cubin for $cu"
  versions+=("$version")
  count=$((count + 1))
done
[ "$count" -gt 0 ] || fail "no kernels/*.cu in $root/kernels"
for f in "$check"/kernels/*.ptx; do
  [ -f "kernels/$(basename "$f" .ptx).cu" ] || fail "$jar has $(basename "$f") but kernels/ has no such .cu"
done
distinct=$(printf '%s\n' "${versions[@]}" | sort -u)
[ "$(printf '%s\n' "$distinct" | wc -l)" -eq 1 ] \
  || fail "the PTX files declare different .version values: $(echo "$distinct" | tr '\n' ' ')"
echo "docker/build.sh: $jar holds $count kernels as PTX ISA $distinct, .target $expected_target${sass:+, and as $sass machine code}" \
  "(nvcc ${nvcc_version:-?}); the driver that loads them: see docker/README.md, 'Driver requirement'" >&2

# The runtime image's /opt/microgpt, and one run of its launcher (which must not try to rebuild: no sources there).
stage="$root/$build_dir/docker-image"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/target"
cp bin/microgpt "$stage/bin/microgpt"
cp run-cpu.sh run-gpu.sh "$stage/"
cp "$jar" "$stage/target/microgpt-jcuda.jar"
chmod 0755 "$stage/bin/microgpt" "$stage/run-cpu.sh" "$stage/run-gpu.sh"
chmod 0644 "$stage/target/microgpt-jcuda.jar"

"$stage/run-gpu.sh" --help > "$check/help.out" 2> "$check/help.err" \
  || fail "the staged launcher failed: $stage/run-gpu.sh --help: $(cat "$check/help.err")"
grep -q -- '--n-embd' "$check/help.out" || fail "$stage/run-gpu.sh --help printed no usage"
if grep -q '^building ' "$check/help.err"; then
  fail "the staged launcher tried to rebuild the jar (bin/microgpt found sources beside it)"
fi
printf 'anna\nbob\ncarla\ndavid\n' > "$check/names.txt"
(cd "$check" && "$stage/run-cpu.sh" --input names.txt --steps 2 --num-samples 1 --quiet > sample.out 2> run.err) \
  || fail "the staged launcher could not train on the CPU: $(cat "$check/run.err")"
grep -q '^sample' "$check/sample.out" || fail "the staged launcher printed no sample: $(cat "$check/sample.out")"
echo "docker/build.sh: staged the runtime image's /opt/microgpt in $stage (its launcher runs)" >&2
