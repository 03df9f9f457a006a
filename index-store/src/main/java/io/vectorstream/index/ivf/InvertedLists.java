package io.vectorstream.index.ivf;

/**
 * The read side of an inverted file (FAISS's {@code InvertedLists}): {@code nlist} lists, each a run of entries
 * with an ordinal (the entry's key in its layer's id and metadata tables). How an entry's vector is encoded is the
 * business of the {@link ListScanner} that reads it: the hot layer's copy-on-write {@link HotLists}, the base's
 * packed {@link IvfPqIndex} lists and the exhaustive view {@link ExhaustiveLists} all serve the one search loop,
 * {@link IvfSearch}.
 */
public interface InvertedLists {

    int nlist();

    /** Entries in {@code list}. */
    int listSize(int list);

    /** The array holding {@code list}'s ordinals, from {@link #ordinalsOffset(int)} on. */
    int[] ordinals(int list);

    int ordinalsOffset(int list);
}
