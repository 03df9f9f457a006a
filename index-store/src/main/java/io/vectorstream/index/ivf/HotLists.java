package io.vectorstream.index.ivf;

/**
 * The hot IVF-Flat layer's lists as one snapshot sees them: copy-on-write {@link PostingList}s (float vectors, and
 * their bf16 scan copies once trained). Immutable to readers; see {@link PostingList} for why no lock is needed.
 */
public final class HotLists implements FloatRows {
    private final PostingList[] lists;

    public HotLists(PostingList[] lists) {
        this.lists = lists;
    }

    public PostingList list(int list) {
        return lists[list];
    }

    @Override
    public int nlist() {
        return lists.length;
    }

    @Override
    public int listSize(int list) {
        return lists[list].size();
    }

    @Override
    public int[] ordinals(int list) {
        return lists[list].ordinals();
    }

    @Override
    public int ordinalsOffset(int list) {
        return 0;
    }

    @Override
    public float[] rows(int list) {
        return lists[list].vectors();
    }

    @Override
    public int rowsOffset(int list) {
        return 0;
    }
}
