package io.vectorstream.api;

import java.util.Optional;

/**
 * Finds a stored vector by id. The process wiring implements it over its store; it may block
 * briefly (it is always called from the API's worker pool, never from an event loop).
 */
public interface VectorLookup {
    Optional<StoredVector> find(String id);
}
