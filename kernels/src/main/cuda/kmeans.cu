// The k-means update step (the assignment step is vs_coarse_k32 with nprobe = 1).
#include "vs_common.cuh"

// One thread per (vector, dimension): sums[assign[i]][j] += x[i][j]; counts[assign[i]]++ once.
extern "C" __global__ void vs_kmeans_accumulate(const float* x, int n, int d, const int* assign,
        float* sums, int* counts) {
    const long long t = (long long) blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long long) n * d) return;
    const int i = (int) (t / d), j = (int) (t % d);
    const int c = assign[i];
    atomicAdd(&sums[(size_t) c * d + j], x[t]);
    if (j == 0) atomicAdd(&counts[c], 1);
}
VS_KERNEL(vs_kmeans_accumulate)

// centroid = sum / count; an empty cluster keeps its previous centroid (the host re-seeds it).
extern "C" __global__ void vs_kmeans_finish(float* centroids, const float* sums, const int* counts, int k, int d) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= k * d) return;
    const int c = t / d;
    if (counts[c] > 0) centroids[t] = sums[t] / (float) counts[c];
}
VS_KERNEL(vs_kmeans_finish)
