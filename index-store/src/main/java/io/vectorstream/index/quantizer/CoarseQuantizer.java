package io.vectorstream.index.quantizer;

import io.vectorstream.kernels.Bf16Blocks;
import io.vectorstream.kernels.Bf16;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.PreparedVectors;
import io.vectorstream.kernels.VectorKernels;

/**
 * The coarse quantizer of an inverted-file index (FAISS's {@code quantizer}): {@code nlist} k-means
 * centroids, batched assignment of new vectors to their list, and the choice of the {@code nprobe}
 * lists a query scans. Immutable and thread-safe; shared by IVF-Flat and IVF-PQ.
 *
 * <p>Choosing lists reads every centroid for every query (2 MiB at nlist 4096 x 128), so it scans a bf16
 * copy of the centroids: half the bytes, centred on their mean so that the rounding error scales with the
 * spread of the centroids rather than their offset from the origin. The chosen lists' distances are then
 * computed exactly from the float centroids (IVF-PQ uses them as the base of its look-up tables).
 */
public final class CoarseQuantizer {
    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final int nlist;
    private final float[] centroids;
    private final float[] mean;          // of the centroids: the bf16 copy is of (centroid - mean)
    private final int[] bf16Blocks;      // (centroid - mean) rounded to bf16, in the scan layout
    private final float[] bf16SqNorms;   // squared norms of the rounded, centred centroids
    private final float maxCentredNorm;  // max |centroid - mean|: bounds the rounding error
    private final float maxCentroidNorm; // max |centroid|
    private final PreparedVectors prepared; // the centroids as the kernels' assignment reads them, laid out once

    private CoarseQuantizer(VectorKernels kernels, Metric metric, int dim, float[] centroids) {
        this.kernels = kernels;
        this.metric = metric;
        this.dim = dim;
        this.nlist = centroids.length / dim;
        this.centroids = centroids;
        this.mean = new float[dim];
        for (int c = 0; c < nlist; c++) for (int d = 0; d < dim; d++) mean[d] += centroids[c * dim + d];
        for (int d = 0; d < dim; d++) mean[d] /= nlist;
        float[] centred = new float[nlist * dim];
        float maxCentred = 0f;
        for (int c = 0; c < nlist; c++) {
            float sq = 0f;
            for (int d = 0; d < dim; d++) {
                float x = centroids[c * dim + d] - mean[d];
                centred[c * dim + d] = x;
                sq += x * x;
            }
            maxCentred = Math.max(maxCentred, (float) Math.sqrt(sq));
        }
        this.maxCentredNorm = maxCentred;
        float maxNorm = 0f;
        for (int c = 0; c < nlist; c++) maxNorm = Math.max(maxNorm, (float) Math.sqrt(kernels.dot(centroids, c * dim, centroids, c * dim, dim)));
        this.maxCentroidNorm = maxNorm * 1.0001f;
        this.bf16Blocks = Bf16Blocks.of(centred, nlist, dim);
        this.bf16SqNorms = new float[nlist];
        Bf16Blocks.roundedSquaredNorms(centred, nlist, dim, bf16SqNorms);
        this.prepared = kernels.prepare(metric, centroids, nlist, dim);
    }

    /** Existing centroids ({@code nlist * dim} floats), e.g. read back from a snapshot. */
    public static CoarseQuantizer of(VectorKernels kernels, Metric metric, int dim, float[] centroids) {
        if (centroids.length == 0 || centroids.length % dim != 0) throw new IllegalArgumentException("centroids must be nlist x dim floats");
        return new CoarseQuantizer(kernels, metric, dim, centroids.clone());
    }

    /**
     * k-means (squared L2, as FAISS trains every IVF) on a seeded sample of at most
     * {@code nlist * maxPointsPerCentroid} of the {@code n} vectors.
     */
    public static CoarseQuantizer train(VectorKernels kernels, Metric metric, float[] data, int n, int dim,
                                        int nlist, int iterations, int maxPointsPerCentroid, long seed) {
        KMeans.Result r = new KMeans(kernels).train(data, n, dim, new KMeans.Params(nlist, iterations, maxPointsPerCentroid, seed));
        return new CoarseQuantizer(kernels, metric, dim, r.centroids());
    }

    /** The kernels this quantizer computes with. */
    public VectorKernels kernels() {
        return kernels;
    }

    public int nlist() {
        return nlist;
    }

    public int dim() {
        return dim;
    }

    public Metric metric() {
        return metric;
    }

    /** Centroid {@code list} is {@code centroids()[list*dim .. +dim)}; the array is shared, do not modify. */
    public float[] centroidsShared() {
        return centroids;
    }

    public float[] centroids() {
        return centroids.clone();
    }

    /** The list of each of {@code n} vectors (and its distance to the centroid when {@code dist != null}), on all cores. */
    public void assign(float[] data, int n, int[] lists, float[] dist) {
        KMeans.assignParallel(kernels, prepared, data, n, lists, dist);
    }

    /**
     * The {@code nprobe} lists nearest the query by their bf16-rounded centroids, nearest first by exact
     * distance, into {@code outLists}; their exact distances into {@code outDist}; returns how many
     * ({@code min(nprobe, nlist)}). {@code scratch} needs nlist floats.
     *
     * <p>Rounding can swap only near-ties at the edge of the choice: every list chosen is within
     * {@link #roundingRadius()} (in L2 norm units; for inner products, times |query|) of the exact
     * {@code nprobe}-th nearest. IVF search is approximate anyway; recall is what is measured.
     */
    public int probe(float[] query, int nprobe, int[] outLists, float[] outDist, float[] scratch) {
        int p = Math.min(Math.max(1, nprobe), nlist);
        ProbeScratch mine = ProbeScratch.get(dim, nlist, p);
        float[] q = query;
        if (!metric.usesDot()) { // L2 is translation-invariant: centre the query like the centroids
            q = mine.centred;
            for (int d = 0; d < dim; d++) q[d] = query[d] - mean[d];
        }
        kernels.scanBf16Blocks(metric, q, 0, bf16Blocks, bf16SqNorms, nlist, dim, scratch, 0);
        int n = nearest(scratch, p, mine);
        TopK exact = mine.top(p);
        for (int i = 0; i < n; i++) {
            int c = mine.chosen[i];
            exact.offer(c, kernels.distance(metric, query, 0, centroids, c * dim, dim));
        }
        return exact.drainSorted(outLists, outDist);
    }

    /** {@code out = x - centroid(list)}: the residual IVF-PQ encodes and the bf16 list copies store. */
    public void residual(float[] x, int list, float[] out) {
        int co = list * dim;
        for (int d = 0; d < dim; d++) out[d] = x[d] - centroids[co + d];
    }

    /** The largest centroid norm (bounds float error in inner products with centroids). */
    public float maxCentroidNorm() {
        return maxCentroidNorm;
    }

    /** How far (L2 norm units) a rounded centroid may be from its float original. */
    public float roundingRadius() {
        return Bf16.RELATIVE_ERROR * maxCentredNorm;
    }

    /**
     * Indices of the {@code p} smallest of {@code dist[0..nlist)}. A heap over every entry mispredicts a
     * branch per insertion; instead the p-th smallest of every 8th entry bounds the answer from above,
     * a branch-free pass keeps only entries under that bound (about 8p), and the heap sees just those.
     */
    private int nearest(float[] dist, int p, ProbeScratch mine) {
        float bound = Float.POSITIVE_INFINITY;
        if (nlist >= 16L * p) {
            TopK sample = mine.top(p);
            for (int c = 0; c < nlist; c += 8) sample.offer(c, dist[c]);
            bound = sample.threshold();
        }
        int[] survivors = mine.survivors;
        int n = 0;
        for (int c = 0; c < nlist; c++) {
            survivors[n] = c;
            n += dist[c] <= bound ? 1 : 0;
        }
        TopK top = mine.top(p);
        for (int i = 0; i < n; i++) {
            int c = survivors[i];
            if (dist[c] < top.threshold()) top.offer(c, dist[c]);
        }
        return top.drainSorted(mine.chosen, mine.chosenDist);
    }

    /** Per-thread buffers, so that choosing lists allocates nothing (queries run at tens of thousands per second). */
    private static final class ProbeScratch {
        private static final ThreadLocal<ProbeScratch> LOCAL = ThreadLocal.withInitial(ProbeScratch::new);
        float[] centred = new float[0];
        int[] survivors = new int[0];
        int[] chosen = new int[0];
        float[] chosenDist = new float[0];
        private TopK top;

        static ProbeScratch get(int dim, int nlist, int p) {
            ProbeScratch s = LOCAL.get();
            if (s.centred.length < dim) s.centred = new float[dim];
            if (s.survivors.length < nlist) s.survivors = new int[nlist];
            if (s.chosen.length < p) {
                s.chosen = new int[p];
                s.chosenDist = new float[p];
            }
            return s;
        }

        /** An empty heap of capacity p (one object, reused: each use drains it before the next). */
        TopK top(int p) {
            if (top == null || top.k() != p) top = new TopK(p);
            top.reset();
            return top;
        }
    }

    /** Bytes held (the centroids). */
    public long memoryBytes() {
        return (long) (centroids.length + mean.length + bf16SqNorms.length + bf16Blocks.length) * Float.BYTES;
    }
}
