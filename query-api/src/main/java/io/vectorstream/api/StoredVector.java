package io.vectorstream.api;

/**
 * A vector as stored, served by {@code GET /v1/vectors/{id}}.
 *
 * @param id           the vector's id
 * @param vector       the floats as produced
 * @param metadataJson the metadata JSON object as text, or null
 */
public record StoredVector(String id, float[] vector, String metadataJson) {
}
