package io.vectorstream.api;

/**
 * One validated search: what {@code POST /v1/search} and each entry of a batch ask for.
 *
 * @param vector          exactly {@code dim} finite floats
 * @param k               results wanted, in 1..{@link io.vectorstream.index.IndexSearcher#MAX_K}
 * @param nprobe          lists to scan per shard, or null for the index default
 * @param exact           scan every list
 * @param includeMetadata return each hit's metadata object
 * @param minOffsets      read-your-writes: partition to the next offset the answer's snapshot must have reached
 * @param filter          only vectors whose metadata this matches, or null for all
 * @param allowPartial    answer 200 without the partitions that cannot be searched now (listed in
 *                        {@code snapshot.missing}) instead of 503 {@code partitions_unavailable}
 * @param allowStale      a partition whose owner cannot answer may be answered by a standby copy (a shard kept
 *                        current from the topic by another instance, or this one, but perhaps behind): its offsets are
 *                        reported in {@code snapshot.offsets} and it is listed in {@code snapshot.stale};
 *                        {@code min_offsets} still holds on whichever copy answers
 * @param local           search this instance's shards only (how instances ask each other; never fans out)
 * @param timeoutMs       the answer's deadline in ms from arrival (null: the server's default; cut to its maximum)
 */
record SearchRequest(float[] vector, int k, Integer nprobe, boolean exact, boolean includeMetadata,
                     java.util.Map<Integer, Long> minOffsets, io.vectorstream.index.filter.Filter filter,
                     boolean allowPartial, boolean allowStale, boolean local, Integer timeoutMs) {
    static final int DEFAULT_K = 10;

    /** This search as another instance asked it: of this instance's shards only, never partial (the asker decides). */
    SearchRequest asLocal() {
        return new SearchRequest(vector, k, nprobe, exact, includeMetadata, minOffsets, filter, false, false, true, timeoutMs);
    }

    SearchRequest(float[] vector, int k, Integer nprobe, boolean exact, boolean includeMetadata) {
        this(vector, k, nprobe, exact, includeMetadata, java.util.Map.of(), null, false, false, false, null);
    }

    SearchRequest(float[] vector, int k, Integer nprobe, boolean exact, boolean includeMetadata,
                  java.util.Map<Integer, Long> minOffsets) {
        this(vector, k, nprobe, exact, includeMetadata, minOffsets, null, false, false, false, null);
    }
}
