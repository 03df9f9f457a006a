package io.vectorstream.index;

import io.vectorstream.kernels.KMeans;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

/**
 * The coarse quantizer of an inverted-file index (FAISS's {@code quantizer}): {@code nlist} k-means
 * centroids, batched assignment of new vectors to their list, and the choice of the {@code nprobe}
 * lists a query scans. Immutable and thread-safe; shared by IVF-Flat and IVF-PQ.
 */
public final class CoarseQuantizer {
    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final int nlist;
    private final float[] centroids;
    private final float[] prepared; // the kernels' scan layout of the centroids (transposed blocks on SIMD)
    private final float[] sqNorms;

    private CoarseQuantizer(VectorKernels kernels, Metric metric, int dim, float[] centroids) {
        this.kernels = kernels;
        this.metric = metric;
        this.dim = dim;
        this.nlist = centroids.length / dim;
        this.centroids = centroids;
        this.prepared = kernels.prepareForScan(centroids, nlist, dim);
        this.sqNorms = new float[nlist];
        kernels.squaredNorms(centroids, nlist, dim, sqNorms);
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
    float[] centroidsShared() {
        return centroids;
    }

    public float[] centroids() {
        return centroids.clone();
    }

    /** The list of each of {@code n} vectors (and its distance to the centroid when {@code dist != null}), on all cores. */
    public void assign(float[] data, int n, int[] lists, float[] dist) {
        KMeans.assignParallel(kernels, metric, data, n, dim, centroids, nlist, lists, dist);
    }

    /**
     * The {@code nprobe} lists nearest the query, nearest first, into {@code outLists}; their distances
     * into {@code outDist}; returns how many ({@code min(nprobe, nlist)}). {@code scratch} needs nlist floats.
     */
    public int probe(float[] query, int nprobe, int[] outLists, float[] outDist, float[] scratch) {
        int p = Math.min(Math.max(1, nprobe), nlist);
        kernels.scanPrepared(metric, query, 0, prepared, sqNorms, nlist, dim, scratch);
        TopK nearest = new TopK(p);
        for (int c = 0; c < nlist; c++) {
            float d = scratch[c];
            if (d < nearest.threshold()) nearest.offer(c, d);
        }
        return nearest.drainSorted(outLists, outDist);
    }

    /** Bytes held (the centroids). */
    public long memoryBytes() {
        return (long) (centroids.length + prepared.length + sqNorms.length) * Float.BYTES;
    }
}
