package io.vectorstream.index.ivf;

/** Lists whose entries are stored as float vectors ({@code dim} floats each, contiguous per list): what {@link FlatScanner} reads. */
public interface FloatRows extends InvertedLists {

    /** The array holding {@code list}'s vectors, from {@link #rowsOffset(int)} (in floats) on. */
    float[] rows(int list);

    int rowsOffset(int list);
}
