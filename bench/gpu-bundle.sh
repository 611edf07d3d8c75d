#!/usr/bin/env bash
# bench/gpu-bundle.sh: packs the project for a bare CUDA machine (no JDK, no Maven, no network there) into .gpu/, under
# 40 MiB so that it travels with the working tree, for bench/gpu-proof.sh to run there:
#   .gpu/jre/            a Java runtime trimmed by jlink to the modules the classes use (plus jdk.zipfs, which
#                        JUnit needs to read jars), its JVM's symbol tables stripped
#   .gpu/microgpt.jar    target/classes, built with -Dkernels.required=true (never a bundle without PTX)
#   .gpu/tests.jar       target/test-classes
#   .gpu/lib/            the dependency jars, test scope included, without what the device never loads: other
#                        platforms' natives, JCuda's PTX compiler, NVRTC and runtime natives (26 MB), the chart library
#   .gpu/shared/data/    ../shared/data/names.txt, the runs' dataset
#   .gpu/cpu-losses/     the CPU fast engine's 1000 losses on it at 16/16, 32/32 and 64/64, and at 16/16 and 64/64
#                        with 128 documents a step (SIZE.csv, SIZE-bs128.csv; step,loss,... CSV), computed here: the
#                        GPU runs are compared with them there
#   .gpu/commit          the commit the bundle was built from (and whether sources had uncommitted changes)
#   .gpu/java MAIN ...   runs a class;  .gpu/test [--include-tag TAG]  runs the tests (testing/BundleTestRunner: a
#                        line per test, then the summary)
# Usage, from anywhere in the checkout: bench/gpu-bundle.sh [--no-build]   (--no-build: package target/ as it is)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=1
case "${1:-}" in
  --no-build) build=0 ;;
  "") ;;
  *) echo "gpu-bundle.sh: unknown option $1 (only --no-build)" >&2; exit 2 ;;
esac
names=../shared/data/names.txt
[ -f "$names" ] || { echo "gpu-bundle.sh: $names is missing: the runs on the GPU train on it" >&2; exit 1; }
out=.gpu
mkdir -p .git/info
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

if [ "$build" = 1 ]; then
  mvn -q -B -Dkernels.required=true -DskipTests package
fi
ls target/classes/kernels/*.ptx > /dev/null 2>&1 || { echo "gpu-bundle.sh: no PTX in target/classes; build with nvcc" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/lib" "$out/shared/data" "$out/cpu-losses"
jar cf "$out/microgpt.jar" -C target/classes .  # as jars: the PTX is a megabyte of text
jar cf "$out/tests.jar" -C target/test-classes .
mvn -q -B dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib"
find "$out/lib" -name '*natives*' ! -name '*linux-x86_64*' -delete
find "$out/lib" -name 'xchart-*.jar' -delete  # plotting: --plot and the benchmark's chart, drawn where the report is read
# JCuda's natives jar carries every JCuda library; the engine loads only the driver's (cuBLAS's comes in its own jar)
python3 - "$out"/lib/jcuda-natives-*-linux-x86_64.jar <<'EOF'
import sys, zipfile, os
path = sys.argv[1]
keep = [i for i in zipfile.ZipFile(path).infolist()
        if not any(n in i.filename for n in ("libJNvPTXCompiler", "libJNvrtc", "libJCudaRuntime"))]
with zipfile.ZipFile(path) as src, zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as dst:
    for i in keep:
        dst.writestr(i, src.read(i.filename))
os.replace(path + ".tmp", path)
EOF

# The modules the project's own classes use, less java.desktop (plotting), plus what its libraries load at run time:
# java.logging (JCuda) and jdk.zipfs (JUnit reading jars). The libraries' optional dependencies (XML, JNDI,
# SQL) stay out: logback is configured in code (cli/LogConfigurator).
modules=$(jdeps --ignore-missing-deps --print-module-deps --multi-release 17 target/classes target/test-classes \
  | tr ',' '\n' | grep -vx java.desktop | paste -sd, -)
jlink --add-modules "$modules,java.logging,jdk.zipfs" --strip-debug --no-header-files --no-man-pages \
  --compress=2 --output "$out/jre"
strip --strip-unneeded "$out/jre/lib/server/libjvm.so"  # its symbol tables: a fifth of it, of no use there

cp "$names" "$out/shared/data/names.txt"
cpu_losses() {  # cpu_losses FILE OPTION...: the CPU fast engine's 1000 losses with these options
  java --add-modules jdk.incubator.vector -cp "target/classes:$out/lib/*" dev.microgpt.cli.Main --device cpu \
    --input "$names" --metrics "$out/cpu-losses/$1" --quiet "${@:2}" > /dev/null 2>&1
}
for size in 16 32 64; do
  cpu_losses "$size.csv" --n-embd "$size" --block-size "$size"
done
for size in 16 64; do
  cpu_losses "$size-bs128.csv" --n-embd "$size" --block-size "$size" --batch-size 128
done

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- src kernels pom.xml || commit="$commit (with uncommitted changes to src, kernels or pom.xml)"
echo "$commit" > "$out/commit"
vector=$(echo "$modules" | tr ',' '\n' | grep -x jdk.incubator.vector || true)
echo "${vector:+--add-modules $vector}" > "$out/jvm-options"

cat > "$out/java" <<'EOF'
#!/usr/bin/env bash
# .gpu/java MAIN_CLASS [args]: runs a class of the project with its dependencies on the bundle's runtime
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/jre/bin/java" $(cat "$here/jvm-options") ${JAVA_OPTS:-} -cp "$here/microgpt.jar:$here/lib/*" "$@"
EOF
cat > "$out/test" <<'EOF'
#!/usr/bin/env bash
# .gpu/test [--include-tag TAG]: runs the project's tests (all of them without a tag)
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/jre/bin/java" $(cat "$here/jvm-options") ${JAVA_OPTS:-} \
  -cp "$here/microgpt.jar:$here/tests.jar:$here/lib/*" dev.microgpt.testing.BundleTestRunner "$@"
EOF
chmod +x "$out/java" "$out/test"

size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle.sh: $out is $size MiB, commit $commit"
[ "$size" -le 40 ] || { echo "gpu-bundle.sh: over the 40 MiB a bundle may take" >&2; exit 1; }
