package io.vectorstream.index;

import java.util.List;

/**
 * The merged answer of a search over several shard snapshots.
 *
 * @param hits      best first
 * @param snapshots the snapshots that were searched (their versions and offsets identify the answer)
 */
public record SearchResult(List<SearchHit> hits, List<ShardSnapshot> snapshots) {
}
