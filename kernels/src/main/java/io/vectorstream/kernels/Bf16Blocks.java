package io.vectorstream.kernels;

/**
 * The one layout of bf16 copies that {@link VectorKernels#scanBf16Blocks} reads: vectors in transposed
 * blocks of {@link #BLOCK}. Within a block, for each dimension pair {@code p} there is one row of
 * {@code BLOCK} ints, one per vector, holding dimension {@code 2p} in its low half and {@code 2p+1}
 * (zero past {@code dim}) in its high half ({@link Bf16#pack}). A row of ints is a row of SIMD lanes, so
 * the scan broadcasts one query value per dimension and needs no lane reductions.
 *
 * <p>The layout is fixed (not backend-specific) so that a writer can append one vector at a time: row
 * {@code i} lives in block {@code i / BLOCK}, column {@code i % BLOCK}, and never moves when the array
 * grows. Writing a new row touches no other row, so published rows stay valid for concurrent readers.
 */
public final class Bf16Blocks {
    /** Vectors per block: four 16-lane registers on AVX-512, eight 8-lane ones on AVX2. */
    public static final int BLOCK = 64;

    private Bf16Blocks() {
    }

    /** Ints per vector: one per pair of dimensions. */
    public static int pairs(int dim) {
        return (dim + 1) / 2;
    }

    /** Rows rounded up to whole blocks. */
    public static int paddedRows(int rows) {
        return (rows + BLOCK - 1) / BLOCK * BLOCK;
    }

    /** The length of an array holding {@code rows} vectors. */
    public static int intsFor(int rows, int dim) {
        return paddedRows(rows) * pairs(dim);
    }

    /** Index of the int holding dimension pair {@code p} of vector {@code row}. */
    public static int indexOf(int row, int p, int dim) {
        return (row / BLOCK) * pairs(dim) * BLOCK + p * BLOCK + row % BLOCK;
    }

    /** Writes {@code v[off, off+dim)}, rounded to bf16, as vector {@code row} of {@code blocks}. */
    public static void put(int[] blocks, int row, float[] v, int off, int dim) {
        int pairs = pairs(dim);
        int base = indexOf(row, 0, dim);
        for (int p = 0; p < pairs; p++) {
            int d = 2 * p;
            blocks[base + p * BLOCK] = Bf16.pack(v[off + d], d + 1 < dim ? v[off + d + 1] : 0f);
        }
    }

    /** Dimension {@code d} of vector {@code row}, as stored (rounded). */
    public static float get(int[] blocks, int row, int d, int dim) {
        int packed = blocks[indexOf(row, d / 2, dim)];
        return Bf16.toFloat((d & 1) == 0 ? packed & 0xffff : packed >>> 16);
    }

    /** {@code nb} row-major vectors as a new blocked copy. */
    public static int[] of(float[] vectors, int nb, int dim) {
        int[] blocks = new int[intsFor(nb, dim)];
        for (int i = 0; i < nb; i++) put(blocks, i, vectors, i * dim, dim);
        return blocks;
    }

    /** Squared norm of {@code v[off, off+dim)} after rounding to bf16 (what the scan needs for L2). */
    public static float roundedSquaredNorm(float[] v, int off, int dim) {
        float s = 0f;
        for (int d = 0; d < dim; d++) {
            float r = Bf16.toFloat(Bf16.fromFloat(v[off + d]));
            s += r * r;
        }
        return s;
    }

    /** {@link #roundedSquaredNorm} of each of {@code nb} row-major vectors. */
    public static void roundedSquaredNorms(float[] vectors, int nb, int dim, float[] out) {
        for (int i = 0; i < nb; i++) out[i] = roundedSquaredNorm(vectors, i * dim, dim);
    }
}
