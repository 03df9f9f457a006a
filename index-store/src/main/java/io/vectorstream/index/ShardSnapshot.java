package io.vectorstream.index;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable view of one shard at one point: what a query reads. It is published whole after
 * each batch (one volatile write), so no query sees half a batch and no query waits for the writer.
 */
public final class ShardSnapshot {

    /** Which structure answers queries. */
    public enum Kind {
        /** Untrained: one list, every query is an exhaustive scan. */
        EXACT,
        /** Trained coarse centroids and inverted lists. */
        IVF_FLAT;

        public String wireName() {
            return this == EXACT ? "exact" : "ivf-flat";
        }
    }

    private final int partition;
    private final long version;
    private final long nextOffset;
    private final IndexConfig config;
    private final VectorKernels kernels;
    private final CoarseQuantizer quantizer; // null while EXACT
    private final PostingList[] lists;
    private final String[] idByOrdinal;
    private final String[] metadataByOrdinal;
    private final int liveCount;
    private final long publishedAtMillis;

    ShardSnapshot(int partition, long version, long nextOffset, IndexConfig config, VectorKernels kernels,
                  CoarseQuantizer quantizer, PostingList[] lists, String[] idByOrdinal, String[] metadataByOrdinal,
                  int liveCount) {
        this.partition = partition;
        this.version = version;
        this.nextOffset = nextOffset;
        this.config = config;
        this.kernels = kernels;
        this.quantizer = quantizer;
        this.lists = lists;
        this.idByOrdinal = idByOrdinal;
        this.metadataByOrdinal = metadataByOrdinal;
        this.liveCount = liveCount;
        this.publishedAtMillis = System.currentTimeMillis();
    }

    public int partition() {
        return partition;
    }

    /** Increases by one with every published batch of this shard. */
    public long version() {
        return version;
    }

    /** The next input offset to apply: everything before it is in this snapshot. -1 before any. */
    public long nextOffset() {
        return nextOffset;
    }

    public int liveCount() {
        return liveCount;
    }

    public Kind kind() {
        return quantizer == null ? Kind.EXACT : Kind.IVF_FLAT;
    }

    public int listCount() {
        return lists.length;
    }

    public IndexConfig config() {
        return config;
    }

    public long publishedAtMillis() {
        return publishedAtMillis;
    }

    /** Size of the largest inverted list (a balance indicator for status). */
    public int largestListSize() {
        int max = 0;
        for (PostingList list : lists) max = Math.max(max, list.size());
        return max;
    }

    /**
     * The {@code k} nearest live vectors to {@code query}, best first.
     *
     * @param query  {@code dim} floats, already normalised for cosine (see {@link IndexSearcher})
     * @param nprobe lists to scan when trained; ignored when exact
     * @param exact  scan every list regardless of training
     */
    public List<SearchHit> search(float[] query, int k, int nprobe, boolean exact) {
        TopK top = new TopK(k);
        SearchScratch scratch = SearchScratch.get();
        if (exact || quantizer == null) {
            for (PostingList list : lists) scan(list, query, top, scratch);
        } else {
            for (int c : probeOrder(query, nprobe, scratch)) scan(lists[c], query, top, scratch);
        }
        int n = top.size();
        int[] ordinals = new int[n];
        float[] distances = new float[n];
        top.drainSorted(ordinals, distances);
        List<SearchHit> hits = new ArrayList<>(n);
        Metric metric = config.metric();
        for (int i = 0; i < n; i++) {
            int o = ordinals[i];
            hits.add(new SearchHit(idByOrdinal[o], distances[i], metric.toScore(distances[i]), metadataByOrdinal[o], partition));
        }
        return hits;
    }

    /** The {@code nprobe} lists whose centroids are nearest the query, nearest first. */
    private int[] probeOrder(float[] query, int nprobe, SearchScratch scratch) {
        int p = Math.min(Math.max(1, nprobe), lists.length);
        int[] order = new int[p];
        quantizer.probe(query, p, order, scratch.probeDistances(p), scratch.distances(lists.length));
        return order;
    }

    /** Bytes held by the inverted lists (vectors and ordinals, including growth headroom), for reports. */
    public long listBytes() {
        long bytes = 0;
        for (PostingList list : lists) bytes += (long) list.vectors().length * Float.BYTES + (long) list.ordinals().length * Integer.BYTES;
        return bytes;
    }

    private void scan(PostingList list, float[] query, TopK top, SearchScratch scratch) {
        int n = list.size();
        if (n == 0) return;
        float[] d = scratch.distances(n);
        kernels.distances(config.metric(), query, 0, list.vectors(), 0, n, config.dim(), d, 0);
        top.offerAll(d, 0, list.ordinals(), 0, n);
    }

    // ---- package-private views for the device mirror (DeviceMirror) ----

    /** The coarse centroids ({@code listCount x dim}), or null while exact; never modified. */
    float[] centroidsView() {
        return quantizer == null ? null : quantizer.centroidsShared();
    }

    /** Calls {@code sink} with every live vector (normalised as stored) and its ordinal. */
    void forEachVector(VectorSink sink) {
        for (PostingList list : lists) {
            for (int r = 0; r < list.size(); r++) sink.accept(list.ordinals()[r], list.vectors(), r * config.dim());
        }
    }

    String idAt(int ordinal) {
        return idByOrdinal[ordinal];
    }

    String metadataAt(int ordinal) {
        return metadataByOrdinal[ordinal];
    }

    interface VectorSink {
        void accept(int ordinal, float[] data, int offset);
    }

    /** Per-thread reusable buffers, so a query allocates almost nothing. */
    private static final class SearchScratch {
        private static final ThreadLocal<SearchScratch> LOCAL = ThreadLocal.withInitial(SearchScratch::new);
        private float[] distances = new float[1024];
        private float[] probeDistances = new float[64];

        float[] probeDistances(int n) {
            if (probeDistances.length < n) probeDistances = new float[n];
            return probeDistances;
        }

        static SearchScratch get() {
            return LOCAL.get();
        }

        float[] distances(int n) {
            if (distances.length < n) distances = new float[Math.max(n, distances.length * 2)];
            return distances;
        }
    }
}
