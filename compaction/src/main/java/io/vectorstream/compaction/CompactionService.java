package io.vectorstream.compaction;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.ShardListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Background compaction of every owned shard: checks the {@link CompactionPolicy} after each batch (as the
 * registry's {@link ShardListener}, on the writer thread, O(1) plus a small drift sample), and runs rebuilds
 * (triggered, or the operator's {@link #requestRebuild}) on a bounded executor of
 * {@link CompactionPolicy#threads()} daemon threads. At most one triggered rebuild per shard is in flight.
 */
public final class CompactionService implements ShardListener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CompactionService.class);
    private static final int MAX_JOBS_KEPT = 256;
    private static final int DRIFT_SAMPLE_PER_BATCH = 64;
    private static final int DRIFT_SAMPLE_STRIDE = 32;

    private final ShardRegistry registry;
    private final CompactionPolicy policy;
    private final Compactor compactor;
    private final ThreadPoolExecutor executor;
    /** Runs each build, so that its parallel steps (k-means, PQ, encoding) use these low-priority workers, not the common pool. */
    private final java.util.concurrent.ForkJoinPool buildPool;
    private final AtomicLong jobSeq = new AtomicLong();
    private final Map<String, RebuildJob> jobs = java.util.Collections.synchronizedMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, RebuildJob> eldest) {
            return size() > MAX_JOBS_KEPT;
        }
    });
    private final Map<Integer, Boolean> triggeredInFlight = new ConcurrentHashMap<>();
    /** The latest operator job per partition (its part there may have started since; see {@link #request}). */
    private final Map<Integer, RebuildJob> queuedByPartition = new ConcurrentHashMap<>();
    private volatile SnapshotSink snapshots = s -> { };
    /** Per partition, the next offset of its last persisted snapshot (or of the first state seen). */
    private final Map<Integer, Long> persistedOffset = new ConcurrentHashMap<>();
    private volatile long hotOnlySnapshotOps = DEFAULT_HOT_ONLY_SNAPSHOT_OPS;

    /**
     * A shard with too few vectors for a base is never compacted, so nothing would trim its change log:
     * once it has applied this many operations (or twice its live count, if more) since its last snapshot,
     * a {@link CompactionTrigger#LOG_SIZE} job writes a snapshot of it (no build) and trims the log.
     */
    public static final long DEFAULT_HOT_ONLY_SNAPSHOT_OPS = 100_000;
    private final Map<Shard, Drift> drift = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    public CompactionService(ShardRegistry registry, CompactionPolicy policy) {
        this.registry = registry;
        this.policy = policy;
        this.compactor = new Compactor(policy, TimeUnit.MINUTES.toMillis(10));
        AtomicInteger n = new AtomicInteger();
        this.executor = new ThreadPoolExecutor(policy.threads(), policy.threads(), 0, TimeUnit.MILLISECONDS,
                new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(() -> {
                BackgroundPriority.lowerCurrentThread(policy.nice(), policy.schedIdle());
                r.run();
            }, "vectorstream-compaction-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.buildPool = BackgroundPriority.forkJoinPool("vectorstream-build", Runtime.getRuntime().availableProcessors(),
                policy.nice(), policy.schedIdle());
        registry.listener(this);
    }

    /** Persists a shard's snapshot (e.g. {@code DurableShard::checkpoint}); called on the compaction thread. */
    @FunctionalInterface
    public interface SnapshotSink {
        void persist(ShardSnapshot snapshot) throws Exception;
    }

    /** One finished rebuild of one shard, for metrics: its trigger, outcome ("built", "failed", ...) and duration. */
    public record Run(int partition, String trigger, String outcome, long nanos) {
    }

    private volatile java.util.function.Consumer<Run> runs = r -> { };

    /** Told of every finished rebuild of a shard (on the rebuild thread: keep it cheap). */
    public CompactionService onRun(java.util.function.Consumer<Run> listener) {
        this.runs = listener == null ? r -> { } : listener;
        return this;
    }

    /** Where the snapshot after each rebuild goes (default: nowhere). */
    public CompactionService snapshots(SnapshotSink sink) {
        this.snapshots = sink == null ? s -> { } : sink;
        return this;
    }

    /** Overrides {@link #DEFAULT_HOT_ONLY_SNAPSHOT_OPS} (at least 1). */
    public CompactionService hotOnlySnapshotEvery(long ops) {
        if (ops < 1) throw new IllegalArgumentException("ops must be >= 1");
        this.hotOnlySnapshotOps = ops;
        return this;
    }

    public CompactionPolicy policy() {
        return policy;
    }

    /** Operator rebuild jobs queued or running at once; past it a request is refused ({@link RebuildQueueFullException}). */
    public static final int MAX_PENDING_JOBS = 16;

    /**
     * Queues a rebuild of the given partitions (null or empty: every owned shard) and returns at once: the job that
     * rebuilds them ({@link #request}).
     *
     * @throws IllegalArgumentException  when a partition is not owned by this process
     * @throws RebuildQueueFullException when {@link #MAX_PENDING_JOBS} operator jobs are already queued or running
     */
    public RebuildJob requestRebuild(Collection<Integer> partitions) {
        return request(partitions).job();
    }

    /**
     * What a rebuild request did: {@code job} rebuilds the partitions asked for; {@code created} is false when every
     * one of them already waited in an earlier job (then {@code job} is that job); {@code alreadyQueued} names the
     * partitions that were not queued again, with the job that will rebuild them.
     */
    public record Requested(RebuildJob job, boolean created, Map<Integer, String> alreadyQueued) {
    }

    /**
     * As {@link #requestRebuild}, de-duplicated per partition: a partition whose operator rebuild has not started yet
     * is not queued again (its waiting job will rebuild it from the data of the moment it starts, which is all a
     * second request could ask for).
     */
    public synchronized Requested request(Collection<Integer> partitions) {
        List<Shard> shards = new ArrayList<>();
        if (partitions == null || partitions.isEmpty()) {
            shards.addAll(registry.shards());
        } else {
            for (int p : new java.util.TreeSet<>(partitions)) {
                Shard s = registry.shard(p);
                if (s == null) throw new IllegalArgumentException("partition " + p + " is not owned by this instance");
                shards.add(s);
            }
        }
        Map<Integer, String> already = new java.util.TreeMap<>();
        RebuildJob waiting = null;
        List<Shard> fresh = new ArrayList<>();
        for (Shard s : shards) {
            RebuildJob queued = queuedByPartition.get(s.partition());
            if (queued != null && partOf(queued, s.partition()).state() == RebuildJob.State.QUEUED) {
                already.put(s.partition(), queued.id());
                if (waiting == null) waiting = queued;
            } else {
                fresh.add(s);
            }
        }
        if (fresh.isEmpty() && waiting != null) return new Requested(waiting, false, Map.copyOf(already));
        long pending = jobs().stream().filter(j -> CompactionTrigger.OPERATOR.equals(j.trigger()))
                .filter(j -> j.state() == RebuildJob.State.QUEUED || j.state() == RebuildJob.State.RUNNING).count();
        if (pending >= MAX_PENDING_JOBS) throw new RebuildQueueFullException(pending);
        RebuildJob job = submit(fresh, CompactionTrigger.OPERATOR);
        for (Shard s : fresh) queuedByPartition.put(s.partition(), job);
        return new Requested(job, true, Map.copyOf(already));
    }

    private static RebuildJob.ShardPart partOf(RebuildJob job, int partition) {
        for (RebuildJob.ShardPart p : job.shards()) if (p.partition() == partition) return p;
        throw new IllegalStateException("job " + job.id() + " has no partition " + partition);
    }

    /** True while a rebuild is queued or running. */
    public boolean busy() {
        return executor.getActiveCount() > 0 || !executor.getQueue().isEmpty();
    }

    public Optional<RebuildJob> job(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    /** The jobs kept (the newest {@value #MAX_JOBS_KEPT}, operators' and triggered ones), newest first. */
    public List<RebuildJob> jobs() {
        List<RebuildJob> all;
        synchronized (jobs) { // iterating a synchronized map needs its lock; this only copies the references
            all = new ArrayList<>(jobs.values());
        }
        java.util.Collections.reverse(all);
        return all;
    }

    private RebuildJob submit(List<Shard> shards, String trigger) {
        List<RebuildJob.ShardPart> parts = new ArrayList<>();
        for (Shard s : shards) parts.add(new RebuildJob.ShardPart(s.partition()));
        RebuildJob job = new RebuildJob("rb-" + jobSeq.incrementAndGet(), trigger, parts);
        jobs.put(job.id(), job);
        for (int i = 0; i < shards.size(); i++) {
            Shard shard = shards.get(i);
            RebuildJob.ShardPart part = parts.get(i);
            shard.compactionQueued(true); // from now on the hot index leaves reorganising to this build
            executor.execute(() -> {
                try {
                    run(shard, part, trigger);
                } finally {
                    shard.compactionQueued(false);
                }
            });
        }
        return job;
    }

    private void run(Shard shard, RebuildJob.ShardPart part, String trigger) {
        long started = System.nanoTime();
        part.start(); // from now on a new request for this partition queues a new rebuild (of newer data)
        try {
            if (!registry.isCurrent(shard)) throw new IllegalStateException("the partition moved away");
            Compactor.Outcome outcome = buildPool.submit(() -> compactor.compact(shard, trigger, part,
                    () -> registry.isCurrent(shard))).get();
            drift.remove(shard);
            part.phase("persist", 95);
            ShardSnapshot persisted = shard.snapshot(); // any published snapshot is consistent; this one has the new base
            snapshots.persist(persisted);
            persistedOffset.put(shard.partition(), persisted.nextOffset());
            part.done(outcome.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        } catch (Exception | Error e) {
            Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
            LOG.warn("partition {}: compaction ({}) failed: {}", shard.partition(), trigger, cause.toString());
            part.failed(cause.getMessage() != null ? cause.getMessage() : cause.getClass().getSimpleName());
        } finally {
            if (!CompactionTrigger.OPERATOR.equals(trigger)) triggeredInFlight.remove(shard.partition());
            String outcome = part.state() == RebuildJob.State.FAILED ? "failed" : String.valueOf(part.outcome());
            runs.accept(new Run(shard.partition(), trigger, outcome, System.nanoTime() - started));
        }
        // Batches applied while this ran were not judged (one triggered rebuild per shard at a time): judge the
        // shard's current snapshot now, so that a shard that went idle meanwhile is not left due.
        if (part.state() == RebuildJob.State.DONE && registry.isCurrent(shard)) {
            Drift d = drift.get(shard);
            ShardSnapshot now = shard.snapshot();
            double recent = d != null && d.base == now.base() ? d.recent() : Double.NaN;
            maybeTrigger(shard, now, recent);
        }
    }

    // ---- triggers: on the writer thread after each batch ----

    @Override
    public void applied(Shard shard, List<IndexOp> ops, ShardSnapshot published) {
        BaseSegment base = published.base();
        double recent = Double.NaN;
        if (base != null && policy.driftRatio() > 0) recent = drift(shard, base).observe(ops, published);
        maybeTrigger(shard, published, recent);
    }

    private void maybeTrigger(Shard shard, ShardSnapshot published, double recent) {
        BaseSegment base = published.base();
        if (triggeredInFlight.containsKey(shard.partition())) return;
        String trigger = policy.due(published, recent, System.currentTimeMillis());
        if (trigger == null) trigger = logSizeDue(shard, published);
        if (trigger == null) return;
        if (triggeredInFlight.putIfAbsent(shard.partition(), Boolean.TRUE) != null) return;
        LOG.info("partition {}: compaction triggered by {} (hot {}, base {}, tombstones {})", shard.partition(), trigger,
                published.hotCount(), base == null ? 0 : base.size(), published.tombstones().count());
        submit(List.of(shard), trigger);
    }

    private String logSizeDue(Shard shard, ShardSnapshot published) {
        if (published.base() != null || published.liveCount() >= policy.minBaseVectors()) return null; // compaction trims
        long since = published.nextOffset() - persistedOffset.computeIfAbsent(shard.partition(), p -> published.nextOffset());
        return since >= Math.max(hotOnlySnapshotOps, 2L * published.liveCount()) ? CompactionTrigger.LOG_SIZE : null;
    }

    private Drift drift(Shard shard, BaseSegment base) {
        Drift d = drift.get(shard);
        if (d == null || d.base != base) {
            d = new Drift(base, policy.driftWindow());
            drift.put(shard, d);
        }
        return d;
    }

    /** The recent inserts' mean quantization error against one base's coarse centroids (an EMA). */
    private static final class Drift {
        final BaseSegment base;
        final CoarseQuantizer coarse;
        final float[] centroids;
        final int window;
        volatile double mean;
        volatile long samples;

        Drift(BaseSegment base, int window) {
            this.base = base;
            this.coarse = base.index().trained().coarse();
            this.centroids = coarse.centroids();
            this.window = window;
        }

        double observe(List<IndexOp> ops, ShardSnapshot s) {
            int dim = coarse.dim();
            boolean normalize = s.config().metric().normalizes();
            int n = 0;
            float[] batch = null;
            // At most one operation in DRIFT_SAMPLE_STRIDE (and DRIFT_SAMPLE_PER_BATCH): the sample is scored against
            // every base centroid on the writer thread, which for small batches cost more than applying them.
            int sample = Math.min(DRIFT_SAMPLE_PER_BATCH, Math.max(1, ops.size() / DRIFT_SAMPLE_STRIDE));
            int stride = Math.max(1, ops.size() / sample);
            for (int i = 0; i < ops.size() && n < sample; i += stride) {
                if (!(ops.get(i) instanceof IndexOp.Upsert u)) continue;
                if (batch == null) batch = new float[sample * dim];
                float[] v = u.vector();
                if (normalize) {
                    double norm = 0;
                    for (float x : v) norm += x * x;
                    float inv = norm > 0 ? (float) (1 / Math.sqrt(norm)) : 1f;
                    for (int d = 0; d < dim; d++) batch[n * dim + d] = v[d] * inv;
                } else {
                    System.arraycopy(v, 0, batch, n * dim, dim);
                }
                n++;
            }
            if (n > 0) {
                double batchMean = Compactor.meanResidual(coarse, centroids, batch, n, dim);
                int upserts = 0;
                for (IndexOp op : ops) if (op instanceof IndexOp.Upsert) upserts++;
                double alpha = Math.min(1.0, (double) upserts / window); // the sample stands for the batch's upserts
                mean = samples == 0 ? batchMean : mean + alpha * (batchMean - mean);
                samples += upserts;
            }
            return recent();
        }

        double recent() {
            return samples >= window ? mean : Double.NaN;
        }
    }

    /** Stops the executor; running builds are interrupted only at their end (they hold no lock anyone waits on). */
    @Override
    public void close() {
        registry.listener(null);
        executor.shutdownNow();
        buildPool.shutdownNow();
    }
}
