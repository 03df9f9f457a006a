package io.vectorstream.index.ivf;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;

import java.util.function.IntPredicate;

/** The float encoder's scanner (FAISS's IVF-Flat): exact distances from the stored vectors, nothing to refine. */
public final class FlatScanner implements ListScanner {
    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final FloatRows rows;
    private float[] query;

    public FlatScanner(VectorKernels kernels, Metric metric, int dim, FloatRows rows) {
        this.kernels = kernels;
        this.metric = metric;
        this.dim = dim;
        this.rows = rows;
    }

    @Override
    public Refinement refinement() {
        return Refinement.NONE;
    }

    @Override
    public int candidates(int k) {
        return k;
    }

    @Override
    public void setQuery(float[] query) {
        this.query = query;
    }

    @Override
    public int scanList(int list, float coarseDistance, int nextList, IntPredicate accept, int[] ordinals, int from,
                        float[] out, int pos) {
        int n = rows.listSize(list);
        if (accept == null) {
            for (int r = 0; r < n; ) { // one kernel call per contiguous run of rows
                int run = rows.contiguousRows(list, r);
                kernels.distances(metric, query, 0, rows.rowArray(list, r), rows.rowOffset(list, r), run, dim, out, pos + r);
                r += run;
            }
            return n;
        }
        int accepted = 0; // test first: a refused entry's vector is never read
        for (int r = 0; r < n; r++) {
            if (accept.test(ordinals[from + r])) {
                accepted++;
                out[pos + r] = kernels.distance(metric, query, 0, rows.rowArray(list, r), rows.rowOffset(list, r), dim);
            } else {
                out[pos + r] = Float.POSITIVE_INFINITY;
            }
        }
        return accepted;
    }

    @Override
    public void refine(float[] query, TopK candidates, Probed probed, TopK top) {
        // IvfSearch never calls it: the scan's distances are exact (Refinement.NONE) and its top k is the answer
        throw new IllegalStateException("refine called on a scanner whose distances are exact");
    }
}
