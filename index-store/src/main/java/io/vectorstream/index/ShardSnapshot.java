package io.vectorstream.index;

import io.vectorstream.index.quantizer.CoarseQuantizer;

import io.vectorstream.index.filter.Filter;
import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * An immutable view of one shard at one point: what a query reads. It is published whole after each batch (one
 * volatile write), so no query sees half a batch and no query waits for the writer. It layers the shard's parts —
 * the hot IVF-Flat layer ({@link IvfFlatSnapshot}), the immutable IVF-PQ base ({@link BaseSegment}) and the
 * tombstones that mask the base — and merges their answers; each layer searches through the one IVF loop
 * ({@link io.vectorstream.index.ivf.IvfSearch}).
 */
public final class ShardSnapshot {

    private final int partition;
    private final long version;
    private final long nextOffset;
    private final IndexConfig config;
    private final VectorKernels kernels;
    private final IvfFlatSnapshot hot;
    private final BaseSegment base;        // null: no base yet (hot only)
    private final Tombstones tombstones;   // dead base ordinals
    private final long publishedAtMillis;

    ShardSnapshot(int partition, long version, long nextOffset, IndexConfig config, VectorKernels kernels,
                  IvfFlatSnapshot hot, BaseSegment base, Tombstones tombstones) {
        this.kernels = kernels;
        this.partition = partition;
        this.version = version;
        this.nextOffset = nextOffset;
        this.config = config;
        this.hot = hot;
        this.base = base;
        this.tombstones = tombstones;
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

    /** Live vectors: the hot index's plus the base's that are not tombstoned. */
    public int liveCount() {
        return hot.liveCount() + (base == null ? 0 : base.size() - tombstones.count());
    }

    /** Vectors in the mutable hot index (everything since the base was built). */
    public int hotCount() {
        return hot.liveCount();
    }

    /** The hot IVF-Flat layer. */
    public IvfFlatSnapshot hot() {
        return hot;
    }

    /** Where the hot index stood when this was published (for the compaction hand-over). */
    long hotMark() {
        return hot.mark();
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
        int fromBase = i;
        int[] hotLists = new int[n - fromBase];
        i = hot.copyLive(vectors, ids, meta, hotLists, i);
        return new LiveData(vectors, ids, meta, i, fromBase, hotLists, hot.quantizer());
    }

    /**
     * The lists under {@code onto} of the hot entries this snapshot added after {@code from} (an earlier snapshot of
     * this shard), assigned now on the calling thread; null when the two are not comparable. A compaction works this
     * out before its hand-over, so the writer re-assigns only what arrives after (see {@link Shard#offerBase}).
     */
    public io.vectorstream.index.ivf.IvfFlatIndex.Reassignment reassignHotSince(ShardSnapshot from, CoarseQuantizer onto) {
        return hot.reassignSince(from.hotMark(), onto);
    }

    /** The hot index's live vectors only (normalised for cosine), ids and metadata. */
    public LiveData hotLive() {
        int n = hot.liveCount(), dim = config.dim();
        float[] vectors = new float[n * dim];
        String[] ids = new String[n];
        String[] meta = new String[n];
        int i = hot.copyLive(vectors, ids, meta, 0);
        return new LiveData(vectors, ids, meta, i);
    }

    /** One live vector of a snapshot, as stored (normalised for cosine), and its metadata JSON (or null). */
    public record Found(String id, float[] vector, String metadata) {
    }

    /**
     * The live vector {@code id} in this snapshot, or null. A base entry is found through its id map; the hot
     * index is scanned (it is at most a fraction of the base, and get-by-id is not the search path).
     */
    public Found find(String id) {
        IvfFlatSnapshot.Entry inHot = hot.find(id);
        if (inHot != null) return new Found(id, inHot.vector(), inHot.metadata());
        if (base != null) {
            int o = base.ordinalOf(id);
            if (o >= 0 && !tombstones.contains(o)) {
                int dim = config.dim();
                return new Found(id, java.util.Arrays.copyOfRange(base.vectors().vectors(), o * dim, (o + 1) * dim),
                        base.metadata(o));
            }
        }
        return null;
    }

    /**
     * Live vectors ({@code n x dim}, normalised for cosine), their ids and metadata, in one order. From {@link #live()}:
     * the first {@code fromBase} are the base's, the rest the hot index's, entry {@code fromBase + j} in the hot
     * list {@code hotLists[j]} of {@code hotQuantizer} (null while the hot index is exact).
     */
    public record LiveData(float[] vectors, String[] ids, String[] metadata, int size, int fromBase, int[] hotLists,
                           CoarseQuantizer hotQuantizer) {
        /** Entries from no base and with no list information. */
        public LiveData(float[] vectors, String[] ids, String[] metadata, int size) {
            this(vectors, ids, metadata, size, 0, null, null);
        }
    }

    /** How the hot layer answers: exhaustively while untrained, or through its inverted lists. */
    public IvfFlatSnapshot.Kind kind() {
        return hot.kind();
    }

    public int listCount() {
        return hot.listCount();
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
        long scanned = hot.scanEstimate(nprobe, exact);
        if (base == null) return scanned;
        long inBase = base.size();
        return scanned + (exact ? inBase : (long) Math.ceil(inBase * Math.min(1.0, nprobe / (double) Math.max(1, base.index().nlist()))));
    }

    /** Size of the largest inverted list of the hot layer (a balance indicator for status). */
    public int largestListSize() {
        return hot.largestListSize();
    }

    /**
     * The {@code k} nearest live vectors to {@code query}, best first: the hot layer's and the base's, merged.
     *
     * @param query  {@code dim} floats, already normalised for cosine (see {@link IndexSearcher})
     * @param nprobe lists to scan when trained; ignored when exact
     * @param exact  scan every list regardless of training
     */
    public List<SearchHit> search(float[] query, int k, int nprobe, boolean exact) {
        return withBaseHits(hot.search(query, k, nprobe, exact), query, k, nprobe, exact);
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
     *       vectors as an unfiltered query scans vectors: the k nearest matches are about the k / s nearest vectors,
     *       and a narrower probe loses them once a query's neighbourhood holds fewer than k matches (measured on
     *       clustered 1M × 128, bench/RESULTS.md session 9: {@code nprobe / sqrt(s)} gave recall@10 0.96 at s = 5 %
     *       but 0.70 at 0.5 %; {@code nprobe / s} kept recall ≥ 0.97 but chose this plan where exact matching was
     *       both exact and faster) — scores only the matching entries (sparsely, where few of a list's entries
     *       match), and keeps probing (nearest centroid first) until at least k matches were scanned or no list is
     *       left: never fewer than min(k, m) results;</li>
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
        long hotLive = hot.liveCount();
        long baseLive = base == null ? 0 : base.size() - tombstones.count();
        long total = hotLive + baseLive;
        // postings hold removed ordinals too: scale by each layer's live fraction
        long hotEstimate = hot.estimateMatches(filter);
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
            hotSelected = hot.select(filter);
            if (base != null) baseSelected = base.metadataIndex().selectShared(filter, base.size());
            hotEstimate = hot.liveMatches(hotSelected, COUNT_EXACTLY_UP_TO);
            if (base != null) baseEstimate = base.liveMatches(baseSelected, tombstones, COUNT_EXACTLY_UP_TO);
            estimate = hotEstimate + baseEstimate;
        }
        List<SearchHit> hits;
        if (plan != Plan.IVF_FILTERED) {
            boolean scanAll = NS_SCAN_ENTRY * hotLive + NS_SCANNED_MATCH * hotEstimate < NS_LOCATED_MATCH * hotEstimate;
            hits = hot.scoreMatches(query, k, hotSelected, scanAll);
        } else {
            BitSet selected = hotSelected;
            io.vectorstream.index.filter.MetadataDoc[] docs = hot.docs();
            java.util.function.IntPredicate accept = selected != null ? selected::get : o -> filter.matches(docs[o]);
            hits = hot.search(query, k, widened, accept);
        }
        if (base != null) {
            List<SearchHit> fromBase = base.searchFiltered(kernels, config.metric(), partition, query, k,
                    Math.min(widened, base.index().nlist()), plan != Plan.IVF_FILTERED, tombstones, baseSelected, filter);
            hits = mergeByDistance(hits, fromBase, k);
        }
        return new FilteredAnswer(hits, plan, estimate);
    }

    /** {@code 2 * nprobe / s} for selectivity s = estimate / total, at least nprobe. */
    private static int widened(long estimate, long total, int nprobe) {
        double selectivity = total == 0 ? 1 : Math.min(1, Math.max(1, estimate) / (double) total);
        double lists = Math.max(1, nprobe) * (selectivity >= 1 ? 1 : 2 / selectivity);
        return (int) Math.min(Integer.MAX_VALUE, (long) Math.ceil(lists));
    }

    /** Entries the IVF plan scans in both layers when probing {@code widened} lists. */
    private long ivfScanned(int widened) {
        return scanned(hot.liveCount(), hot.quantizer() == null ? 1 : hot.listCount(), widened)
                + (base == null ? 0 : scanned(base.size() - tombstones.count(), base.index().nlist(), widened));
    }

    private double ivfCost(long scanned) {
        long centroids = (hot.quantizer() == null ? 0 : hot.listCount()) + (base == null ? 0 : base.index().nlist());
        return NS_IVF_ENTRY * scanned + NS_CENTROID_DIM * centroids * config.dim();
    }

    /** Selecting {@code matches} and scoring them, the cheaper way (the base is always located: it has no lists to scan). */
    private double exactCost(long matches) {
        return NS_SELECT * matches + Math.min(NS_LOCATED_MATCH * matches, NS_SCAN_ENTRY * hot.liveCount() + NS_SCANNED_MATCH * matches);
    }

    /** Entries of {@code live} vectors in {@code nlist} lists that a probe of {@code probes} lists scans. */
    private static long scanned(long live, int nlist, int probes) {
        return probes >= nlist ? live : (long) Math.ceil((double) live * probes / nlist);
    }

    /**
     * Completes a search whose hot-layer part was answered elsewhere (the device mirror): merges in the
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

    /**
     * Heap bytes this snapshot's index holds, for reports: the hot lists (with their headroom and scan copies), the
     * coarse centroids, and the base's codes, re-rank vectors and quantizers. Ids and metadata strings are not counted.
     */
    public long memoryBytes() {
        long bytes = hot.memoryBytes();
        if (base != null) {
            bytes += (long) base.size() * config.dim() * Float.BYTES
                    + (long) (base.index().bytesPerVector() * base.size()) + base.index().overheadBytes();
        }
        return bytes;
    }

    /** Bytes held by the hot layer's inverted lists (vectors, ordinals, bf16 scan copies, growth headroom), for reports. */
    public long listBytes() {
        return hot.listBytes();
    }
}
