#!/usr/bin/env bash
# Trains microgpt on the CPU (defaults reproduce microgpt.py). Builds the jar first when it is missing or older
# than the sources; every argument goes to the trainer (see ./run-cpu.sh --help).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jar="$here/target/microgpt-jcuda.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$here/src/main" "$here/pom.xml" -newer "$jar" -print -quit 2>/dev/null)" ]; then
  echo "building $jar ..." >&2
  mvn -q -B -f "$here/pom.xml" -DskipTests package >&2
fi
# A lean JVM: the model is a few hundred KB, so a small serial-GC heap keeps the whole process well under 80 MB.
exec java -XX:+UseSerialGC -Xms8m -Xmx128m -XX:ReservedCodeCacheSize=24m -XX:TieredStopAtLevel=4 -Xss512k \
  ${MICROGPT_JAVA_OPTS:-} -jar "$jar" "$@"
