// IVF-Flat on the device: coarse assignment, appends into inverted lists, tombstones, compaction
// moves, and the list scan fused with per-query top-k. Lists are separate device buffers reached
// through a table of pointers, so one list can grow (reallocate) without touching the others.
#include "vs_common.cuh"

// One block per query: distances to all centroids, then the nprobe nearest (top-nprobe selection).
template <int K>
__device__ void vs_coarse(const float* queries, int nq, int d, int metric,
                          const float* centroids, int nlist, int nprobe, float* outD, int* outL) {
    __shared__ float sq[VS_MAX_DIM];
    const int q = blockIdx.x;
    if (q >= nq) return;
    for (int j = threadIdx.x; j < d; j += blockDim.x) sq[j] = queries[(size_t) q * d + j];
    __syncthreads();
    VsThreadQueue<K> tq;
    tq.init();
    for (int c = threadIdx.x; c < nlist; c += blockDim.x) {
        tq.push(vs_make_key(vs_distance(sq, centroids + (size_t) c * d, d, metric), c), nprobe);
    }
    vs_block_select<K>(tq, nprobe, outD + (size_t) q * nprobe, outL + (size_t) q * nprobe);
}

extern "C" __global__ void vs_coarse_k32(const float* queries, int nq, int d, int metric,
        const float* centroids, int nlist, int nprobe, float* outD, int* outL) {
    vs_coarse<32>(queries, nq, d, metric, centroids, nlist, nprobe, outD, outL);
}
VS_KERNEL(vs_coarse_k32)

extern "C" __global__ void vs_coarse_k256(const float* queries, int nq, int d, int metric,
        const float* centroids, int nlist, int nprobe, float* outD, int* outL) {
    vs_coarse<256>(queries, nq, d, metric, centroids, nlist, nprobe, outD, outL);
}
VS_KERNEL(vs_coarse_k256)

// Copies a staged batch into its lists: vector i goes to slot dstSlot[i] of list dstList[i]
// (a freed slot or the end of the list; the host decided which and made room).
extern "C" __global__ void vs_ivf_append(const float* vecs, const int* ids, const int* dstList,
        const int* dstSlot, int n, int d, float* const* listData, int* const* listIds) {
    for (int i = blockIdx.x; i < n; i += gridDim.x) {
        float* dst = listData[dstList[i]] + (size_t) dstSlot[i] * d;
        const float* src = vecs + (size_t) i * d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
        if (threadIdx.x == 0) listIds[dstList[i]][dstSlot[i]] = ids[i];
    }
}
VS_KERNEL(vs_ivf_append)

// Tombstones: an id of -1 marks a hole that every scan skips.
extern "C" __global__ void vs_ivf_remove(const int* lists, const int* slots, int n, int* const* listIds) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) listIds[lists[i]][slots[i]] = -1;
}
VS_KERNEL(vs_ivf_remove)

// Compaction: moves live entries from the tail of a list into its holes. Sources and destinations
// are disjoint sets of slots, so every move is independent.
extern "C" __global__ void vs_ivf_move(const int* lists, const int* src, const int* dst, int n, int d,
        float* const* listData, int* const* listIds) {
    for (int i = blockIdx.x; i < n; i += gridDim.x) {
        float* data = listData[lists[i]];
        const float* from = data + (size_t) src[i] * d;
        float* to = data + (size_t) dst[i] * d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) to[j] = from[j];
        if (threadIdx.x == 0) {
            int* ids = listIds[lists[i]];
            ids[dst[i]] = ids[src[i]];
            ids[src[i]] = -1;
        }
    }
}
VS_KERNEL(vs_ivf_move)

// One block per query: scans the query's nprobe lists, skipping tombstones, each thread keeping
// its own k best, then one block-wide selection. probes[q * nprobe + p] < 0 means "no list".
template <int K>
__device__ void vs_scan(const float* queries, int nq, int d, int metric, const int* probes, int nprobe,
                        const float* const* listData, const int* const* listIds, const int* listLen,
                        int k, float* outD, int* outI) {
    __shared__ float sq[VS_MAX_DIM];
    const int q = blockIdx.x;
    if (q >= nq) return;
    for (int j = threadIdx.x; j < d; j += blockDim.x) sq[j] = queries[(size_t) q * d + j];
    __syncthreads();
    VsThreadQueue<K> tq;
    tq.init();
    for (int p = 0; p < nprobe; p++) {
        const int list = probes[(size_t) q * nprobe + p];
        if (list < 0) continue;
        const int len = listLen[list];
        const float* vecs = listData[list];
        const int* ids = listIds[list];
        for (int i = threadIdx.x; i < len; i += blockDim.x) {
            const int id = ids[i];
            if (id < 0) continue;
            tq.push(vs_make_key(vs_distance(sq, vecs + (size_t) i * d, d, metric), id), k);
        }
    }
    vs_block_select<K>(tq, k, outD + (size_t) q * k, outI + (size_t) q * k);
}

extern "C" __global__ void vs_ivf_scan_k32(const float* queries, int nq, int d, int metric,
        const int* probes, int nprobe, const float* const* listData, const int* const* listIds,
        const int* listLen, int k, float* outD, int* outI) {
    vs_scan<32>(queries, nq, d, metric, probes, nprobe, listData, listIds, listLen, k, outD, outI);
}
VS_KERNEL(vs_ivf_scan_k32)

extern "C" __global__ void vs_ivf_scan_k256(const float* queries, int nq, int d, int metric,
        const int* probes, int nprobe, const float* const* listData, const int* const* listIds,
        const int* listLen, int k, float* outD, int* outI) {
    vs_scan<256>(queries, nq, d, metric, probes, nprobe, listData, listIds, listLen, k, outD, outI);
}
VS_KERNEL(vs_ivf_scan_k256)
