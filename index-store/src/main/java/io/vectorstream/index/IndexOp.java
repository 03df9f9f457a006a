package io.vectorstream.index;

/** One change to a shard's index: an upsert (insert or replace) or a delete of an id. */
public sealed interface IndexOp permits IndexOp.Upsert, IndexOp.Delete {

    String id();

    /**
     * Insert {@code id}, or replace it if present.
     *
     * @param vector       exactly {@code dim} finite floats, as produced (not yet normalised)
     * @param metadataJson the event's metadata object as JSON text, or null
     */
    record Upsert(String id, float[] vector, String metadataJson) implements IndexOp {
    }

    /** Remove {@code id}; a no-op when it is not present. */
    record Delete(String id) implements IndexOp {
    }
}
