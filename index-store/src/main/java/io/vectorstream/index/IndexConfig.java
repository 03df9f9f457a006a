package io.vectorstream.index;

import io.vectorstream.index.ivf.ListScanCopy;
import io.vectorstream.kernels.Metric;

/**
 * The shape of every shard's index.
 *
 * @param dim            vector dimension; every vector must have exactly this many floats
 * @param metric         distance used for ranking
 * @param nlist          inverted lists once trained; 0 picks {@code round(sqrt(n))} at training time
 * @param trainThreshold live vectors needed before k-means is trained; below it the index is exact (one list)
 * @param defaultNprobe  lists searched when a query does not say
 * @param seed           seed for k-means sampling and initialisation, so builds are reproducible
 * @param bf16Scan       trained hot lists keep a bf16 copy of their residuals that queries scan first,
 *                       re-checking the best candidates exactly: same results, about half the memory
 *                       traffic per query, ~+45 % memory for the hot lists (see {@link ListScanCopy})
 */
public record IndexConfig(int dim, Metric metric, int nlist, int trainThreshold, int defaultNprobe, long seed,
                          boolean bf16Scan) {

    public static final int MAX_DIM = 65_536;

    public IndexConfig {
        if (dim < 1 || dim > MAX_DIM) throw new IllegalArgumentException("dim must be in 1.." + MAX_DIM + ", was " + dim);
        if (metric == null) throw new IllegalArgumentException("metric is required");
        if (nlist < 0) throw new IllegalArgumentException("nlist must be >= 0 (0 = automatic), was " + nlist);
        if (trainThreshold < 1) throw new IllegalArgumentException("trainThreshold must be >= 1, was " + trainThreshold);
        if (defaultNprobe < 1) throw new IllegalArgumentException("defaultNprobe must be >= 1, was " + defaultNprobe);
    }

    /** The shape with the bf16 scan copy on (the default). */
    public IndexConfig(int dim, Metric metric, int nlist, int trainThreshold, int defaultNprobe, long seed) {
        this(dim, metric, nlist, trainThreshold, defaultNprobe, seed, true);
    }

    public static IndexConfig of(int dim, Metric metric) {
        return new IndexConfig(dim, metric, 0, 10_000, 16, 42L);
    }

    public IndexConfig withTrainThreshold(int threshold) {
        return new IndexConfig(dim, metric, nlist, threshold, defaultNprobe, seed, bf16Scan);
    }

    public IndexConfig withNlist(int lists) {
        return new IndexConfig(dim, metric, lists, trainThreshold, defaultNprobe, seed, bf16Scan);
    }

    public IndexConfig withDefaultNprobe(int nprobe) {
        return new IndexConfig(dim, metric, nlist, trainThreshold, nprobe, seed, bf16Scan);
    }

    public IndexConfig withBf16Scan(boolean on) {
        return new IndexConfig(dim, metric, nlist, trainThreshold, defaultNprobe, seed, on);
    }

    /** The number of lists to train for {@code n} live vectors of the hot IVF-Flat index (√n unless configured). */
    public int nlistFor(int n) {
        int lists = nlist > 0 ? nlist : (int) Math.round(Math.sqrt(n));
        return Math.max(1, Math.min(lists, Math.max(1, n / 4)));
    }

    /**
     * The number of lists of an IVF-PQ base for {@code n} vectors, unless configured: lists of about
     * {@value #BASE_LIST_TARGET} codes — at least √n lists, at most 4√n. A probe of a PQ list costs a look-up table
     * (m × 256 entries) plus m look-ups per code, and on CPUs without fast gathers (AVX2) the look-ups dominate, so
     * shorter lists than the hot index's √n pay. Measured on 500k × 128 clustered vectors, m = 32, re-rank 8, nprobe 16
     * (bench-index, one thread): √n = 708 lists, recall@10 0.972 at p50 0.89 ms; 1,414: 0.988 at 0.51 ms;
     * 2,828: 0.994 at 0.34 ms — finer lists are both faster and closer at the same nprobe, for more training
     * (31, 38, 77 s on 2 cores).
     */
    public int baseNlistFor(int n) {
        if (nlist > 0) return nlistFor(n);
        double root = Math.sqrt(n);
        long lists = Math.round(Math.max(root, Math.min(4 * root, n / (double) BASE_LIST_TARGET)));
        return (int) Math.max(1, Math.min(lists, Math.max(1, n / 4)));
    }

    /** Codes an IVF-PQ base list holds on average (see {@link #baseNlistFor}). */
    public static final int BASE_LIST_TARGET = 256;
}
