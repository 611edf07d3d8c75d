#!/usr/bin/env bash
# bench/gpu-bundle.sh: packs the project for a bare CUDA machine (no JDK, no Maven, no network there) into .gpu/, under
# 40 MiB so that it travels with the working tree, for bench/gpu-proof.sh to run there:
#   .gpu/jre.tar.gz      a Java runtime trimmed by jlink to the modules the classes use (plus jdk.zipfs, which
#                        JUnit needs to read jars), packed (58 MiB unpacked, 19 packed); .gpu/java unpacks it on first
#                        use outside .gpu/, so that a bundle rehearsed here still travels packed. From a Temurin JDK
#                        where one is installed: Temurin is built on glibc 2.17 and runs on any CUDA 13 host, where
#                        Debian's OpenJDK 17 needs glibc 2.34 (not on RHEL 8 or Ubuntu 20.04); .gpu/glibc names the
#                        newest glibc the runtime needs
#   .gpu/microgpt.jar    target/classes, built with -Dkernels.required=true (never a bundle without PTX)
#   .gpu/tests.jar       target/test-classes
#   .gpu/lib/            the dependency jars, test scope included, without what the device never loads: other
#                        platforms' natives, JCuda's PTX compiler, NVRTC and runtime natives (26 MB), the chart library
#   .gpu/shared/data/    ../shared/data/names.txt, the runs' dataset
#   .gpu/cpu-losses/     the CPU fast engine's 1000 losses on it at 16/16, 32/32 and 64/64, and at 16/16 and 64/64
#                        with 128 documents a step (SIZE.csv, SIZE-bs128.csv; step,loss,... CSV), computed here: the
#                        GPU runs are compared with them there
#   .gpu/commit          the commit the bundle was built from (and whether sources had uncommitted changes)
#   .gpu/source-id       bench/source-id.sh of the sources it was built from ("unknown" with --no-build)
#   .gpu/java MAIN ...   runs a class;  .gpu/test [--include-tag TAG]  runs the tests (testing/BundleTestRunner: a
#                        line per test, then the summary); .gpu/java -version  unpacks the runtime and names it
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
# The runtime's JDK: the newest Temurin here, else the JDK on PATH. Either runs the classes (built for release 17).
runtime_jdk=$( { ls -d /usr/lib/jvm/temurin-*-jdk* 2>/dev/null || true; } | sort -V | tail -1)
if [ -z "$runtime_jdk" ]; then
  runtime_jdk=$(dirname "$(dirname "$(readlink -f "$(command -v jlink || echo /jlink/missing)")")")
  echo "gpu-bundle.sh: no Temurin JDK in /usr/lib/jvm; the runtime comes from $runtime_jdk, whose glibc the GPU" \
    "machine must have (.gpu/glibc)" >&2
fi
[ -x "$runtime_jdk/bin/jlink" ] || { echo "gpu-bundle.sh: no jlink (a JDK 17 or newer) to make the runtime with" >&2; exit 1; }
out=.gpu
mkdir -p .git/info
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude

if [ "$build" = 1 ]; then
  mvn -q -B -Dkernels.required=true -DskipTests package
fi
ls target/classes/kernels/*.ptx > /dev/null 2>&1 || { echo "gpu-bundle.sh: no PTX in target/classes; build with nvcc" >&2; exit 1; }

rm -rf "$out"
runtime=$(mktemp -d)
trap 'rm -rf "$runtime"' EXIT
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
modules=$("$runtime_jdk/bin/jdeps" --ignore-missing-deps --print-module-deps --multi-release 17 target/classes target/test-classes \
  | tr ',' '\n' | grep -vx java.desktop | paste -sd, -)
"$runtime_jdk/bin/jlink" --add-modules "$modules,java.logging,jdk.zipfs" --strip-debug --no-header-files --no-man-pages \
  --output "$runtime/jre"  # not compressed by jlink: gzip packs the whole runtime smaller
strip --strip-unneeded "$runtime/jre/lib/server/libjvm.so"  # its symbol tables, where there are any: of no use there
# The newest glibc the runtime asks for (JCuda's natives ask for 2.17): gpu-proof.sh prints it beside the host's
find "$runtime/jre" -name '*.so' -o -path '*/bin/java' | xargs objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' \
  | sort -Vu | tail -1 | sed 's/GLIBC_//' > "$out/glibc"
tar -czf "$out/jre.tar.gz" -C "$runtime" jre

cp "$names" "$out/shared/data/names.txt"
cpu_losses() {  # cpu_losses FILE OPTION...: the CPU fast engine's 1000 losses with these options
  "$runtime/jre/bin/java" --add-modules jdk.incubator.vector -cp "target/classes:$out/lib/*" dev.microgpt.cli.Main --device cpu \
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
# gpu-proof.sh compares it with the tree it runs beside; what target/ was built from is known only where built here
if [ "$build" = 1 ]; then bench/source-id.sh > "$out/source-id"; else echo "unknown (--no-build)" > "$out/source-id"; fi
vector=$(echo "$modules" | tr ',' '\n' | grep -x jdk.incubator.vector || true)
# Java 22 and later warn at JCuda's System.loadLibrary unless native access is granted (17 takes the grant silently)
echo "${vector:+--add-modules $vector }--enable-native-access=ALL-UNNAMED" > "$out/jvm-options"

sha256sum "$out/jre.tar.gz" | cut -c1-16 > "$out/jre-id"

cat > "$out/java" <<'EOF'
#!/usr/bin/env bash
# .gpu/java [--with-tests] MAIN_CLASS [args]: runs a class of the project with its dependencies (and its tests) on the
# bundle's runtime, unpacked from jre.tar.gz into the temporary directory on first use
here=$(cd "$(dirname "$0")" && pwd)
jre=${TMPDIR:-/tmp}/microgpt-jre-$(cat "$here/jre-id")
if [ ! -x "$jre/jre/bin/java" ]; then  # unpacked aside and moved, so that a run cut short leaves no half runtime
  rm -rf "$jre" "$jre.partial" && mkdir -p "$jre.partial" && tar -xzf "$here/jre.tar.gz" -C "$jre.partial" \
    && mv "$jre.partial" "$jre" || { echo ".gpu/java: cannot unpack $here/jre.tar.gz into $jre" >&2; exit 1; }
fi
classpath="$here/microgpt.jar:$here/lib/*"
[ "${1:-}" != --with-tests ] || { classpath="$here/microgpt.jar:$here/tests.jar:$here/lib/*"; shift; }
exec "$jre/jre/bin/java" $(cat "$here/jvm-options") ${JAVA_OPTS:-} -cp "$classpath" "$@"
EOF
cat > "$out/test" <<'EOF'
#!/usr/bin/env bash
# .gpu/test [--include-tag TAG]: runs the project's tests (all of them without a tag)
exec "$(dirname "$0")/java" --with-tests dev.microgpt.testing.BundleTestRunner "$@"
EOF
chmod +x "$out/java" "$out/test"

size=$(du -sm "$out" | cut -f1)
echo "gpu-bundle.sh: $out is $size MiB, commit $commit"
[ "$size" -le 40 ] || { echo "gpu-bundle.sh: over the 40 MiB a bundle may take" >&2; exit 1; }
