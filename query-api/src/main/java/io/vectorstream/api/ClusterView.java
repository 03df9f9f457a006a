package io.vectorstream.api;

import java.util.Map;

/**
 * Where each partition of the topic can be searched now: here, at another instance of the application, or nowhere
 * (rebalancing, restoring, its owner gone). The server implements it from Kafka Streams' instance metadata; the API
 * uses it to fan a search out and to say which partitions an answer lacks.
 */
public interface ClusterView {

    /** Every partition of the topic and its owner. */
    Map<Integer, Owner> owners();

    /** Per partition, the base URLs of the instances that keep a standby copy of its shard. */
    default Map<Integer, java.util.List<String>> standbys() {
        return Map.of();
    }

    /** This instance's base URL, as the others reach it. */
    default String self() {
        return null;
    }

    /** A partition's owner. */
    sealed interface Owner {
        /** This instance holds the partition's searchable (active, restored) shard. */
        record Local() implements Owner {
        }

        /** Another instance, answering at {@code baseUrl} (e.g. {@code http://10.0.0.7:8080}). */
        record Remote(String baseUrl) implements Owner {
        }

        /** Nobody can answer for it now, and why. */
        record Unavailable(String reason) implements Owner {
        }
    }
}
