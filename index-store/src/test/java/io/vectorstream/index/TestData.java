package io.vectorstream.index;

import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;

import java.util.Random;

/** Seeded clustered data and exact answers for recall tests. */
final class TestData {
    private TestData() {
    }

    static float[] blobs(long seed, int n, int dim, int centres) {
        Random r = new Random(seed);
        float[] c = new float[centres * dim];
        for (int i = 0; i < c.length; i++) c[i] = (float) r.nextGaussian() * 3f;
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(centres);
            for (int d = 0; d < dim; d++) v[i * dim + d] = c[k * dim + d] + (float) r.nextGaussian();
        }
        return v;
    }

    static float[] normalizedRows(float[] v, int n, int dim) {
        float[] out = new float[v.length];
        float[] row = new float[dim];
        for (int i = 0; i < n; i++) {
            System.arraycopy(v, i * dim, row, 0, dim);
            System.arraycopy(VectorMath.normalized(row), 0, out, i * dim, dim);
        }
        return out;
    }

    /** Exact k-NN ids, row-major. */
    static int[] exact(Metric metric, float[] base, int n, float[] queries, int nq, int dim, int k) {
        Metric m = metric == Metric.COSINE ? Metric.IP : metric;
        int[] ids = new int[nq * k];
        Kernels.cpu().knn(m, queries, nq, base, n, dim, k, ids, new float[nq * k]);
        return ids;
    }

    static double recall(int[] truth, int[] found, int nq, int k) {
        int hit = 0;
        for (int q = 0; q < nq; q++) {
            java.util.Set<Integer> t = new java.util.HashSet<>();
            for (int j = 0; j < k; j++) t.add(truth[q * k + j]);
            for (int j = 0; j < k; j++) if (t.contains(found[q * k + j])) hit++;
        }
        return hit / (double) (nq * k);
    }
}
