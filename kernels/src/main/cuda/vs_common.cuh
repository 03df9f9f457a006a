// Helpers shared by every Vectorstream kernel. Compiled twice: by nvcc to PTX for real GPUs, and by
// g++ with src/test/native/cuda_emu.h for the emulated driver, so keep it to the CUDA subset that
// header emulates (no dynamic shared memory, warps always fully converged at shuffles).
#pragma once

#ifndef VS_EMULATION
#define VS_KERNEL(name) /* kernels are found by name in the PTX; the emulator registers them instead */
#endif

#define VS_METRIC_L2 0
#define VS_METRIC_IP 1
#define VS_WARP 32

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

#define VS_FULL_MASK 0xffffffffu
// Warps per block of the scan, merge and coarse kernels: each warp is an independent work item (a
// (query, probed list) pair or a query), so a block is only a unit of scheduling. Must equal
// CudaKernels.WARPS_PER_BLOCK on the host.
#define VS_WARPS_PER_BLOCK 4

__device__ __forceinline__ vs_key vs_min(vs_key a, vs_key b) { return a < b ? a : b; }
__device__ __forceinline__ vs_key vs_max(vs_key a, vs_key b) { return a < b ? b : a; }

// One compare-exchange step of a bitonic network across lanes: lanes l and l ^ s exchange, the lower
// lane keeps the smaller key when ascending (the larger when descending).
__device__ __forceinline__ vs_key vs_exchange_lanes(vs_key x, int s, bool ascending) {
    const vs_key o = __shfl_xor_sync(VS_FULL_MASK, x, s);
    const bool lower = (threadIdx.x & s) == 0;
    return lower == ascending ? vs_min(x, o) : vs_max(x, o);
}

// Sorts a bitonic sequence held one key per lane (lane order) into the given direction.
__device__ __forceinline__ vs_key vs_bitonic_merge32(vs_key x, bool ascending) {
    for (int s = VS_WARP / 2; s > 0; s /= 2) x = vs_exchange_lanes(x, s, ascending);
    return x;
}

// Sorts 32 keys held one per lane ascending in lane order (bitonic sort: 15 exchange steps).
__device__ __forceinline__ vs_key vs_bitonic_sort32(vs_key x) {
    const int lane = threadIdx.x % VS_WARP;
    for (int size = 2; size <= VS_WARP; size *= 2) {
        const bool ascending = (lane & size) == 0; // alternate directions build bitonic runs; the last is ascending
        for (int s = size / 2; s > 0; s /= 2) x = vs_exchange_lanes(x, s, ascending);
    }
    return x;
}

// A warp's K best keys (FAISS's WarpSelect warp queue), sorted ascending across the warp in registers:
// element e = r * 32 + lane is register r of that lane. New candidates come 32 at a time, one per lane
// (VS_KEY_NONE where a lane has none) and are merged in with bitonic networks of shuffles:
//  1. sort the 32 candidates (ascending) and reverse them (descending);
//  2. min(queue tail, reversed candidates), element by element, holds the 32 smallest of the tail's 32 and the
//     candidates as a bitonic sequence (the bitonic split), and the queue's other K - 32 keep their places: the
//     K smallest of queue and candidates are exactly the head and that split (at most 32 queue keys are displaced,
//     and they are the tail's);
//  3. sort the split descending, so head (ascending) + split (descending) is one bitonic sequence of K, and one
//     bitonic merge over K sorts it (register-to-register exchanges for strides >= 32, shuffles below).
// Every lane of the warp must call every method together (warp-uniform control flow).
template <int K>
struct VsWarpQueue {
    static_assert(K >= VS_WARP && K % VS_WARP == 0 && (K & (K - 1)) == 0, "K must be a power of two >= 32");
    static constexpr int R = K / VS_WARP;
    vs_key v[R];

    __device__ __forceinline__ void init() {
#pragma unroll
        for (int r = 0; r < R; r++) v[r] = VS_KEY_NONE;
    }

    // The key at sorted position e (0-based), on every lane.
    __device__ __forceinline__ vs_key at(int e) const {
        const int lane = threadIdx.x % VS_WARP;
        vs_key x = VS_KEY_NONE;
#pragma unroll
        for (int r = 0; r < R; r++) x = r * VS_WARP + lane == e ? v[r] : x; // a per-lane select: registers stay registers
        return __shfl_sync(VS_FULL_MASK, x, e % VS_WARP);
    }

    // Merges this lane's candidate (VS_KEY_NONE for none) and every other lane's into the queue.
    __device__ __forceinline__ void add(vs_key candidate) {
        const int lane = threadIdx.x % VS_WARP;
        vs_key c = vs_bitonic_sort32(candidate);
        c = __shfl_sync(VS_FULL_MASK, c, VS_WARP - 1 - lane); // descending
        vs_key tail = vs_min(v[R - 1], c);                     // bitonic: the 32 smallest of tail and candidates
        if (R == 1) {
            v[0] = vs_bitonic_merge32(tail, true);
            return;
        }
        v[R - 1] = vs_bitonic_merge32(tail, false);            // head ascending, then tail descending: bitonic
#pragma unroll
        for (int s = K / 2; s >= VS_WARP; s /= 2) {            // strides across registers, within a lane
            const int rs = s / VS_WARP;
#pragma unroll
            for (int r = 0; r < R; r++) {
                if ((r & rs) == 0) {
                    const vs_key a = v[r], b = v[r | rs];
                    v[r] = vs_min(a, b);
                    v[r | rs] = vs_max(a, b);
                }
            }
        }
#pragma unroll
        for (int r = 0; r < R; r++) v[r] = vs_bitonic_merge32(v[r], true); // strides below 32, across lanes
    }

    // Writes the first k keys as (distance, id), best first; id -1 and +inf where fewer exist.
    __device__ __forceinline__ void write(int k, float* outD, int* outI) const {
        const int lane = threadIdx.x % VS_WARP;
#pragma unroll
        for (int r = 0; r < R; r++) {
            const int e = r * VS_WARP + lane;
            if (e < k) {
                outD[e] = v[r] == VS_KEY_NONE ? INFINITY : vs_key_dist(v[r]);
                outI[e] = v[r] == VS_KEY_NONE ? -1 : vs_key_id(v[r]);
            }
        }
    }

    // Writes the first k keys as they are.
    __device__ __forceinline__ void writeKeys(int k, vs_key* out) const {
        const int lane = threadIdx.x % VS_WARP;
#pragma unroll
        for (int r = 0; r < R; r++) {
            const int e = r * VS_WARP + lane;
            if (e < k) out[e] = v[r];
        }
    }
};

// Offers one key per lane to a warp queue holding the best k: only keys better than the current k-th
// best are candidates, and a merge runs only when some lane has one (after the first k keys, rarely).
// threshold is the caller's copy of the k-th best, updated here.
template <int K>
__device__ __forceinline__ void vs_warp_offer(VsWarpQueue<K>& q, vs_key key, int k, vs_key& threshold) {
    const bool candidate = key < threshold;
    if (__any_sync(VS_FULL_MASK, candidate)) {
        q.add(candidate ? key : VS_KEY_NONE);
        threshold = q.at(k - 1);
    }
}

// Instantiates a kernel template for every warp-queue size; the host picks the smallest K >= k.
#define VS_FOR_EACH_K(X) X(32) X(64) X(128) X(256)
