package io.vectorstream.index.ivf;

/**
 * Vectors in one contiguous on-heap array, ordinal {@code i} at {@code vectors[i*dim ..]}: 4 bytes per
 * dimension, no per-vector object. The array is shared, not copied; callers must not change it.
 */
public record FlatVectorStore(float[] vectors, int dim) implements VectorStore {

    public FlatVectorStore {
        if (dim < 1 || vectors.length % dim != 0) throw new IllegalArgumentException("vectors must hold n x dim floats");
    }

    public int size() {
        return vectors.length / dim;
    }

    @Override
    public void read(int ordinal, float[] dst, int dstOff) {
        System.arraycopy(vectors, ordinal * dim, dst, dstOff, dim);
    }
}
