package io.vectorstream.index.ivf;

/**
 * The hot IVF-Flat layer's lists as one snapshot sees them: copy-on-write {@link PostingList}s (float vectors in
 * chunks, and their bf16 scan copies once trained). Immutable to readers; see {@link PostingList} for why no lock is needed.
 */
public final class HotLists implements FloatRows {
    private final PostingList[] lists;
    private final int dim;

    public HotLists(PostingList[] lists, int dim) {
        this.lists = lists;
        this.dim = dim;
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
    public float[] rowArray(int list, int row) {
        return lists[list].chunkOf(row);
    }

    @Override
    public int rowOffset(int list, int row) {
        return PostingList.offsetOf(row, dim);
    }

    @Override
    public int contiguousRows(int list, int row) {
        return lists[list].contiguousRows(row);
    }
}
