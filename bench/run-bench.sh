#!/usr/bin/env bash
# One benchmark run: vectorstream bench-index and Debian's FAISS on the same files with the same
# parameters, then both side by side. Usage:
#   bench/run-bench.sh PREFIX INDEX [extra bench-index options, e.g. --nlist 3968 --m 16 --nprobe 8,16,32 --refine 4,10]
# PREFIX names files written by `vectorstream gen-data --out PREFIX` (PREFIX_base.fvecs, _query.fvecs, _gt.ivecs).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$1; index=$2; shift 2
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
out=bench/out/$(basename "$prefix")-$index-$(date +%Y%m%d-%H%M%S)
mkdir -p bench/out
files=(--base "${prefix}_base.fvecs" --query "${prefix}_query.fvecs" --gt "${prefix}_gt.ivecs" --index "$index")
echo "== vectorstream ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -Xmx20g -XX:+UseParallelGC ${VS_BENCH_JVM_OPTS--XX:+UseTransparentHugePages} \
  -jar bench/target/vectorstream-bench.jar bench-index "${files[@]}" "$@" --json "$out-vectorstream.json" 2> >(grep -v '^WARNING' >&2)
echo "== faiss"
/usr/bin/python3 bench/faiss_bench.py "${files[@]}" "$@" --json "$out-faiss.json"
echo "== side by side"
/usr/bin/python3 bench/compare.py "$out-vectorstream.json" "$out-faiss.json" | tee "$out-compare.md"
