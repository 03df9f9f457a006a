package io.vectorstream.index;

import io.vectorstream.index.filter.Filter;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.BitSet;
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
    private final HotFilterView hotFilter; // the hot index's metadata index and ordinal locations, for filters
    private final int liveCount;
    private final long publishedAtMillis;
    private final BaseSegment base;        // null: no base yet (hot only)
    private final Tombstones tombstones;   // dead base ordinals
    private final RecheckedListScan recheckedScan; // null: scan the float vectors (untrained, or bf16 scan off)
    private final long hotMark; // the hot index's ordinal numbering and ordinal count when published (IvfFlatIndex#mark)

    ShardSnapshot(int partition, long version, long nextOffset, IndexConfig config, VectorKernels kernels,
                  CoarseQuantizer quantizer, PostingList[] lists, String[] idByOrdinal, String[] metadataByOrdinal,
                  HotFilterView hotFilter, int liveCount, long hotMark) {
        this(partition, version, nextOffset, config, kernels, quantizer, lists, idByOrdinal, metadataByOrdinal,
                hotFilter, liveCount, null, Tombstones.NONE, hotMark);
    }

    private ShardSnapshot(int partition, long version, long nextOffset, IndexConfig config, VectorKernels kernels,
                          CoarseQuantizer quantizer, PostingList[] lists, String[] idByOrdinal, String[] metadataByOrdinal,
                          HotFilterView hotFilter, int liveCount, BaseSegment base, Tombstones tombstones, long hotMark) {
        this.hotFilter = hotFilter;
        this.hotMark = hotMark;
        this.base = base;
        this.tombstones = tombstones;
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
        this.recheckedScan = quantizer != null && config.bf16Scan()
                ? new RecheckedListScan(kernels, config.metric(), config.dim(), quantizer) : null;
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

    /** Live vectors: the hot index's plus the base's that are not tombstoned. */
    public int liveCount() {
        return liveCount + (base == null ? 0 : base.size() - tombstones.count());
    }

    /** Vectors in the mutable hot index (everything since the base was built). */
    public int hotCount() {
        return liveCount;
    }

    /** This snapshot with {@code base} under it, masked by {@code tombstones} (for {@link Shard}). */
    ShardSnapshot layered(BaseSegment base, Tombstones tombstones) {
        return new ShardSnapshot(partition, version, nextOffset, config, kernels, quantizer, lists, idByOrdinal,
                metadataByOrdinal, hotFilter, liveCount, base, tombstones, hotMark);
    }

    /** Where the hot index stood when this was published (for the compaction hand-over; see {@link IvfFlatIndex#mark()}). */
    long hotMark() {
        return hotMark;
    }

    /** The immutable IVF-PQ base, or null while the shard has none. */
    public BaseSegment base() {
        return base;
    }

    public Tombstones tombstones() {
        return tombstones;
    }

    /** Every live vector of this snapshot (base minus tombstones, then hot), as stored (normalised for cosine). */
    public LiveData live() {
        int n = liveCount();
        int dim = config.dim();
        float[] vectors = new float[n * dim];
        String[] ids = new String[n];
        String[] meta = new String[n];
        int i = 0;
        if (base != null) {
            float[] bv = base.vectors().vectors();
            for (int o = 0; o < base.size(); o++) {
                if (tombstones.contains(o)) continue;
                System.arraycopy(bv, o * dim, vectors, i * dim, dim);
                ids[i] = base.id(o);
                meta[i] = base.metadata(o);
                i++;
            }
        }
        i = copyHot(vectors, ids, meta, i);
        return new LiveData(vectors, ids, meta, i);
    }

    /** The hot index's live vectors only (normalised for cosine), ids and metadata. */
    public LiveData hotLive() {
        int dim = config.dim();
        float[] vectors = new float[liveCount * dim];
        String[] ids = new String[liveCount];
        String[] meta = new String[liveCount];
        int i = 0;
        i = copyHot(vectors, ids, meta, i);
        return new LiveData(vectors, ids, meta, i);
    }

    /** Appends the hot index's vectors, ids and metadata from row {@code i}; returns the next free row. */
    private int copyHot(float[] vectors, String[] ids, String[] meta, int i) {
        int dim = config.dim();
        for (PostingList list : lists) {
            for (int r = 0; r < list.size(); r++, i++) {
                System.arraycopy(list.vectors(), r * dim, vectors, i * dim, dim);
                ids[i] = idByOrdinal[list.ordinals()[r]];
                meta[i] = metadataByOrdinal[list.ordinals()[r]];
            }
        }
        return i;
    }

    /** One live vector of a snapshot, as stored (normalised for cosine), and its metadata JSON (or null). */
    public record Found(String id, float[] vector, String metadata) {
    }

    /**
     * The live vector {@code id} in this snapshot, or null. A base entry is found through its id map; the hot
     * index is scanned (it is at most a fraction of the base, and get-by-id is not the search path).
     */
    public Found find(String id) {
        int dim = config.dim();
        for (PostingList list : lists) {
            int[] ordinals = list.ordinals();
            for (int r = 0; r < list.size(); r++) {
                if (id.equals(idByOrdinal[ordinals[r]])) {
                    return new Found(id, java.util.Arrays.copyOfRange(list.vectors(), r * dim, (r + 1) * dim),
                            metadataByOrdinal[ordinals[r]]);
                }
            }
        }
        if (base != null) {
            int o = base.ordinalOf(id);
            if (o >= 0 && !tombstones.contains(o)) {
                return new Found(id, java.util.Arrays.copyOfRange(base.vectors().vectors(), o * dim, (o + 1) * dim),
                        base.metadata(o));
            }
        }
        return null;
    }

    /** Live vectors ({@code n x dim}, normalised for cosine), their ids and metadata, in one order. */
    public record LiveData(float[] vectors, String[] ids, String[] metadata, int size) {
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

    /**
     * About how many vectors a search with {@code nprobe} scores here (every one when {@code exact} or untrained; for
     * an IVF search the probed share of the hot and base lists). What a request's cost bound counts.
     */
    public long scanEstimate(int nprobe, boolean exact) {
        long hot = hotCount(), inBase = base == null ? 0 : base.size();
        if (exact) return hot + inBase;
        long scanned = quantizer == null ? hot : (long) Math.ceil(hot * Math.min(1.0, nprobe / (double) Math.max(1, lists.length)));
        if (base != null) scanned += (long) Math.ceil(inBase * Math.min(1.0, nprobe / (double) Math.max(1, base.index().nlist())));
        return scanned;
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
            int[] order = probeOrder(query, nprobe, scratch);
            if (recheckedScan != null) {
                int scanned = 0;
                for (int c : order) scanned += lists[c].size();
                recheckedScan.search(query, lists, order, order.length, top, scratch.distances(scanned), scratch.residual(config.dim()));
            } else {
                for (int c : order) scan(lists[c], query, top, scratch);
            }
        }
        List<SearchHit> hits = drain(top);
        if (base == null) return hits;
        List<SearchHit> fromBase = base.search(kernels, config.metric(), partition, query, k, nprobe, exact, tombstones);
        return mergeByDistance(hits, fromBase, k);
    }

    // ---- filtered search ----

    /** How a shard answered a filtered query. */
    public enum Plan {
        /** {@code exact: true}: every live vector that matches was scored. */
        EXACT("exact"),
        /** Few vectors match: each of them was scored exactly (an exact answer). */
        EXACT_MATCHES("exact-matches"),
        /** Many match: the probed lists were scanned skipping non-matching entries, the probe widened until k matched. */
        IVF_FILTERED("ivf-filtered");

        private final String wireName;

        Plan(String wireName) {
            this.wireName = wireName;
        }

        public String wireName() {
            return wireName;
        }
    }

    /** A shard's answer to a filtered query: best first, the plan that produced it and the matches it estimated. */
    public record FilteredAnswer(List<SearchHit> hits, Plan plan, long estimatedMatches) {
    }

    /**
     * What a filtered query needs of the hot index as published: its metadata index (grown by the writer; read up to
     * {@code ordinalBound}), where each ordinal is ({@code listOf}/{@code posOf}: the writer's own tables, read without
     * a lock and therefore checked against this snapshot's lists before use), and when each ordinal was removed
     * ({@code diedAt}: an ordinal is dead here if it died in batch {@code batchNo} or earlier).
     */
    record HotFilterView(io.vectorstream.index.filter.MetadataIndex index, io.vectorstream.index.filter.MetadataDoc[] docs,
                         int ordinalBound, int[] listOf, int[] posOf, int[] diedAt, int batchNo) {
        boolean dead(int ordinal) {
            int died = diedAt[ordinal];
            return died != 0 && died <= batchNo;
        }
    }

    /** Matches counted one by one up to this many; past it, estimated from the layer's live fraction. */
    static final int COUNT_EXACTLY_UP_TO = 4096;

    // The plan's cost model, in nanoseconds, measured at 100k x 128 on the 2-core bench machine (bench/RESULTS.md).
    /**
     * Scoring one match found through its ordinal: random accesses to the tables and to its vector, whose 8 cache
     * lines come from DRAM (measured: 5,000 scattered matches of 100k x 128 took 1.5 ms to score).
     */
    static final double NS_LOCATED_MATCH = 400;
    /** Scanning all lists for matches instead: per entry (an ordinal and a bit), plus per match (a scattered row). */
    static final double NS_SCAN_ENTRY = 1.5, NS_SCANNED_MATCH = 300;
    /** One entry of an IVF list scan (bf16 rows and a selection bit) and one centroid dimension of the probe. */
    static final double NS_IVF_ENTRY = 10, NS_CENTROID_DIM = 0.25;
    /** Setting one bit of a selection from the postings. */
    static final double NS_SELECT = 3;
    /** Testing an entry's parsed metadata (pointer chasing: several cache misses). */
    static final double NS_DOC_TEST = 300;
    /** Exact answers are preferred while they cost at most this many times the approximate plan. */
    static final double EXACT_PREFERENCE = 1.5;

    /**
     * The {@code k} nearest live vectors that {@code filter} matches, best first, with the plan chosen for this shard
     * and query. The layers' metadata indexes estimate the matches m out of n live vectors from their postings'
     * sizes (s = m / n), and a cost model (the constants above) chooses:
     * <ul>
     *   <li>{@link Plan#IVF_FILTERED}: the probe widens to {@code 2 * nprobe / s} lists — twice as many matching
     *       vectors as an unfiltered query scans vectors, since the k nearest matches lie farther out than the k
     *       nearest vectors — skips non-matching entries, and keeps probing (nearest centroid first) until at least
     *       k matches were scanned or no list is left: never fewer than min(k, m) results;</li>
     *   <li>{@link Plan#EXACT_MATCHES}: only the matches are scored, each found through its ordinal or by one pass
     *       over the lists, whichever costs less; an exact answer, preferred up to {@link #EXACT_PREFERENCE} times
     *       the IVF plan's cost. {@code exact: true} runs it whatever it costs.</li>
     * </ul>
     * The matching ordinals come from the postings (a selection remembered per filter and snapshot, see
     * {@link io.vectorstream.index.filter.MetadataIndex#selectShared}); when far more match than an IVF probe scans,
     * the scan tests each entry's parsed metadata instead of selecting them all. Filtered queries run on the CPU
     * snapshot, never the device mirror.
     */
    public FilteredAnswer search(float[] query, int k, int nprobe, boolean exact, Filter filter) {
        long hotLive = liveCount;
        long baseLive = base == null ? 0 : base.size() - tombstones.count();
        long total = hotLive + baseLive;
        // postings hold removed ordinals too: scale by each layer's live fraction
        long hotEstimate = Math.round(hotFilter.index().estimate(filter, hotFilter.ordinalBound())
                * (double) hotLive / Math.max(1, hotFilter.ordinalBound()));
        long baseEstimate = base == null ? 0
                : Math.round(base.metadataIndex().estimate(filter, base.size()) * (double) baseLive / Math.max(1, base.size()));
        long estimate = hotEstimate + baseEstimate;
        int widened = widened(estimate, total, nprobe);
        long scanned = ivfScanned(widened);
        Plan plan = exact ? Plan.EXACT : exactCost(estimate) <= EXACT_PREFERENCE * ivfCost(scanned) ? Plan.EXACT_MATCHES : Plan.IVF_FILTERED;
        // select the matches unless that costs more than testing each scanned entry's metadata
        boolean select = plan != Plan.IVF_FILTERED || NS_SELECT * estimate <= NS_DOC_TEST * scanned;
        BitSet hotSelected = null, baseSelected = null;
        if (select) {
            hotSelected = liveCount == 0 ? new BitSet() : hotFilter.index().selectShared(filter, hotFilter.ordinalBound());
            if (base != null) baseSelected = base.metadataIndex().selectShared(filter, base.size());
            hotEstimate = hotLiveMatches(hotSelected);
            if (base != null) baseEstimate = base.liveMatches(baseSelected, tombstones, COUNT_EXACTLY_UP_TO);
            estimate = hotEstimate + baseEstimate;
        }
        TopK top = new TopK(k);
        if (plan != Plan.IVF_FILTERED) {
            scoreHotMatches(query, hotSelected, hotEstimate, top);
        } else {
            BitSet selected = hotSelected;
            io.vectorstream.index.filter.MetadataDoc[] docs = hotFilter.docs();
            java.util.function.IntPredicate accept = selected != null ? selected::get : o -> filter.matches(docs[o]);
            if (quantizer == null) {
                for (PostingList list : lists) scanAccepted(list, query, top, accept);
            } else {
                int minProbes = Math.min(widened, lists.length);
                // Order twice the lists the widened probe needs (ordering all of them costs more than the scan);
                // if even those hold fewer than k matches, order them all and scan again.
                if (!ivfScan(query, k, minProbes, Math.min(lists.length, 2 * minProbes), accept, top)) {
                    top = new TopK(k);
                    ivfScan(query, k, minProbes, lists.length, accept, top);
                }
            }
        }
        List<SearchHit> hits = drain(top);
        if (base != null) {
            List<SearchHit> fromBase = base.searchFiltered(kernels, config.metric(), partition, query, k,
                    Math.min(widened, base.index().nlist()), plan != Plan.IVF_FILTERED, tombstones, baseSelected, filter);
            hits = mergeByDistance(hits, fromBase, k);
        }
        return new FilteredAnswer(hits, plan, estimate);
    }

    /**
     * Scans the {@code minProbes} nearest lists, and more of the {@code maxProbes} nearest until {@code k} accepted
     * entries were scanned; false when they ran out first (with lists left unprobed).
     */
    private boolean ivfScan(float[] query, int k, int minProbes, int maxProbes, java.util.function.IntPredicate accept, TopK top) {
        SearchScratch scratch = SearchScratch.get();
        int[] order = probeOrder(query, maxProbes, scratch);
        if (recheckedScan != null) {
            int entries = 0;
            for (int c : order) entries += lists[c].size();
            recheckedScan.search(query, lists, order, minProbes, order.length, k, accept, top,
                    scratch.distances(entries), scratch.residual(config.dim()));
        } else {
            int accepted = 0;
            for (int j = 0; j < order.length && (j < minProbes || accepted < k); j++) {
                accepted += scanAccepted(lists[order[j]], query, top, accept);
            }
        }
        return top.size() >= k || order.length == lists.length;
    }

    /** {@code 2 * nprobe / s} for selectivity s = estimate / total, at least nprobe. */
    private static int widened(long estimate, long total, int nprobe) {
        double selectivity = total == 0 ? 1 : Math.min(1, Math.max(1, estimate) / (double) total);
        double lists = Math.max(1, nprobe) * (selectivity >= 1 ? 1 : 2 / selectivity);
        return (int) Math.min(Integer.MAX_VALUE, (long) Math.ceil(lists));
    }

    /** Entries the IVF plan scans in both layers when probing {@code widened} lists. */
    private long ivfScanned(int widened) {
        return scanned(liveCount, quantizer == null ? 1 : lists.length, widened)
                + (base == null ? 0 : scanned(base.size() - tombstones.count(), base.index().nlist(), widened));
    }

    private double ivfCost(long scanned) {
        long centroids = (quantizer == null ? 0 : lists.length) + (base == null ? 0 : base.index().nlist());
        return NS_IVF_ENTRY * scanned + NS_CENTROID_DIM * centroids * config.dim();
    }

    /** Selecting {@code matches} and scoring them, the cheaper way (the base is always located: it has no lists to scan). */
    private double exactCost(long matches) {
        return NS_SELECT * matches + Math.min(NS_LOCATED_MATCH * matches, NS_SCAN_ENTRY * liveCount + NS_SCANNED_MATCH * matches);
    }

    /** Entries of {@code live} vectors in {@code nlist} lists that a probe of {@code probes} lists scans. */
    private static long scanned(long live, int nlist, int probes) {
        return probes >= nlist ? live : (long) Math.ceil((double) live * probes / nlist);
    }

    /** Live hot vectors among {@code selected}: counted up to {@link #COUNT_EXACTLY_UP_TO}, else estimated. */
    private long hotLiveMatches(BitSet selected) {
        int card = selected.cardinality();
        if (card > COUNT_EXACTLY_UP_TO) return Math.round((double) card * liveCount / Math.max(1, hotFilter.ordinalBound()));
        long live = 0;
        for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) if (!hotFilter.dead(o)) live++;
        return live;
    }

    /**
     * Offers the exact distance of every live hot vector in {@code selected} ({@code matches} of them, about): found
     * where the writer's tables say it is (checked against this snapshot's lists), or by one pass over the lists when
     * that costs less. Ordinals that moved since this snapshot (a list rewritten by a later batch) are found by a pass.
     */
    private void scoreHotMatches(float[] query, BitSet selected, long matches, TopK top) {
        if (selected.isEmpty() || liveCount == 0) return;
        if (NS_SCAN_ENTRY * liveCount + NS_SCANNED_MATCH * matches < NS_LOCATED_MATCH * matches) {
            for (PostingList list : lists) scanAccepted(list, query, top, selected::get);
            return;
        }
        int dim = config.dim();
        Metric metric = config.metric();
        BitSet moved = null;
        int[] listOf = hotFilter.listOf(), posOf = hotFilter.posOf();
        for (int o = selected.nextSetBit(0); o >= 0; o = selected.nextSetBit(o + 1)) {
            if (hotFilter.dead(o)) continue;
            int l = listOf[o], p = posOf[o];
            if (l >= 0 && l < lists.length && p >= 0 && p < lists[l].size() && lists[l].ordinals()[p] == o) {
                float d = kernels.distance(metric, query, 0, lists[l].vectors(), p * dim, dim);
                if (d < top.threshold()) top.offer(o, d);
            } else {
                if (moved == null) moved = new BitSet();
                moved.set(o);
            }
        }
        if (moved != null) for (PostingList list : lists) scanAccepted(list, query, top, moved::get);
    }

    /** Offers the exact distance of every vector of {@code list} that {@code accept} takes; returns how many. */
    private int scanAccepted(PostingList list, float[] query, TopK top, java.util.function.IntPredicate accept) {
        int[] ordinals = list.ordinals();
        int dim = config.dim(), accepted = 0;
        for (int r = 0; r < list.size(); r++) {
            if (!accept.test(ordinals[r])) continue;
            accepted++;
            float d = kernels.distance(config.metric(), query, 0, list.vectors(), r * dim, dim);
            if (d < top.threshold()) top.offer(ordinals[r], d);
        }
        return accepted;
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

    /**
     * Completes a search whose hot-index part was answered elsewhere (the device mirror): merges in the
     * base's hits, masked by this snapshot's tombstones. {@code hotHits} must be best first.
     */
    List<SearchHit> withBaseHits(List<SearchHit> hotHits, float[] query, int k, int nprobe, boolean exact) {
        if (base == null) return hotHits;
        List<SearchHit> fromBase = base.search(kernels, config.metric(), partition, query, k, nprobe, exact, tombstones);
        return mergeByDistance(hotHits, fromBase, k);
    }

    private static List<SearchHit> mergeByDistance(List<SearchHit> a, List<SearchHit> b, int k) {
        List<SearchHit> out = new ArrayList<>(Math.min(k, a.size() + b.size()));
        int i = 0, j = 0;
        while (out.size() < k && (i < a.size() || j < b.size())) {
            if (j >= b.size() || (i < a.size() && a.get(i).distance() <= b.get(j).distance())) out.add(a.get(i++));
            else out.add(b.get(j++));
        }
        return out;
    }

    /** The {@code nprobe} lists whose centroids are nearest the query, nearest first. */
    private int[] probeOrder(float[] query, int nprobe, SearchScratch scratch) {
        int p = Math.min(Math.max(1, nprobe), lists.length);
        int[] order = new int[p];
        quantizer.probe(query, p, order, scratch.probeDistances(p), scratch.distances(lists.length));
        return order;
    }

    /**
     * Heap bytes this snapshot's index holds, for reports: the hot lists (with their headroom and scan copies), the
     * coarse centroids, and the base's codes, re-rank vectors and quantizers. Ids and metadata strings are not counted.
     */
    public long memoryBytes() {
        long bytes = listBytes() + (quantizer == null ? 0 : quantizer.memoryBytes());
        if (base != null) {
            bytes += (long) base.size() * config.dim() * Float.BYTES
                    + (long) (base.index().bytesPerVector() * base.size()) + base.index().overheadBytes();
        }
        return bytes;
    }

    /** Bytes held by the inverted lists (vectors, ordinals, bf16 scan copies, growth headroom), for reports. */
    public long listBytes() {
        long bytes = 0;
        for (PostingList list : lists) bytes += list.bytes();
        return bytes;
    }

    private void scan(PostingList list, float[] query, TopK top, SearchScratch scratch) {
        int n = list.size();
        if (n == 0) return;
        float[] d = scratch.distances(n);
        kernels.distances(config.metric(), query, 0, list.vectors(), 0, n, config.dim(), d, 0);
        kernels.offerAll(top, d, 0, list.ordinals(), 0, n);
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
        private float[] residual = new float[0];

        float[] residual(int dim) {
            if (residual.length < dim) residual = new float[dim];
            return residual;
        }

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
