package io.vectorstream.index;

/**
 * One inverted list as a snapshot sees it: the first {@code size} vectors of {@code vectors}
 * (contiguous, {@code dim} floats each) and their ordinals. The writer may append beyond
 * {@code size} into the same arrays, but never changes anything below it, so a published list is
 * immutable to its readers. Removal copies the arrays instead (see {@link IvfFlatIndex}).
 */
record PostingList(float[] vectors, int[] ordinals, int size) {

    static final PostingList EMPTY = new PostingList(new float[0], new int[0], 0);
}
