package io.vectorstream.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the Java Vector API, at the widest float species the CPU offers (AVX-512: 16 lanes).
 * Four independent accumulators hide the latency of the fused multiply-add.
 */
public final class PanamaKernels implements VectorKernels {

    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();

    @Override
    public String name() {
        return "panama-" + SPECIES.vectorBitSize();
    }

    @Override
    public float l2Squared(float[] a, int aOff, float[] b, int bOff, int dim) {
        int i = 0;
        float sum = 0f;
        if (dim >= LANES) {
            FloatVector acc0 = FloatVector.zero(SPECIES), acc1 = FloatVector.zero(SPECIES);
            FloatVector acc2 = FloatVector.zero(SPECIES), acc3 = FloatVector.zero(SPECIES);
            int bound4 = dim - 4 * LANES;
            for (; i <= bound4; i += 4 * LANES) {
                FloatVector d0 = FloatVector.fromArray(SPECIES, a, aOff + i).sub(FloatVector.fromArray(SPECIES, b, bOff + i));
                FloatVector d1 = FloatVector.fromArray(SPECIES, a, aOff + i + LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + LANES));
                FloatVector d2 = FloatVector.fromArray(SPECIES, a, aOff + i + 2 * LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + 2 * LANES));
                FloatVector d3 = FloatVector.fromArray(SPECIES, a, aOff + i + 3 * LANES).sub(FloatVector.fromArray(SPECIES, b, bOff + i + 3 * LANES));
                acc0 = d0.fma(d0, acc0);
                acc1 = d1.fma(d1, acc1);
                acc2 = d2.fma(d2, acc2);
                acc3 = d3.fma(d3, acc3);
            }
            int bound = dim - LANES;
            for (; i <= bound; i += LANES) {
                FloatVector d = FloatVector.fromArray(SPECIES, a, aOff + i).sub(FloatVector.fromArray(SPECIES, b, bOff + i));
                acc0 = d.fma(d, acc0);
            }
            sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < dim; i++) {
            float d = a[aOff + i] - b[bOff + i];
            sum += d * d;
        }
        return sum;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int dim) {
        int i = 0;
        float sum = 0f;
        if (dim >= LANES) {
            FloatVector acc0 = FloatVector.zero(SPECIES), acc1 = FloatVector.zero(SPECIES);
            FloatVector acc2 = FloatVector.zero(SPECIES), acc3 = FloatVector.zero(SPECIES);
            int bound4 = dim - 4 * LANES;
            for (; i <= bound4; i += 4 * LANES) {
                acc0 = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc0);
                acc1 = FloatVector.fromArray(SPECIES, a, aOff + i + LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + LANES), acc1);
                acc2 = FloatVector.fromArray(SPECIES, a, aOff + i + 2 * LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + 2 * LANES), acc2);
                acc3 = FloatVector.fromArray(SPECIES, a, aOff + i + 3 * LANES).fma(FloatVector.fromArray(SPECIES, b, bOff + i + 3 * LANES), acc3);
            }
            int bound = dim - LANES;
            for (; i <= bound; i += LANES) {
                acc0 = FloatVector.fromArray(SPECIES, a, aOff + i).fma(FloatVector.fromArray(SPECIES, b, bOff + i), acc0);
            }
            sum = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        }
        for (; i < dim; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    // ---- batch kernels ----

    /** Four vectors at a time: each query chunk is loaded once for four independent FMA chains. */
    @Override
    public void distances(Metric metric, float[] query, int queryOff, float[] data, int dataOff,
                          int n, int dim, float[] out, int outOff) {
        boolean l2 = !metric.usesDot();
        int full = dim - dim % LANES;
        int i = 0;
        if (full > 0) {
            for (; i + 4 <= n; i += 4) {
                int o0 = dataOff + i * dim, o1 = o0 + dim, o2 = o1 + dim, o3 = o2 + dim;
                FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
                for (int d = 0; d < full; d += LANES) {
                    FloatVector q = FloatVector.fromArray(SPECIES, query, queryOff + d);
                    FloatVector v0 = FloatVector.fromArray(SPECIES, data, o0 + d);
                    FloatVector v1 = FloatVector.fromArray(SPECIES, data, o1 + d);
                    FloatVector v2 = FloatVector.fromArray(SPECIES, data, o2 + d);
                    FloatVector v3 = FloatVector.fromArray(SPECIES, data, o3 + d);
                    if (l2) {
                        v0 = v0.sub(q); v1 = v1.sub(q); v2 = v2.sub(q); v3 = v3.sub(q);
                        a0 = v0.fma(v0, a0); a1 = v1.fma(v1, a1); a2 = v2.fma(v2, a2); a3 = v3.fma(v3, a3);
                    } else {
                        a0 = v0.fma(q, a0); a1 = v1.fma(q, a1); a2 = v2.fma(q, a2); a3 = v3.fma(q, a3);
                    }
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
                for (int d = full; d < dim; d++) {
                    float x = query[queryOff + d];
                    if (l2) {
                        float e0 = data[o0 + d] - x, e1 = data[o1 + d] - x, e2 = data[o2 + d] - x, e3 = data[o3 + d] - x;
                        s0 += e0 * e0; s1 += e1 * e1; s2 += e2 * e2; s3 += e3 * e3;
                    } else {
                        s0 += data[o0 + d] * x; s1 += data[o1 + d] * x; s2 += data[o2 + d] * x; s3 += data[o3 + d] * x;
                    }
                }
                out[outOff + i] = l2 ? s0 : -s0;
                out[outOff + i + 1] = l2 ? s1 : -s1;
                out[outOff + i + 2] = l2 ? s2 : -s2;
                out[outOff + i + 3] = l2 ? s3 : -s3;
            }
        }
        for (; i < n; i++) {
            out[outOff + i] = l2 ? l2Squared(query, queryOff, data, dataOff + i * dim, dim)
                    : -dot(query, queryOff, data, dataOff + i * dim, dim);
        }
    }

    /** Vectors per transposed block: four registers of lanes, so a 4x4 register tile covers it. */
    static final int BLOCK = 4 * LANES;

    /**
     * Copies vectors {@code [b0, b0+bn)} into {@code t} transposed ({@code t[d*BLOCK + j]}), zero-padded
     * to {@link #BLOCK} columns: a dimension's values for a block of vectors become one row of lanes.
     */
    static void transposeBlock(float[] v, int b0, int bn, int dim, float[] t, int tOff) {
        java.util.Arrays.fill(t, tOff, tOff + dim * BLOCK, 0f);
        for (int j = 0; j < bn; j++) {
            int src = (b0 + j) * dim;
            for (int d = 0; d < dim; d++) t[tOff + d * BLOCK + j] = v[src + d];
        }
    }

    /** All of {@code vectors} as consecutive transposed blocks. */
    static float[] transposeAll(float[] vectors, int nb, int dim) {
        int blocks = (nb + BLOCK - 1) / BLOCK;
        float[] t = new float[blocks * dim * BLOCK];
        for (int b = 0; b < blocks; b++) transposeBlock(vectors, b * BLOCK, Math.min(BLOCK, nb - b * BLOCK), dim, t, b * dim * BLOCK);
        return t;
    }

    /**
     * Register-tiled GEMM micro-kernel: four queries x one transposed block, 16 accumulators, no lane
     * reductions. {@code out[r*BLOCK + j]} = dot (or squared L2 when {@code l2}) of query r and column j.
     */
    private static void tile4(float[] q, int q0, int q1, int q2, int q3, float[] t, int tOff, int dim,
                              boolean l2, float[] out) {
        if (SPLIT_TILES) { // two 2 x 4 halves: their 8 accumulators + 4 columns + 1 broadcast fit in 16 registers
            tile2(q, q0, q1, t, tOff, dim, l2, out, 0);
            tile2(q, q2, q3, t, tOff, dim, l2, out, 2 * BLOCK);
            return;
        }
        FloatVector z = FloatVector.zero(SPECIES);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        for (int d = 0; d < dim; d++) {
            int o = tOff + d * BLOCK;
            FloatVector t0 = FloatVector.fromArray(SPECIES, t, o);
            FloatVector t1 = FloatVector.fromArray(SPECIES, t, o + LANES);
            FloatVector t2 = FloatVector.fromArray(SPECIES, t, o + 2 * LANES);
            FloatVector t3 = FloatVector.fromArray(SPECIES, t, o + 3 * LANES);
            if (l2) {
                FloatVector b = FloatVector.broadcast(SPECIES, q[q0 + d]), e;
                e = t0.sub(b); a00 = e.fma(e, a00); e = t1.sub(b); a01 = e.fma(e, a01);
                e = t2.sub(b); a02 = e.fma(e, a02); e = t3.sub(b); a03 = e.fma(e, a03);
                b = FloatVector.broadcast(SPECIES, q[q1 + d]);
                e = t0.sub(b); a10 = e.fma(e, a10); e = t1.sub(b); a11 = e.fma(e, a11);
                e = t2.sub(b); a12 = e.fma(e, a12); e = t3.sub(b); a13 = e.fma(e, a13);
                b = FloatVector.broadcast(SPECIES, q[q2 + d]);
                e = t0.sub(b); a20 = e.fma(e, a20); e = t1.sub(b); a21 = e.fma(e, a21);
                e = t2.sub(b); a22 = e.fma(e, a22); e = t3.sub(b); a23 = e.fma(e, a23);
                b = FloatVector.broadcast(SPECIES, q[q3 + d]);
                e = t0.sub(b); a30 = e.fma(e, a30); e = t1.sub(b); a31 = e.fma(e, a31);
                e = t2.sub(b); a32 = e.fma(e, a32); e = t3.sub(b); a33 = e.fma(e, a33);
            } else {
                FloatVector b = FloatVector.broadcast(SPECIES, q[q0 + d]);
                a00 = t0.fma(b, a00); a01 = t1.fma(b, a01); a02 = t2.fma(b, a02); a03 = t3.fma(b, a03);
                b = FloatVector.broadcast(SPECIES, q[q1 + d]);
                a10 = t0.fma(b, a10); a11 = t1.fma(b, a11); a12 = t2.fma(b, a12); a13 = t3.fma(b, a13);
                b = FloatVector.broadcast(SPECIES, q[q2 + d]);
                a20 = t0.fma(b, a20); a21 = t1.fma(b, a21); a22 = t2.fma(b, a22); a23 = t3.fma(b, a23);
                b = FloatVector.broadcast(SPECIES, q[q3 + d]);
                a30 = t0.fma(b, a30); a31 = t1.fma(b, a31); a32 = t2.fma(b, a32); a33 = t3.fma(b, a33);
            }
        }
        a00.intoArray(out, 0); a01.intoArray(out, LANES); a02.intoArray(out, 2 * LANES); a03.intoArray(out, 3 * LANES);
        a10.intoArray(out, BLOCK); a11.intoArray(out, BLOCK + LANES); a12.intoArray(out, BLOCK + 2 * LANES); a13.intoArray(out, BLOCK + 3 * LANES);
        a20.intoArray(out, 2 * BLOCK); a21.intoArray(out, 2 * BLOCK + LANES); a22.intoArray(out, 2 * BLOCK + 2 * LANES); a23.intoArray(out, 2 * BLOCK + 3 * LANES);
        a30.intoArray(out, 3 * BLOCK); a31.intoArray(out, 3 * BLOCK + LANES); a32.intoArray(out, 3 * BLOCK + 2 * LANES); a33.intoArray(out, 3 * BLOCK + 3 * LANES);
    }

    /**
     * AVX2 and narrower have 16 vector registers: tile4's 16 accumulators, 4 columns and a broadcast do not fit, and
     * the spills made it run at ~a quarter of the FMA peak (JMH {@code nearest256x1024}). AVX-512 has 32.
     */
    private static final boolean SPLIT_TILES = LANES <= 8;

    /** tile4 for two queries, into rows {@code outRow / BLOCK} and the next of {@code out}. */
    private static void tile2(float[] q, int q0, int q1, float[] t, int tOff, int dim, boolean l2, float[] out, int outRow) {
        FloatVector z = FloatVector.zero(SPECIES);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        for (int d = 0; d < dim; d++) {
            int o = tOff + d * BLOCK;
            FloatVector t0 = FloatVector.fromArray(SPECIES, t, o);
            FloatVector t1 = FloatVector.fromArray(SPECIES, t, o + LANES);
            FloatVector t2 = FloatVector.fromArray(SPECIES, t, o + 2 * LANES);
            FloatVector t3 = FloatVector.fromArray(SPECIES, t, o + 3 * LANES);
            if (l2) {
                FloatVector b = FloatVector.broadcast(SPECIES, q[q0 + d]), e;
                e = t0.sub(b); a00 = e.fma(e, a00); e = t1.sub(b); a01 = e.fma(e, a01);
                e = t2.sub(b); a02 = e.fma(e, a02); e = t3.sub(b); a03 = e.fma(e, a03);
                b = FloatVector.broadcast(SPECIES, q[q1 + d]);
                e = t0.sub(b); a10 = e.fma(e, a10); e = t1.sub(b); a11 = e.fma(e, a11);
                e = t2.sub(b); a12 = e.fma(e, a12); e = t3.sub(b); a13 = e.fma(e, a13);
            } else {
                FloatVector b = FloatVector.broadcast(SPECIES, q[q0 + d]);
                a00 = t0.fma(b, a00); a01 = t1.fma(b, a01); a02 = t2.fma(b, a02); a03 = t3.fma(b, a03);
                b = FloatVector.broadcast(SPECIES, q[q1 + d]);
                a10 = t0.fma(b, a10); a11 = t1.fma(b, a11); a12 = t2.fma(b, a12); a13 = t3.fma(b, a13);
            }
        }
        int r0 = outRow, r1 = outRow + BLOCK;
        a00.intoArray(out, r0); a01.intoArray(out, r0 + LANES); a02.intoArray(out, r0 + 2 * LANES); a03.intoArray(out, r0 + 3 * LANES);
        a10.intoArray(out, r1); a11.intoArray(out, r1 + LANES); a12.intoArray(out, r1 + 2 * LANES); a13.intoArray(out, r1 + 3 * LANES);
    }

    /** Queries in groups of four (the last group repeats its last query) against transposed blocks. */
    private interface TileSink {
        void accept(int query, int block, float[] tile, int row);
    }

    private static final int QUERY_CHUNK = 64; // 64 queries x dim stay in L1/L2 while all blocks stream by

    private static void tiles(float[] queries, int nq, float[] transposed, int blocks, int dim, boolean l2, TileSink sink) {
        float[] tile = new float[4 * BLOCK];
        for (int c0 = 0; c0 < nq; c0 += QUERY_CHUNK) {
            int c1 = Math.min(nq, c0 + QUERY_CHUNK);
            for (int b = 0; b < blocks; b++) {
                int tOff = b * dim * BLOCK;
                for (int q = c0; q < c1; q += 4) {
                    int last = c1 - 1;
                    int q1 = Math.min(q + 1, last), q2 = Math.min(q + 2, last), q3 = Math.min(q + 3, last);
                    tile4(queries, q * dim, q1 * dim, q2 * dim, q3 * dim, transposed, tOff, dim, l2, tile);
                    for (int r = 0; r < 4 && q + r < c1; r++) sink.accept(q + r, b, tile, r * BLOCK);
                }
            }
        }
    }

    @Override
    public void distanceMatrix(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, float[] out) {
        if (nq < 4) {
            VectorKernels.super.distanceMatrix(metric, queries, nq, vectors, nb, dim, out);
            return;
        }
        boolean l2 = !metric.usesDot();
        int blocks = (nb + BLOCK - 1) / BLOCK;
        float[] t = transposeAll(vectors, nb, dim);
        tiles(queries, nq, t, blocks, dim, l2, (q, b, tile, row) -> {
            int b0 = b * BLOCK, bn = Math.min(BLOCK, nb - b0), o = q * nb + b0;
            if (l2) System.arraycopy(tile, row, out, o, bn);
            else for (int j = 0; j < bn; j++) out[o + j] = -tile[row + j];
        });
    }

    /** Dot products on the tiled kernel, ranked by |y|^2 - 2xy for L2 (FAISS's expansion). */
    @Override
    public void nearest(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim,
                        int[] outIdx, float[] outDist) {
        if (nq < 4) {
            VectorKernels.super.nearest(metric, queries, nq, vectors, nb, dim, outIdx, outDist);
            return;
        }
        nearest(blocked(metric, vectors, nb, dim), metric, queries, nq, nb, dim, outIdx, outDist);
    }

    /** The transposed blocks and the per-column term (squared norms for L2; +inf in the padding) of {@code nearest}. */
    private record Blocked(float[] transposed, float[] norms) {
    }

    private Blocked blocked(Metric metric, float[] vectors, int nb, int dim) {
        int blocks = (nb + BLOCK - 1) / BLOCK;
        float[] norms = new float[blocks * BLOCK];
        java.util.Arrays.fill(norms, Float.POSITIVE_INFINITY); // padding columns never win
        if (!metric.usesDot()) {
            for (int i = 0; i < nb; i++) norms[i] = dot(vectors, i * dim, vectors, i * dim, dim);
        } else {
            java.util.Arrays.fill(norms, 0, nb, 0f);
        }
        return new Blocked(transposeAll(vectors, nb, dim), norms);
    }

    @Override
    public PreparedVectors prepare(Metric metric, float[] vectors, int nb, int dim) {
        return new PreparedVectors(metric, vectors, nb, dim, blocked(metric, vectors, nb, dim));
    }

    @Override
    public void nearest(PreparedVectors p, float[] queries, int nq, int[] outIdx, float[] outDist) {
        if (nq < 4 || !(p.layout() instanceof Blocked b)) {
            VectorKernels.super.nearest(p.metric(), queries, nq, p.vectors(), p.count(), p.dim(), outIdx, outDist);
            return;
        }
        nearest(b, p.metric(), queries, nq, p.count(), p.dim(), outIdx, outDist);
    }

    private void nearest(Blocked laid, Metric metric, float[] queries, int nq, int nb, int dim, int[] outIdx, float[] outDist) {
        boolean l2 = !metric.usesDot();
        int blocks = (nb + BLOCK - 1) / BLOCK;
        float[] norms = laid.norms();
        float[] best = new float[nq];
        java.util.Arrays.fill(best, Float.POSITIVE_INFINITY);
        java.util.Arrays.fill(outIdx, 0, nq, 0);
        tiles(queries, nq, laid.transposed(), blocks, dim, false, (q, b, tile, row) -> {
            int b0 = b * BLOCK;
            float bq = best[q];
            int bi = -1;
            for (int j = 0; j < BLOCK; j++) {
                float s = norms[b0 + j] - (l2 ? 2f : 1f) * tile[row + j];
                if (s < bq) {
                    bq = s;
                    bi = b0 + j;
                }
            }
            if (bi >= 0) {
                best[q] = bq;
                outIdx[q] = bi;
            }
        });
        if (outDist != null) {
            for (int q = 0; q < nq; q++) {
                outDist[q] = l2 ? Math.max(0f, best[q] + dot(queries, q * dim, queries, q * dim, dim)) : best[q];
            }
        }
    }

    /** Lanes run over the 256 centroids of a sub-quantizer: no reductions, dsub broadcasts per lane row. */
    @Override
    public void adcTable(Metric metric, float[] query, int queryOff, float[] codebooksT, int m, int dsub, float[] lut) {
        if (PQ_KSUB % (4 * LANES) != 0) { // no such platform today; keep the reference rather than a wrong table
            VectorKernels.super.adcTable(metric, query, queryOff, codebooksT, m, dsub, lut);
            return;
        }
        boolean l2 = !metric.usesDot();
        for (int j = 0; j < m; j++) {
            int cb = j * dsub * PQ_KSUB;
            // Four registers of codewords at once: four independent FMA chains. With one chain the table
            // was bound by FMA latency (dsub dependent FMAs per 16 codewords), 3-4x slower.
            for (int c = 0; c < PQ_KSUB; c += 4 * LANES) {
                FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
                for (int t = 0; t < dsub; t++) {
                    int o = cb + t * PQ_KSUB + c;
                    FloatVector x = FloatVector.broadcast(SPECIES, query[queryOff + j * dsub + t]);
                    FloatVector y0 = FloatVector.fromArray(SPECIES, codebooksT, o);
                    FloatVector y1 = FloatVector.fromArray(SPECIES, codebooksT, o + LANES);
                    FloatVector y2 = FloatVector.fromArray(SPECIES, codebooksT, o + 2 * LANES);
                    FloatVector y3 = FloatVector.fromArray(SPECIES, codebooksT, o + 3 * LANES);
                    if (l2) {
                        y0 = y0.sub(x); y1 = y1.sub(x); y2 = y2.sub(x); y3 = y3.sub(x);
                        a0 = y0.fma(y0, a0); a1 = y1.fma(y1, a1); a2 = y2.fma(y2, a2); a3 = y3.fma(y3, a3);
                    } else {
                        a0 = y0.fma(x, a0); a1 = y1.fma(x, a1); a2 = y2.fma(x, a2); a3 = y3.fma(x, a3);
                    }
                }
                int out = j * PQ_KSUB + c;
                if (!l2) {
                    a0 = a0.neg(); a1 = a1.neg(); a2 = a2.neg(); a3 = a3.neg();
                }
                a0.intoArray(lut, out);
                a1.intoArray(lut, out + LANES);
                a2.intoArray(lut, out + 2 * LANES);
                a3.intoArray(lut, out + 3 * LANES);
            }
        }
    }

    /**
     * One compare per LANES candidates against the heap's threshold; only lanes below it are offered
     * (in order, re-checking the threshold as it drops). Once the heap is full almost every group is
     * skipped whole, instead of a compare and branch per candidate.
     */
    @Override
    public void offerAll(TopK top, float[] dist, int distOff, int[] ids, int idOff, int n) {
        int i = 0;
        float worst = top.threshold();
        for (; i + LANES <= n; i += LANES) {
            VectorMask<Float> below = FloatVector.fromArray(SPECIES, dist, distOff + i).compare(VectorOperators.LT, worst);
            if (!below.anyTrue()) continue;
            long lanes = below.toLong();
            while (lanes != 0) {
                int lane = Long.numberOfTrailingZeros(lanes);
                lanes &= lanes - 1;
                float d = dist[distOff + i + lane];
                if (d < worst) {
                    top.offer(ids[idOff + i + lane], d);
                    worst = top.threshold();
                }
            }
        }
        if (i < n) top.offerAll(dist, distOff + i, ids, idOff + i, n - i);
    }

    /**
     * {@link #adcTable} for two queries in one pass over the codebooks: each codeword register is loaded
     * once and used by both tables (eight FMA chains). The same operations in the same order per entry as
     * {@link #adcTable}, so the tables are bit-identical to two single calls; about 40 % less time (the
     * single table is bound by reading the codebooks from L2).
     */
    @Override
    public void adcTablePair(Metric metric, float[] query0, int query0Off, float[] query1, int query1Off,
                             float[] codebooksT, int m, int dsub, float[] lut0, float[] lut1) {
        if (PQ_KSUB % (4 * LANES) != 0) {
            VectorKernels.super.adcTablePair(metric, query0, query0Off, query1, query1Off, codebooksT, m, dsub, lut0, lut1);
            return;
        }
        boolean l2 = !metric.usesDot();
        for (int j = 0; j < m; j++) {
            int cb = j * dsub * PQ_KSUB;
            for (int c = 0; c < PQ_KSUB; c += 4 * LANES) {
                FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
                FloatVector b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int t = 0; t < dsub; t++) {
                    int o = cb + t * PQ_KSUB + c;
                    FloatVector x = FloatVector.broadcast(SPECIES, query0[query0Off + j * dsub + t]);
                    FloatVector z = FloatVector.broadcast(SPECIES, query1[query1Off + j * dsub + t]);
                    FloatVector y0 = FloatVector.fromArray(SPECIES, codebooksT, o);
                    FloatVector y1 = FloatVector.fromArray(SPECIES, codebooksT, o + LANES);
                    FloatVector y2 = FloatVector.fromArray(SPECIES, codebooksT, o + 2 * LANES);
                    FloatVector y3 = FloatVector.fromArray(SPECIES, codebooksT, o + 3 * LANES);
                    if (l2) {
                        FloatVector e;
                        e = y0.sub(x); a0 = e.fma(e, a0); e = y1.sub(x); a1 = e.fma(e, a1);
                        e = y2.sub(x); a2 = e.fma(e, a2); e = y3.sub(x); a3 = e.fma(e, a3);
                        e = y0.sub(z); b0 = e.fma(e, b0); e = y1.sub(z); b1 = e.fma(e, b1);
                        e = y2.sub(z); b2 = e.fma(e, b2); e = y3.sub(z); b3 = e.fma(e, b3);
                    } else {
                        a0 = y0.fma(x, a0); a1 = y1.fma(x, a1); a2 = y2.fma(x, a2); a3 = y3.fma(x, a3);
                        b0 = y0.fma(z, b0); b1 = y1.fma(z, b1); b2 = y2.fma(z, b2); b3 = y3.fma(z, b3);
                    }
                }
                int out = j * PQ_KSUB + c;
                if (!l2) {
                    a0 = a0.neg(); a1 = a1.neg(); a2 = a2.neg(); a3 = a3.neg();
                    b0 = b0.neg(); b1 = b1.neg(); b2 = b2.neg(); b3 = b3.neg();
                }
                a0.intoArray(lut0, out);
                a1.intoArray(lut0, out + LANES);
                a2.intoArray(lut0, out + 2 * LANES);
                a3.intoArray(lut0, out + 3 * LANES);
                b0.intoArray(lut1, out);
                b1.intoArray(lut1, out + LANES);
                b2.intoArray(lut1, out + 2 * LANES);
                b3.intoArray(lut1, out + 3 * LANES);
            }
        }
    }

    /** Four codes at a time: four independent add chains instead of one long one. */
    @Override
    public void adcScan(float[] lut, int m, byte[] codes, int codesOff, int n, float bias, float[] out, int outOff) {
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            int c0 = codesOff + i * m, c1 = c0 + m, c2 = c1 + m, c3 = c2 + m;
            float s0 = bias, s1 = bias, s2 = bias, s3 = bias;
            for (int j = 0, base = 0; j < m; j++, base += PQ_KSUB) {
                s0 += lut[base + (codes[c0 + j] & 0xff)];
                s1 += lut[base + (codes[c1 + j] & 0xff)];
                s2 += lut[base + (codes[c2 + j] & 0xff)];
                s3 += lut[base + (codes[c3 + j] & 0xff)];
            }
            out[outOff + i] = s0;
            out[outOff + i + 1] = s1;
            out[outOff + i + 2] = s2;
            out[outOff + i + 3] = s3;
        }
        if (i < n) VectorKernels.super.adcScan(lut, m, codes, codesOff + i * m, n - i, bias, out, outOff + i);
    }

    private static final VectorSpecies<Integer> INT_SPECIES = IntVector.SPECIES_PREFERRED;
    /** Vectors one register tile covers: four registers of lanes (64 on AVX-512, 32 on AVX2). */
    private static final int TILE = 4 * LANES;

    /**
     * Broadcast one query value per dimension against a tile of 4 x LANES vectors of a
     * {@link Bf16Blocks} block: FMAs only, no reductions. Each int holds dimensions 2p (low half) and 2p+1
     * (high half) of one vector; a shift and a mask turn a row of ints into two rows of floats, no lane
     * shuffles. Keep the tile epilogue inline: moved into a method taking the four accumulators, it was not
     * inlined, the vectors were boxed and the scan ran 5x slower.
     */
    @Override
    public void scanBf16Blocks(Metric metric, float[] query, int queryOff, int[] blocks, float[] sqNorms,
                               int nb, int dim, float[] out, int outOff) {
        if (INT_SPECIES.length() != LANES || Bf16Blocks.BLOCK % TILE != 0) { // odd platform: the reference loop
            VectorKernels.super.scanBf16Blocks(metric, query, queryOff, blocks, sqNorms, nb, dim, out, outOff);
            return;
        }
        boolean l2 = !metric.usesDot();
        float qq = l2 ? dot(query, queryOff, query, queryOff, dim) : 0f;
        int pairs = Bf16Blocks.pairs(dim);
        IntVector highMask = IntVector.broadcast(INT_SPECIES, 0xffff0000);
        float[] tile = null;
        for (int t0 = 0; t0 < nb; t0 += TILE) {
            int block = t0 / Bf16Blocks.BLOCK;
            int tOff = block * pairs * Bf16Blocks.BLOCK + t0 % Bf16Blocks.BLOCK;
            FloatVector a0 = FloatVector.zero(SPECIES), a1 = a0, a2 = a0, a3 = a0;
            for (int p = 0; p < pairs; p++) {
                int o = tOff + p * Bf16Blocks.BLOCK, d = 2 * p;
                FloatVector xe = FloatVector.broadcast(SPECIES, query[queryOff + d]);
                FloatVector xo = FloatVector.broadcast(SPECIES, d + 1 < dim ? query[queryOff + d + 1] : 0f);
                IntVector w0 = IntVector.fromArray(INT_SPECIES, blocks, o);
                IntVector w1 = IntVector.fromArray(INT_SPECIES, blocks, o + LANES);
                IntVector w2 = IntVector.fromArray(INT_SPECIES, blocks, o + 2 * LANES);
                IntVector w3 = IntVector.fromArray(INT_SPECIES, blocks, o + 3 * LANES);
                a0 = w0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a0);
                a1 = w1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a1);
                a2 = w2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a2);
                a3 = w3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a3);
                a0 = w0.and(highMask).reinterpretAsFloats().fma(xo, a0);
                a1 = w1.and(highMask).reinterpretAsFloats().fma(xo, a1);
                a2 = w2.and(highMask).reinterpretAsFloats().fma(xo, a2);
                a3 = w3.and(highMask).reinterpretAsFloats().fma(xo, a3);
            }
            int o = outOff + t0;
            if (t0 + TILE <= nb) {
                if (l2) { // |q|^2 + |c|^2 - 2 q.c
                    FloatVector m2 = FloatVector.broadcast(SPECIES, -2f), q2 = FloatVector.broadcast(SPECIES, qq);
                    a0.fma(m2, FloatVector.fromArray(SPECIES, sqNorms, t0).add(q2)).intoArray(out, o);
                    a1.fma(m2, FloatVector.fromArray(SPECIES, sqNorms, t0 + LANES).add(q2)).intoArray(out, o + LANES);
                    a2.fma(m2, FloatVector.fromArray(SPECIES, sqNorms, t0 + 2 * LANES).add(q2)).intoArray(out, o + 2 * LANES);
                    a3.fma(m2, FloatVector.fromArray(SPECIES, sqNorms, t0 + 3 * LANES).add(q2)).intoArray(out, o + 3 * LANES);
                } else {
                    a0.neg().intoArray(out, o);
                    a1.neg().intoArray(out, o + LANES);
                    a2.neg().intoArray(out, o + 2 * LANES);
                    a3.neg().intoArray(out, o + 3 * LANES);
                }
            } else { // last, partial tile
                if (tile == null) tile = new float[TILE];
                a0.intoArray(tile, 0);
                a1.intoArray(tile, LANES);
                a2.intoArray(tile, 2 * LANES);
                a3.intoArray(tile, 3 * LANES);
                for (int j = 0; j < nb - t0; j++) out[o + j] = l2 ? qq + sqNorms[t0 + j] - 2f * tile[j] : -tile[j];
            }
        }
    }

    private static final boolean GATHER16 = LANES == PQ_BLOCK;

    /**
     * Sixteen codes per step: byte j of the 16 codes is one 128-bit load, widened to 16 ints, and their
     * table entries come in with one gather; 16 running sums in one register, no reductions. Without 16 lanes
     * the scalar blocked loop runs: two 8-lane gathers per step were 1.4x slower than it on AVX2 (AMD EPYC, JMH
     * {@code adcScanBlockedM32x4096}: 183 vs 131 µs).
     */
    @Override
    public void adcScanBlocked(float[] lut, int m, byte[] codes, int codesOff, int n, float bias, float[] out, int outOff) {
        if (!GATHER16) {
            VectorKernels.super.adcScanBlocked(lut, m, codes, codesOff, n, bias, out, outOff);
            return;
        }
        int[] idx = new int[PQ_BLOCK];
        int blocks = (n + PQ_BLOCK - 1) / PQ_BLOCK;
        for (int b = 0; b < blocks; b++) {
            int off = codesOff + b * m * PQ_BLOCK;
            FloatVector acc = FloatVector.broadcast(SPECIES, bias);
            for (int j = 0; j < m; j++) {
                ByteVector bytes = ByteVector.fromArray(ByteVector.SPECIES_128, codes, off + j * PQ_BLOCK);
                IntVector ints = (IntVector) bytes.convertShape(VectorOperators.ZERO_EXTEND_B2I, IntVector.SPECIES_512, 0);
                ints.intoArray(idx, 0);
                acc = acc.add(FloatVector.fromArray(SPECIES, lut, j * PQ_KSUB, idx, 0));
            }
            int i0 = b * PQ_BLOCK;
            if (i0 + PQ_BLOCK <= n) {
                acc.intoArray(out, outOff + i0);
            } else {
                float[] tail = new float[PQ_BLOCK];
                acc.intoArray(tail, 0);
                System.arraycopy(tail, 0, out, outOff + i0, n - i0);
            }
        }
    }
}
