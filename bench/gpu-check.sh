#!/usr/bin/env bash
# The device check, in one command on a host with an NVIDIA GPU and driver (see bench/GPU-MODEL.md):
#   1. builds everything (the committed PTX; nvcc is not needed),
#   2. runs the device tests against the host's driver (Maven profile gpu: the tests tagged cuda-emulated, less the
#      emulator's own, with no emulated libcuda on the library path), and the ordinary tests of kernels and
#      index-store, which must pass with a driver present (DeviceSelectorTest checks that auto picks it),
#   3. runs CudaBench (add throughput, batched search q/s, single-query p50/p99 through the micro-batcher, recall@10
#      against exact CPU answers, per nprobe),
#   4. writes bench/GPU-RESULTS.md (and copies it and the logs to $OUT when set, e.g. on a lent device machine).
# Sized to finish within about 8 minutes on one GPU. Environment:
#   GPU_CHECK_N (default 1000000), GPU_CHECK_DIM (128), GPU_CHECK_NLIST (1024): CudaBench's data;
#   GPU_CHECK_FULL=1 also runs the whole suite (bin/test -Pgpu: end-to-end tests too; several more minutes).
# A dry run without a GPU, against the emulator as if it were the host's driver:
#   LD_LIBRARY_PATH=kernels/target/cuda-emu VS_EMU_DEVICES=256M,256M,3M GPU_CHECK_N=20000 bench/gpu-check.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"
# shellcheck source=../bin/find-jdk.sh
. bin/find-jdk.sh
vs_find_jdk
vs_require_maven
logs=$ROOT/bench/out/gpu-check-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$logs"
report=bench/GPU-RESULTS.md
n=${GPU_CHECK_N:-1000000}; dim=${GPU_CHECK_DIM:-128}; nlist=${GPU_CHECK_NLIST:-1024}
started=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - started )) s)" >&2; }

step "host"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv | tee "$logs/nvidia-smi.txt"
else
  echo "nvidia-smi not found: no NVIDIA driver tools on this host (a dry run against the emulator?)" | tee "$logs/nvidia-smi.txt"
fi

step "build"
mvn -B -q -ntp install -DskipTests > "$logs/build.log" 2>&1 || { tail -40 "$logs/build.log"; exit 1; }

step "tests against this host's driver (kernels, index-store)"
tests_rc=0
mvn -B -ntp -Pgpu test -pl kernels,index-store > "$logs/tests.log" 2>&1 || tests_rc=$?
grep -E "Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$|Tests run:.*<<<|BUILD" "$logs/tests.log" | tee "$logs/tests-summary.txt"
grep -E "skipped on a real driver|Assumption" "$logs/tests.log" | sort | uniq -c | head -5 || true

full_rc=skipped
if [[ "${GPU_CHECK_FULL:-0}" == 1 ]]; then
  step "the whole suite (bin/test -Pgpu)"
  full_rc=0
  bin/test -Pgpu > "$logs/full-suite.log" 2>&1 || full_rc=$?
fi

step "CudaBench n=$n dim=$dim nlist=$nlist"
mvn -B -q -ntp -f index-store dependency:build-classpath -Dmdep.outputFile="$logs/cp.txt" > /dev/null 2>&1
bench_rc=0
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "index-store/target/classes:$(cat "$logs/cp.txt")" \
  io.vectorstream.index.device.CudaBench "n=$n" "dim=$dim" "nlist=$nlist" queries=1000 truth=200 k=10 \
  2> >(grep -v '^WARNING' > "$logs/cudabench.err") | tee "$logs/cudabench.txt" || bench_rc=$?

step "report"
{
  echo "# GPU check ($(date -u +%Y-%m-%d\ %H:%M) UTC, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo
  echo "Written by \`bench/gpu-check.sh\` in $(( $(date +%s) - started )) s. The host:"
  echo; echo '```'; cat "$logs/nvidia-smi.txt"; echo '```'; echo
  echo "## Tests against this host's driver (\`mvn -Pgpu test -pl kernels,index-store\`): exit $tests_rc"
  echo; echo '```'; cat "$logs/tests-summary.txt"; echo '```'; echo
  echo "Whole suite (\`bin/test -Pgpu\`, only with GPU_CHECK_FULL=1): $full_rc"
  echo
  echo "## CudaBench (n=$n, dim=$dim, nlist=$nlist, 1,000 queries, recall@10 against exact CPU answers): exit $bench_rc"
  echo; echo '```'; cat "$logs/cudabench.txt"; echo '```'
  echo
  echo "Compare with the model in bench/GPU-MODEL.md; rows marked at recall >= 0.95 are the ones that count."
} > "$report"
if [[ -n "${OUT:-}" ]]; then mkdir -p "$OUT" && cp -r "$report" "$logs" "$OUT/"; fi
echo "wrote $report (logs in $logs)" >&2
[[ $tests_rc == 0 && $bench_rc == 0 && ( $full_rc == 0 || $full_rc == skipped ) ]]
