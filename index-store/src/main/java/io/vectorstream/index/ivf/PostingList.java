package io.vectorstream.index.ivf;

/**
 * One inverted list as a snapshot sees it: the first {@code size} vectors of {@code vectors}
 * (contiguous, {@code dim} floats each) and their ordinals, plus, once the index is trained and unless
 * configured off, their bf16 {@link ListScanCopy} ({@code scan}, else null). The writer may append
 * beyond {@code size} into the same arrays, but never changes anything below it, so a published list is
 * immutable to its readers. Removal copies the arrays instead (see {@link IvfFlatIndex}).
 */
public record PostingList(float[] vectors, int[] ordinals, int size, ListScanCopy scan) {

    public static final PostingList EMPTY = new PostingList(new float[0], new int[0], 0, null);

    /** Bytes held by this list, including growth headroom and the scan copy. */
    public long bytes() {
        return (long) vectors.length * Float.BYTES + (long) ordinals.length * Integer.BYTES
                + (scan == null ? 0 : scan.bytes());
    }
}
