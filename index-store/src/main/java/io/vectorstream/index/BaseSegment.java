package io.vectorstream.index;

import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.filter.FrozenMetadataIndex;
import io.vectorstream.index.filter.MetadataDoc;
import io.vectorstream.index.filter.MetadataIndex;
import io.vectorstream.index.ivf.ExhaustiveLists;
import io.vectorstream.index.ivf.FlatScanner;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.index.ivf.IvfSearch;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A shard's immutable base: an {@link IvfPqIndex} over every vector live when it was built, re-ranked
 * exactly from the full vectors it keeps ({@link FlatVectorStore}, already normalised for cosine), with
 * the ids and metadata by ordinal. Built off the writer thread by compaction; deletes and replacements
 * after the build are masked by the snapshot's {@link Tombstones}, never by changing the base.
 *
 * @see Shard#offerBase
 */
public final class BaseSegment {
    /** Candidates re-ranked exactly per wanted result ({@code k * REFINE} by ADC). */
    public static final int REFINE = 8;

    private final long version;
    private final long coversOffset;
    private final IvfPqIndex index;
    private final FlatVectorStore vectors;
    private final String[] ids;
    private final String[] metadata;
    private final MetadataIndex metadataIndex; // what filters select from
    private final MetadataDoc[] docs;          // parsed metadata, for filters that test entries one by one
    private final IdOrdinals ordinalById;
    private final ExhaustiveLists exhaustive; // the full vectors as lists, for exact searches
    private final double buildQuantizationError;
    private final long builtAtMillis;
    private final long buildMillis;
    private final String trigger;

    /**
     * @param version                increases by one with every base this shard installs
     * @param coversOffset           the snapshot's next offset the base was built from
     * @param index                  built over ordinals {@code 0..n)} of {@code vectors}
     * @param buildQuantizationError mean squared L2 distance of (a sample of) the vectors to their coarse centroid
     * @param trigger                what asked for this build (operator, hot-size, ...)
     */
    public BaseSegment(long version, long coversOffset, IvfPqIndex index, FlatVectorStore vectors, String[] ids,
                       String[] metadata, double buildQuantizationError, long builtAtMillis, long buildMillis, String trigger) {
        if (index.size() != ids.length || vectors.size() != ids.length || metadata.length != ids.length) {
            throw new IllegalArgumentException("index, vectors, ids and metadata must have the same size");
        }
        this.version = version;
        this.coversOffset = coversOffset;
        this.index = index;
        this.vectors = vectors;
        this.ids = ids;
        this.metadata = metadata;
        this.exhaustive = new ExhaustiveLists(vectors);
        this.ordinalById = new IdOrdinals(ids.length);
        for (int i = 0; i < ids.length; i++) ordinalById.put(ids[i], i);
        this.docs = new MetadataDoc[ids.length];
        for (int i = 0; i < ids.length; i++) docs[i] = MetadataDoc.parse(metadata[i]);
        this.metadataIndex = FrozenMetadataIndex.build(docs, docs.length);
        this.buildQuantizationError = buildQuantizationError;
        this.builtAtMillis = builtAtMillis;
        this.buildMillis = buildMillis;
        this.trigger = trigger;
    }

    public long version() { return version; }

    public long coversOffset() { return coversOffset; }

    public IvfPqIndex index() { return index; }

    public FlatVectorStore vectors() { return vectors; }

    public int size() { return ids.length; }

    public String id(int ordinal) { return ids[ordinal]; }

    public String metadata(int ordinal) { return metadata[ordinal]; }

    public double buildQuantizationError() { return buildQuantizationError; }

    public long builtAtMillis() { return builtAtMillis; }

    public long buildMillis() { return buildMillis; }

    public String trigger() { return trigger; }

    /** The ordinal of {@code id} in this base, or -1. */
    public int ordinalOf(String id) {
        return ordinalById.get(id);
    }

    /**
     * Runs {@code queries} searches (its own vectors, spread over the base, as queries) before the base
     * serves traffic: the JIT then compiles this base's search path on the building thread, instead of the
     * first real queries after the swap paying for it (a fresh JVM stalled searches for up to 0.65 s).
     */
    public void warmUp(VectorKernels kernels, Metric metric, int queries, int nprobe) {
        int n = size(), dim = vectors.dim();
        if (n == 0) return;
        float[] q = new float[dim];
        long step = Math.max(1, n / Math.max(1, queries));
        for (int i = 0; i < queries; i++) {
            int row = (int) ((i * step) % n);
            System.arraycopy(vectors.vectors(), row * dim, q, 0, dim);
            search(kernels, metric, 0, q, 10, nprobe, false, Tombstones.NONE);
        }
    }

    /** The base's metadata index (built with the base). */
    public MetadataIndex metadataIndex() {
        return metadataIndex;
    }

    /**
     * Live entries among {@code selected}: counted when there are at most {@code exactUpTo}, else scaled by the
     * live fraction of the base.
     */
    long liveMatches(BitSet selected, Tombstones dead, int exactUpTo) {
        int card = selected.cardinality();
        if (dead.count() == 0) return card;
        if (card > exactUpTo) return Math.round((double) card * (size() - dead.count()) / Math.max(1, size()));
        long live = 0;
        for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) if (!dead.contains(o)) live++;
        return live;
    }

    /**
     * The {@code k} nearest live entries among {@code selected} (a filter's matches), best first.
     *
     * @param selected     the matching ordinals, or null to test each scanned entry with {@code filter}
     * @param exactMatches score every selected entry exactly (the answer is exact); otherwise IVF-PQ over at least
     *                     {@code nprobe} lists, widened until {@code k} selected entries were scanned
     */
    List<SearchHit> searchFiltered(VectorKernels kernels, Metric metric, int partition, float[] query, int k, int nprobe,
                                   boolean exactMatches, Tombstones dead, BitSet selected,
                                   io.vectorstream.index.filter.Filter filter) {
        if (selected != null && selected.isEmpty()) return List.of();
        int[] ords = new int[k];
        float[] dist = new float[k];
        int got;
        if (exactMatches) {
            TopK top = new TopK(k);
            int dim = vectors.dim();
            float[] v = vectors.vectors();
            for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) {
                if (dead.contains(o)) continue;
                float d = kernels.distance(metric, query, 0, v, o * dim, dim);
                if (d < top.threshold()) top.offer(o, d);
            }
            got = top.drainSorted(ords, dist);
        } else {
            java.util.function.IntPredicate accept = selected != null ? o -> selected.get(o) && !dead.contains(o)
                    : o -> !dead.contains(o) && filter.matches(docs[o]);
            got = index.search(query, k, nprobe, REFINE, accept, k, ords, dist);
        }
        return hits(ords, dist, got, metric, partition);
    }

    /**
     * The {@code k} nearest live entries, best first; approximate (IVF-PQ + re-rank) unless {@code exact} (every full
     * vector scored). Tombstoned entries are refused during the scan, and an approximate search probes past
     * {@code nprobe} lists until {@code k} live entries were scanned, so tombstones never cost results.
     */
    List<SearchHit> search(VectorKernels kernels, Metric metric, int partition, float[] query, int k, int nprobe,
                           boolean exact, Tombstones dead) {
        int live = size() - dead.count();
        if (live <= 0) return List.of();
        java.util.function.IntPredicate alive = dead.count() == 0 ? null : o -> !dead.contains(o);
        int[] ords = new int[k];
        float[] dist = new float[k];
        int got;
        if (exact) {
            TopK top = new TopK(k);
            IvfSearch.search(kernels, null, exhaustive, new FlatScanner(kernels, metric, vectors.dim(), exhaustive),
                    query, 0, alive, 0, top);
            got = top.drainSorted(ords, dist);
        } else {
            got = index.search(query, k, nprobe, REFINE, alive, k, ords, dist);
        }
        return hits(ords, dist, got, metric, partition);
    }

    /** The first {@code n} ordinals and distances (best first) as hits. */
    private List<SearchHit> hits(int[] ords, float[] dist, int n, Metric metric, int partition) {
        List<SearchHit> hits = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int o = ords[i];
            hits.add(new SearchHit(ids[o], dist[i], metric.toScore(dist[i]), metadata[o], partition));
        }
        return hits;
    }
}
