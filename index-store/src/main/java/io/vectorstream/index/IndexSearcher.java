package io.vectorstream.index;

import io.vectorstream.index.filter.Filter;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

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
        IndexConfig config = registry.config();
        if (query.length != config.dim()) {
            throw new IllegalArgumentException("vector has " + query.length + " dimensions, the index has " + config.dim());
        }
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("k must be in 1.." + MAX_K + ", was " + k);
        if (nprobe != null && nprobe < 1) throw new IllegalArgumentException("nprobe must be >= 1, was " + nprobe);
        float[] q = config.metric().normalizes() ? VectorMath.normalized(query) : query;
        int probes = nprobe != null ? nprobe : config.defaultNprobe();
        List<Shard> shards = registry.shards();
        List<ShardSnapshot> snapshots = new ArrayList<>(shards.size());
        Map<Integer, ShardSnapshot.Plan> plans = filter == null ? Map.of() : new TreeMap<>();
        List<SearchHit> merged = new ArrayList<>();
        for (Shard shard : shards) { // each shard answers for the snapshot it was read at (device or CPU)
            ShardSnapshot snapshot = shard.snapshot();
            snapshots.add(snapshot);
            if (filter == null) {
                merged.addAll(shard.search(snapshot, q, k, probes, exact));
            } else {
                ShardSnapshot.FilteredAnswer answer = snapshot.search(q, k, probes, exact, filter);
                plans.put(snapshot.partition(), answer.plan());
                merged.addAll(answer.hits());
                if (planListener != null) planListener.accept(answer);
            }
        }
        merged.sort(Comparator.comparingDouble(SearchHit::distance));
        List<SearchHit> top = merged.size() > k ? new ArrayList<>(merged.subList(0, k)) : merged;
        return new SearchResult(top, snapshots, plans);
    }

    private volatile java.util.function.Consumer<ShardSnapshot.FilteredAnswer> planListener;

    /** Told of every shard's filtered answer (for metrics: plans and estimated matches). */
    public void onFilteredAnswer(java.util.function.Consumer<ShardSnapshot.FilteredAnswer> listener) {
        this.planListener = listener;
    }
}
