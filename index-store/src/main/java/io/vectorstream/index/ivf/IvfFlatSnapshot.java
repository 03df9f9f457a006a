package io.vectorstream.index.ivf;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.filter.Filter;
import io.vectorstream.index.filter.MetadataDoc;
import io.vectorstream.index.filter.MetadataIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * The hot IVF-Flat layer of one shard as one batch left it: what {@link IvfFlatIndex} publishes, and what a query
 * reads of the hot layer. Immutable to its readers (see {@link PostingList}); the layering of base, hot layer and
 * tombstones is {@link io.vectorstream.index.ShardSnapshot}'s business, not this class's.
 */
public final class IvfFlatSnapshot {

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

    /**
     * What a filtered query needs of the hot index as published: its metadata index (grown by the writer; read up to
     * {@code ordinalBound}), where each ordinal is ({@code listOf}/{@code posOf}: the writer's own tables, read without
     * a lock and therefore checked against this snapshot's lists before use), and when each ordinal was removed
     * ({@code diedAt}: an ordinal is dead here if it died in batch {@code batchNo} or earlier).
     */
    record FilterView(MetadataIndex index, MetadataDoc[] docs, int ordinalBound, int[] listOf, int[] posOf,
                      int[] diedAt, int batchNo) {
        boolean dead(int ordinal) {
            int died = diedAt[ordinal];
            return died != 0 && died <= batchNo;
        }
    }

    /** One live vector (as stored: normalised for cosine) and its metadata JSON (or null). */
    public record Entry(String id, float[] vector, String metadata) {
    }

    private final int partition;
    private final IndexConfig config;
    private final VectorKernels kernels;
    private final CoarseQuantizer quantizer; // null while EXACT
    private final PostingList[] lists;
    private final HotLists hotLists; // the lists, as the search loop reads them
    private final String[] idByOrdinal;
    private final String[] metadataByOrdinal;
    private final FilterView filterView;
    private final int liveCount;
    private final long mark; // the writer's ordinal numbering and count when published (IvfFlatIndex#mark)

    IvfFlatSnapshot(int partition, IndexConfig config, VectorKernels kernels, CoarseQuantizer quantizer,
                    PostingList[] lists, String[] idByOrdinal, String[] metadataByOrdinal, FilterView filterView,
                    int liveCount, long mark) {
        this.partition = partition;
        this.config = config;
        this.kernels = kernels;
        this.quantizer = quantizer;
        this.lists = lists;
        this.hotLists = new HotLists(lists, config.dim());
        this.idByOrdinal = idByOrdinal;
        this.metadataByOrdinal = metadataByOrdinal;
        this.filterView = filterView;
        this.liveCount = liveCount;
        this.mark = mark;
    }

    /** Live vectors in this layer. */
    public int liveCount() {
        return liveCount;
    }

    /** Where the writer stood when this was published (for the compaction hand-over; see {@link IvfFlatIndex#mark()}). */
    public long mark() {
        return mark;
    }

    public Kind kind() {
        return quantizer == null ? Kind.EXACT : Kind.IVF_FLAT;
    }

    public int listCount() {
        return lists.length;
    }

    /** The coarse quantizer, or null while exact. */
    public CoarseQuantizer quantizer() {
        return quantizer;
    }

    /** Size of the largest inverted list (a balance indicator for status). */
    public int largestListSize() {
        int max = 0;
        for (PostingList list : lists) max = Math.max(max, list.size());
        return max;
    }

    /**
     * Trained lists that have rows but no bf16 scan copy: deferred while a backlog is applied, scanned exactly from
     * their floats until the writer rebuilds them ({@code IvfFlatIndex.DEFER_SCAN_COPIES_AT}).
     */
    public int listsWithoutScanCopy() {
        if (quantizer == null || !config.bf16Scan()) return 0;
        int n = 0;
        for (int l = 0; l < hotLists.nlist(); l++) {
            PostingList p = hotLists.list(l);
            if (p.scan() == null && p.size() > 0) n++;
        }
        return n;
    }

    /** Bytes held by the inverted lists (vectors, ordinals, bf16 scan copies, growth headroom), for reports. */
    public long listBytes() {
        long bytes = 0;
        for (PostingList list : lists) bytes += list.bytes();
        return bytes;
    }

    /** Heap bytes of the lists and the coarse centroids (ids and metadata strings are not counted). */
    public long memoryBytes() {
        return listBytes() + (quantizer == null ? 0 : quantizer.memoryBytes());
    }

    /** Vectors a search with {@code nprobe} scores here: the probed share of the lists (all when exact or untrained). */
    public long scanEstimate(int nprobe, boolean exact) {
        if (scansEverything(exact)) return liveCount;
        return (long) Math.ceil(liveCount * Math.min(1.0, nprobe / (double) Math.max(1, lists.length)));
    }

    /** Copies the live vectors, ids and metadata into row {@code i} on; returns the next free row. */
    public int copyLive(float[] vectors, String[] ids, String[] meta, int i) {
        return copyLive(vectors, ids, meta, null, i);
    }

    /**
     * As {@link #copyLive(float[], String[], String[], int)}, also writing the list of the entry copied to position
     * {@code i} to {@code listOf[i - first]}, {@code first} being the {@code i} passed in ({@code listOf} null: not).
     */
    public int copyLive(float[] vectors, String[] ids, String[] meta, int[] listOf, int i) {
        int dim = config.dim(), first = i;
        for (int l = 0; l < lists.length; l++) {
            PostingList list = lists[l];
            for (int r = 0; r < list.size(); r++, i++) {
                list.copyRow(r, vectors, i * dim, dim);
                ids[i] = idByOrdinal[list.ordinals()[r]];
                meta[i] = metadataByOrdinal[list.ordinals()[r]];
                if (listOf != null) listOf[i - first] = l;
            }
        }
        return i;
    }

    /**
     * The list each live entry added since {@code mark} (an {@link IvfFlatIndex#mark()} of the same numbering) would
     * have under {@code onto}, assigned here on {@code onto}'s kernels; null when this snapshot is of another
     * numbering (ordinals are not comparable). What a compaction works out ahead of its hand-over (see
     * {@link IvfFlatIndex#carryOver}).
     */
    public IvfFlatIndex.Reassignment reassignSince(long mark, CoarseQuantizer onto) {
        if ((int) (mark >>> 32) != (int) (this.mark >>> 32)) return null;
        int from = (int) mark, to = (int) this.mark, dim = config.dim();
        if (to < from) return null;
        int n = 0;
        for (PostingList list : lists) for (int r = 0; r < list.size(); r++) if (list.ordinals()[r] >= from) n++;
        float[] rows = new float[n * dim];
        int[] ordinals = new int[n];
        int w = 0;
        for (PostingList list : lists) {
            for (int r = 0; r < list.size(); r++) {
                int o = list.ordinals()[r];
                if (o < from) continue;
                list.copyRow(r, rows, w * dim, dim);
                ordinals[w++] = o;
            }
        }
        int[] assigned = new int[n];
        if (n > 0) onto.assign(rows, n, assigned, null);
        int[] listByOrdinal = new int[to - from];
        java.util.Arrays.fill(listByOrdinal, -1);
        for (int i = 0; i < n; i++) listByOrdinal[ordinals[i] - from] = assigned[i];
        return new IvfFlatIndex.Reassignment((int) (mark >>> 32), from, listByOrdinal, onto.centroidsShared());
    }

    /** The live entry {@code id}, or null: a scan of the lists (get-by-id is not the search path). */
    public Entry find(String id) {
        int dim = config.dim();
        for (PostingList list : lists) {
            int[] ordinals = list.ordinals();
            for (int r = 0; r < list.size(); r++) {
                if (id.equals(idByOrdinal[ordinals[r]])) {
                    float[] vector = new float[dim];
                    list.copyRow(r, vector, 0, dim);
                    return new Entry(id, vector, metadataByOrdinal[ordinals[r]]);
                }
            }
        }
        return null;
    }

    /**
     * The {@code k} nearest live vectors, best first, through {@link IvfSearch}: {@code nprobe} lists, or every list
     * when {@code exact} or untrained.
     */
    public List<SearchHit> search(float[] query, int k, int nprobe, boolean exact) {
        TopK top = new TopK(k);
        if (liveCount == 0) return drain(top);
        boolean all = scansEverything(exact);
        IvfSearch.search(kernels, all ? null : quantizer, hotLists, scanner(all), query, nprobe, null, 0, top);
        return drain(top);
    }

    /**
     * Whether an unfiltered search scores every live vector (exactly, from the floats) instead of probing lists: when
     * asked, while untrained, and while the index holds no more vectors than lists. The hot index lives on its base's
     * centroids (thousands of lists at a million vectors) and is small after each compaction: choosing the lists
     * would read every centroid, more than scanning what the lists hold — and the exact scan misses nothing.
     */
    public boolean scansEverything(boolean exact) {
        return exact || quantizer == null || liveCount <= lists.length;
    }

    /**
     * The {@code k} nearest vectors that {@code accept} takes: at least {@code nprobe} lists, widened (nearest centroid
     * first) until {@code k} accepted vectors were scanned or the lists ran out.
     */
    public List<SearchHit> search(float[] query, int k, int nprobe, IntPredicate accept) {
        TopK top = new TopK(k);
        IvfSearch.search(kernels, quantizer, hotLists, scanner(false), query, nprobe, accept, k, top);
        return drain(top);
    }

    /** How a query reads the lists: their bf16 copies re-checked (trained, approximate, copies on), or their floats. */
    private ListScanner scanner(boolean exact) {
        return !exact && quantizer != null && config.bf16Scan()
                ? new Bf16RecheckScanner(kernels, config.metric(), config.dim(), quantizer, hotLists)
                : new FlatScanner(kernels, config.metric(), config.dim(), hotLists);
    }

    // ---- filters ----

    /** The parsed metadata by ordinal: what a filter tests entry by entry. */
    public MetadataDoc[] docs() {
        return filterView.docs();
    }

    /** About how many live vectors {@code filter} matches, from the postings' sizes (which count removed ordinals too). */
    public long estimateMatches(Filter filter) {
        return Math.round(filterView.index().estimate(filter, filterView.ordinalBound())
                * (double) liveCount / Math.max(1, filterView.ordinalBound()));
    }

    /** The ordinals {@code filter} matches, live or not (a selection shared per filter and snapshot; do not modify). */
    public BitSet select(Filter filter) {
        return liveCount == 0 ? new BitSet() : filterView.index().selectShared(filter, filterView.ordinalBound());
    }

    /** Live vectors among {@code selected}: counted up to {@code exactUpTo}, else estimated from the live fraction. */
    public long liveMatches(BitSet selected, int exactUpTo) {
        int card = selected.cardinality();
        if (card > exactUpTo) return Math.round((double) card * liveCount / Math.max(1, filterView.ordinalBound()));
        long live = 0;
        for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) if (!filterView.dead(o)) live++;
        return live;
    }

    /**
     * The {@code k} nearest live vectors in {@code selected} ({@code matches} of them, about), scored exactly: each
     * found where the writer's tables say it is (checked against this snapshot's lists), or all by one pass over the
     * lists when {@code scanAll} (the caller's cost model says that is cheaper). Ordinals that moved since this
     * snapshot (a list rewritten by a later batch) are found by a pass.
     */
    public List<SearchHit> scoreMatches(float[] query, int k, BitSet selected, boolean scanAll) {
        TopK top = new TopK(k);
        if (selected.isEmpty() || liveCount == 0) return drain(top);
        if (scanAll) {
            scanAccepted(query, selected::get, top);
            return drain(top);
        }
        int dim = config.dim();
        Metric metric = config.metric();
        BitSet moved = null;
        int[] listOf = filterView.listOf(), posOf = filterView.posOf();
        for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) {
            if (filterView.dead(o)) continue;
            int l = listOf[o], p = posOf[o];
            if (l >= 0 && l < lists.length && p >= 0 && p < lists[l].size() && lists[l].ordinals()[p] == o) {
                float d = kernels.distance(metric, query, 0, lists[l].chunkOf(p), PostingList.offsetOf(p, dim), dim);
                if (d < top.threshold()) top.offer(o, d);
            } else {
                if (moved == null) moved = new BitSet();
                moved.set(o);
            }
        }
        if (moved != null) scanAccepted(query, moved::get, top);
        return drain(top);
    }

    /** Offers the exact distance of every vector that {@code accept} takes (an exhaustive scan). */
    private void scanAccepted(float[] query, IntPredicate accept, TopK top) {
        IvfSearch.search(kernels, null, hotLists, new FlatScanner(kernels, config.metric(), config.dim(), hotLists),
                query, 0, accept, 0, top);
    }

    private List<SearchHit> drain(TopK top) {
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

    // ---- for the device mirror ----

    /** Calls {@code sink} with every live vector (normalised as stored) and its ordinal. */
    public void forEachVector(VectorSink sink) {
        for (PostingList list : lists) {
            for (int r = 0; r < list.size(); r++) {
                sink.accept(list.ordinals()[r], list.chunkOf(r), PostingList.offsetOf(r, config.dim()));
            }
        }
    }

    public String idAt(int ordinal) {
        return idByOrdinal[ordinal];
    }

    public String metadataAt(int ordinal) {
        return metadataByOrdinal[ordinal];
    }

    public interface VectorSink {
        void accept(int ordinal, float[] data, int offset);
    }
}
