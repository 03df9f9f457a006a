package io.vectorstream.index;

import java.util.List;
import java.util.Map;

/**
 * The merged answer of a search over several shard snapshots.
 *
 * @param hits      best first
 * @param snapshots the snapshots that were searched (their versions and offsets identify the answer)
 * @param plans     for a filtered search, the plan each shard ran (by partition); empty otherwise
 */
public record SearchResult(List<SearchHit> hits, List<ShardSnapshot> snapshots, Map<Integer, ShardSnapshot.Plan> plans) {
    public SearchResult(List<SearchHit> hits, List<ShardSnapshot> snapshots) {
        this(hits, snapshots, Map.of());
    }
}
