package io.vectorstream.compaction;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfFlatIndex;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.ivf.IvfPqIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One shard's rebuild, run on the compaction executor: snapshot, collect the live vectors, retrain the
 * coarse centroids and PQ codebooks on them, encode, and hand the new base to the shard's writer, which
 * replays what arrived meanwhile into a fresh hot index and publishes atomically. Queries and ingestion
 * carry on throughout: nothing here takes a lock the writer or a reader waits on.
 *
 * <p><b>Merge or retrain.</b> A rebuild that the hot index's size or the base's tombstones started keeps the base's
 * quantizers when they still fit ({@link #reusableTraining}): the base's codes are kept (minus its tombstones) and
 * only the hot vectors are assigned and encoded, FAISS's "add to a trained index". That costs the hot vectors'
 * encoding and a copy, not k-means over every vector: under a steady stream a retraining rebuild of a 250k-vector
 * shard took 20–45 s on two busy cores, while the hot index it was meant to empty kept growing (searches scan
 * the hot lists in full). Training starts afresh for a shard's first base, for drift, for the timer and for an
 * operator's rebuild, and when the live count has moved so far that the base's list count is off by more than
 * {@link #RETRAIN_NLIST_FACTOR} (lists too long or too short for the probe).
 */
public final class Compactor {
    private static final Logger LOG = LoggerFactory.getLogger(Compactor.class);
    private static final int ERROR_SAMPLE = 4096;

    /** Where a build is; written by the compaction thread, read by anyone. */
    public interface Progress {
        void phase(String phase, int percent);
    }

    /** BUILT: quantizers trained afresh; MERGED: the base's kept (see the class comment). */
    public enum Outcome { BUILT, MERGED, SKIPPED_TOO_SMALL, DROPPED_BASE }

    /** A merge keeps the base's lists while {@link IndexConfig#baseNlistFor} of the live count is within this factor of them. */
    static final int RETRAIN_NLIST_FACTOR = 2;

    private final CompactionPolicy policy;
    private final long installTimeoutMillis;

    public Compactor(CompactionPolicy policy, long installTimeoutMillis) {
        this.policy = policy;
        this.installTimeoutMillis = installTimeoutMillis;
    }

    /** Rebuilds {@code shard}'s base now, on the calling thread; returns once the writer has installed it. */
    public Outcome compact(Shard shard, String trigger, Progress progress) throws Exception {
        return compact(shard, trigger, progress, () -> true);
    }

    /**
     * As {@link #compact(Shard, String, Progress)}; {@code owned} says whether the shard is still this process's
     * (its writer may have gone: the partition moved), so that the wait for the swap gives up at once then.
     */
    public Outcome compact(Shard shard, String trigger, Progress progress, java.util.function.BooleanSupplier owned) throws Exception {
        long start = System.nanoTime();
        progress.phase("snapshot", 0);
        ShardSnapshot from = shard.beginCompaction();
        boolean handedOver = false;
        try {
            ShardSnapshot.LiveData live = from.live();
            int n = live.size();
            if (n < policy.minBaseVectors()) {
                if (from.base() == null) {
                    progress.phase("skipped", 100);
                    LOG.info("partition {}: {} live vectors, fewer than the {} a base needs: stays hot-only",
                            shard.partition(), n, policy.minBaseVectors());
                    return Outcome.SKIPPED_TOO_SMALL;
                }
                progress.phase("swap", 90);
                handedOver = true;
                awaitInstall(shard.offerBase(null, from), owned);
                progress.phase("done", 100);
                return Outcome.DROPPED_BASE;
            }
            IndexConfig config = shard.config();
            VectorKernels kernels = shard.kernels(); // the base searches on the CPU
            int dim = config.dim();
            IvfPqIndex.Trained kept = reusableTraining(from, n, trigger, config);
            FlatVectorStore store = new FlatVectorStore(live.vectors(), dim);
            IvfPqIndex index;
            double error;
            if (kept != null) {
                progress.phase("merge", 10);
                index = merge(from, live, kept, kernels, shard.buildKernels(), store);
                error = from.base().buildQuantizationError(); // drift stays measured against the training
            } else {
                progress.phase("train", 10);
                IvfPqIndex.Params params = new IvfPqIndex.Params(config.baseNlistFor(n), policy.pqMFor(dim), 10, 64, 25, 256, config.seed());
                // k-means and PQ encoding on a CUDA device when the server has one (the CPU otherwise)
                IvfPqIndex.Trained trained = IvfPqIndex.train(shard.buildKernels(), config.metric(), live.vectors(), n, dim, params);
                progress.phase("encode", 60);
                index = IvfPqIndex.build(kernels, trained, live.vectors(), n, null, store);
                error = meanQuantizationError(trained.coarse(), live.vectors(), n, dim, config.seed());
            }
            long version = from.base() == null ? 1 : from.base().version() + 1;
            long took = (System.nanoTime() - start) / 1_000_000;
            BaseSegment base = new BaseSegment(version, from.nextOffset(), index, store, live.ids(), live.metadata(),
                    error, System.currentTimeMillis(), took, trigger);
            progress.phase("warm-up", 88);
            base.warmUp(kernels, config.metric(), WARMUP_QUERIES, config.defaultNprobe());
            // the hot entries added meanwhile, onto the new base's lists: the writer then assigns only the last few
            IvfFlatIndex.Reassignment known = shard.snapshot().reassignHotSince(from, index.trained().coarse());
            progress.phase("swap", 90);
            handedOver = true;
            ShardSnapshot installed = awaitInstall(shard.offerBase(base, from, known), owned);
            progress.phase("done", 100);
            LOG.info("partition {}: compacted ({}) {} vectors into IVF-PQ base v{} ({} lists, m={}, {}) in {} ms; now version {}",
                    shard.partition(), trigger, n, version, index.nlist(), index.m(),
                    kept != null ? "merged into v" + from.base().version() + "'s quantizers" : "trained afresh",
                    took, installed.version());
            return kept != null ? Outcome.MERGED : Outcome.BUILT;
        } finally {
            if (!handedOver) shard.cancelCompaction();
        }
    }

    /**
     * The base's quantizers when this rebuild may keep them (see the class comment), else null: train afresh.
     * Only the size and tombstone triggers merge; the others are asked for because the training is stale.
     */
    IvfPqIndex.Trained reusableTraining(ShardSnapshot from, int n, String trigger, IndexConfig config) {
        BaseSegment base = from.base();
        if (base == null || !(CompactionTrigger.HOT_SIZE.equals(trigger) || CompactionTrigger.TOMBSTONES.equals(trigger)
                || CompactionTrigger.LOG_SIZE.equals(trigger))) return null;
        IvfPqIndex index = base.index();
        if (index.m() != policy.pqMFor(config.dim())) return null; // the configured code size changed
        int wanted = config.baseNlistFor(n);
        if (index.nlist() * (long) RETRAIN_NLIST_FACTOR < wanted || index.nlist() > (long) RETRAIN_NLIST_FACTOR * wanted) return null;
        return index.trained();
    }

    /**
     * {@code from}'s live set as one index on {@code trained} (its base's quantizers): the base's surviving codes as
     * they are, then the hot vectors assigned and encoded on {@code buildKernels}. {@link ShardSnapshot#live()} lists
     * the base's live entries first, in ordinal order, then the hot ones: the same order as the codes here.
     */
    static IvfPqIndex merge(ShardSnapshot from, ShardSnapshot.LiveData live, IvfPqIndex.Trained trained,
                            VectorKernels kernels, VectorKernels buildKernels, FlatVectorStore store) {
        BaseSegment base = from.base();
        IvfPqIndex old = base.index();
        int m = old.m(), baseSize = base.size(), n = live.size();
        int[] baseLists = new int[baseSize];
        byte[] baseCodes = new byte[baseSize * m];
        old.exportCodes(baseLists, baseCodes);
        int[] lists = new int[n];
        byte[] codes = new byte[n * m];
        io.vectorstream.index.Tombstones dead = from.tombstones();
        int kept = 0;
        for (int o = 0; o < baseSize; o++) {
            if (dead.contains(o)) continue;
            if (!base.id(o).equals(live.ids()[kept])) { // the order live() promises; a mismatch would misfile codes
                throw new IllegalStateException("live set out of base order at " + kept + ": " + live.ids()[kept] + " vs " + base.id(o));
            }
            lists[kept] = baseLists[o];
            System.arraycopy(baseCodes, o * m, codes, kept * m, m);
            kept++;
        }
        // a hot index on these centroids (every one since the first merge) already knows each vector's list
        boolean assigned = live.hotLists() != null && live.hotQuantizer() != null && live.fromBase() == kept
                && live.hotQuantizer().centroidsShared() == trained.coarse().centroidsShared();
        if (assigned) System.arraycopy(live.hotLists(), 0, lists, kept, n - kept);
        IvfPqIndex.encode(trained.on(buildKernels), live.vectors(), kept, n - kept, lists, codes, assigned);
        return IvfPqIndex.fromCodes(kernels, trained, lists, codes, n, null, store);
    }

    private ShardSnapshot awaitInstall(java.util.concurrent.CompletableFuture<ShardSnapshot> installed,
                                       java.util.function.BooleanSupplier owned) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(installTimeoutMillis);
        while (true) {
            try {
                return installed.get(100, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                if (!owned.getAsBoolean()) throw new IllegalStateException("the partition moved away before the swap");
                if (System.nanoTime() > deadline) throw new IllegalStateException("the shard's writer did not swap in the new base in time");
            }
        }
    }

    /** Searches run on a new base before the swap (see {@link BaseSegment#warmUp}); about 0.3 s of one core. */
    static final int WARMUP_QUERIES = 2000;

    /** Mean squared L2 distance of a seeded sample of the vectors to their assigned coarse centroid. */
    static double meanQuantizationError(CoarseQuantizer coarse, float[] data, int n, int dim, long seed) {
        int rows = Math.min(n, ERROR_SAMPLE);
        float[] sample = new float[rows * dim];
        Random r = new Random(seed + 7);
        for (int i = 0; i < rows; i++) {
            int pick = rows == n ? i : r.nextInt(n);
            System.arraycopy(data, pick * dim, sample, i * dim, dim);
        }
        return meanResidual(coarse, coarse.centroids(), sample, rows, dim);
    }

    /** Mean squared L2 distance of {@code n} vectors to the centroid each is assigned to. */
    static double meanResidual(CoarseQuantizer coarse, float[] centroids, float[] vectors, int n, int dim) {
        if (n == 0) return 0;
        int[] lists = new int[n];
        coarse.assign(vectors, n, lists, null);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            int vo = i * dim, co = lists[i] * dim;
            double s = 0;
            for (int d = 0; d < dim; d++) {
                double x = vectors[vo + d] - centroids[co + d];
                s += x * x;
            }
            sum += s;
        }
        return sum / n;
    }
}
