package io.vectorstream.index.ivf;

import io.vectorstream.index.VectorMath;
import io.vectorstream.index.IdOrdinals;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.ivf.ListScanCopy;
import io.vectorstream.index.ivf.PostingList;
import io.vectorstream.index.filter.GrowingMetadataIndex;
import io.vectorstream.index.filter.MetadataDoc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The writer's side of one shard's IVF-Flat index: batched adds and removes, and the structure each
 * {@link ShardSnapshot} is cut from. Used by one thread at a time (the shard's stream task).
 *
 * <p>Readers never lock because published data is never changed in place: appends go past the
 * published size of a list's arrays; a removal writes a fresh copy of the list; per-vector tables
 * (id, metadata) are append-only, and a vector that changes gets a new ordinal. Dead ordinals are
 * reclaimed when the index is retrained, which renumbers everything.
 *
 * <p>Below {@link IndexConfig#trainThreshold()} live vectors the index is one list (exact search).
 * Crossing it trains k-means. While {@link #retrainAsItGrows} is on (the shard has no base and no build queued or
 * under way) it retrains whenever it has grown four-fold, so its lists stay short; otherwise compaction moves the
 * data into a base instead and the hot index does not retrain (a retraining — k-means, then re-assigning every
 * vector — stalls ingestion on the stream thread and copies every vector). At a base's hand-over the hot index
 * moves onto the base's centroids ({@link #carryOver}) when they are at least as many lists as its own.
 *
 * <p>Training normally renumbers ordinals (reclaiming dead ones). While a compaction builds from a snapshot of
 * this index ({@link #keepOrdinals}) it keeps them, so that {@link #mark()} stays meaningful.
 */
public final class IvfFlatIndex {
    private static final Logger LOG = LoggerFactory.getLogger(IvfFlatIndex.class);

    private final int partition;
    private final IndexConfig config;
    private final VectorKernels kernels;
    private final int dim;

    private CoarseQuantizer quantizer; // null while exact
    private PostingList[] lists = {PostingList.EMPTY};

    // Per-ordinal tables. ids/metadata are shared with snapshots (append-only); listOf/posOf are the writer's.
    private String[] ids = new String[1024];
    private String[] metadata = new String[1024];
    private GrowingMetadataIndex metadataIndex = new GrowingMetadataIndex(); // this numbering's postings, for filters
    private MetadataDoc[] docs = new MetadataDoc[1024]; // parsed metadata (append-only, shared like ids), for filters
    private int[] diedAt = new int[1024]; // the batch that removed each ordinal (0: live), for filtered readers
    private int batchNo;                  // applied batches; a snapshot records the count
    private int[] listOf = new int[1024];
    private int[] posOf = new int[1024];
    private int ordinalCount;
    private int numbering;        // bumped whenever ordinals are renumbered (training)
    private boolean keepOrdinals;     // set while a compaction is building from a snapshot of this index
    private boolean retrainAsItGrows = true;
    private int liveAtTraining;
    private java.util.concurrent.Executor trainer; // null: train on the writer's thread
    private java.util.concurrent.CompletableFuture<Trained> training; // k-means (and assignment) under way on the trainer

    /** What a background training hands the writer: the centroids, and the lists of the entries it trained on. */
    private record Trained(CoarseQuantizer quantizer, Reassignment lists) {
    }
    private final IdOrdinals ordinalById = new IdOrdinals();
    /**
     * Batches of at least this many upserts (the batcher only makes them while catching up on a backlog) append
     * without bf16 scan copies: a list they touch drops its copy and is scanned exactly from its floats until
     * {@link #restoreScanCopies} rebuilds it, after the backlog. Keeping copies row by row through a backfill cost a
     * fifth of the stream thread (writing each row's 64 scattered cache lines, and the copies' growth).
     */
    static final int DEFER_SCAN_COPIES_AT = 1024;
    /** Rows of deferred scan copies rebuilt per call once the backlog is over (a few milliseconds' work). */
    static final int RESTORE_ROWS_PER_BATCH = 1024; // ~2.5 us a row: 16,384 held the writer for 12-55 ms on a busy box, 4,096 ~10 ms
    /** The backlog is over when no batch deferred copies for this long. */
    static final long BACKLOG_OVER_NANOS = 1_000_000_000L;
    private boolean copiesDeferred; // some trained list has no scan copy
    private long lastDeferredAt;    // System.nanoTime() of the last batch that deferred copies
    private int restoreCursor;
    private long restoredRows;      // rows whose copies were rebuilt since the last deferral ended (for its log line)
    // Writer-thread scratch reused across batches (a backfill allocated ~1 GB of these per million vectors).
    private HashMap<String, IndexOp> lastByIdScratch = new HashMap<>();
    private static final int SCRATCH_MAP_KEEP = 4096; // batches up to this size reuse the map
    private float[] addScratch = new float[0];
    private int[] removedScratch = new int[0];

    /** Partition -1 is the start-up warm-up's throwaway shard ({@code WarmUp}): its steps are not news to an operator. */
    private boolean reported() {
        return partition >= 0;
    }

    public IvfFlatIndex(int partition, IndexConfig config, VectorKernels kernels) {
        this(partition, config, kernels, null);
    }

    /** An empty index; with {@code trained} non-null, already trained on those centroids (e.g. a previous hot index's). */
    public IvfFlatIndex(int partition, IndexConfig config, VectorKernels kernels, CoarseQuantizer trained) {
        this.partition = partition;
        this.config = config;
        this.kernels = kernels;
        this.dim = config.dim();
        if (trained != null) {
            quantizer = trained;
            lists = new PostingList[trained.nlist()];
            Arrays.fill(lists, PostingList.EMPTY);
        }
    }

    /**
     * The ordinal numbering and count now, in one long. Ordinals only grow within one numbering, so the entries added
     * after a mark are exactly those with an ordinal at or past its count, as long as the numbering is the same.
     */
    public long mark() {
        return ((long) numbering << 32) | ordinalCount;
    }

    /** While true, training keeps every entry's ordinal (a compaction holds a {@link #mark()} of this index). */
    public void keepOrdinals(boolean keep) {
        this.keepOrdinals = keep;
    }

    /**
     * Runs k-means on {@code trainer} instead of the writer's thread (null: inline). The writer keeps appending to
     * the current lists meanwhile and only re-assigns its vectors to the new centroids once they are ready — a
     * stall of one batch assignment, not of k-means (0.5–2.7 s on the stream thread at 10k–160k vectors).
     */
    public void trainOn(java.util.concurrent.Executor trainer) {
        this.trainer = trainer;
    }

    /**
     * Installs centroids a background training finished; true when the lists were rebuilt (publish them). The trainer
     * also assigned every entry it trained on, so the writer assigns only those added since.
     */
    public boolean installTraining() {
        if (training == null || !training.isDone()) return false;
        Trained trained;
        try {
            trained = training.join();
        } catch (RuntimeException e) {
            LOG.warn("partition {}: background training failed; will try again: {}", partition, e.toString());
            trained = null;
        }
        training = null;
        if (trained == null) return false;
        long start = System.nanoTime();
        int live = ordinalById.size();
        CoarseQuantizer quantizer = trained.quantizer();
        rebuild(quantizer, liveSet(), trained.lists());
        liveAtTraining = live;
        if (reported()) LOG.info("partition {}: installed {} lists trained in the background; re-assigned {} vectors in {} ms", partition,
                quantizer.nlist(), live, (System.nanoTime() - start) / 1_000_000);
        return true;
    }

    /** Whether to retrain at four-fold growth (on while the shard has no base and no build; see the class comment). */
    public void retrainAsItGrows(boolean on) {
        this.retrainAsItGrows = on;
    }

    /**
     * Lists worked out ahead of a {@link #carryOver}: entry {@code o} (an ordinal of {@code numbering}, at or past
     * {@code firstOrdinal}) goes to list {@code lists[o - firstOrdinal]} (-1: not worked out) of the quantizer whose
     * centroids are {@code centroids}.
     */
    public record Reassignment(int numbering, int firstOrdinal, int[] lists, float[] centroids) {
        int listOf(int numberingNow, int ordinal, float[] onto) {
            if (numberingNow != numbering || onto != centroids) return -1;
            int i = ordinal - firstOrdinal;
            return i >= 0 && i < lists.length ? lists[i] : -1;
        }
    }

    /**
     * A fresh index on {@code onto}'s centroids holding this one's entries added since {@code mark} (renumbered from
     * 0), or every entry when {@code mark} is of another numbering. What the compaction hand-over keeps of the hot
     * index once a base holds the rest: the hot index then shares the base's coarse quantizer, so its lists stay as
     * short as the base's however much arrives before the next compaction, and the next merge finds every hot vector
     * already in its list. On the same centroids no vector is assigned again; onto others, those {@code known} does
     * not cover are assigned here, in one batch (the compaction works out the rest ahead, off this thread).
     */
    public IvfFlatIndex carryOver(long mark, CoarseQuantizer onto, Reassignment known) {
        int from = (int) (mark >>> 32) == numbering ? (int) mark : 0;
        boolean same = onto == null || (quantizer != null && onto.centroidsShared() == quantizer.centroidsShared());
        IvfFlatIndex next = new IvfFlatIndex(partition, config, kernels, same ? quantizer : onto);
        int kept = 0;
        for (PostingList list : lists) for (int r = 0; r < list.size(); r++) if (list.ordinals()[r] >= from) kept++;
        int[] target = new int[kept];
        int[] ordinals = new int[kept];
        float[] rows = new float[kept * dim];
        int[] unknown = new int[same ? 0 : kept];
        int unknowns = 0, w = 0;
        for (int l = 0; l < lists.length; l++) {
            PostingList list = lists[l];
            for (int r = 0; r < list.size(); r++) {
                int o = list.ordinals()[r];
                if (o < from) continue;
                list.copyRow(r, rows, w * dim, dim);
                if (same) {
                    target[w] = l;
                } else {
                    target[w] = known == null ? -1 : known.listOf(numbering, o, onto.centroidsShared());
                    if (target[w] < 0) unknown[unknowns++] = w;
                }
                ordinals[w] = next.newOrdinal(ids[o], metadata[o]);
                w++;
            }
        }
        assignRows(onto, rows, unknown, unknowns, target);
        // many rows onto new lists: their bf16 scan copies are rebuilt after the hand-over, a slice at a time
        next.appendAll(target, rows, ordinals, kept, !same && kept >= DEFER_SCAN_COPIES_AT);
        return next;
    }

    /** The ids of the live entries (a copy). */
    public java.util.List<String> liveIds() {
        java.util.List<String> out = new java.util.ArrayList<>(ordinalById.size());
        ordinalById.forEachId(out::add);
        return out;
    }

    /** The coarse centroids, or null while exact. */
    public CoarseQuantizer quantizer() {
        return quantizer;
    }

    public int liveCount() {
        return ordinalById.size();
    }

    public boolean contains(String id) {
        return ordinalById.containsKey(id);
    }

    /** The live ordinal of {@code id}, or -1 (for the device mirror's deltas). */
    public int ordinalOf(String id) {
        return ordinalById.get(id);
    }

    /**
     * A batch as this index applied it, for the device mirror (which repeats it on the device instead of working it
     * out again): the ordinals it removed (replaced or deleted entries), and the ordinals it added with their stored
     * vectors (normalised for cosine), row {@code i} of {@code addedVectors} for {@code added[i]}. The arrays are the
     * writer's scratch: valid until its next batch. When the batch also installed new centroids (a training) the
     * ordinals are of the old numbering, and the snapshot's centroids say so: the mirror then rebuilds.
     */
    public record AppliedBatch(int[] removed, int removedCount, int[] added, float[] addedVectors, int addedCount) {
        /** Nothing added or removed (e.g. only scan copies were rebuilt): the mirror has nothing to repeat. */
        public static final AppliedBatch NONE = new AppliedBatch(new int[0], 0, new int[0], new float[0], 0);
    }

    /** Applies a batch; for an id that appears more than once only its last operation counts. */
    public AppliedBatch apply(List<IndexOp> ops) {
        batchNo++;
        List<IndexOp> last = lastPerId(ops);
        int removedCount = removeAll(last);
        AppliedBatch applied = addAll(last, removedCount);
        restoreScanCopies();
        maybeTrain();
        return applied;
    }

    /**
     * The batch's last operation for each id, in the order of those last operations: what applying the batch one
     * operation at a time would leave. Usually every id is distinct and the batch itself is returned.
     */
    private List<IndexOp> lastPerId(List<IndexOp> ops) {
        HashMap<String, IndexOp> lastById = lastByIdScratch;
        for (IndexOp op : ops) lastById.put(op.id(), op);
        List<IndexOp> last = ops;
        if (lastById.size() != ops.size()) {
            last = new java.util.ArrayList<>(lastById.size());
            for (IndexOp op : ops) {
                if (lastById.get(op.id()) == op) {
                    last.add(op);
                    lastById.remove(op.id()); // once, even if the same operation object was passed twice
                }
            }
        }
        // holds no batch between batches; clear() costs the table's capacity, so after a large batch (a restore, a
        // backlog) a fresh map is cheaper than clearing the large table at every small batch that follows
        if (ops.size() > SCRATCH_MAP_KEEP) lastByIdScratch = new HashMap<>();
        else lastById.clear();
        return last;
    }

    /** What readers see of this index now (one batch's state, immutable to them). */
    public IvfFlatSnapshot snapshot() {
        metadataIndex.endBatch();
        return new IvfFlatSnapshot(partition, config, kernels, quantizer, lists.clone(), ids, metadata,
                new IvfFlatSnapshot.FilterView(metadataIndex, docs, ordinalCount, listOf, posOf, diedAt, batchNo),
                ordinalById.size(), mark());
    }

    // ---- removal: copy-on-write of each touched list ----

    /** Removes every id of {@code ops} that is live; returns how many, their ordinals in {@code removedScratch}. */
    private int removeAll(List<IndexOp> ops) {
        Map<Integer, boolean[]> doomedByList = new HashMap<>();
        int removed = 0;
        if (removedScratch.length < ops.size()) removedScratch = new int[Math.max(ops.size(), 2 * removedScratch.length)];
        for (IndexOp op : ops) {
            int ordinal = ordinalById.remove(op.id());
            if (ordinal < 0) continue; // deleting an unknown id is a no-op
            removedScratch[removed++] = ordinal;
            diedAt[ordinal] = batchNo;
            int list = listOf[ordinal];
            doomedByList.computeIfAbsent(list, l -> new boolean[lists[l].size()])[posOf[ordinal]] = true;
        }
        doomedByList.forEach(this::rewriteWithout);
        return removed;
    }

    private void rewriteWithout(int listIndex, boolean[] doomed) {
        PostingList old = lists[listIndex];
        int keep = 0;
        for (boolean d : doomed) if (!d) keep++;
        int capacity = Math.max(16, keep + keep / 2);
        float[][] chunks = PostingList.withRoomFor(new float[0][], keep, dim);
        int[] ordinals = new int[capacity];
        ListScanCopy scan = old.scan() == null ? null : ListScanCopy.empty(capacity, dim);
        int w = 0;
        for (int r = 0; r < old.size(); r++) {
            if (doomed[r]) continue;
            float[] chunk = chunks[w >>> PostingList.CHUNK_SHIFT];
            int at = PostingList.offsetOf(w, dim);
            old.copyRow(r, chunk, at, dim);
            if (scan != null) scan = scan.withRow(w, chunk, at, quantizer.centroidsShared(), listIndex * dim, dim);
            int ordinal = old.ordinals()[r];
            ordinals[w] = ordinal;
            posOf[ordinal] = w;
            w++;
        }
        lists[listIndex] = new PostingList(chunks, ordinals, w, scan);
    }

    // ---- adds: append past each list's published size ----

    /**
     * The batch is assigned to lists in one kernel call (all cores), then appended list by list: each touched list
     * grows at most once and is published as one new {@link PostingList}, however many rows it gets.
     */
    private AppliedBatch addAll(List<IndexOp> ops, int removedCount) {
        java.util.ArrayList<IndexOp.Upsert> upserts = new java.util.ArrayList<>(ops.size());
        for (IndexOp op : ops) if (op instanceof IndexOp.Upsert u) upserts.add(u);
        int n = upserts.size();
        if (n == 0) return new AppliedBatch(removedScratch, removedCount, new int[0], addScratch, 0);
        if (addScratch.length < n * dim) addScratch = new float[Math.max(n * dim, addScratch.length * 2)];
        float[] batch = addScratch; // rows are copied out of it into the lists below
        for (int i = 0; i < n; i++) {
            float[] v = upserts.get(i).vector();
            System.arraycopy(config.metric().normalizes() ? VectorMath.normalized(v) : v, 0, batch, i * dim, dim);
        }
        int[] target = new int[n];
        if (quantizer != null) quantizer.assign(batch, n, target, null);
        int[] ordinals = new int[n];
        for (int i = 0; i < n; i++) ordinals[i] = newOrdinal(upserts.get(i).id(), upserts.get(i).metadataJson());
        appendAll(target, batch, ordinals, n, n >= DEFER_SCAN_COPIES_AT);
        return new AppliedBatch(removedScratch, removedCount, ordinals, batch, n);
    }

    /**
     * Appends row i of {@code v} (ordinal {@code ordinals[i]}) to list {@code target[i]}, in order within each list;
     * with {@code defer} the touched lists drop their scan copies ({@link #DEFER_SCAN_COPIES_AT}).
     */
    private void appendAll(int[] target, float[] v, int[] ordinals, int n, boolean defer) {
        boolean copies = quantizer != null && config.bf16Scan();
        int[] count = new int[lists.length];
        for (int i = 0; i < n; i++) count[target[i]]++;
        // rows of each list, in input order: a counting sort by list
        int[] start = new int[lists.length + 1];
        for (int l = 0; l < lists.length; l++) start[l + 1] = start[l] + count[l];
        int[] rows = new int[n];
        int[] fill = Arrays.copyOf(start, lists.length);
        for (int i = 0; i < n; i++) rows[fill[target[i]]++] = i;
        for (int l = 0; l < lists.length; l++) {
            if (count[l] == 0) continue;
            PostingList list = lists[l];
            int size = list.size();
            int needed = size + count[l];
            float[][] chunks = PostingList.withRoomFor(list.chunks(), needed, dim); // the vectors are never copied
            int[] listOrdinals = list.ordinals();
            if (needed > listOrdinals.length) { // grow once, geometrically (4 bytes an entry: cheap to copy)
                int capacity = Math.max(16, Math.max(needed, size + (size >> 1)));
                listOrdinals = Arrays.copyOf(listOrdinals, capacity);
            }
            // The scan copy grows with the ordinals, to their capacity: growing it by less copies it many
            // more times while a list fills (measured: most of a backfill's allocation was these copies).
            // Under a backlog, or while this list's copy is deferred, its rows go uncopied (see DEFER_SCAN_COPIES_AT).
            boolean deferred = defer || (list.scan() == null && size > 0);
            ListScanCopy scan = !copies || deferred ? null
                    : (list.scan() == null ? ListScanCopy.empty(listOrdinals.length, dim) : list.scan())
                    .grownTo(listOrdinals.length, dim);
            if (copies && deferred) copiesDeferred = true;
            if (copies && defer) lastDeferredAt = System.nanoTime();
            for (int j = start[l]; j < start[l + 1]; j++) {
                int i = rows[j];
                int row = size++;
                float[] chunk = chunks[row >>> PostingList.CHUNK_SHIFT];
                System.arraycopy(v, i * dim, chunk, PostingList.offsetOf(row, dim), dim);
                int ordinal = ordinals[i];
                listOrdinals[row] = ordinal;
                listOf[ordinal] = l;
                posOf[ordinal] = row;
                if (scan != null) scan = scan.withRow(row, v, i * dim, quantizer.centroidsShared(), l * dim, dim);
            }
            lists[l] = new PostingList(chunks, listOrdinals, size, scan);
        }
    }

    /**
     * Once a backlog is over ({@link #BACKLOG_OVER_NANOS} without a deferring batch), rebuilds some of the deferred
     * scan copies ({@link #RESTORE_ROWS_PER_BATCH} rows); called after every batch and, through
     * {@code Shard.maintain()}, while no batch comes. Returns whether a list changed (the caller publishes).
     */
    public boolean restoreScanCopies() {
        if (!copiesDeferred || System.nanoTime() - lastDeferredAt < BACKLOG_OVER_NANOS) return false;
        return restoreScanCopies(RESTORE_ROWS_PER_BATCH) > 0;
    }

    /** Rebuilds every deferred scan copy now, whether or not the backlog looks over; true when a list changed. */
    public boolean restoreAllScanCopies() {
        return copiesDeferred && restoreScanCopies(Integer.MAX_VALUE) > 0;
    }

    /**
     * Rebuilds the scan copies of lists that have none, from where the last call stopped, until about {@code rows}
     * rows were copied; a full pass that finds none left ends the deferral. Each rebuilt list is published as a new
     * {@link PostingList} over the same float arrays (copy-on-write: older snapshots keep scanning it exactly).
     * Returns the rows copied.
     */
    int restoreScanCopies(int rows) {
        int copied = 0, visited = 0;
        while (visited < lists.length && copied < rows) {
            int l = restoreCursor % lists.length; // lists may have been replaced (training) since the last call
            restoreCursor = l + 1;
            visited++;
            PostingList list = lists[l];
            if (list.scan() != null || list.size() == 0) continue;
            ListScanCopy scan = ListScanCopy.empty(list.size(), dim); // no headroom: a later append grows it
            for (int r = 0; r < list.size(); r++) {
                scan = scan.withRow(r, list.chunkOf(r), PostingList.offsetOf(r, dim), quantizer.centroidsShared(), l * dim, dim);
            }
            lists[l] = new PostingList(list.chunks(), list.ordinals(), list.size(), scan);
            copied += list.size();
            restoredRows += list.size();
            visited = 0; // the pass restarts: stop only after nlist lists in a row had nothing to rebuild
        }
        if (visited >= lists.length) {
            copiesDeferred = false;
            if (reported()) LOG.info("partition {}: bf16 scan copies of {} rows, deferred while a backlog was applied, rebuilt", partition, restoredRows);
            restoredRows = 0;
        }
        return copied;
    }

    private int newOrdinal(String id, String meta) {
        if (ordinalCount == ids.length) {
            int capacity = ids.length * 2;
            ids = Arrays.copyOf(ids, capacity);
            metadata = Arrays.copyOf(metadata, capacity);
            diedAt = Arrays.copyOf(diedAt, capacity);
            docs = Arrays.copyOf(docs, capacity);
            listOf = Arrays.copyOf(listOf, capacity);
            posOf = Arrays.copyOf(posOf, capacity);
        }
        int ordinal = ordinalCount++;
        ids[ordinal] = id;
        metadata[ordinal] = meta;
        docs[ordinal] = MetadataDoc.parse(meta);
        metadataIndex.add(ordinal, docs[ordinal]);
        ordinalById.put(id, ordinal);
        return ordinal;
    }

    // ---- training: exact -> IVF, and retraining as the shard grows ----

    private void maybeTrain() {
        if (training != null) {
            installTraining();
            return;
        }
        int live = ordinalById.size();
        boolean first = quantizer == null && live >= config.trainThreshold();
        boolean grown = quantizer != null && retrainAsItGrows && live >= 4L * liveAtTraining;
        if (!first && !grown) return;
        if (trainer == null) {
            retrain();
            return;
        }
        LiveSet at = liveSet(); // a copy: the trainer never reads the writer's lists
        int nlist = config.nlistFor(live), numberingAt = numbering, ordinalsAt = ordinalCount;
        training = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            CoarseQuantizer trained = CoarseQuantizer.train(kernels, config.metric(), at.vectors, live, dim, nlist,
                    KMEANS_ITERATIONS, KMEANS_POINTS_PER_CENTROID, config.seed());
            // and the lists of the entries it trained on: re-assigning 100k vectors held the writer for 0.35-0.9 s
            int[] assigned = new int[live];
            trained.assign(at.vectors, live, assigned, null);
            int[] byOrdinal = new int[ordinalsAt];
            Arrays.fill(byOrdinal, -1);
            for (int i = 0; i < live; i++) byOrdinal[at.ordinals[i]] = assigned[i];
            return new Trained(trained, new Reassignment(numberingAt, 0, byOrdinal, trained.centroidsShared()));
        }, trainer);
    }

    /** Trains fresh centroids on every live vector and rebuilds the lists (renumbering ordinals unless kept). */
    public void retrain() {
        int live = ordinalById.size();
        long start = System.nanoTime();
        LiveSet all = liveSet();
        CoarseQuantizer trained = CoarseQuantizer.train(kernels, config.metric(), all.vectors, live, dim,
                config.nlistFor(live), KMEANS_ITERATIONS, KMEANS_POINTS_PER_CENTROID, config.seed());
        rebuild(trained, all);
        liveAtTraining = live;
        if (reported()) LOG.info("partition {}: trained {} lists on {} vectors in {} ms", partition, trained.nlist(), live,
                (System.nanoTime() - start) / 1_000_000);
    }

    /**
     * Trains the lists on {@code n} given vectors (e.g. a sample of what is about to be loaded) instead of
     * waiting for the threshold; live vectors are re-bucketed.
     */
    public void trainOn(float[] sample, int n) {
        float[] v = sample;
        if (config.metric().normalizes()) {
            v = new float[n * dim];
            float[] one = new float[dim];
            for (int i = 0; i < n; i++) {
                System.arraycopy(sample, i * dim, one, 0, dim);
                System.arraycopy(VectorMath.normalized(one), 0, v, i * dim, dim);
            }
        }
        CoarseQuantizer trained = CoarseQuantizer.train(kernels, config.metric(), v, n, dim,
                config.nlistFor(n), KMEANS_ITERATIONS, KMEANS_POINTS_PER_CENTROID, config.seed());
        rebuild(trained, liveSet());
        liveAtTraining = Math.max(n, ordinalById.size());
    }

    /** Assigns rows {@code rowIndex[0..n)} of {@code rows} under {@code q}, into {@code target[rowIndex[i]]}, in one batch. */
    private void assignRows(CoarseQuantizer q, float[] rows, int[] rowIndex, int n, int[] target) {
        if (n == 0) return;
        float[] batch = new float[n * dim];
        for (int i = 0; i < n; i++) System.arraycopy(rows, rowIndex[i] * dim, batch, i * dim, dim);
        int[] assigned = new int[n];
        q.assign(batch, n, assigned, null);
        for (int i = 0; i < n; i++) target[rowIndex[i]] = assigned[i];
    }

    static final int KMEANS_ITERATIONS = 10;
    static final int KMEANS_POINTS_PER_CENTROID = 64;

    private record LiveSet(float[] vectors, String[] ids, String[] metadata, int[] ordinals) {
    }

    private LiveSet liveSet() {
        int live = ordinalById.size();
        float[] all = new float[live * dim];
        String[] liveIds = new String[live];
        String[] liveMeta = new String[live];
        int[] liveOrdinals = new int[live];
        int i = 0;
        for (PostingList list : lists) {
            for (int r = 0; r < list.size(); r++, i++) {
                list.copyRow(r, all, i * dim, dim);
                liveOrdinals[i] = list.ordinals()[r];
                liveIds[i] = ids[liveOrdinals[i]];
                liveMeta[i] = metadata[liveOrdinals[i]];
            }
        }
        return new LiveSet(all, liveIds, liveMeta, liveOrdinals);
    }

    private void rebuild(CoarseQuantizer trained, LiveSet all) {
        rebuild(trained, all, null);
    }

    /**
     * Fresh lists under {@code trained}, with every live vector re-assigned (and renumbered unless kept); those
     * {@code known} covers go to the list it names, the others are assigned here.
     */
    private void rebuild(CoarseQuantizer trained, LiveSet all, Reassignment known) {
        int live = all.ids.length;
        quantizer = trained;
        lists = new PostingList[trained.nlist()];
        Arrays.fill(lists, PostingList.EMPTY);
        int[] target = new int[live];
        int unknowns = 0;
        int[] unknown = new int[known == null ? 0 : live];
        if (known == null) {
            trained.assign(all.vectors, live, target, null);
        } else {
            for (int j = 0; j < live; j++) {
                target[j] = known.listOf(numbering, all.ordinals[j], trained.centroidsShared());
                if (target[j] < 0) unknown[unknowns++] = j;
            }
            assignRows(trained, all.vectors, unknown, unknowns, target);
        }
        if (keepOrdinals) { // same ordinals, same tables: only the lists change
            appendAll(target, all.vectors, all.ordinals, live, false);
            return;
        }
        numbering++;
        int capacity = Math.max(1024, live * 2);
        ids = new String[capacity];
        metadata = new String[capacity];
        diedAt = new int[capacity];
        docs = new MetadataDoc[capacity];
        metadataIndex = new GrowingMetadataIndex();
        listOf = new int[capacity];
        posOf = new int[capacity];
        ordinalCount = 0;
        ordinalById.clear();
        int[] ordinals = new int[live];
        for (int j = 0; j < live; j++) ordinals[j] = newOrdinal(all.ids[j], all.metadata[j]);
        appendAll(target, all.vectors, ordinals, live, false);
    }
}
