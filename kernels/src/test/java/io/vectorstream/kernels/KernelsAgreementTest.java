package io.vectorstream.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The Vector API backend against the scalar reference: same answers within 1e-4 relative. */
class KernelsAgreementTest {
    private final VectorKernels scalar = new ScalarKernels();
    private final VectorKernels panama = new PanamaKernels();

    static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    private static void close(float expected, float actual, float scale) {
        assertThat(Math.abs(expected - actual)).isLessThanOrEqualTo(1e-4f * Math.max(1f, scale));
    }

    @Test
    void pairKernelsAgree() {
        Random r = new Random(1);
        for (int dim : new int[]{1, 3, 16, 17, 64, 100, 128, 300}) {
            float[] a = gaussian(r, dim + 5), b = gaussian(r, dim + 7);
            float scale = scalar.dot(a, 0, a, 0, dim) + scalar.dot(b, 2, b, 2, dim);
            close(scalar.l2Squared(a, 1, b, 2, dim), panama.l2Squared(a, 1, b, 2, dim), scale);
            close(scalar.dot(a, 1, b, 2, dim), panama.dot(a, 1, b, 2, dim), scale);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void distancesAndMatricesAgree(Metric metric) {
        Random r = new Random(2);
        for (int dim : new int[]{4, 17, 128}) {
            for (int nq : new int[]{1, 5, 33}) {
                int nb = 141;
                float[] q = gaussian(r, nq * dim), v = gaussian(r, nb * dim);
                float[] e = new float[nq * nb], a = new float[nq * nb];
                scalar.distanceMatrix(metric, q, nq, v, nb, dim, e);
                panama.distanceMatrix(metric, q, nq, v, nb, dim, a);
                for (int i = 0; i < e.length; i++) close(e[i], a[i], 4f * dim);
                float[] d = new float[nb + 3];
                panama.distances(metric, q, dim * (nq - 1), v, 0, nb, dim, d, 3);
                for (int b = 0; b < nb; b++) close(e[(nq - 1) * nb + b], d[3 + b], 4f * dim);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void nearestAgrees(Metric metric) {
        Random r = new Random(3);
        int dim = 24, nq = 203, nb = 150;
        float[] q = gaussian(r, nq * dim), v = gaussian(r, nb * dim);
        int[] ei = new int[nq], ai = new int[nq];
        float[] ed = new float[nq], ad = new float[nq];
        scalar.nearest(metric, q, nq, v, nb, dim, ei, ed);
        panama.nearest(metric, q, nq, v, nb, dim, ai, ad);
        for (int i = 0; i < nq; i++) {
            close(ed[i], ad[i], 4f * dim);
            // ties aside, the same vector; either way the chosen one is as near as the reference's
            close(ed[i], scalar.distance(metric, q, i * dim, v, ai[i] * dim, dim), 4f * dim);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void nearestAgainstPreparedVectorsIsTheSameAnswer(Metric metric) {
        Random r = new Random(5);
        int dim = 24, nb = 150; // not a whole number of transposed blocks
        float[] v = gaussian(r, nb * dim);
        for (VectorKernels k : new VectorKernels[] {scalar, panama}) {
            PreparedVectors prepared = k.prepare(metric, v, nb, dim);
            for (int nq : new int[] {1, 3, 4, 61}) { // below and above the size where the tiled path starts
                float[] q = gaussian(r, nq * dim);
                int[] plainIdx = new int[nq], preparedIdx = new int[nq];
                float[] plainDist = new float[nq], preparedDist = new float[nq];
                k.nearest(metric, q, nq, v, nb, dim, plainIdx, plainDist);
                k.nearest(prepared, q, nq, preparedIdx, preparedDist);
                assertThat(preparedIdx).as(k.name() + " nq=" + nq).isEqualTo(plainIdx);
                assertThat(preparedDist).as(k.name() + " nq=" + nq).isEqualTo(plainDist);
            }
        }
        // the same prepared centroids answer the same from many threads (they are shared by a quantizer)
        PreparedVectors shared = panama.prepare(metric, v, nb, dim);
        float[] q = gaussian(r, 64 * dim);
        int[] expected = new int[64];
        panama.nearest(shared, q, 64, expected, null);
        java.util.stream.IntStream.range(0, 8).parallel().forEach(t -> {
            int[] got = new int[64];
            panama.nearest(shared, q, 64, got, null);
            assertThat(got).isEqualTo(expected);
        });
    }

    @Test
    void knnUpToThousandMatchesSorting() {
        Random r = new Random(4);
        int dim = 8, nq = 6, nb = 5000, k = TopK.MAX_K;
        float[] q = gaussian(r, nq * dim), v = gaussian(r, nb * dim);
        int[] idx = new int[nq * k];
        float[] dist = new float[nq * k];
        panama.knn(Metric.L2, q, nq, v, nb, dim, k, idx, dist);
        for (int i = 0; i < nq; i++) {
            float[] all = new float[nb];
            for (int b = 0; b < nb; b++) all[b] = scalar.l2Squared(q, i * dim, v, b * dim, dim);
            float[] sorted = all.clone();
            java.util.Arrays.sort(sorted);
            for (int j = 0; j < k; j++) {
                close(sorted[j], dist[i * k + j], 4f * dim);
                close(all[idx[i * k + j]], dist[i * k + j], 4f * dim);
            }
        }
        // fewer vectors than k: padded
        int[] small = new int[k];
        float[] smallD = new float[k];
        scalar.knn(Metric.IP, q, 1, v, 3, dim, k, small, smallD);
        assertThat(small[2]).isGreaterThanOrEqualTo(0);
        assertThat(small[3]).isEqualTo(-1);
        assertThat(smallD[3]).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void adcAgrees(Metric metric) {
        Random r = new Random(5);
        int m = 8, dsub = 4, dim = m * dsub, n = 103;
        float[] cbT = gaussian(r, m * dsub * 256), q = gaussian(r, dim);
        float[] e = new float[m * 256], a = new float[m * 256];
        scalar.adcTable(metric, q, 0, cbT, m, dsub, e);
        panama.adcTable(metric, q, 0, cbT, m, dsub, a);
        for (int i = 0; i < e.length; i++) close(e[i], a[i], 4f * dsub);
        byte[] codes = new byte[n * m + 2];
        r.nextBytes(codes);
        float[] se = new float[n], sa = new float[n];
        scalar.adcScan(e, m, codes, 2, n, 0.5f, se, 0);
        panama.adcScan(e, m, codes, 2, n, 0.5f, sa, 0);
        for (int i = 0; i < n; i++) close(se[i], sa[i], 4f * dim);
    }

    @org.junit.jupiter.api.Test
    void offerAllKeepsWhatTheHeapWouldKeep() {
        Random r = new Random(13);
        for (int k : new int[]{1, 10, 40, 1000}) {
            for (int n : new int[]{0, 5, 16, 100, 4099}) {
                float[] d = new float[n + 3];
                for (int i = 0; i < d.length; i++) d[i] = r.nextInt(50) / 7f; // many ties
                if (n > 10) d[7] = Float.NaN;
                int[] ids = new int[n + 1];
                for (int i = 0; i < ids.length; i++) ids[i] = 1000 + i;
                TopK want = new TopK(k), viaScalar = new TopK(k), viaPanama = new TopK(k);
                want.offer(-1, 3f); viaScalar.offer(-1, 3f); viaPanama.offer(-1, 3f); // a heap already holding one
                want.offerAll(d, 3, ids, 1, n);
                scalar.offerAll(viaScalar, d, 3, ids, 1, n);
                panama.offerAll(viaPanama, d, 3, ids, 1, n);
                int[] w = want.sortedIds();
                assertThat(viaScalar.sortedIds()).as("scalar k=%d n=%d", k, n).isEqualTo(w);
                assertThat(viaPanama.sortedIds()).as("panama k=%d n=%d", k, n).isEqualTo(w);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void pairedTablesAreTheSingleTables(Metric metric) {
        Random r = new Random(9);
        for (int m : new int[]{8, 16, 32}) {
            int dsub = 128 / m;
            float[] cbT = gaussian(r, m * dsub * 256), q0 = gaussian(r, 128 + 2), q1 = gaussian(r, 128);
            for (VectorKernels k : new VectorKernels[]{scalar, panama}) {
                float[] one = new float[m * 256], two = new float[m * 256], p0 = new float[m * 256], p1 = new float[m * 256];
                k.adcTable(metric, q0, 2, cbT, m, dsub, one);
                k.adcTable(metric, q1, 0, cbT, m, dsub, two);
                k.adcTablePair(metric, q0, 2, q1, 0, cbT, m, dsub, p0, p1);
                assertThat(p0).as("%s m=%d first", k.name(), m).isEqualTo(one);
                assertThat(p1).as("%s m=%d second", k.name(), m).isEqualTo(two);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "IP"})
    void bf16BlockScanAgreesAndStaysWithinTheRoundingBound(Metric metric) {
        Random r = new Random(7);
        for (int dim : new int[]{1, 7, 40, 128}) {
            for (int nb : new int[]{1, 64, 100, 257}) {
                float[] v = gaussian(r, nb * dim), q = gaussian(r, dim + 3);
                float[] norms = new float[nb];
                Bf16Blocks.roundedSquaredNorms(v, nb, dim, norms);
                int[] blocks = Bf16Blocks.of(v, nb, dim);
                float[] s = new float[nb], a = new float[nb + 5], exact = new float[nb];
                scalar.scanBf16Blocks(metric, q, 3, blocks, norms, nb, dim, s, 0);
                panama.scanBf16Blocks(metric, q, 3, blocks, norms, nb, dim, a, 5); // at an offset: out[5, 5+nb)
                a = java.util.Arrays.copyOfRange(a, 5, 5 + nb);
                scalar.distances(metric, q, 3, v, 0, nb, dim, exact, 0);
                float qNorm = (float) Math.sqrt(scalar.dot(q, 3, q, 3, dim));
                for (int i = 0; i < nb; i++) {
                    close(s[i], a[i], 4f * dim);
                    float vNorm = (float) Math.sqrt(scalar.dot(v, i * dim, v, i * dim, dim));
                    float eps = Bf16.RELATIVE_ERROR * vNorm;
                    if (metric == Metric.L2) { // |sqrt(exact) - sqrt(rounded)| <= eps
                        assertThat(Math.abs(Math.sqrt(exact[i]) - Math.sqrt(Math.max(0f, s[i])))).isLessThanOrEqualTo(eps * 1.01 + 1e-4);
                    } else {
                        assertThat(Math.abs(exact[i] - s[i])).isLessThanOrEqualTo(eps * qNorm * 1.01f + 1e-4f);
                    }
                }
            }
        }
    }

    @Test
    void bf16RoundsToNearestAndKeepsFiniteValuesFinite() {
        Random r = new Random(9);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(60) - 30));
            float back = Bf16.toFloat(Bf16.fromFloat(x));
            assertThat(Math.abs(back - x)).isLessThanOrEqualTo(Bf16.RELATIVE_ERROR * Math.abs(x));
        }
        assertThat(Bf16.toFloat(Bf16.fromFloat(Float.MAX_VALUE))).isFinite();
        assertThat(Bf16.toFloat(Bf16.fromFloat(-Float.MAX_VALUE))).isFinite();
        assertThat(Bf16.toFloat(Bf16.fromFloat(1.00390625f))).isEqualTo(1f); // tie: to even
        assertThat(Bf16.toFloat(Bf16.fromFloat(Float.NaN))).isNaN();
        assertThat(Bf16.toFloat(Bf16.fromFloat(Float.POSITIVE_INFINITY))).isEqualTo(Float.POSITIVE_INFINITY);
        float lo = 1.5f, hi = -3.25f;
        int packed = Bf16.pack(lo, hi);
        assertThat(Bf16.toFloat(packed & 0xffff)).isEqualTo(lo);
        assertThat(Bf16.toFloat(packed >>> 16)).isEqualTo(hi);
    }

    @Test
    void blockedAdcScanMatchesRowScan() {
        Random r = new Random(8);
        for (int m : new int[]{8, 16, 32}) {
            int n = 37, blocks = (n + 15) / 16;
            float[] lut = gaussian(r, m * 256);
            byte[] rows = new byte[n * m];
            r.nextBytes(rows);
            byte[] blocked = new byte[blocks * m * 16 + 5];
            for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) blocked[5 + (i / 16) * m * 16 + j * 16 + i % 16] = rows[i * m + j];
            float[] e = new float[n], s = new float[n], a = new float[n + 1];
            scalar.adcScan(lut, m, rows, 0, n, 0.25f, e, 0);
            scalar.adcScanBlocked(lut, m, blocked, 5, n, 0.25f, s, 0);
            panama.adcScanBlocked(lut, m, blocked, 5, n, 0.25f, a, 1);
            for (int i = 0; i < n; i++) {
                close(e[i], s[i], 4f * m);
                close(e[i], a[i + 1], 4f * m);
            }
        }
    }
}
