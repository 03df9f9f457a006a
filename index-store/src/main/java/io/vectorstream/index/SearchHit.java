package io.vectorstream.index;

/**
 * One search result.
 *
 * @param id           the vector's id
 * @param distance     internal distance (smaller is better)
 * @param score        user-facing score: squared L2, inner product or cosine similarity
 * @param metadataJson the metadata JSON object stored with the vector, or null
 * @param partition    the shard (input partition) it came from
 */
public record SearchHit(String id, float distance, float score, String metadataJson, int partition) {
}
