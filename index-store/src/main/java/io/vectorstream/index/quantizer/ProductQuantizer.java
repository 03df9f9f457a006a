package io.vectorstream.index.quantizer;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import java.util.stream.IntStream;

/**
 * A product quantizer: the vector is cut into {@code m} sub-vectors of {@code dsub = dim / m} floats and
 * each is replaced by the nearest of {@link VectorKernels#PQ_KSUB} centroids of its own k-means, so a
 * vector becomes {@code m} bytes. Distances to a query come from a look-up table (ADC). Immutable.
 * This is only the encoder; what is encoded (raw vectors or IVF residuals) is the index's business.
 */
public final class ProductQuantizer {
    private static final int KSUB = VectorKernels.PQ_KSUB;
    private static final int CHUNK = 4096;

    private final VectorKernels kernels;
    private final int dim;
    private final int m;
    private final int dsub;
    private final float[] codebooks;  // [m][256][dsub]: for encoding (nearest centroid per sub-vector)
    private final float[] codebooksT; // [m][dsub][256]: for the look-up tables (lanes over centroids)

    private ProductQuantizer(VectorKernels kernels, int dim, int m, float[] codebooks) {
        this.kernels = kernels;
        this.dim = dim;
        this.m = m;
        this.dsub = dim / m;
        this.codebooks = codebooks;
        this.codebooksT = new float[codebooks.length];
        for (int j = 0; j < m; j++) {
            int base = j * KSUB * dsub;
            for (int c = 0; c < KSUB; c++) {
                for (int t = 0; t < dsub; t++) codebooksT[base + t * KSUB + c] = codebooks[base + c * dsub + t];
            }
        }
    }

    /** A quantizer from existing codebooks ({@code [m][256][dsub]}), e.g. read from a snapshot file. */
    public static ProductQuantizer of(VectorKernels kernels, int dim, int m, float[] codebooks) {
        check(dim, m);
        if (codebooks.length != dim * KSUB) throw new IllegalArgumentException("codebooks must hold 256 x dim floats");
        return new ProductQuantizer(kernels, dim, m, codebooks.clone());
    }

    /**
     * Trains the {@code m} sub-quantizers on {@code n} vectors. {@code params.k()} is ignored (always 256);
     * iterations, sample size per centroid and seed come from {@code params} (sub-quantizer j uses seed + j).
     */
    public static ProductQuantizer train(VectorKernels kernels, float[] data, int n, int dim, int m, KMeans.Params params) {
        check(dim, m);
        if (n < 1) throw new IllegalArgumentException("PQ training needs at least one vector");
        int dsub = dim / m;
        // The same seeded sample for every sub-space, so that sub-vectors are extracted only once.
        int max = KSUB * params.maxPointsPerCentroid();
        int rows = Math.min(n, max);
        int[] pick = n <= max ? null : KMeans.distinctIndices(n, rows, new java.util.Random(params.seed()));
        float[] codebooks = new float[dim * KSUB];
        KMeans kmeans = new KMeans(kernels);
        float[] sub = new float[rows * dsub];
        for (int j = 0; j < m; j++) {
            for (int i = 0; i < rows; i++) {
                int src = (pick == null ? i : pick[i]) * dim + j * dsub;
                System.arraycopy(data, src, sub, i * dsub, dsub);
            }
            KMeans.Result r = kmeans.train(sub, rows, dsub,
                    new KMeans.Params(KSUB, params.iterations(), params.maxPointsPerCentroid(), params.seed() + j));
            float[] cb = r.centroids();
            int base = j * KSUB * dsub;
            for (int c = 0; c < KSUB; c++) { // fewer vectors than 256: repeat centroids so every code decodes
                System.arraycopy(cb, (c % r.k()) * dsub, codebooks, base + c * dsub, dsub);
            }
        }
        return new ProductQuantizer(kernels, dim, m, codebooks);
    }

    private static void check(int dim, int m) {
        if (m < 1 || dim % m != 0) throw new IllegalArgumentException("m must divide dim (" + dim + "), was " + m);
    }

    /** The kernels this quantizer computes with. */
    public VectorKernels kernels() {
        return kernels;
    }

    public int dim() {
        return dim;
    }

    /** Bytes per code: one per sub-quantizer. */
    public int m() {
        return m;
    }

    public int dsub() {
        return dsub;
    }

    /** The codebooks, {@code [m][256][dsub]} (a copy). */
    public float[] codebooks() {
        return codebooks.clone();
    }

    /** Encodes {@code n} vectors into {@code out[outOff ..]} ({@code n * m} bytes), on all cores. */
    public void encode(float[] data, int n, byte[] out, int outOff) {
        int chunks = (n + CHUNK - 1) / CHUNK;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            int r0 = c * CHUNK, rn = Math.min(CHUNK, n - r0);
            float[] sub = new float[rn * dsub];
            float[] cb = new float[KSUB * dsub];
            int[] idx = new int[rn];
            for (int j = 0; j < m; j++) {
                for (int i = 0; i < rn; i++) System.arraycopy(data, (r0 + i) * dim + j * dsub, sub, i * dsub, dsub);
                System.arraycopy(codebooks, j * KSUB * dsub, cb, 0, KSUB * dsub);
                kernels.nearest(Metric.L2, sub, rn, cb, KSUB, dsub, idx, null);
                for (int i = 0; i < rn; i++) out[outOff + (r0 + i) * m + j] = (byte) idx[i];
            }
        });
    }

    public byte[] encode(float[] data, int n) {
        byte[] out = new byte[n * m];
        encode(data, n, out, 0);
        return out;
    }

    /** The reconstruction of one code into {@code out[outOff .. outOff+dim)}. */
    public void decode(byte[] codes, int codeOff, float[] out, int outOff) {
        for (int j = 0; j < m; j++) {
            int c = codes[codeOff + j] & 0xff;
            System.arraycopy(codebooks, (j * KSUB + c) * dsub, out, outOff + j * dsub, dsub);
        }
    }

    /** The ADC table of {@code query} ({@code m * 256} floats) under {@code metric}, see {@link VectorKernels#adcTable}. */
    public void lookupTable(Metric metric, float[] query, int queryOff, float[] lut) {
        kernels.adcTable(metric, query, queryOff, codebooksT, m, dsub, lut);
    }

    /** {@link #lookupTable} for two queries at once (bit-identical; cheaper on backends that fuse them). */
    public void lookupTablePair(Metric metric, float[] query0, float[] query1, float[] lut0, float[] lut1) {
        kernels.adcTablePair(metric, query0, 0, query1, 0, codebooksT, m, dsub, lut0, lut1);
    }

    /** Mean squared reconstruction error over {@code n} vectors (a quality figure for status and tests). */
    public double meanSquaredError(float[] data, int n) {
        byte[] codes = encode(data, n);
        float[] rec = new float[dim];
        double total = 0;
        for (int i = 0; i < n; i++) {
            decode(codes, i * m, rec, 0);
            total += kernels.l2Squared(data, i * dim, rec, 0, dim);
        }
        return total / Math.max(1, n);
    }

    @Override
    public String toString() {
        return "PQ" + m + "x8(dim=" + dim + ")";
    }
}
