#!/bin/sh
# Compiles every kernel source to PTX with nvcc and checks the committed PTX (the copy a machine with
# a driver but no toolkit loads) against it. Without nvcc the committed PTX is used as is.
#   build-ptx.sh <kernels module dir> <scratch dir>           check (the build runs this)
#   build-ptx.sh <kernels module dir> <scratch dir> --update  rewrite the committed PTX
# Comment lines (nvcc's version banner) are ignored. If the committed PTX came from another nvcc
# release the difference is reported but not fatal, since PTX text differs between releases.
set -eu
module=$1
out=$2
mode=${3:-check}
committed=$module/src/main/resources/io/vectorstream/kernels/cuda
NVCC_FLAGS="-ptx -arch=compute_80 -O3 -std=c++17"
# The PTX ISA the shipped PTX declares. nvcc writes its own release's ISA (CUDA 13: 9.0, which only drivers of the
# 580 series and newer load); the kernels use nothing past ISA 7.0 (sm_80's minimum), so the PTX declares 8.0 --
# CUDA 12.0, drivers 525 and newer, the CUDA that JCuda 12.0.0 needs anyway -- and ptxas, where present, must
# accept it at that ISA (it rejects any instruction a declared ISA does not have).
PTX_ISA=8.0
if ! command -v nvcc >/dev/null 2>&1; then
  echo "[ptx] nvcc not found: using the committed PTX in $committed"
  exit 0
fi
release=$(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
mkdir -p "$out" "$committed"
stale=""
for cu in "$module"/src/main/cuda/*.cu; do
  name=$(basename "$cu" .cu)
  nvcc $NVCC_FLAGS -I"$module/src/main/cuda" -o "$out/$name.ptx.nvcc" "$cu"
  sed "s/^\.version [0-9.]*\$/.version $PTX_ISA/" "$out/$name.ptx.nvcc" > "$out/$name.ptx"
  grep -q "^\.version $PTX_ISA\$" "$out/$name.ptx" || { echo "[ptx] ERROR: $name.ptx declares no .version line" >&2; exit 1; }
  if command -v ptxas >/dev/null 2>&1; then
    ptxas -arch=sm_80 -o "$out/$name.cubin" "$out/$name.ptx" || {
      echo "[ptx] ERROR: $name.ptx is not valid PTX ISA $PTX_ISA for sm_80 (see ptxas above)" >&2; exit 1; }
  fi
  if [ "$mode" = "--update" ]; then
    cp "$out/$name.ptx" "$committed/$name.ptx"
    continue
  fi
  if [ ! -f "$committed/$name.ptx" ] || ! diff -q -I '^//' "$committed/$name.ptx" "$out/$name.ptx" >/dev/null; then
    stale="$stale $name"
  fi
done
for ptx in "$committed"/*.ptx; do
  [ -e "$ptx" ] || continue
  [ -f "$module/src/main/cuda/$(basename "$ptx" .ptx).cu" ] || stale="$stale $(basename "$ptx")(no source)"
done
if [ -n "$stale" ]; then
  made_by=$(grep -h -m1 'release' "$committed"/*.ptx 2>/dev/null | head -1 | sed -n 's/.*release \([0-9.]*\).*/\1/p')
  msg="committed PTX is stale for:$stale -- run: sh kernels/src/main/cuda/build-ptx.sh kernels kernels/target/ptx --update"
  if [ -n "$made_by" ] && [ "$made_by" != "$release" ]; then
    echo "[ptx] WARNING (committed PTX is from nvcc $made_by, this is $release): $msg"
    exit 0
  fi
  echo "[ptx] ERROR: $msg" >&2
  exit 1
fi
echo "[ptx] PTX built with nvcc $release (declared ISA $PTX_ISA$(command -v ptxas >/dev/null 2>&1 && echo ', checked by ptxas')) in $out; committed PTX is up to date"
