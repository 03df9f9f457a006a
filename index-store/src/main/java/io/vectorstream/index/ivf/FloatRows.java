package io.vectorstream.index.ivf;

/**
 * Lists whose entries are stored as float vectors ({@code dim} floats each), in runs of contiguous rows: what
 * {@link FlatScanner} reads. Row {@code r} of a list is at {@link #rowOffset} in {@link #rowArray}, and
 * {@link #contiguousRows} rows from it on follow it in the same array (the hot lists' chunks, or a whole list).
 */
public interface FloatRows extends InvertedLists {

    /** The array holding row {@code row} of {@code list}. */
    float[] rowArray(int list, int row);

    /** Where that row starts in {@link #rowArray}, in floats. */
    int rowOffset(int list, int row);

    /** How many rows of {@code list} from {@code row} on are contiguous in {@link #rowArray} (at least 1). */
    int contiguousRows(int list, int row);
}
