package io.vectorstream.index.ivf;

import java.util.Arrays;

/**
 * One inverted list as a snapshot sees it: its first {@code size} vectors and their ordinals, plus, once the index is
 * trained and unless configured off, their bf16 {@link ListScanCopy} ({@code scan}, else null).
 *
 * <p>The vectors are stored in chunks of {@link #CHUNK_ROWS} rows ({@code dim} floats each, contiguous within a
 * chunk): row {@code r} is in {@link #chunkOf chunkOf(r)} at {@link #offsetOf offsetOf(r, dim)}. A list grows by adding
 * a chunk, never by copying its vectors: grown as one array, 1.5x at a time, a 1M backfill copied 1.9 GB of vectors,
 * garbage old enough to outlive young collections, and the lists carried ~20 % of unused capacity; now the slack is
 * under one chunk per list. The first chunk starts small and doubles up to a full chunk (a short list stays small):
 * that copy is bounded by one chunk.
 *
 * <p>The writer may append beyond {@code size} into the same chunks, but never changes anything below it, so a
 * published list is immutable to its readers; a list that gains a chunk gets a new chunk array (readers keep theirs).
 * Removal copies the list instead (see {@link IvfFlatIndex}).
 */
public record PostingList(float[][] chunks, int[] ordinals, int size, ListScanCopy scan) {

    static final int CHUNK_SHIFT = 6;
    /** Rows per chunk (a power of two: 32 KB of vectors at 128 dimensions). */
    public static final int CHUNK_ROWS = 1 << CHUNK_SHIFT;
    private static final int FIRST_CHUNK_ROWS = 8;

    public static final PostingList EMPTY = new PostingList(new float[0][], new int[0], 0, null);

    /** The array holding row {@code row}. */
    public float[] chunkOf(int row) {
        return chunks[row >>> CHUNK_SHIFT];
    }

    /** Where row {@code row} starts in {@link #chunkOf}, in floats. */
    public static int offsetOf(int row, int dim) {
        return (row & (CHUNK_ROWS - 1)) * dim;
    }

    /** How many rows from {@code row} on are contiguous in {@link #chunkOf(int) chunkOf(row)} (up to {@code size}). */
    public int contiguousRows(int row) {
        return Math.min(size - row, CHUNK_ROWS - (row & (CHUNK_ROWS - 1)));
    }

    /** Copies row {@code row} into {@code dst} at {@code at}. */
    public void copyRow(int row, float[] dst, int at, int dim) {
        System.arraycopy(chunkOf(row), offsetOf(row, dim), dst, at, dim);
    }

    /** Rows the chunks can hold. */
    static int capacityRows(float[][] chunks, int dim) {
        if (chunks.length == 0) return 0;
        return chunks.length == 1 ? chunks[0].length / dim : chunks.length * CHUNK_ROWS;
    }

    /**
     * Chunks that hold at least {@code rows} rows: {@code chunks} itself when they do, else a new chunk array with the
     * same chunks (the first one grown if it was short) and fresh ones after them. Rows already written keep their
     * places.
     */
    static float[][] withRoomFor(float[][] chunks, int rows, int dim) {
        if (rows <= capacityRows(chunks, dim)) return chunks;
        if (rows <= CHUNK_ROWS) { // one chunk, doubled until it is a full one
            int grown = Math.min(CHUNK_ROWS, Math.max(FIRST_CHUNK_ROWS, Integer.highestOneBit(rows - 1) << 1));
            return new float[][] {chunks.length == 0 ? new float[grown * dim] : Arrays.copyOf(chunks[0], grown * dim)};
        }
        float[][] out = Arrays.copyOf(chunks, (rows + CHUNK_ROWS - 1) >>> CHUNK_SHIFT);
        if (chunks.length > 0 && chunks[0].length < CHUNK_ROWS * dim) out[0] = Arrays.copyOf(chunks[0], CHUNK_ROWS * dim);
        for (int c = chunks.length; c < out.length; c++) out[c] = new float[CHUNK_ROWS * dim];
        return out;
    }

    /** The first {@code size} rows of {@code rows} (row-major, from row 0) as chunks. */
    public static float[][] chunked(float[] rows, int size, int dim) {
        float[][] chunks = withRoomFor(new float[0][], size, dim);
        for (int c = 0; c * CHUNK_ROWS < size; c++) {
            int from = c * CHUNK_ROWS;
            System.arraycopy(rows, from * dim, chunks[c], 0, Math.min(CHUNK_ROWS, size - from) * dim);
        }
        return chunks;
    }

    /** Bytes held by this list, including growth headroom and the scan copy. */
    public long bytes() {
        long floats = 0;
        for (float[] chunk : chunks) floats += chunk.length;
        return floats * Float.BYTES + (long) ordinals.length * Integer.BYTES + (scan == null ? 0 : scan.bytes());
    }
}
