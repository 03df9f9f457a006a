package io.vectorstream.index.quantizer;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.PreparedVectors;
import io.vectorstream.kernels.VectorKernels;
import java.util.Random;

/**
 * Lloyd's k-means on flat float vectors, under squared L2: a seeded sample of the training set,
 * a bounded number of iterations, and repair of empty clusters by splitting the largest one
 * (as FAISS does), so that every centroid ends up used. Reproducible for a given seed.
 */
public final class KMeans {

    /** The training parameters; {@link #defaults(int)} gives sane ones for {@code k} clusters. */
    public record Params(int k, int iterations, int maxPointsPerCentroid, long seed) {
        public Params {
            if (k < 1) throw new IllegalArgumentException("k must be >= 1");
            if (iterations < 1) throw new IllegalArgumentException("iterations must be >= 1");
            if (maxPointsPerCentroid < 1) throw new IllegalArgumentException("maxPointsPerCentroid must be >= 1");
        }

        public static Params defaults(int k) {
            return new Params(k, 10, 64, 42L);
        }
    }

    /** The trained centroids ({@code k * dim} floats) and the objective after each iteration. */
    public record Result(float[] centroids, int k, int dim, double[] objectiveByIteration) {
    }

    private final VectorKernels kernels;

    public KMeans(VectorKernels kernels) {
        this.kernels = kernels;
    }

    /** Trains on {@code n} vectors of {@code dim} floats in {@code data}. Needs {@code n >= 1}. */
    public Result train(float[] data, int n, int dim, Params params) {
        if (n < 1) throw new IllegalArgumentException("k-means needs at least one vector");
        int k = Math.min(params.k(), n);
        Random random = new Random(params.seed());
        float[] sample = sample(data, n, dim, (long) k * params.maxPointsPerCentroid(), random);
        int m = sample.length / dim;

        float[] centroids = new float[k * dim];
        int[] firstPick = distinctIndices(m, k, random);
        for (int c = 0; c < k; c++) System.arraycopy(sample, firstPick[c] * dim, centroids, c * dim, dim);

        int[] assignment = new int[m];
        double[] objective = new double[params.iterations()];
        float[] sums = new float[k * dim];
        int[] counts = new int[k];
        for (int it = 0; it < params.iterations(); it++) {
            objective[it] = assign(sample, m, dim, centroids, k, assignment);
            java.util.Arrays.fill(sums, 0f);
            java.util.Arrays.fill(counts, 0);
            for (int i = 0; i < m; i++) {
                int c = assignment[i];
                counts[c]++;
                int so = i * dim, co = c * dim;
                for (int d = 0; d < dim; d++) sums[co + d] += sample[so + d];
            }
            for (int c = 0; c < k; c++) {
                if (counts[c] == 0) continue;
                float inv = 1f / counts[c];
                for (int d = 0; d < dim; d++) centroids[c * dim + d] = sums[c * dim + d] * inv;
            }
            repairEmpty(centroids, counts, k, dim, random);
        }
        return new Result(centroids, k, dim, objective);
    }

    /**
     * Assigns each of {@code n} vectors to its nearest centroid under squared L2, writing
     * {@code assignment[i]}; returns the summed squared distance (the k-means objective).
     */
    public double assign(float[] data, int n, int dim, float[] centroids, int k, int[] assignment) {
        float[] dist = new float[n];
        assignParallel(kernels, io.vectorstream.kernels.Metric.L2, data, n, dim, centroids, k, assignment, dist);
        double total = 0;
        for (int i = 0; i < n; i++) total += dist[i];
        return total;
    }

    /** Rows per task: large enough to amortise the kernel's transposition of the centroids. */
    private static final int CHUNK = 4096;

    /**
     * {@link VectorKernels#nearest} split into row chunks run on the common fork-join pool (all cores).
     * Each row's answer does not depend on the chunking, so results are deterministic.
     */
    public static void assignParallel(VectorKernels kernels, Metric metric, float[] data, int n, int dim,
                                      float[] centroids, int k, int[] assignment, float[] dist) {
        if (n < CHUNK) { // one chunk (an ingest batch): on this thread, and no copy of the rows
            kernels.nearest(metric, data, n, centroids, k, dim, assignment, dist);
            return;
        }
        assignParallel(kernels, kernels.prepare(metric, centroids, k, dim), data, n, assignment, dist);
    }

    /** As above, against centroids laid out once ({@link VectorKernels#prepare}): not again per call or chunk. */
    public static void assignParallel(VectorKernels kernels, PreparedVectors centroids, float[] data, int n,
                                      int[] assignment, float[] dist) {
        int dim = centroids.dim();
        int chunks = (n + CHUNK - 1) / CHUNK;
        if (chunks <= 1) {
            kernels.nearest(centroids, data, n, assignment, dist);
            return;
        }
        java.util.stream.IntStream.range(0, chunks).parallel().forEach(c -> {
            int r0 = c * CHUNK, rn = Math.min(CHUNK, n - r0);
            float[] rows = java.util.Arrays.copyOfRange(data, r0 * dim, (r0 + rn) * dim);
            int[] idx = new int[rn];
            float[] d = new float[rn];
            kernels.nearest(centroids, rows, rn, idx, d);
            System.arraycopy(idx, 0, assignment, r0, rn);
            if (dist != null) System.arraycopy(d, 0, dist, r0, rn);
        });
    }

    /** An empty cluster takes a perturbed copy of the largest one, which is split in two. */
    private static void repairEmpty(float[] centroids, int[] counts, int k, int dim, Random random) {
        for (int c = 0; c < k; c++) {
            if (counts[c] != 0) continue;
            int largest = 0;
            for (int j = 1; j < k; j++) if (counts[j] > counts[largest]) largest = j;
            if (counts[largest] <= 1) return;
            for (int d = 0; d < dim; d++) {
                float v = centroids[largest * dim + d];
                float eps = (random.nextFloat() - 0.5f) * 1e-3f * (Math.abs(v) + 1e-6f);
                centroids[c * dim + d] = v + eps;
                centroids[largest * dim + d] = v - eps;
            }
            counts[c] = counts[largest] / 2;
            counts[largest] -= counts[c];
        }
    }

    private static float[] sample(float[] data, int n, int dim, long max, Random random) {
        if (n <= max) return java.util.Arrays.copyOf(data, n * dim);
        int m = (int) max;
        int[] picks = distinctIndices(n, m, random);
        float[] out = new float[m * dim];
        for (int i = 0; i < m; i++) System.arraycopy(data, picks[i] * dim, out, i * dim, dim);
        return out;
    }

    /** {@code count} distinct indices in {@code [0, n)}, by a partial Fisher-Yates shuffle. */
    static int[] distinctIndices(int n, int count, Random random) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = 0; i < count; i++) {
            int j = i + random.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return java.util.Arrays.copyOf(perm, count);
    }
}
