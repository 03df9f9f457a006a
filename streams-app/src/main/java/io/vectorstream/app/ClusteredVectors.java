package io.vectorstream.app;

import java.util.Random;

/**
 * Synthetic embeddings for the demo: Gaussian clusters of uneven sizes around random centres, which
 * is closer to real embedding data than uniform noise (and makes IVF's job realistic). Seeded.
 */
final class ClusteredVectors {
    private final int dim;
    private final float[][] centres;
    private final double[] cumulativeWeight;
    private final Random random;

    ClusteredVectors(int dim, int clusters, long seed) {
        this.dim = dim;
        this.random = new Random(seed);
        this.centres = new float[clusters][dim];
        this.cumulativeWeight = new double[clusters];
        double total = 0;
        for (int c = 0; c < clusters; c++) {
            for (int d = 0; d < dim; d++) centres[c][d] = (float) (random.nextGaussian() * 1.0);
            total += 1.0 / (c + 1); // Zipf-like: a few big clusters, many small ones
            cumulativeWeight[c] = total;
        }
        for (int c = 0; c < clusters; c++) cumulativeWeight[c] /= total;
    }

    /** The cluster of the next vector. */
    int nextCluster() {
        double u = random.nextDouble();
        for (int c = 0; c < cumulativeWeight.length; c++) if (u <= cumulativeWeight[c]) return c;
        return cumulativeWeight.length - 1;
    }

    /** A vector near centre {@code cluster}. */
    float[] next(int cluster) {
        float[] v = new float[dim];
        for (int d = 0; d < dim; d++) v[d] = centres[cluster][d] + (float) (random.nextGaussian() * 0.35);
        return v;
    }
}
