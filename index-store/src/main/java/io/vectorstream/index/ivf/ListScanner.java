package io.vectorstream.index.ivf;

import io.vectorstream.kernels.TopK;

import java.util.function.IntPredicate;

/**
 * What an encoding contributes to one query of {@link IvfSearch} (FAISS's {@code InvertedListScanner}, with the
 * refine step): a distance for every entry of a probed list, then the refinement that turns those distances into
 * the answer. One instance serves one query on one thread.
 */
public interface ListScanner {

    /** How the scanned distances become the answer. */
    enum Refinement {
        /** The distances are exact: the scan's top k is the answer. */
        NONE,
        /** The best {@link #candidates(int)} by approximate distance are re-ranked exactly (IVF-PQ's refine). */
        RERANK,
        /**
         * The approximation error is bounded: every scanned entry whose distance is within that bound of the k-th best
         * is re-checked exactly (the bf16 scan copies). Needs every probed entry's distance.
         */
        RECHECK
    }

    Refinement refinement();

    /** Approximate candidates the scan keeps for an answer of {@code k} (k, or k times the re-rank factor). */
    int candidates(int k);

    /** Starts a query (already normalised for cosine). */
    void setQuery(float[] query);

    /**
     * Writes the distance of each of {@code list}'s entries to {@code out[pos..pos + listSize)}: +infinity for an
     * entry {@code accept} refuses (FAISS's {@code IDSelector}). Returns how many it accepted.
     *
     * @param coarseDistance the query's distance to the list's centroid (0 without a coarse quantizer)
     * @param nextList       the list scanned after this one, or -1: a scanner may prepare both at once
     * @param accept         which ordinals ({@code ordinals[from..]}, the list's) may be answered; null: all
     */
    int scanList(int list, float coarseDistance, int nextList, IntPredicate accept, int[] ordinals, int from,
                 float[] out, int pos);

    /**
     * For scanners that score a whole list at once (SIMD over blocked codes): sets the distance of every entry
     * {@code accept} refuses to +infinity afterwards; returns how many it accepted ({@code n} when it is null).
     */
    static int reject(IntPredicate accept, int[] ordinals, int from, float[] out, int pos, int n) {
        if (accept == null) return n;
        int accepted = 0;
        for (int r = 0; r < n; r++) {
            if (accept.test(ordinals[from + r])) accepted++;
            else out[pos + r] = Float.POSITIVE_INFINITY;
        }
        return accepted;
    }

    /**
     * Offers the exact distances of the answer's candidates to {@code top} (whose capacity is the query's k). Not
     * called when {@link #refinement()} is {@link Refinement#NONE}.
     *
     * @param candidates the best {@link #candidates(int)} entries by scanned distance (ordinals)
     * @param probed     every list scanned, in order, with the distances written for them
     */
    void refine(float[] query, TopK candidates, Probed probed, TopK top);

    /**
     * The lists one query scanned: {@code lists[0..count)} in scan order, their entries' distances one after another
     * in {@code distances[0..entries)}; an entry the query's filter refused has distance +infinity.
     */
    record Probed(int[] lists, int count, float[] distances, int entries) {
    }
}
