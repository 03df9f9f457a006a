// IVF-Flat on the device: coarse assignment, appends into inverted lists, tombstones, compaction
// moves, and the list scan with warp-level top-k. Lists are separate device buffers reached through
// a table of pointers, so one list can grow (reallocate) without touching the others.
//
// List layout (interleaved, as FAISS's GPU IVF-Flat and cuVS store lists): slots are grouped 32 at a
// time, and inside a group the values are dimension-major, so value j of slot s is at
//   (s / 32) * 32 * d + j * 32 + s % 32.
// A warp scanning a group reads dimension j of its 32 vectors as one 128-byte coalesced load. A list's
// capacity is a multiple of 32, so a group is always whole in memory (slots past the length are read
// and ignored).
//
// Work split: the scan runs one block per (query, probed list) pair; its VS_WARPS_PER_BLOCK warps take
// every VS_WARPS_PER_BLOCK-th group of the list, each keeping a warp queue (vs_common.cuh), and write
// their k best keys to a per-warp buffer; a second kernel merges each query's nprobe * warps * k
// candidates into its k results, one warp per query. Several warps per pair keep enough loads in flight
// to saturate memory with batches of tens of queries (bench/GPU-MODEL.md).
#include "vs_common.cuh"

// The query values a warp reads for every vector: in shared memory when they fit, else in global memory
// (read through the cache; every lane reads the same address, one broadcast).
#define VS_QUERY_CACHE 1024

__device__ __forceinline__ size_t vs_interleaved(int slot, int j, int d) {
    return (size_t) (slot / VS_WARP) * VS_WARP * d + (size_t) j * VS_WARP + slot % VS_WARP;
}

// Copies this warp's query into its slice of shared memory when it fits; returns where to read it.
__device__ __forceinline__ const float* vs_stage_query(const float* q, int d, float* slice) {
    if (d > VS_QUERY_CACHE) return q;
    for (int j = threadIdx.x % VS_WARP; j < d; j += VS_WARP) slice[j] = q[j];
    __syncwarp();
    return slice;
}

// Coarse probe, one warp per query: distances to every centroid (row-major; small and cached), the
// nprobe nearest written best first.
template <int K>
__device__ void vs_coarse(const float* queries, int nq, int d, int metric,
                          const float* centroids, int nlist, int nprobe, float* outD, int* outL) {
    __shared__ float sq[VS_WARPS_PER_BLOCK][VS_QUERY_CACHE];
    const int warp = threadIdx.x / VS_WARP, lane = threadIdx.x % VS_WARP;
    const int q = blockIdx.x * VS_WARPS_PER_BLOCK + warp;
    if (q >= nq) return; // the whole warp leaves together
    const float* qp = vs_stage_query(queries + (size_t) q * d, d, sq[warp]);
    VsWarpQueue<K> best;
    best.init();
    vs_key threshold = VS_KEY_NONE;
    for (int c0 = 0; c0 < nlist; c0 += VS_WARP) {
        const int c = c0 + lane;
        const vs_key key = c < nlist ? vs_make_key(vs_distance(qp, centroids + (size_t) c * d, d, metric), c) : VS_KEY_NONE;
        vs_warp_offer(best, key, nprobe, threshold);
    }
    best.write(nprobe, outD + (size_t) q * nprobe, outL + (size_t) q * nprobe);
}

#define VS_COARSE(K)                                                                                      \
    extern "C" __global__ void vs_coarse_k##K(const float* queries, int nq, int d, int metric,           \
            const float* centroids, int nlist, int nprobe, float* outD, int* outL) {                     \
        vs_coarse<K>(queries, nq, d, metric, centroids, nlist, nprobe, outD, outL);                      \
    }                                                                                                     \
    VS_KERNEL(vs_coarse_k##K)
VS_FOR_EACH_K(VS_COARSE)

// Copies a staged batch (row-major) into its lists: vector i goes to slot dstSlot[i] of list dstList[i]
// (a freed slot or the end of the list; the host decided which and made room).
extern "C" __global__ void vs_ivf_append(const float* vecs, const int* ids, const int* dstList,
        const int* dstSlot, int n, int d, float* const* listData, int* const* listIds) {
    for (int i = blockIdx.x; i < n; i += gridDim.x) {
        float* dst = listData[dstList[i]];
        const int slot = dstSlot[i];
        const float* src = vecs + (size_t) i * d;
        for (int j = threadIdx.x; j < d; j += blockDim.x) dst[vs_interleaved(slot, j, d)] = src[j];
        if (threadIdx.x == 0) listIds[dstList[i]][slot] = ids[i];
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
        for (int j = threadIdx.x; j < d; j += blockDim.x) data[vs_interleaved(dst[i], j, d)] = data[vs_interleaved(src[i], j, d)];
        if (threadIdx.x == 0) {
            int* ids = listIds[lists[i]];
            ids[dst[i]] = ids[src[i]];
            ids[src[i]] = -1;
        }
    }
}
VS_KERNEL(vs_ivf_move)

// The scan: block b takes pair b, i.e. query b / nprobe and its probe b % nprobe (probes[b] < 0: no
// list). Warp w scans groups w, w + VS_WARPS_PER_BLOCK, ...: lane l computes the distance of slot
// g * 32 + l, skipping tombstones, and the warp keeps its k best; they go to
// partial[(b * VS_WARPS_PER_BLOCK + w) * k ..] as keys.
template <int K>
__device__ void vs_scan(const float* queries, int nq, int d, int metric, const int* probes, int nprobe,
                        const float* const* listData, const int* const* listIds, const int* listLen,
                        int k, vs_key* partial) {
    __shared__ float sq[VS_QUERY_CACHE];
    const int warp = threadIdx.x / VS_WARP, lane = threadIdx.x % VS_WARP;
    const long long pair = blockIdx.x;
    if (pair >= (long long) nq * nprobe) return; // the whole block leaves together
    const float* q = queries + (size_t) (pair / nprobe) * d;
    const float* qp = q;
    if (d <= VS_QUERY_CACHE) {
        for (int j = threadIdx.x; j < d; j += blockDim.x) sq[j] = q[j];
        __syncthreads();
        qp = sq;
    }
    VsWarpQueue<K> best;
    best.init();
    vs_key threshold = VS_KEY_NONE;
    const int list = probes[pair];
    if (list >= 0) {
        const int len = listLen[list];
        const float* vecs = listData[list];
        const int* ids = listIds[list];
        for (int g = warp; g * VS_WARP < len; g += VS_WARPS_PER_BLOCK) {
            const int slot = g * VS_WARP + lane;
            const float* x = vecs + (size_t) g * VS_WARP * d + lane;
            float s = 0.f;
            // unrolled so that each lane has several independent loads in flight (memory-level parallelism)
            if (metric == VS_METRIC_L2) {
#pragma unroll 8
                for (int j = 0; j < d; j++) { const float t = qp[j] - x[(size_t) j * VS_WARP]; s += t * t; }
            } else {
#pragma unroll 8
                for (int j = 0; j < d; j++) s += qp[j] * x[(size_t) j * VS_WARP];
                s = -s;
            }
            const int id = slot < len ? ids[slot] : -1;
            vs_warp_offer(best, id >= 0 ? vs_make_key(s, id) : VS_KEY_NONE, k, threshold);
        }
    }
    best.writeKeys(k, partial + ((size_t) pair * VS_WARPS_PER_BLOCK + warp) * k);
}

#define VS_SCAN(K)                                                                                        \
    extern "C" __global__ void vs_ivf_scan_k##K(const float* queries, int nq, int d, int metric,         \
            const int* probes, int nprobe, const float* const* listData, const int* const* listIds,      \
            const int* listLen, int k, vs_key* partial) {                                                \
        vs_scan<K>(queries, nq, d, metric, probes, nprobe, listData, listIds, listLen, k, partial);      \
    }                                                                                                     \
    VS_KERNEL(vs_ivf_scan_k##K)
VS_FOR_EACH_K(VS_SCAN)

// The per-query merge: one warp per query reads its n = nprobe * VS_WARPS_PER_BLOCK * k candidate keys
// (an id is in one slot of one list only, and a query probes distinct lists, so no id repeats) and
// writes its k best.
template <int K>
__device__ void vs_merge(const vs_key* partial, int nq, int n, int k, float* outD, int* outI) {
    const int warp = threadIdx.x / VS_WARP, lane = threadIdx.x % VS_WARP;
    const int q = blockIdx.x * VS_WARPS_PER_BLOCK + warp;
    if (q >= nq) return;
    const vs_key* c = partial + (size_t) q * n;
    VsWarpQueue<K> best;
    best.init();
    vs_key threshold = VS_KEY_NONE;
    for (int i0 = 0; i0 < n; i0 += VS_WARP) {
        const int i = i0 + lane;
        vs_warp_offer(best, i < n ? c[i] : VS_KEY_NONE, k, threshold);
    }
    best.write(k, outD + (size_t) q * k, outI + (size_t) q * k);
}

#define VS_MERGE(K)                                                                                       \
    extern "C" __global__ void vs_ivf_merge_k##K(const vs_key* partial, int nq, int n, int k,            \
            float* outD, int* outI) {                                                                    \
        vs_merge<K>(partial, nq, n, k, outD, outI);                                                      \
    }                                                                                                     \
    VS_KERNEL(vs_ivf_merge_k##K)
VS_FOR_EACH_K(VS_MERGE)
