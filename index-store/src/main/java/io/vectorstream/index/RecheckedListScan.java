package io.vectorstream.index;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

/**
 * IVF-Flat search over the probed lists' bf16 {@link ListScanCopy}s, with the same answer as scanning
 * their float vectors: pass 1 computes an approximate distance for every probed vector from the copy
 * (half the bytes); pass 2 computes the exact distance of every vector whose approximate distance is
 * within the rounding bound of the k-th best, and only those compete for the result. Used by one
 * query on one thread; buffers come from the caller.
 *
 * <p>The bound: a vector is within {@code error} (its list's {@link ListScanCopy#error()}) of the point
 * the copy describes, so in distance units its approximate and exact distances differ by at most
 * {@code error} (L2), or {@code |q| * error} in inner-product units; float arithmetic adds a relative
 * {@code dim * 2^-23} of the magnitudes involved. Whatever is the k-th best exactly, its approximate
 * distance is below the threshold computed here, and so is that of every vector that beats it.
 */
final class RecheckedListScan {
    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final CoarseQuantizer quantizer;

    RecheckedListScan(VectorKernels kernels, Metric metric, int dim, CoarseQuantizer quantizer) {
        this.kernels = kernels;
        this.metric = metric;
        this.dim = dim;
        this.quantizer = quantizer;
    }

    /**
     * Offers the exact distances of the candidates among {@code lists[order[0..probes)]} to {@code top}
     * (whose capacity is the k of the query). A list without a scan copy is scanned exactly.
     *
     * @param approx   scratch for one approximate distance per probed vector
     * @param residual scratch of {@code dim} floats
     */
    void search(float[] query, PostingList[] lists, int[] order, int probes, TopK top, float[] approx, float[] residual) {
        search(query, lists, order, probes, probes, 0, null, top, approx, residual);
    }

    /**
     * As {@link #search(float[], PostingList[], int[], int, TopK, float[], float[])}, for a filtered query: only
     * ordinals that {@code accept} takes compete, and probing goes on past {@code minProbes} lists (up to
     * {@code maxProbes}) until {@code minAccepted} accepted vectors were scanned. Returns the lists probed.
     *
     * @param approx scratch for one approximate distance per vector of the first {@code maxProbes} lists
     */
    int search(float[] query, PostingList[] lists, int[] order, int minProbes, int maxProbes, int minAccepted,
               java.util.function.IntPredicate accept, TopK top, float[] approx, float[] residual) {
        int probes = maxProbes;
        int accepted = 0;
        boolean l2 = !metric.usesDot();
        TopK approxTop = new TopK(top.k());
        double error = 0, radius = 0, queryNorm = Math.sqrt(kernels.dot(query, 0, query, 0, dim));
        double centroidNorm = l2 ? 0 : quantizer.maxCentroidNorm(); // L2: grows to the largest |q - c| below
        int pos = 0;
        for (int j = 0; j < probes; j++) {
            if (accept != null && j >= minProbes && accepted >= minAccepted) {
                probes = j; // enough accepted vectors seen: the lists after this one are not probed
                break;
            }
            int c = order[j];
            PostingList list = lists[c];
            int n = list.size();
            if (n == 0) continue;
            ListScanCopy scan = list.scan();
            if (scan == null) { // not expected once trained; exact distances are a valid (error-free) copy
                kernels.distances(metric, query, 0, list.vectors(), 0, n, dim, approx, pos);
                if (accept != null) accepted += reject(accept, list.ordinals(), approx, pos, n);
                kernels.offerAll(approxTop, approx, pos, list.ordinals(), 0, n);
                pos += n;
                continue;
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
            if (accept != null) accepted += reject(accept, list.ordinals(), approx, pos, n);
            kernels.offerAll(approxTop, approx, pos, list.ordinals(), 0, n);
            error = Math.max(error, scan.error());
            radius = Math.max(radius, scan.radius());
            pos += n;
        }
        if (pos == 0) return probes;
        double threshold = threshold(approxTop.threshold(), error, radius, centroidNorm, queryNorm);
        pos = 0;
        for (int j = 0; j < probes; j++) {
            PostingList list = lists[order[j]];
            int n = list.size();
            for (int r = 0; r < n; r++) {
                float a = approx[pos + r];
                if (a <= threshold && (accept == null || a != Float.POSITIVE_INFINITY)) { // +inf: refused by accept
                    top.offer(list.ordinals()[r], kernels.distance(metric, query, 0, list.vectors(), r * dim, dim));
                }
            }
            pos += n;
        }
        return probes;
    }

    /**
     * Sets the approximate distance of every vector that {@code accept} refuses to +infinity (so it neither enters
     * the approximate top k nor is re-checked); returns how many were accepted.
     */
    private static int reject(java.util.function.IntPredicate accept, int[] ordinals, float[] approx, int pos, int n) {
        int accepted = 0;
        for (int r = 0; r < n; r++) {
            if (accept.test(ordinals[r])) accepted++;
            else approx[pos + r] = Float.POSITIVE_INFINITY;
        }
        return accepted;
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
            return Math.pow(Math.sqrt(kthExact) + delta, 2) + arithmetic;
        }
        double bound = queryNorm * error + 2 * gamma * queryNorm * (centroidNorm + radius + error);
        return kth + 4 * bound;
    }
}
