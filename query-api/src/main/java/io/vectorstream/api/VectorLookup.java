package io.vectorstream.api;

import java.util.Optional;
import java.util.Set;

/**
 * Finds a stored vector by id. The process wiring implements it over its store; it may block
 * briefly (it is always called from the API's worker pool, never from an event loop).
 */
public interface VectorLookup {
    Optional<StoredVector> find(String id);

    /**
     * The vector, if this instance's searchable shards hold it, and which partitions of the topic they are:
     * {@code searched} were looked in, {@code missing} could not be (restoring here, or another instance's). An id
     * found in none of {@code searched} is absent only if {@code missing} is empty.
     */
    default Lookup lookup(String id) {
        return new Lookup(find(id), Set.of(), Set.of());
    }

    record Lookup(Optional<StoredVector> vector, Set<Integer> searched, Set<Integer> missing) {
    }
}
