package io.vectorstream.index.ivf;

/**
 * Java has no prefetch instruction, so this reads one float per 64-byte cache line of a few scattered
 * vectors before their distances are computed. The reads are independent, so their cache misses are
 * in flight together; computing each distance straight away would instead wait for one vector's
 * misses before the next vector's loads even issue. Used by the IVF-PQ re-rank, which reads k x r
 * random vectors (bench/RESULTS.md: ~6 % more IVF-PQ queries/s, measured alternately in one process).
 * Tried and not kept, because measured no faster: the coarse quantizer's chosen centroids, and the
 * IVF-Flat exact re-check (whose extra pass over the approximate distances cost what it saved).
 */
public final class CacheLineTouch {
    private static final int FLOATS_PER_LINE = 16;
    /** Written so that the JIT cannot drop the reads; never read. */
    @SuppressWarnings("unused")
    private static int sink;

    private CacheLineTouch() {
    }

    /** Touches the lines of vectors {@code rows[0..n)} ({@code dim} floats each) of {@code data}. */
    public static void rows(float[] data, int[] rows, int n, int dim) {
        int acc = 0;
        for (int i = 0; i < n; i++) acc ^= vector(data, rows[i] * dim, dim);
        keep(acc);
    }

    private static int vector(float[] data, int off, int dim) {
        int acc = 0;
        for (int d = 0; d < dim; d += FLOATS_PER_LINE) acc ^= Float.floatToRawIntBits(data[off + d]);
        return acc;
    }

    private static void keep(int acc) {
        sink = acc;
    }
}
