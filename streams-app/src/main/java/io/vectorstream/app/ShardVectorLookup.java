package io.vectorstream.app;

import io.vectorstream.api.ApiError;
import io.vectorstream.api.StoredVector;
import io.vectorstream.api.VectorLookup;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;

import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Get-by-id over the searchable shards' current snapshots: the same view a search has (vectors as stored, so
 * normalised for cosine), with no second copy of the vectors to read from.
 */
final class ShardVectorLookup implements VectorLookup {
    private final ShardRegistry registry;
    private final int topicPartitions;

    ShardVectorLookup(ShardRegistry registry, int topicPartitions) {
        this.registry = registry;
        this.topicPartitions = topicPartitions;
    }

    /** @throws ApiError 503 when the id is not found and some partition is not searchable here (restoring, elsewhere) */
    @Override
    public Optional<StoredVector> find(String id) {
        Lookup found = lookup(id);
        if (found.vector().isEmpty() && !found.missing().isEmpty()) { // "not found" would be a guess: the id may be in a missing one
            throw new ApiError(503, "partitions_unavailable", "partitions not searchable on this instance (restoring or "
                    + "owned elsewhere): " + found.missing());
        }
        return found.vector();
    }

    @Override
    public Lookup lookup(String id) {
        List<ShardSnapshot> snapshots = registry.snapshots(); // one list: what was searched is what is reported
        Set<Integer> searched = new TreeSet<>();
        for (ShardSnapshot s : snapshots) searched.add(s.partition());
        Set<Integer> missing = new TreeSet<>();
        for (int p = 0; p < topicPartitions; p++) if (!searched.contains(p)) missing.add(p);
        for (ShardSnapshot s : snapshots) {
            ShardSnapshot.Found f = s.find(id);
            if (f != null) return new Lookup(Optional.of(new StoredVector(id, f.vector(), f.metadata())), searched, missing);
        }
        return new Lookup(Optional.empty(), searched, missing);
    }
}
