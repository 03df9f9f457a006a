// Helpers shared by every Vectorstream kernel. Compiled twice: by nvcc to PTX for real GPUs, and by
// g++ with src/test/native/cuda_emu.h for the emulated driver, so keep it to the CUDA subset that
// header emulates (no dynamic shared memory, warps always fully converged at shuffles).
#pragma once

#ifndef VS_EMULATION
#define VS_KERNEL(name) /* kernels are found by name in the PTX; the emulator registers them instead */
#endif

#define VS_METRIC_L2 0
#define VS_METRIC_IP 1
#define VS_MAX_DIM 4096
#define VS_WARP 32
#define VS_MAX_WARPS 32

typedef unsigned long long vs_key;

// Distance under our convention: smaller is better (negated dot product for inner product).
__device__ __forceinline__ float vs_distance(const float* a, const float* b, int d, int metric) {
    float s = 0.f;
    if (metric == VS_METRIC_L2) {
        for (int i = 0; i < d; i++) { float t = a[i] - b[i]; s += t * t; }
        return s;
    }
    for (int i = 0; i < d; i++) s += a[i] * b[i];
    return -s;
}

// (distance, id) packed into one 64-bit key whose unsigned order is "smaller distance, then smaller
// id", so that one integer min both selects and breaks ties the same way as the CPU backend.
__device__ __forceinline__ vs_key vs_make_key(float dist, int id) {
    unsigned int u = __float_as_uint(dist);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ((vs_key) u << 32) | (unsigned int) id;
}
__device__ __forceinline__ float vs_key_dist(vs_key k) {
    unsigned int u = (unsigned int) (k >> 32);
    u = (u & 0x80000000u) ? (u & 0x7fffffffu) : ~u;
    return __uint_as_float(u);
}
__device__ __forceinline__ int vs_key_id(vs_key k) { return (int) (unsigned int) (k & 0xffffffffu); }
#define VS_KEY_NONE 0xffffffffffffffffULL

// A thread's private queue of its k best keys, sorted ascending (the "thread queue" of FAISS's
// BlockSelect). K is the compile-time bound, k the runtime size.
template <int K>
struct VsThreadQueue {
    vs_key keys[K];
    int n;
    __device__ __forceinline__ void init() { n = 0; }
    __device__ __forceinline__ void push(vs_key key, int k) {
        if (n == k && key >= keys[k - 1]) return;
        int i = (n < k) ? n++ : k - 1;
        while (i > 0 && keys[i - 1] > key) { keys[i] = keys[i - 1]; i--; }
        keys[i] = key;
    }
};

__device__ __forceinline__ vs_key vs_warp_min(vs_key v) {
    for (int off = VS_WARP / 2; off > 0; off /= 2) {
        vs_key o = __shfl_down_sync(0xffffffffu, v, off);
        v = o < v ? o : v;
    }
    return v;
}

// Merges every thread's queue into the block's k best, written to outD/outI (id -1 when fewer than
// k candidates exist). k rounds of a warp-shuffle min then a cross-warp min; the winning thread pops
// its head. All threads of the block must call it.
template <int K>
__device__ void vs_block_select(VsThreadQueue<K>& q, int k, float* outD, int* outI) {
    __shared__ vs_key warpBest[VS_MAX_WARPS];
    __shared__ vs_key winner;
    const int lane = threadIdx.x % VS_WARP, warp = threadIdx.x / VS_WARP;
    const int nwarps = (blockDim.x + VS_WARP - 1) / VS_WARP;
    int head = 0;
    for (int r = 0; r < k; r++) {
        vs_key mine = head < q.n ? q.keys[head] : VS_KEY_NONE;
        vs_key best = vs_warp_min(mine);
        if (lane == 0) warpBest[warp] = best;
        __syncthreads();
        if (threadIdx.x == 0) {
            vs_key b = warpBest[0];
            for (int w = 1; w < nwarps; w++) b = warpBest[w] < b ? warpBest[w] : b;
            winner = b;
            if (b == VS_KEY_NONE) { outD[r] = INFINITY; outI[r] = -1; }
            else { outD[r] = vs_key_dist(b); outI[r] = vs_key_id(b); }
        }
        __syncthreads();
        vs_key w = winner;
        if (w != VS_KEY_NONE && mine == w) head++;
        __syncthreads(); // nobody rewrites warpBest/winner before everyone has read them
    }
}
