package io.vectorstream.kernels;

/**
 * The numeric kernels every index is built on. Implementations are stateless and thread-safe.
 *
 * <p>Vectors live in flat {@code float[]} arrays, one after another ({@code dim} floats each), so
 * that a list of vectors is one contiguous block and a backend can work on many at once. Distances
 * follow {@link Metric}: smaller is better ({@code -dot} for inner product).
 */
public interface VectorKernels {

    /** A short name for logs and status, such as {@code panama-512} or {@code scalar}. */
    String name();

    /** Squared Euclidean distance between {@code a[aOff..aOff+dim)} and {@code b[bOff..bOff+dim)}. */
    float l2Squared(float[] a, int aOff, float[] b, int bOff, int dim);

    /** Dot product of {@code a[aOff..aOff+dim)} and {@code b[bOff..bOff+dim)}. */
    float dot(float[] a, int aOff, float[] b, int bOff, int dim);

    /**
     * Distances from one query to {@code n} contiguous vectors starting at {@code data[dataOff]}:
     * {@code out[outOff + i] = distance(query, vector i)}. This is the inverted-list scan.
     */
    default void distances(Metric metric, float[] query, int queryOff, float[] data, int dataOff,
                           int n, int dim, float[] out, int outOff) {
        if (metric.usesDot()) {
            for (int i = 0; i < n; i++) out[outOff + i] = -dot(query, queryOff, data, dataOff + i * dim, dim);
        } else {
            for (int i = 0; i < n; i++) out[outOff + i] = l2Squared(query, queryOff, data, dataOff + i * dim, dim);
        }
    }

    /**
     * The distance matrix between {@code nq} queries and {@code nb} vectors, row-major:
     * {@code out[q * nb + b]}. Blocked so that a block of vectors stays in cache across queries.
     */
    default void distanceMatrix(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, float[] out) {
        final int block = Math.max(1, (32 * 1024) / (dim * Float.BYTES)); // ~32 KiB of vectors per block
        for (int b0 = 0; b0 < nb; b0 += block) {
            int bn = Math.min(block, nb - b0);
            for (int q = 0; q < nq; q++) {
                distances(metric, queries, q * dim, vectors, b0 * dim, bn, dim, out, q * nb + b0);
            }
        }
    }

    /** The distance under {@code metric} between two vectors. */
    default float distance(Metric metric, float[] a, int aOff, float[] b, int bOff, int dim) {
        return metric.usesDot() ? -dot(a, aOff, b, bOff, dim) : l2Squared(a, aOff, b, bOff, dim);
    }

    // ---- batch kernels: many queries x many vectors per call, so a GPU backend never sees single pairs ----

    /** Squared L2 norms of {@code n} contiguous vectors: {@code out[i] = |v_i|^2}. */
    default void squaredNorms(float[] vectors, int n, int dim, float[] out) {
        for (int i = 0; i < n; i++) out[i] = dot(vectors, i * dim, vectors, i * dim, dim);
    }

    /**
     * For each of {@code nq} queries, the nearest of {@code nb} vectors (1-NN): the assignment step of
     * k-means and of adding to an inverted index. {@code outIdx[q]} gets the index, {@code outDist[q]}
     * the distance under {@code metric} (may be null). Backends may use |x|^2 + |y|^2 - 2xy for L2,
     * so distances can differ from {@link #l2Squared} by rounding.
     */
    default void nearest(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim,
                         int[] outIdx, float[] outDist) {
        float[] d = new float[nb];
        for (int q = 0; q < nq; q++) {
            distances(metric, queries, q * dim, vectors, 0, nb, dim, d, 0);
            int best = 0;
            for (int b = 1; b < nb; b++) if (d[b] < d[best]) best = b;
            outIdx[q] = best;
            if (outDist != null) outDist[q] = d[best];
        }
    }

    /**
     * {@code nb} vectors laid out once for repeated {@link #nearest(PreparedVectors, float[], int, int[], float[])}
     * calls ({@code vectors} must not change afterwards). The default keeps the rows as they are.
     */
    default PreparedVectors prepare(Metric metric, float[] vectors, int nb, int dim) {
        return new PreparedVectors(metric, vectors, nb, dim, null);
    }

    /** {@link #nearest(Metric, float[], int, float[], int, int, int[], float[])} against vectors laid out ahead. */
    default void nearest(PreparedVectors prepared, float[] queries, int nq, int[] outIdx, float[] outDist) {
        nearest(prepared.metric(), queries, nq, prepared.vectors(), prepared.count(), prepared.dim(), outIdx, outDist);
    }

    /**
     * Exact k-nearest neighbours of {@code nq} queries among {@code nb} vectors, {@code k <= }
     * {@link TopK#MAX_K}. Row {@code q} of {@code outIdx}/{@code outDist} ({@code k} entries each) is
     * best first, padded with -1 / +infinity when {@code nb < k}.
     */
    default void knn(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, int k,
                     int[] outIdx, float[] outDist) {
        if (k < 1 || k > TopK.MAX_K) throw new IllegalArgumentException("k must be in 1.." + TopK.MAX_K);
        final int qBlock = 64, bBlock = 4096;
        float[] d = new float[qBlock * bBlock];
        int[] ids = new int[bBlock];
        TopK[] tops = new TopK[qBlock];
        for (int i = 0; i < qBlock; i++) tops[i] = new TopK(k);
        int[] rowIds = new int[k];
        float[] rowDist = new float[k];
        for (int q0 = 0; q0 < nq; q0 += qBlock) {
            int qn = Math.min(qBlock, nq - q0);
            for (int i = 0; i < qn; i++) tops[i].reset();
            float[] qs = java.util.Arrays.copyOfRange(queries, q0 * dim, (q0 + qn) * dim);
            for (int b0 = 0; b0 < nb; b0 += bBlock) {
                int bn = Math.min(bBlock, nb - b0);
                float[] vs = java.util.Arrays.copyOfRange(vectors, b0 * dim, (b0 + bn) * dim);
                distanceMatrix(metric, qs, qn, vs, bn, dim, d);
                for (int j = 0; j < bn; j++) ids[j] = b0 + j;
                for (int i = 0; i < qn; i++) tops[i].offerAll(d, i * bn, ids, 0, bn);
            }
            for (int i = 0; i < qn; i++) {
                int got = tops[i].drainSorted(rowIds, rowDist);
                int o = (q0 + i) * k;
                for (int j = 0; j < k; j++) {
                    outIdx[o + j] = j < got ? rowIds[j] : -1;
                    outDist[o + j] = j < got ? rowDist[j] : Float.POSITIVE_INFINITY;
                }
            }
        }
    }

    /**
     * ADC look-up table of one query against a product quantizer with {@code m} sub-quantizers of
     * {@link #PQ_KSUB} centroids of {@code dsub} floats. {@code codebooksT} is laid out
     * {@code [m][dsub][256]} (lanes run over centroids), so {@code lut[j*256 + c]} =
     * distance(query sub-vector j, centroid c of sub-quantizer j): squared L2, or {@code -dot} for IP/cosine.
     */
    default void adcTable(Metric metric, float[] query, int queryOff, float[] codebooksT, int m, int dsub, float[] lut) {
        for (int j = 0; j < m; j++) {
            int cb = j * dsub * PQ_KSUB;
            for (int c = 0; c < PQ_KSUB; c++) {
                float s = 0f;
                for (int t = 0; t < dsub; t++) {
                    float y = codebooksT[cb + t * PQ_KSUB + c], x = query[queryOff + j * dsub + t];
                    s += metric.usesDot() ? -x * y : (x - y) * (x - y);
                }
                lut[j * PQ_KSUB + c] = s;
            }
        }
    }

    /**
     * {@code top.offerAll(dist, distOff, ids, idOff, n)}: the same candidates offered in the same order,
     * so the same heap results; a backend may skip runs of candidates that cannot enter more cheaply.
     */
    default void offerAll(TopK top, float[] dist, int distOff, int[] ids, int idOff, int n) {
        top.offerAll(dist, distOff, ids, idOff, n);
    }

    /**
     * Two look-up tables at once, exactly as two {@link #adcTable} calls would write them: for two
     * queries (IVF-PQ: the residuals of two probed lists) against the same codebooks. A backend may read
     * the codebooks once for both; IVF-PQ computes one table per probed list, and the codebooks (M x 256
     * x dsub floats, 128 KiB at d = 128) do not fit in L1.
     */
    default void adcTablePair(Metric metric, float[] query0, int query0Off, float[] query1, int query1Off,
                              float[] codebooksT, int m, int dsub, float[] lut0, float[] lut1) {
        adcTable(metric, query0, query0Off, codebooksT, m, dsub, lut0);
        adcTable(metric, query1, query1Off, codebooksT, m, dsub, lut1);
    }

    /**
     * The ADC scan: {@code out[outOff+i] = bias + sum_j lut[j*256 + code_i[j]]} for {@code n} codes of
     * {@code m} bytes each, stored contiguously from {@code codes[codesOff]}.
     */
    default void adcScan(float[] lut, int m, byte[] codes, int codesOff, int n, float bias, float[] out, int outOff) {
        for (int i = 0; i < n; i++) {
            float s = bias;
            int c = codesOff + i * m;
            for (int j = 0; j < m; j++) s += lut[j * PQ_KSUB + (codes[c + j] & 0xff)];
            out[outOff + i] = s;
        }
    }

    /**
     * Distances from one query to {@code nb} vectors stored as bf16 in the {@link Bf16Blocks} layout,
     * that is to the rounded vectors, whose squared norms are {@code sqNorms} (as
     * {@link Bf16Blocks#roundedSquaredNorm} gives; read for L2 only). Written to {@code out[outOff, outOff+nb)}.
     * Exact up to float rounding for the rounded vectors; callers that need exact answers re-check the best
     * candidates against the original floats (each component moved by at most {@link Bf16#RELATIVE_ERROR}).
     */
    default void scanBf16Blocks(Metric metric, float[] query, int queryOff, int[] blocks, float[] sqNorms,
                                int nb, int dim, float[] out, int outOff) {
        int pairs = Bf16Blocks.pairs(dim);
        boolean l2 = !metric.usesDot();
        for (int i = 0; i < nb; i++) {
            float s = 0f;
            for (int p = 0; p < pairs; p++) {
                int packed = blocks[Bf16Blocks.indexOf(i, p, dim)];
                int d = 2 * p;
                float lo = Bf16.toFloat(packed & 0xffff), hi = Bf16.toFloat(packed >>> 16);
                if (l2) {
                    float e = lo - query[queryOff + d];
                    s += e * e;
                    if (d + 1 < dim) {
                        e = hi - query[queryOff + d + 1];
                        s += e * e;
                    }
                } else {
                    s += lo * query[queryOff + d] + (d + 1 < dim ? hi * query[queryOff + d + 1] : 0f);
                }
            }
            out[outOff + i] = l2 ? s : -s;
        }
    }

    /** Codes per block in the blocked code layout of {@link #adcScanBlocked}. */
    int PQ_BLOCK = 16;

    /**
     * The ADC scan over codes in the blocked layout: blocks of {@link #PQ_BLOCK} codes, each block
     * {@code m * 16} bytes, sub-quantizer-major ({@code block[j*16 + r]} = byte j of code r), the last
     * block zero-padded. So SIMD backends read byte j of 16 codes with one load and gather their table
     * entries at once. {@code out[outOff+i]} for the first {@code n} codes; {@code codesOff} is a block start.
     */
    default void adcScanBlocked(float[] lut, int m, byte[] codes, int codesOff, int n, float bias, float[] out, int outOff) {
        // A block at a time, its 16 running sums in locals (registers): the codes are read in order and one table
        // row serves 16 look-ups. (Per code, m look-ups 1 KB apart, or the sums in an array, cost 2-3x as much.)
        float[] tail = null;
        for (int i0 = 0; i0 < n; i0 += PQ_BLOCK) {
            int block = codesOff + (i0 / PQ_BLOCK) * m * PQ_BLOCK;
            float s0 = bias, s1 = bias, s2 = bias, s3 = bias, s4 = bias, s5 = bias, s6 = bias, s7 = bias, s8 = bias, s9 = bias, s10 = bias, s11 = bias, s12 = bias, s13 = bias, s14 = bias, s15 = bias;
            for (int j = 0, at = block, row = 0; j < m; j++, at += PQ_BLOCK, row += PQ_KSUB) {
                s0 += lut[row + (codes[at + 0] & 0xff)];
                s1 += lut[row + (codes[at + 1] & 0xff)];
                s2 += lut[row + (codes[at + 2] & 0xff)];
                s3 += lut[row + (codes[at + 3] & 0xff)];
                s4 += lut[row + (codes[at + 4] & 0xff)];
                s5 += lut[row + (codes[at + 5] & 0xff)];
                s6 += lut[row + (codes[at + 6] & 0xff)];
                s7 += lut[row + (codes[at + 7] & 0xff)];
                s8 += lut[row + (codes[at + 8] & 0xff)];
                s9 += lut[row + (codes[at + 9] & 0xff)];
                s10 += lut[row + (codes[at + 10] & 0xff)];
                s11 += lut[row + (codes[at + 11] & 0xff)];
                s12 += lut[row + (codes[at + 12] & 0xff)];
                s13 += lut[row + (codes[at + 13] & 0xff)];
                s14 += lut[row + (codes[at + 14] & 0xff)];
                s15 += lut[row + (codes[at + 15] & 0xff)];
            }
            float[] dst = out;
            int o = outOff + i0;
            if (n - i0 < PQ_BLOCK) { // the last, partial block: through a scratch row
                if (tail == null) tail = new float[PQ_BLOCK];
                dst = tail;
                o = 0;
            }
            dst[o + 0] = s0;
            dst[o + 1] = s1;
            dst[o + 2] = s2;
            dst[o + 3] = s3;
            dst[o + 4] = s4;
            dst[o + 5] = s5;
            dst[o + 6] = s6;
            dst[o + 7] = s7;
            dst[o + 8] = s8;
            dst[o + 9] = s9;
            dst[o + 10] = s10;
            dst[o + 11] = s11;
            dst[o + 12] = s12;
            dst[o + 13] = s13;
            dst[o + 14] = s14;
            dst[o + 15] = s15;
            if (dst == tail) System.arraycopy(tail, 0, out, outOff + i0, n - i0);
        }
    }

    /** Centroids per product sub-quantizer: 8-bit codes. */
    int PQ_KSUB = 256;
}
