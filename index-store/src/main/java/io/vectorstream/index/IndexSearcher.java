package io.vectorstream.index;

import io.vectorstream.index.filter.Filter;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;

/**
 * Searches every owned shard's current snapshot and merges their top-k. Thread-safe and lock-free:
 * each shard is read through one volatile read of its snapshot.
 */
public final class IndexSearcher {
    public static final int MAX_K = 1000;

    private final ShardRegistry registry;

    public IndexSearcher(ShardRegistry registry) {
        this.registry = registry;
    }

    /**
     * @param query  {@code dim} finite floats as the user sent them (normalised here for cosine)
     * @param nprobe lists to scan per shard, or null for the configured default
     */
    public SearchResult search(float[] query, int k, Integer nprobe, boolean exact) {
        return search(query, k, nprobe, exact, null);
    }

    /**
     * As {@link #search(float[], int, Integer, boolean)}, among the vectors whose metadata {@code filter} matches
     * (null: all). Each shard chooses its plan ({@link ShardSnapshot#search(float[], int, int, boolean, Filter)}).
     */
    public SearchResult search(float[] query, int k, Integer nprobe, boolean exact, Filter filter) {
        return search(query, k, nprobe, exact, filter, registry.shards());
    }

    /** As {@link #search(float[], int, Integer, boolean, Filter)}, over {@code shards} (e.g. standby copies) only. */
    public SearchResult search(float[] query, int k, Integer nprobe, boolean exact, Filter filter, List<Shard> shards) {
        IndexConfig config = registry.config();
        if (query.length != config.dim()) {
            throw new IllegalArgumentException("vector has " + query.length + " dimensions, the index has " + config.dim());
        }
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("k must be in 1.." + MAX_K + ", was " + k);
        if (nprobe != null && nprobe < 1) throw new IllegalArgumentException("nprobe must be >= 1, was " + nprobe);
        float[] q = config.metric().normalizes() ? VectorMath.normalized(query) : query;
        int probes = nprobe != null ? nprobe : config.defaultNprobe();
        List<ShardAnswer> answers = new ArrayList<>(shards.size());
        Executor pool = shardPool;
        if (pool == null || shards.size() < 2) {
            for (Shard shard : shards) answers.add(searchShard(shard, q, k, probes, exact, filter));
        } else {
            // Other shards go to the pool; this thread searches the first, then runs any forked search no pool
            // thread has started yet (FutureTask.run is a no-op once started), so a busy pool costs no waiting.
            List<FutureTask<ShardAnswer>> forked = new ArrayList<>(shards.size() - 1);
            for (Shard shard : shards.subList(1, shards.size())) {
                var task = new FutureTask<>(() -> searchShard(shard, q, k, probes, exact, filter));
                forked.add(task);
                try {
                    pool.execute(task);
                } catch (RejectedExecutionException busy) {
                    // run below, on this thread
                }
            }
            answers.add(searchShard(shards.getFirst(), q, k, probes, exact, filter));
            for (var task : forked) {
                task.run();
                answers.add(joined(task));
            }
        }
        List<ShardSnapshot> snapshots = new ArrayList<>(answers.size());
        Map<Integer, ShardSnapshot.Plan> plans = filter == null ? Map.of() : new TreeMap<>();
        List<SearchHit> merged = new ArrayList<>();
        for (ShardAnswer answer : answers) {
            snapshots.add(answer.snapshot());
            merged.addAll(answer.hits());
            if (answer.filtered() != null) {
                plans.put(answer.snapshot().partition(), answer.filtered().plan());
                if (planListener != null) planListener.accept(answer.filtered());
            }
        }
        merged.sort(Comparator.comparingDouble(SearchHit::distance));
        List<SearchHit> top = merged.size() > k ? new ArrayList<>(merged.subList(0, k)) : merged;
        return new SearchResult(top, snapshots, plans);
    }

    /** One shard's answer, for the snapshot it was read at (device or CPU); {@code filtered} only with a filter. */
    private record ShardAnswer(ShardSnapshot snapshot, List<SearchHit> hits, ShardSnapshot.FilteredAnswer filtered) {
    }

    private static ShardAnswer searchShard(Shard shard, float[] q, int k, int probes, boolean exact, Filter filter) {
        ShardSnapshot snapshot = shard.snapshot();
        if (filter == null) return new ShardAnswer(snapshot, shard.search(snapshot, q, k, probes, exact), null);
        ShardSnapshot.FilteredAnswer answer = snapshot.search(q, k, probes, exact, filter);
        return new ShardAnswer(snapshot, answer.hits(), answer);
    }

    private static ShardAnswer joined(FutureTask<ShardAnswer> task) {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while searching a shard", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    private volatile Executor shardPool;

    /**
     * Searches the shards of one query in parallel on {@code pool} (null: one after another on the caller). The
     * caller always searches one shard itself and takes back any search the pool has not started, so a saturated
     * pool degrades to the sequential search instead of queueing behind other queries.
     */
    public void shardPool(Executor pool) {
        this.shardPool = pool;
    }

    /** About how many vectors one search scores over every owned shard ({@link ShardSnapshot#scanEstimate}). */
    public long scanEstimate(Integer nprobe, boolean exact) {
        int probes = nprobe != null ? nprobe : registry.config().defaultNprobe();
        long total = 0;
        for (Shard shard : registry.shards()) total += shard.snapshot().scanEstimate(probes, exact);
        return total;
    }

    private volatile java.util.function.Consumer<ShardSnapshot.FilteredAnswer> planListener;

    /** Told of every shard's filtered answer (for metrics: plans and estimated matches). */
    public void onFilteredAnswer(java.util.function.Consumer<ShardSnapshot.FilteredAnswer> listener) {
        this.planListener = listener;
    }
}
