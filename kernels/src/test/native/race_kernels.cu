// Test-only kernels, compiled into the emulated driver only (build-emulator.sh; nvcc never sees
// them): three deliberate races, each beside a correct version of the same kernel. The default
// schedule runs each thread up to its next barrier in thread order, which happens to hide all three
// races; the adversarial schedule exposes them (AdversarialScheduleTest). One block per launch.
#include "vs_common.cuh"

// Block-wide sum of x[0..n) into out[0]: every thread adds its elements to one shared counter.
// Racy: `total += x[i]` is a load then a store; another thread's update between them is lost.
extern "C" __global__ void vs_race_sum_racy(const int* x, int n, int* out) {
    __shared__ int total;
    if (threadIdx.x == 0) total = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) total += x[i];
    __syncthreads();
    if (threadIdx.x == 0) out[0] = total;
}
VS_KERNEL(vs_race_sum_racy)

// Correct: the same with atomicAdd.
extern "C" __global__ void vs_race_sum_atomic(const int* x, int n, int* out) {
    __shared__ int total;
    if (threadIdx.x == 0) total = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) atomicAdd(&total, x[i]);
    __syncthreads();
    if (threadIdx.x == 0) out[0] = total;
}
VS_KERNEL(vs_race_sum_atomic)

// Every thread stages x[t] in shared memory and the last thread sums the stage into out[0]
// (blockDim.x <= 1024). Racy: no barrier between the writes and the read, so the last thread can
// read slots that other threads have not written yet (the previous block's or launch's values).
extern "C" __global__ void vs_race_stage_racy(const int* x, int* out) {
    __shared__ int stage[1024];
    const int t = threadIdx.x;
    stage[t] = x[t];
    if (t == (int) blockDim.x - 1) {
        int s = 0;
        for (int i = 0; i < (int) blockDim.x; i++) s += stage[i];
        out[0] = s;
    }
}
VS_KERNEL(vs_race_stage_racy)

// Correct: __syncthreads between the writes and the read.
extern "C" __global__ void vs_race_stage_barrier(const int* x, int* out) {
    __shared__ int stage[1024];
    const int t = threadIdx.x;
    stage[t] = x[t];
    __syncthreads();
    if (t == (int) blockDim.x - 1) {
        int s = 0;
        for (int i = 0; i < (int) blockDim.x; i++) s += stage[i];
        out[0] = s;
    }
}
VS_KERNEL(vs_race_stage_barrier)

// out[t] = x[t - 1] (0 for lane 0 of each warp), passed through shared memory inside each warp.
// Racy: "warp-synchronous" code without __syncwarp; since Volta the lanes of a warp are not in
// lockstep, so lane t may read its neighbour's slot before the neighbour wrote it.
extern "C" __global__ void vs_race_shift_racy(const int* x, int* out) {
    __shared__ int slot[1024];
    const int t = threadIdx.x;
    slot[t] = x[t];
    out[t] = t % VS_WARP == 0 ? 0 : slot[t - 1];
}
VS_KERNEL(vs_race_shift_racy)

// Correct: __syncwarp between the write and the read.
extern "C" __global__ void vs_race_shift_syncwarp(const int* x, int* out) {
    __shared__ int slot[1024];
    const int t = threadIdx.x;
    slot[t] = x[t];
    __syncwarp();
    out[t] = t % VS_WARP == 0 ? 0 : slot[t - 1];
}
VS_KERNEL(vs_race_shift_syncwarp)

// Correct: a warp shuffle, no shared memory at all.
extern "C" __global__ void vs_race_shift_shuffle(const int* x, int* out) {
    const int t = threadIdx.x;
    const int up = __shfl_up_sync(0xffffffffu, x[t], 1);
    out[t] = t % VS_WARP == 0 ? 0 : up;
}
VS_KERNEL(vs_race_shift_shuffle)
