package io.vectorstream.index.ivf;


/**
 * A {@link FlatVectorStore} seen as inverted lists of consecutive rows (ordinal = row), so that an exact search of a
 * layer's full vectors runs through {@link IvfSearch} without a quantizer: one loop for approximate and exact.
 */
public final class ExhaustiveLists implements FloatRows {
    /** Rows per list: a few hundred KiB of vectors, and their distances stay in L1/L2. */
    static final int ROWS_PER_LIST = 4096;
    private static volatile int[] identity = new int[0];

    private final FlatVectorStore store;
    private final int[] ordinals;

    public ExhaustiveLists(FlatVectorStore store) {
        this.store = store;
        this.ordinals = identity(store.size());
    }

    /** 0, 1, 2, ... (at least {@code n} of them), shared by every exhaustive view. */
    private static int[] identity(int n) {
        int[] ids = identity;
        if (ids.length >= n) return ids;
        ids = new int[Math.max(n, ids.length + (ids.length >> 1))];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        identity = ids;
        return ids;
    }

    @Override
    public int nlist() {
        return (store.size() + ROWS_PER_LIST - 1) / ROWS_PER_LIST;
    }

    @Override
    public int listSize(int list) {
        return Math.min(ROWS_PER_LIST, store.size() - list * ROWS_PER_LIST);
    }

    @Override
    public int[] ordinals(int list) {
        return ordinals;
    }

    @Override
    public int ordinalsOffset(int list) {
        return list * ROWS_PER_LIST;
    }

    @Override
    public float[] rowArray(int list, int row) {
        return store.vectors();
    }

    @Override
    public int rowOffset(int list, int row) {
        return (list * ROWS_PER_LIST + row) * store.dim();
    }

    @Override
    public int contiguousRows(int list, int row) {
        return listSize(list) - row;
    }
}
