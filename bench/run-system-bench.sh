#!/usr/bin/env bash
# Whole-system benchmark in one run: a fresh Kafka broker and fresh servers on 127.0.0.1, then
#   1. the pipe (a plain consumer's read rate of the topic, and Kafka Streams alone), 2. binary backfill (upserts/s, RSS, disk,
#   recall@10, HTTP latency), 3. JSON backfill, 4. live ingest under 200 searches/s, 5. produce ->
#   searchable latency, idle and under 10,000 upserts/s.
# Prints a table and writes it as markdown (+ JSON) to <out>/system-bench-<timestamp>.md.
#
#   bench/run-system-bench.sh --n 1000000 --dim 128 --partitions 2 --json-n 200000 --out bench/data/system
#   bench/run-system-bench.sh --n 50000 --json-n 20000 --live-n 20000          # a quick check
#
# Options (all passed on to bench/system_bench.py; --help lists them all):
#   --n N (1000000)  --dim D (128)  --partitions P (2)  --json-n N (200000)  --live-n N (min(n, 200000))
#   --nq/--queries (1000)  --probes (300)  --search-rate (200)  --bg-rate (10000)
#   --phases pipe,backfill,json,live,fresh  --out DIR (bench/data/system)  --keep-tmp
#   --server-java-opts '-Xmx8g'  --serve-arg=--nprobe=32 (repeatable)  --timeout-scale X  --stall-timeout S
#   --rebuild  (this script only: rebuild the jars first even if they exist)
# Needs kcat and Debian's python3-confluent-kafka (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

rebuild=0
args=()
for a in "$@"; do
  case "$a" in
    --rebuild) rebuild=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; echo; exec /usr/bin/python3 bench/system_bench.py --help ;;
    *) args+=("$a") ;;
  esac
done

if [ "$rebuild" = 1 ] || [ ! -f streams-app/target/vectorstream.jar ] || [ ! -f bench/target/vectorstream-bench.jar ]; then
  echo "building the jars (streams-app, bench) …" >&2
  PATH="$JAVA_HOME/bin:$PATH" mvn -B -q -ntp -DskipTests package -pl streams-app,bench -am
fi
command -v kcat >/dev/null || echo "warning: kcat not found; phase 1 measures the Python consumer only" >&2

cmdline=$(printf '%q ' "$0" "$@")
exec /usr/bin/python3 bench/system_bench.py --cmdline "${cmdline% }" "${args[@]}"
