#!/usr/bin/env bash
# Fan-out cost (issue 12): the same data served by one instance, then by three instances of one application; wrk
# at one instance, one connection, measures what asking the other two adds to p50/p99. One broker, this machine.
#   bench/run-fanout-bench.sh [N (default 200000)] [DIM (default 128)] [SECONDS (default 20)]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}; dim=${2:-128}; secs=${3:-20}
work=$(mktemp -d /tmp/vs-fanout.XXXXXX)
port=$((39000 + RANDOM % 500))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 2; }
bin/vectorstream broker --port "$port" --data-dir "$work/kafka" --topic fanout:6 > "$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do grep -q ready "$work/broker.log" && break; sleep 1; done
echo "data: $work"; bin/vectorstream gen-data --out "$work/d" --n "$n" --nq 10 --dim "$dim" --gt-k 10 > /dev/null 2>&1
bin/vectorstream produce --bootstrap-servers "localhost:$port" --topic fanout --quiet "$work/d_base.fvecs" | tail -1

serve() { # app http-port index
  bin/vectorstream serve --bootstrap-servers "localhost:$port" --topic fanout --partitions 6 --dim "$dim" \
    --application-id "$1" --http-host 127.0.0.1 --http-port "$2" --data-dir "$work/$1-$3" --search-threads 1 \
    > "$work/$1-$3.log" 2>&1 &
  pids+=($!)
}
await_all() { # http-port: until one search there covers all 6 partitions with all n vectors
  for _ in $(seq 300); do
    live=$(curl -s -XPOST "localhost:$1/v1/search" -H 'content-type: application/json' \
      -d "{\"vector\":[$(printf '0,%.0s' $(seq 2 "$dim"))0],\"k\":1,\"allow_partial\":true}" \
      | /usr/bin/python3 -c 'import sys,json; d=json.load(sys.stdin); print(len(d.get("snapshot",{}).get("offsets",{})), sum(d.get("snapshot",{}).get("offsets",{}).values()))' 2>/dev/null || echo "0 0")
    set -- "$1" $live
    [ "${2:-0}" = 6 ] && [ "${3:-0}" -ge "$n" ] && return 0
    sleep 1
  done
  echo "not complete at :$1" >&2; return 1
}
measure() { wrk -t1 -c1 -d"${secs}s" -s bench/http/search.lua "http://127.0.0.1:$1" -- "$dim" 10 ${2:-} | tail -1; }
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
await_quiet() { # the servers' background work (base builds) done: each under ~4 % of a core over 3 s, at most 5 minutes
  for _ in $(seq 100); do
    a=$(cpu_ticks "$@"); sleep 3; b=$(cpu_ticks "$@")
    [ $((b - a)) -lt $((12 * $#)) ] && return 0
  done
  echo "(the servers did not go quiet; measuring anyway)"
}

serve fo-one 18180 0
await_all 18180
await_quiet "${pids[-1]}"
echo "one instance (6 partitions): $(measure 18180)"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
for i in 0 1 2; do serve fo-three $((18181 + i)) "$i"; done
await_all 18181 || { tail -5 "$work"/fo-three-*.log; exit 1; }
await_quiet "${pids[-1]}" "${pids[-2]}" "${pids[-3]}"
echo "three instances, asked at one: $(measure 18181)"
echo "three instances, that one's own shards only (\"local\": true, no fan-out): $(measure 18181 local)"
