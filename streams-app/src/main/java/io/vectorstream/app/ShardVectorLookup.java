package io.vectorstream.app;

import io.vectorstream.api.StoredVector;
import io.vectorstream.api.VectorLookup;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;

import io.vectorstream.api.ApiError;

import java.util.ArrayList;
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
        List<ShardSnapshot> snapshots = registry.snapshots();
        for (ShardSnapshot s : snapshots) {
            ShardSnapshot.Found f = s.find(id);
            if (f != null) return Optional.of(new StoredVector(id, f.vector(), f.metadata()));
        }
        if (snapshots.size() < topicPartitions) { // "not found" would be a guess: the id may be in a missing one
            Set<Integer> have = new TreeSet<>();
            for (ShardSnapshot s : snapshots) have.add(s.partition());
            List<Integer> missing = new ArrayList<>();
            for (int p = 0; p < topicPartitions; p++) if (!have.contains(p)) missing.add(p);
            throw new ApiError(503, "partitions_unavailable", "partitions not searchable on this instance (restoring or "
                    + "owned elsewhere): " + missing);
        }
        return Optional.empty();
    }
}
