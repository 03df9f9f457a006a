// IVF-PQ on the device: per-query look-up tables and the asymmetric-distance (ADC) scan.
#include "vs_common.cuh"

// Grid (nq, M), threads over the ksub centroids of sub-quantizer m:
// lut[q][m][c] = distance(query q's m-th sub-vector, centroid c of sub-quantizer m).
// codebooks: M x ksub x dsub, dsub = d / M.
extern "C" __global__ void vs_pq_lut(const float* queries, int nq, int d, const float* codebooks,
        int M, int ksub, int metric, float* lut) {
    const int q = blockIdx.x, m = blockIdx.y, dsub = d / M;
    if (q >= nq || m >= M) return;
    const float* sub = queries + (size_t) q * d + (size_t) m * dsub;
    for (int c = threadIdx.x; c < ksub; c += blockDim.x) {
        const float* cen = codebooks + ((size_t) m * ksub + c) * dsub;
        lut[((size_t) q * M + m) * ksub + c] = vs_distance(sub, cen, dsub, metric);
    }
}
VS_KERNEL(vs_pq_lut)

// Grid (ceil(n / blockDim), nq): out[q][i] = sum over m of lut[q][m][codes[i][m]].
extern "C" __global__ void vs_pq_adc(const float* lut, int nq, const unsigned char* codes, int n,
        int M, int ksub, float* out) {
    const int q = blockIdx.y;
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (q >= nq || i >= n) return;
    const float* t = lut + (size_t) q * M * ksub;
    const unsigned char* c = codes + (size_t) i * M;
    float s = 0.f;
    for (int m = 0; m < M; m++) s += t[m * ksub + c[m]];
    out[(size_t) q * n + i] = s;
}
VS_KERNEL(vs_pq_adc)
