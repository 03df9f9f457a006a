package io.vectorstream.kernels;

/**
 * {@code count} vectors ({@code dim} floats each, row-major in {@code vectors}) laid out once by
 * {@link VectorKernels#prepare} for many {@link VectorKernels#nearest(PreparedVectors, float[], int, int[], float[])}
 * calls: a quantizer's centroids, which every ingest batch is assigned against. Re-laying out 2,000 centroids for a
 * batch of ten vectors cost more than the batch's own distances. Immutable; {@code layout} is the backend's own
 * (null: none, the plain rows are used).
 */
public record PreparedVectors(Metric metric, float[] vectors, int count, int dim, Object layout) {
}
