#!/usr/bin/env bash
# Issue 4: an operator rebuild of one shard under steady query load (RebuildBenchmark), then FAISS's train + add
# for the same IVF-PQ parameters (those the compactor printed) on the same file, and the ratio. Usage:
#   bench/run-rebuild-bench.sh PREFIX [extra -D options for the benchmark, e.g. -Dvectorstream.bench.n=500000]
# PREFIX names PREFIX_base.fvecs, _query.fvecs, _gt.ivecs (e.g. bench/data/c1m from `vectorstream gen-data`).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(realpath "$1"); shift
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
out=bench/out/rebuild-$(basename "$prefix")-$(date +%Y%m%d-%H%M%S)
mkdir -p bench/out
echo "== vectorstream rebuild under query load ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
mvn -B -pl compaction -am test -Dtest=RebuildBenchmark -Dsurefire.failIfNoSpecifiedTests=false \
  -Dvectorstream.bench=true -Dvectorstream.bench.base="${prefix}_base.fvecs" \
  "-Dvs.jvm.flags=--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+EnableDynamicAgentLoading -Xmx12g ${VS_BENCH_GC:--XX:+UseZGC}" \
  "$@" | tee "$out-java.log" | grep -v '^\[INFO\] \(Download\|---\|Building\|$\)'
args=$(grep -o 'faiss-args: .*' "$out-java.log" | tail -1 | cut -d' ' -f2-)
[ -n "$args" ] || { echo "no faiss-args line in $out-java.log" >&2; exit 1; }
echo "== faiss train + add, same IVF-PQ ($args); load: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 bench/faiss_bench.py --base "${prefix}_base.fvecs" --query "${prefix}_query.fvecs" --gt "${prefix}_gt.ivecs" \
  --index ivf-pq $args --json "$out-faiss.json" | tee "$out-faiss.log"
echo "== ratio (rebuild wall, request to installed / FAISS train + add)"
/usr/bin/python3 - "$out-java.log" "$out-faiss.json" <<'EOF' | tee "$out-ratio.txt"
import json, re, sys
faiss = json.load(open(sys.argv[2]))[0]
fa = faiss["train_s"] + faiss["add_s"]
print(f"faiss train {faiss['train_s']:.2f} s + add {faiss['add_s']:.2f} s = {fa:.2f} s "
      f"(recall@10 {faiss['recall_at_10']:.4f} at nprobe {faiss['nprobe']}, refine {faiss['refine']})")
for line in open(sys.argv[1]):
    m = re.match(r"rebuild-seconds: (\d+) (\w+) ([\d.]+)", line)
    if m:
        s = float(m.group(3))
        print(f"rebuild {m.group(1)} ({m.group(2)}): {s:.2f} s = {s / fa:.2f}x FAISS (target <= 2x: {'met' if s <= 2 * fa else 'MISSED'})")
EOF
echo "logs: $out-*"
