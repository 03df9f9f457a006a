package io.vectorstream.index.ivf;

/**
 * Full-precision vectors by ordinal: what an IVF-PQ index re-ranks its candidates against. The index
 * holds only codes; where the full vectors live (heap, off-heap, RocksDB) is the store's business.
 */
public interface VectorStore {

    int dim();

    /** Copies vector {@code ordinal} into {@code dst[dstOff .. dstOff+dim)}. */
    void read(int ordinal, float[] dst, int dstOff);

    /** Bytes this store holds per vector (for memory reports). */
    default long bytesPerVector() {
        return (long) dim() * Float.BYTES;
    }
}
