package io.vectorstream.index;

import io.vectorstream.index.quantizer.CoarseQuantizer;

import io.vectorstream.index.durable.SnapshotFile;
import io.vectorstream.index.device.DeviceMirror;
import io.vectorstream.index.device.DeviceBackend;
import io.vectorstream.index.ivf.IvfFlatIndex;
import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One partition's index: a single writer (the partition's stream task) applies batches, and every
 * batch publishes a new immutable {@link ShardSnapshot} with one volatile write. Readers call
 * {@link #snapshot()} and never block.
 *
 * <p>A shard is an immutable IVF-PQ {@link BaseSegment} (once compaction has built one) plus the mutable
 * IVF-Flat hot index holding everything applied since, plus {@link Tombstones} masking base entries that
 * were deleted or replaced since. Compaction builds a new base off the writer thread from a snapshot taken
 * by {@link #beginCompaction()} and hands it over with {@link #offerBase}; the writer installs it at its next
 * {@link #apply} or {@link #maintain()}: a fresh hot index gets every batch applied after that snapshot
 * (kept in memory meanwhile), the tombstones start empty, and the result is published in one volatile write.
 */
public final class Shard {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Shard.class);
    private final int partition;
    private final IndexConfig config;
    private final VectorKernels kernels;
    private IvfFlatIndex writer; // the hot index
    private BaseSegment base;    // writer's view; null: no base yet
    private Tombstones tombstones = Tombstones.NONE;
    private volatile ShardSnapshot current;
    private long version;
    private final DeviceMirror mirror; // null: CPU only
    private final VectorKernels buildKernels; // what compaction trains and encodes with: a device's when there is one
    private java.util.concurrent.Executor trainer; // null: the hot index trains on the writer's thread
    private volatile ShardListener listener = ShardListener.NONE;
    private final java.util.concurrent.ConcurrentLinkedQueue<OffsetWaiter> waiters = new java.util.concurrent.ConcurrentLinkedQueue<>();

    private record OffsetWaiter(long offset, CompletableFuture<ShardSnapshot> covered) {
    }

    // Compaction hand-over. While a build is under way the writer records the ids it deletes (ids only: whatever
    // was upserted since is still in the hot index) and the hot index keeps its ordinals when it trains.
    private final AtomicInteger queuedCompactions = new AtomicInteger(); // queued or running
    private final AtomicInteger compactions = new AtomicInteger();
    private final List<RecordedDeletes> recordedDeletes = new ArrayList<>(); // writer thread only
    private final AtomicReference<PendingBase> pending = new AtomicReference<>();

    private record RecordedDeletes(long version, String[] ids) {
    }

    private record PendingBase(BaseSegment base, long fromVersion, long fromHotMark, IvfFlatIndex.Reassignment known,
                               CompletableFuture<ShardSnapshot> installed) {
    }

    /** Partition -1 is the start-up warm-up's throwaway shard ({@code WarmUp}): its steps are not news to an operator. */
    private boolean reported() {
        return partition >= 0;
    }

    public Shard(int partition, IndexConfig config, VectorKernels kernels) {
        this(partition, config, kernels, null);
    }

    /** A shard whose batches are also mirrored onto a CUDA device when {@code backend} has one. */
    public Shard(int partition, IndexConfig config, VectorKernels kernels, DeviceBackend backend) {
        this.partition = partition;
        this.config = config;
        this.kernels = kernels;
        this.writer = new IvfFlatIndex(partition, config, kernels);
        this.current = new ShardSnapshot(partition, 0, 0, config, kernels, writer.snapshot(), null, Tombstones.NONE);
        this.mirror = backend == null ? null : backend.mirror(partition, config);
        this.buildKernels = backend == null ? kernels : backend.buildKernels(kernels);
    }

    /** Trains the hot index's centroids on {@code trainer} rather than the writer's thread (see IvfFlatIndex). */
    public void trainInBackground(java.util.concurrent.Executor trainer) {
        this.trainer = trainer;
        writer.trainOn(trainer);
    }

    public void listener(ShardListener listener) {
        this.listener = listener == null ? ShardListener.NONE : listener;
    }

    public IndexConfig config() {
        return config;
    }

    public VectorKernels kernels() {
        return kernels;
    }

    /**
     * The kernels an index build of this shard trains and encodes with (k-means, PQ encoding): the first CUDA
     * device's when the server has one ({@link DeviceBackend#buildKernels}), else {@link #kernels()}.
     */
    public VectorKernels buildKernels() {
        return buildKernels;
    }

    public int partition() {
        return partition;
    }

    /** The latest published snapshot. */
    public ShardSnapshot snapshot() {
        return current;
    }

    /**
     * Applies a batch and publishes the result.
     *
     * @param nextOffset the input offset after the batch's last record
     */
    public ShardSnapshot apply(List<IndexOp> ops, long nextOffset) {
        installPending();
        writer.keepOrdinals(compactions.get() > 0);
        // Only a shard that nothing else will reorganise retrains as it grows: with a base, or a build queued or under
        // way, compaction is about to move the data into a freshly trained base anyway (the hot index then moves onto
        // its centroids), so the stream thread is spared the stall and the memory of a retraining — measured on a 1M
        // backfill with retraining allowed while builds waited: the writer re-assigned 500k vectors for 7.5 s at the
        // end and RSS peaked at 3.5 GiB instead of 2.0.
        writer.retrainAsItGrows(base == null && compactions.get() == 0 && queuedCompactions.get() == 0);
        IvfFlatIndex.AppliedBatch applied = applyToLayers(ops);
        ShardSnapshot next = publish(nextOffset, applied);
        if (compactions.get() > 0) recordDeletes(next.version(), ops);
        listener.applied(this, ops, next);
        return next;
    }

    /**
     * For the writer thread when it has nothing to apply (e.g. a punctuation): installs a base that
     * compaction has finished, a background training, and scan copies a backlog deferred, if any. Returns the
     * current snapshot.
     */
    public ShardSnapshot maintain() {
        installPending();
        // A compaction may have begun since the last batch (a quiet partition, a standby copy): a training installed
        // now must keep the ordinals its snapshot's mark counts on, or the hand-over carries every hot entry.
        writer.keepOrdinals(compactions.get() > 0);
        boolean trained = writer.installTraining();
        boolean copied = writer.restoreScanCopies(); // bf16 scan copies deferred by a backlog that is over
        if (trained) publish(current.nextOffset()); // new centroids: the mirror rebuilds
        else if (copied) publish(current.nextOffset(), IvfFlatIndex.AppliedBatch.NONE); // same rows: nothing to mirror
        if (compactions.get() == 0 && !recordedDeletes.isEmpty()) recordedDeletes.clear();
        return current;
    }

    /**
     * Finishes now what a backlog deferred — the bf16 scan copies of the lists that large batches appended to — and
     * publishes: the state a served shard reaches by itself once its backlog is over ({@link #maintain}). For
     * benchmarks and tests that load a shard in large batches and then measure it settled.
     */
    public ShardSnapshot settle() {
        if (writer.restoreAllScanCopies()) publish(current.nextOffset(), IvfFlatIndex.AppliedBatch.NONE);
        return current;
    }

    private void recordDeletes(long version, List<IndexOp> ops) {
        int n = 0;
        for (IndexOp op : ops) if (op instanceof IndexOp.Delete) n++;
        if (n == 0) return;
        String[] ids = new String[n];
        n = 0;
        for (IndexOp op : ops) if (op instanceof IndexOp.Delete) ids[n++] = op.id();
        recordedDeletes.add(new RecordedDeletes(version, ids));
    }

    private IvfFlatIndex.AppliedBatch applyToLayers(List<IndexOp> ops) {
        if (base != null) {
            int[] dead = new int[ops.size()];
            int n = 0;
            for (IndexOp op : ops) {
                int o = base.ordinalOf(op.id());
                if (o >= 0 && !tombstones.contains(o)) dead[n++] = o;
            }
            tombstones = tombstones.with(dead, n);
        }
        return writer.apply(ops);
    }

    private ShardSnapshot publish(long nextOffset) {
        return publish(nextOffset, null); // the hot index was replaced or re-bucketed: the mirror rebuilds
    }

    /**
     * Publishes the writer's state. The device mirror (if any) repeats the batch the hot index applied first, so that
     * it never lags a published snapshot it could be asked about; {@code applied == null} means rebuild it.
     */
    private ShardSnapshot publish(long nextOffset, IvfFlatIndex.AppliedBatch applied) {
        ShardSnapshot next = new ShardSnapshot(partition, ++version, nextOffset, config, kernels, writer.snapshot(),
                base, base == null ? Tombstones.NONE : tombstones);
        if (mirror != null) mirror.after(next, applied);
        current = next;
        if (!waiters.isEmpty()) wakeWaiters(next);
        return next;
    }

    /**
     * Completes with the first published snapshot whose next offset is at least {@code offset} (at once when the
     * current one is). The writer completes it when it publishes, without ever waiting; a caller that gives up
     * cancels the future. Any thread.
     */
    public CompletableFuture<ShardSnapshot> whenCovers(long offset) {
        ShardSnapshot s = current;
        if (s.nextOffset() >= offset) return CompletableFuture.completedFuture(s);
        OffsetWaiter w = new OffsetWaiter(offset, new CompletableFuture<>());
        waiters.add(w);
        s = current; // published meanwhile, perhaps before the writer saw the waiter
        if (s.nextOffset() >= offset) {
            waiters.remove(w);
            w.covered().complete(s);
        }
        return w.covered();
    }

    private void wakeWaiters(ShardSnapshot published) {
        for (var it = waiters.iterator(); it.hasNext(); ) {
            OffsetWaiter w = it.next();
            if (w.covered().isDone()) {
                it.remove();
            } else if (published.nextOffset() >= w.offset()) {
                it.remove();
                w.covered().complete(published);
            }
        }
    }

    /** True when the live set holds {@code id} (writer's view; for the writer thread). */
    public boolean contains(String id) {
        if (writer.contains(id)) return true;
        if (base == null) return false;
        int o = base.ordinalOf(id);
        return o >= 0 && !tombstones.contains(o);
    }

    /** The writer's current base (null when none); for the writer thread and listeners. */
    public BaseSegment base() {
        return base;
    }

    /**
     * For the writer at start-up: replaces everything with a saved state (see {@link SnapshotFile}) — a base,
     * its tombstones, the hot index's live vectors — and publishes it as covering {@code nextOffset}.
     */
    public ShardSnapshot restore(BaseSegment savedBase, Tombstones savedTombstones, ShardSnapshot.LiveData hot,
                                 long savedVersion, long nextOffset) {
        base = savedBase;
        tombstones = savedBase == null ? Tombstones.NONE : savedTombstones;
        // with a base, the hot index lives on its coarse centroids (as after a compaction's hand-over)
        writer = new IvfFlatIndex(partition, config, kernels, savedBase == null ? null : savedBase.index().trained().coarse());
        writer.trainOn(trainer);
        writer.retrainAsItGrows(savedBase == null);
        List<IndexOp> all = new ArrayList<>(hot.size());
        int dim = config.dim();
        for (int i = 0; i < hot.size(); i++) {
            all.add(new IndexOp.Upsert(hot.ids()[i], java.util.Arrays.copyOfRange(hot.vectors(), i * dim, (i + 1) * dim),
                    hot.metadata()[i]));
        }
        writer.apply(all);
        version = Math.max(version, savedVersion);
        return publish(nextOffset);
    }

    // ---- compaction hand-over ----

    /**
     * Starts recording the deletes applied from now on and returns the snapshot a new base is to be built
     * from. Every call must be followed by exactly one {@link #offerBase} or {@link #cancelCompaction()}.
     * Any thread.
     */
    public ShardSnapshot beginCompaction() {
        compactions.incrementAndGet();
        return current; // published before any batch that sees the counter > 0 records, so no delete is missed
    }

    /**
     * Told by a compaction scheduler when a build of this shard is queued ({@code true}) and when it is over
     * ({@code false}): meanwhile the hot index does not retrain as it grows. Any thread.
     */
    public void compactionQueued(boolean queued) {
        if (queued) queuedCompactions.incrementAndGet();
        else queuedCompactions.decrementAndGet();
    }

    /** Ends a compaction that will not offer a base. Any thread. */
    public void cancelCompaction() {
        compactions.decrementAndGet();
    }

    /**
     * Hands over a base built from snapshot {@code from} (see {@link #beginCompaction()}); the writer installs
     * it at its next {@link #apply} or {@link #maintain()} and completes the returned future with the first
     * snapshot that has it. With {@code base == null} the shard goes back to hot-only, holding {@code from}'s
     * live set (e.g. after so many deletes that the rest is too small to train on). Any thread.
     */
    public CompletableFuture<ShardSnapshot> offerBase(BaseSegment base, ShardSnapshot from) {
        return offerBase(base, from, null);
    }

    /**
     * As {@link #offerBase(BaseSegment, ShardSnapshot)}, with the new base's lists of hot entries added since
     * {@code from} worked out ahead ({@link ShardSnapshot#reassignHotSince}): the hot index moves onto the base's
     * coarse centroids at the hand-over, and the writer then assigns only the entries {@code known} does not cover.
     */
    public CompletableFuture<ShardSnapshot> offerBase(BaseSegment base, ShardSnapshot from, IvfFlatIndex.Reassignment known) {
        CompletableFuture<ShardSnapshot> installed = new CompletableFuture<>();
        PendingBase p = new PendingBase(base, from.version(), from.hotMark(), known, installed);
        PendingBase previous = pending.getAndSet(p);
        if (previous != null) {
            compactions.decrementAndGet();
            previous.installed().completeExceptionally(new IllegalStateException("superseded by a newer base"));
        }
        return installed;
    }

    private void installPending() {
        PendingBase p = pending.getAndSet(null);
        if (p == null) return;
        try {
            if (p.base() != null) {
                // The new base holds `from`'s live set. The hot index keeps what was added since, moved onto the base's
                // coarse centroids (IvfFlatIndex.carryOver); the base entries of every id upserted or deleted since are dead.
                BaseSegment next = p.base();
                long started = System.nanoTime();
                // onto the base's centroids unless the hot index already has more lists (a base built on fewer vectors
                // than the hot index grew to while it waited): then it keeps its own until a larger base comes
                CoarseQuantizer baseCoarse = next.index().trained().coarse();
                CoarseQuantizer hotCoarse = writer.quantizer();
                CoarseQuantizer onto = hotCoarse == null || baseCoarse.nlist() >= hotCoarse.nlist() ? baseCoarse : null;
                IvfFlatIndex carried = writer.carryOver(p.fromHotMark(), onto, p.known());
                long carriedAt = System.nanoTime();
                int[] dead = new int[Math.max(16, carried.liveCount())];
                int n = 0;
                for (String id : carried.liveIds()) {
                    int o = next.ordinalOf(id);
                    if (o >= 0) dead[n++] = o;
                }
                for (RecordedDeletes r : recordedDeletes) {
                    if (r.version() <= p.fromVersion()) continue;
                    for (String id : r.ids()) {
                        int o = next.ordinalOf(id);
                        if (o < 0) continue;
                        if (n == dead.length) dead = java.util.Arrays.copyOf(dead, n * 2);
                        dead[n++] = o;
                    }
                }
                base = next;
                tombstones = Tombstones.NONE.with(dead, n);
                writer = carried;
                writer.trainOn(trainer);
                // the writer's share of a compaction: records of this partition wait meanwhile
                if (reported()) LOG.info("partition {}: base v{} handed over on the writer in {} ms ({} hot entries carried in {} ms, {} base "
                        + "entries dead)", partition, next.version(), (System.nanoTime() - started) / 1_000_000,
                        carried.liveCount(), (carriedAt - started) / 1_000_000, n);
            } else if (base != null) {
                // Back to hot-only (the live set is too small for a base): the old base's live entries join the hot index.
                List<IndexOp> fold = new ArrayList<>();
                int dim = config.dim();
                float[] vectors = base.vectors().vectors();
                for (int o = 0; o < base.size(); o++) {
                    if (tombstones.contains(o) || writer.contains(base.id(o))) continue;
                    fold.add(new IndexOp.Upsert(base.id(o), java.util.Arrays.copyOfRange(vectors, o * dim, (o + 1) * dim),
                            base.metadata(o)));
                }
                base = null;
                tombstones = Tombstones.NONE;
                writer.apply(fold);
            }
            ShardSnapshot next = publish(current.nextOffset());
            p.installed().complete(next);
        } catch (RuntimeException | Error e) {
            p.installed().completeExceptionally(e);
            throw e;
        } finally {
            if (compactions.decrementAndGet() == 0) recordedDeletes.clear();
            writer.keepOrdinals(compactions.get() > 0);
        }
    }

    /**
     * Trains the inverted lists on {@code n} vectors ({@code dim} floats each) now, instead of waiting for
     * the training threshold, and publishes the re-bucketed index (FAISS's train-then-add; used for bulk
     * loads and benchmarks). For the writer thread.
     */
    public ShardSnapshot trainOn(float[] sample, int n) {
        writer.trainOn(sample, n);
        return publish(current.nextOffset());
    }

    /**
     * The top-k of {@code snapshot} (one of this shard's): the hot index on the device when the shard is
     * mirrored there and the mirror holds exactly that snapshot (the IVF-PQ base, if any, is searched on the
     * CPU and merged), else the snapshot's own CPU scan.
     */
    public List<SearchHit> search(ShardSnapshot snapshot, float[] query, int k, int nprobe, boolean exact) {
        if (mirror != null) {
            List<SearchHit> hot = mirror.search(snapshot, query, k, nprobe, exact);
            if (hot != null) return snapshot.withBaseHits(hot, query, k, nprobe, exact);
        }
        return snapshot.search(query, k, nprobe, exact);
    }

    /** Where this shard's searches run: "cpu" or "cuda:N". */
    public String device() {
        return mirror == null ? "cpu" : mirror.device();
    }

    /** Device memory held by this shard's mirror (0 on the CPU). */
    public long deviceBytes() {
        return mirror == null ? 0 : mirror.deviceBytes();
    }

    /** Searches answered by the device so far (0 on the CPU). */
    public long deviceSearches() {
        return mirror == null ? 0 : mirror.deviceSearches();
    }

    /** Frees this shard's device resources (the CPU index stays readable). */
    public void close() {
        if (mirror != null) mirror.close();
    }
}
