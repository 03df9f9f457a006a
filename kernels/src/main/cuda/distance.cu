// Dense distance matrix between nq queries and nb vectors, tiled through shared memory so each
// loaded element is reused VS_TILE times.
#include "vs_common.cuh"

#define VS_TILE 16

// Block (VS_TILE x VS_TILE) computes out[q][b] for a VS_TILE x VS_TILE tile.
extern "C" __global__ void vs_distance_matrix(const float* queries, int nq, const float* vecs, int nb,
        int d, int metric, float* out) {
    __shared__ float tq[VS_TILE][VS_TILE + 1];
    __shared__ float tv[VS_TILE][VS_TILE + 1];
    const int q = blockIdx.y * VS_TILE + threadIdx.y;
    const int b = blockIdx.x * VS_TILE + threadIdx.x;
    const int vRow = blockIdx.x * VS_TILE + threadIdx.y; // the vector this thread helps load
    float acc = 0.f;
    for (int j0 = 0; j0 < d; j0 += VS_TILE) {
        const int j = j0 + threadIdx.x;
        tq[threadIdx.y][threadIdx.x] = (q < nq && j < d) ? queries[(size_t) q * d + j] : 0.f;
        tv[threadIdx.y][threadIdx.x] = (vRow < nb && j < d) ? vecs[(size_t) vRow * d + j] : 0.f;
        __syncthreads();
        for (int t = 0; t < VS_TILE; t++) {
            const float a = tq[threadIdx.y][t], c = tv[threadIdx.x][t];
            if (metric == VS_METRIC_L2) { const float diff = a - c; acc += diff * diff; }
            else acc += a * c;
        }
        __syncthreads();
    }
    if (q < nq && b < nb) out[(size_t) q * nb + b] = metric == VS_METRIC_L2 ? acc : -acc;
}
VS_KERNEL(vs_distance_matrix)
