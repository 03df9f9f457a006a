package io.vectorstream.index.ivf;

import io.vectorstream.kernels.Bf16;
import io.vectorstream.kernels.Bf16Blocks;

import java.util.Arrays;

/**
 * A trained list's compact scan copy: each vector's residual to its list centroid, rounded to bf16, in
 * the {@link Bf16Blocks} layout (half the bytes of the float vectors, which remain the truth). Queries
 * scan this copy and re-check their best candidates exactly ({@link Bf16RecheckScanner}); since IVF-Flat
 * search reads every probed vector from memory, half the bytes is most of the speed.
 *
 * <p>Residuals, not vectors: the rounding error scales with a vector's distance from its centroid
 * rather than from the origin, so data far from the origin lose no precision.
 *
 * <p>Like the list's float arrays, rows at or past a published size are the writer's: {@link #withRow}
 * writes there in place while capacity lasts and returns a new record (new error bound) every time.
 *
 * @param blocks  residuals rounded to bf16, {@link Bf16Blocks} layout, capacity rows
 * @param sqNorms squared norms of the rounded residuals
 * @param error   an upper bound on |vector - (centroid + rounded residual)| over the list's rows
 * @param radius  an upper bound on |rounded residual| over the list's rows
 */
public record ListScanCopy(int[] blocks, float[] sqNorms, float error, float radius) {

    /** Float rounding of {@code vector - centroid} moves each component by at most 2^-24 of it. */
    private static final double SUBTRACTION_ERROR = 0x1p-23;

    public static ListScanCopy empty(int capacityRows, int dim) {
        return new ListScanCopy(new int[Bf16Blocks.intsFor(capacityRows, dim)],
                new float[Bf16Blocks.paddedRows(capacityRows)], 0f, 0f);
    }

    /** Rows this copy can hold without growing. */
    public int capacityRows() {
        return sqNorms.length;
    }

    /**
     * This copy with room for at least {@code rows} (copies the arrays; existing rows keep their places), padded to
     * whole blocks. The caller passes its float arrays' capacity, so the two grow together, geometrically.
     */
    public ListScanCopy grownTo(int rows, int dim) {
        if (rows <= capacityRows()) return this;
        int target = Bf16Blocks.paddedRows(rows);
        return new ListScanCopy(Arrays.copyOf(blocks, Bf16Blocks.intsFor(target, dim)),
                Arrays.copyOf(sqNorms, target), error, radius);
    }

    /**
     * Writes row {@code row}: the residual of {@code v[off, off+dim)} to {@code centroid[cOff, cOff+dim)}.
     * Capacity must already suffice. One pass: each component is rounded once and written straight into its
     * block ({@link Bf16Blocks#put}'s layout and rounding).
     */
    public ListScanCopy withRow(int row, float[] v, int off, float[] centroid, int cOff, int dim) {
        double roundingSq = 0, residualSq = 0;
        float roundedSq = 0f; // summed in float in dimension order, exactly as Bf16Blocks.roundedSquaredNorm
        int at = Bf16Blocks.indexOf(row, 0, dim);
        for (int d = 0; d < dim; d += 2, at += Bf16Blocks.BLOCK) {
            float r0 = v[off + d] - centroid[cOff + d];
            int b0 = Bf16.fromFloat(r0);
            float q0 = Bf16.toFloat(b0);
            roundingSq += (double) (r0 - q0) * (r0 - q0);
            residualSq += (double) r0 * r0;
            roundedSq += q0 * q0;
            int b1 = 0;
            if (d + 1 < dim) {
                float r1 = v[off + d + 1] - centroid[cOff + d + 1];
                b1 = Bf16.fromFloat(r1);
                float q1 = Bf16.toFloat(b1);
                roundingSq += (double) (r1 - q1) * (r1 - q1);
                residualSq += (double) r1 * r1;
                roundedSq += q1 * q1;
            }
            blocks[at] = b0 | b1 << 16;
        }
        sqNorms[row] = roundedSq;
        // |x - (c + rounded)| <= |fl(x - c) - rounded| + |fl(x - c) - (x - c)|; 1.001 covers this double arithmetic
        float rowError = (float) ((Math.sqrt(roundingSq) + SUBTRACTION_ERROR * Math.sqrt(residualSq)) * 1.001);
        float rowRadius = (float) (Math.sqrt(roundedSq) * 1.001);
        return new ListScanCopy(blocks, sqNorms, Math.max(error, rowError), Math.max(radius, rowRadius));
    }

    /** Bytes held, including growth headroom. */
    public long bytes() {
        return (long) blocks.length * Integer.BYTES + (long) sqNorms.length * Float.BYTES;
    }
}
