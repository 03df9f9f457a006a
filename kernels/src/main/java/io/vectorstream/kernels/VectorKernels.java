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
}
