package io.vectorstream.index.ivf;

import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;

import java.util.function.IntPredicate;

/**
 * The hot IVF-Flat lists scanned through their bf16 {@link ListScanCopy}s, with the same answer as scanning
 * their float vectors: the scan computes an approximate distance for every probed vector from the copy
 * (half the bytes); the refinement ({@link Refinement#RECHECK}) computes the exact distance of every vector
 * whose approximate distance is within the rounding bound of the k-th best, and only those compete for the
 * result. One instance serves one query on one thread.
 *
 * <p>The bound: a vector is within {@code error} (its list's {@link ListScanCopy#error()}) of the point
 * the copy describes, so in distance units its approximate and exact distances differ by at most
 * {@code error} (L2), or {@code |q| * error} in inner-product units; float arithmetic adds a relative
 * {@code dim * 2^-23} of the magnitudes involved. Whatever is the k-th best exactly, its approximate
 * distance is below the threshold computed here, and so is that of every vector that beats it.
 *
 * <p>A filtered query on a list where few entries pass ({@link #SPARSE}) scores only those, exactly, from their
 * float rows: a few rows of 8 cache lines each instead of the whole bf16 copy (64 KB for 256 entries of 128
 * dimensions). Exact distances have no rounding error, so the bound above still holds over a mix of such lists and
 * scanned ones; the refinement re-checks them like any other entry within the threshold.
 */
public final class Bf16RecheckScanner implements ListScanner {
    /** A list is scored sparsely when fewer than one entry in this many passes the query's filter. */
    static final int SPARSE = 4;

    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final CoarseQuantizer quantizer;
    private final HotLists lists;
    private final boolean l2;
    private float[] query, residual = new float[0];
    // the bound's inputs, grown as lists are scanned
    private double error, radius, centroidNorm, queryNorm;
    private long sparseLists;

    public Bf16RecheckScanner(VectorKernels kernels, Metric metric, int dim, CoarseQuantizer quantizer, HotLists lists) {
        this.kernels = kernels;
        this.metric = metric;
        this.dim = dim;
        this.quantizer = quantizer;
        this.lists = lists;
        this.l2 = !metric.usesDot();
    }

    @Override
    public Refinement refinement() {
        return Refinement.RECHECK;
    }

    @Override
    public int candidates(int k) {
        return k;
    }

    @Override
    public void setQuery(float[] query) {
        this.query = query;
        if (residual.length < dim) residual = new float[dim];
        error = 0;
        radius = 0;
        queryNorm = Math.sqrt(kernels.dot(query, 0, query, 0, dim));
        centroidNorm = l2 ? 0 : quantizer.maxCentroidNorm(); // L2: grows to the largest |q - c| below
    }

    @Override
    public int scanList(int c, float coarseDistance, int nextList, IntPredicate accept, int[] ordinals, int from,
                        float[] approx, int pos) {
        PostingList list = lists.list(c);
        int n = list.size();
        if (accept != null) {
            int passing = 0;
            for (int r = 0; r < n; r++) if (accept.test(ordinals[from + r])) passing++;
            if (passing * SPARSE < n) {
                sparseLists++;
                return scoreSparse(list, n, accept, ordinals, from, approx, pos, passing);
            }
        }
        ListScanCopy scan = list.scan();
        if (scan == null) { // not expected once trained; exact distances are a valid (error-free) copy
            for (int r = 0; r < n; ) {
                int run = list.contiguousRows(r);
                kernels.distances(metric, query, 0, list.chunkOf(r), PostingList.offsetOf(r, dim), run, dim, approx, pos + r);
                r += run;
            }
            return ListScanner.reject(accept, ordinals, from, approx, pos, n);
        }
        if (l2) {
            quantizer.residual(query, c, residual);
            // for L2 the bound needs the largest |q - c| of the probed lists
            centroidNorm = Math.max(centroidNorm, Math.sqrt(kernels.dot(residual, 0, residual, 0, dim)));
            kernels.scanBf16Blocks(metric, residual, 0, scan.blocks(), scan.sqNorms(), n, dim, approx, pos);
        } else { // -q.x = -q.c - q.residual
            kernels.scanBf16Blocks(metric, query, 0, scan.blocks(), scan.sqNorms(), n, dim, approx, pos);
            float bias = -kernels.dot(query, 0, quantizer.centroidsShared(), c * dim, dim);
            for (int i = pos; i < pos + n; i++) approx[i] += bias;
        }
        error = Math.max(error, scan.error());
        radius = Math.max(radius, scan.radius());
        return ListScanner.reject(accept, ordinals, from, approx, pos, n);
    }

    /** Lists this scanner scored sparsely (exact distances of the passing entries only), over its queries. */
    public long sparseLists() {
        return sparseLists;
    }

    /** Exact distances of the entries {@code accept} passes, +infinity elsewhere. */
    private int scoreSparse(PostingList list, int n, IntPredicate accept, int[] ordinals, int from, float[] out, int pos, int passing) {
        for (int r = 0; r < n; r++) {
            out[pos + r] = accept.test(ordinals[from + r])
                    ? kernels.distance(metric, query, 0, list.chunkOf(r), PostingList.offsetOf(r, dim), dim) : Float.POSITIVE_INFINITY;
        }
        return passing;
    }

    @Override
    public void refine(float[] query, TopK candidates, Probed probed, TopK top) {
        if (probed.entries() == 0) return;
        double threshold = threshold(candidates.threshold(), error, radius, centroidNorm, queryNorm);
        float[] approx = probed.distances();
        int pos = 0;
        for (int j = 0; j < probed.count(); j++) {
            PostingList list = lists.list(probed.lists()[j]);
            int n = list.size();
            for (int r = 0; r < n; r++) {
                float a = approx[pos + r];
                if (a <= threshold && a != Float.POSITIVE_INFINITY) { // +inf: refused by the query's filter
                    top.offer(list.ordinals()[r], kernels.distance(metric, query, 0, list.chunkOf(r), PostingList.offsetOf(r, dim), dim));
                }
            }
            pos += n;
        }
    }

    /**
     * The approximate distance below which a vector may be in the exact top k, given the k-th best
     * approximate distance {@code kth} (+infinity when fewer than k were scanned: re-check everything).
     * For L2, {@code centroidNorm} is the largest |q - c| of the probed lists; for inner products the
     * largest |c| of any list.
     */
    double threshold(double kth, double error, double radius, double centroidNorm, double queryNorm) {
        if (Double.isInfinite(kth)) return Double.POSITIVE_INFINITY;
        double gamma = dim * 0x1p-23; // relative error of a float sum of dim products, twice over
        if (!metric.usesDot()) {
            double arithmetic = gamma * (centroidNorm + radius) * (centroidNorm + radius); // squared units
            double delta = error + 0x1p-23 * centroidNorm; // distance units: the copy's error + rounding of q - c
            double kthExact = Math.pow(Math.sqrt(Math.max(0, kth) + arithmetic) + delta, 2) + 2 * arithmetic;
            // never below kth itself: with no error at all (lists without a copy are scored exactly) sqrt-then-square may round down
            return Math.max(kth, Math.pow(Math.sqrt(kthExact) + delta, 2) + arithmetic);
        }
        double bound = queryNorm * error + 2 * gamma * queryNorm * (centroidNorm + radius + error);
        return kth + 4 * bound;
    }
}
