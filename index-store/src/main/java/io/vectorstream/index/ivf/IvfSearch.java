package io.vectorstream.index.ivf;

import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;

import java.util.Arrays;
import java.util.function.IntPredicate;

/**
 * The one inverted-file search loop (FAISS's {@code IndexIVF::search}): probe → scan → top-k → refine. Every layer
 * searches through it: the hot IVF-Flat lists (bf16 copies re-checked, or floats), the base's IVF-PQ lists
 * (re-ranked), and exhaustive scans (no quantizer: every list in order). What differs is the lists and the
 * {@link ListScanner}; filters, tombstones and widening the probe are handled here, once.
 *
 * <p>Filtered (an {@code accept} predicate): entries it refuses get distance +infinity, so they neither enter the
 * top k nor are refined. With {@code minAccepted > 0} probing goes on past {@code nprobe} lists, nearest centroid
 * first, until that many accepted entries were scanned or every list was: never fewer than min(k, accepted) results.
 */
public final class IvfSearch {
    private IvfSearch() {
    }

    /**
     * Offers the {@code top.k()} nearest accepted entries of {@code lists} to {@code top}.
     *
     * @param quantizer   chooses the lists to probe; null scans every list, in order (an exhaustive search)
     * @param nprobe      lists always probed (all of them without a quantizer)
     * @param accept      which ordinals may be answered; null: all
     * @param minAccepted probe past {@code nprobe} lists until this many accepted entries were scanned (0: never)
     */
    public static void search(VectorKernels kernels, CoarseQuantizer quantizer, InvertedLists lists, ListScanner scanner,
                              float[] query, int nprobe, IntPredicate accept, int minAccepted, TopK top) {
        int nlist = lists.nlist();
        if (nlist == 0) return;
        Scratch s = Scratch.get();
        boolean widen = accept != null && minAccepted > 0 && quantizer != null;
        int minProbes = quantizer == null ? nlist : Math.min(Math.max(1, nprobe), nlist);
        // Widening orders twice the lists the probe needs first (ordering every centroid costs more than the scan);
        // all of them only if those run out before enough entries were accepted.
        int ordered = widen ? Math.min(nlist, 2 * minProbes) : minProbes;
        int[] order = s.order(nlist);
        float[] coarse = s.coarse(nlist);
        ordered = probe(quantizer, query, ordered, order, coarse, s, nlist);
        scanner.setQuery(query);
        ListScanner.Refinement refinement = scanner.refinement();
        TopK candidates = refinement == ListScanner.Refinement.NONE ? top : s.candidates(scanner.candidates(top.k()));
        boolean keepAll = refinement == ListScanner.Refinement.RECHECK; // else one list's distances at a time
        int[] probed = s.probed(nlist);
        float[] dist = s.distances;
        int probes = 0, visited = 0, pos = 0;
        long accepted = 0;
        boolean[] seen = null; // lists scanned before the probe was extended to every list
        for (int j = 0; ; j++) {
            if (j == ordered) {
                if (!widen || accepted >= minAccepted || ordered == nlist) break;
                seen = s.seen(nlist);
                for (int i = 0; i < ordered; i++) seen[order[i]] = true;
                ordered = probe(quantizer, query, nlist, order, coarse, s, nlist);
                j = 0;
            }
            if (visited >= minProbes && (!widen || accepted >= minAccepted)) break;
            int list = order[j];
            if (seen != null && seen[list]) continue;
            visited++;
            int n = lists.listSize(list);
            if (n == 0) continue;
            if (dist.length < pos + n) dist = s.grow(pos + n, keepAll ? pos : 0);
            int[] ordinals = lists.ordinals(list);
            int from = lists.ordinalsOffset(list);
            accepted += scanner.scanList(list, coarse[j], next(lists, order, j + 1, ordered, seen), accept, ordinals, from, dist, pos);
            kernels.offerAll(candidates, dist, pos, ordinals, from, n);
            probed[probes++] = list;
            if (keepAll) pos += n;
        }
        if (refinement != ListScanner.Refinement.NONE) {
            scanner.refine(query, candidates, new ListScanner.Probed(probed, probes, dist, pos), top);
        }
    }

    /** Orders the {@code count} lists nearest the query (every list in order without a quantizer); returns how many. */
    private static int probe(CoarseQuantizer quantizer, float[] query, int count, int[] order, float[] coarse, Scratch s, int nlist) {
        if (quantizer == null) {
            for (int i = 0; i < nlist; i++) order[i] = i;
            Arrays.fill(coarse, 0, nlist, 0f);
            return nlist;
        }
        return quantizer.probe(query, count, order, coarse, s.centroidDistances(nlist));
    }

    /** The next non-empty list the loop will scan after position {@code from}, or -1. */
    private static int next(InvertedLists lists, int[] order, int from, int ordered, boolean[] seen) {
        for (int j = from; j < ordered; j++) {
            int list = order[j];
            if ((seen == null || !seen[list]) && lists.listSize(list) > 0) return list;
        }
        return -1;
    }

    /** Per-thread buffers: a query allocates almost nothing once warm. */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> LOCAL = ThreadLocal.withInitial(Scratch::new);
        int[] order = new int[0];
        float[] coarse = new float[0];
        float[] centroidDistances = new float[0];
        int[] probed = new int[0];
        boolean[] seen = new boolean[0];
        float[] distances = new float[1024];
        private TopK candidates;

        static Scratch get() {
            return LOCAL.get();
        }

        int[] order(int nlist) {
            if (order.length < nlist) order = new int[nlist];
            return order;
        }

        float[] coarse(int nlist) {
            if (coarse.length < nlist) coarse = new float[nlist];
            return coarse;
        }

        float[] centroidDistances(int nlist) {
            if (centroidDistances.length < nlist) centroidDistances = new float[nlist];
            return centroidDistances;
        }

        int[] probed(int nlist) {
            if (probed.length < nlist) probed = new int[nlist];
            return probed;
        }

        boolean[] seen(int nlist) {
            if (seen.length < nlist) seen = new boolean[nlist];
            else Arrays.fill(seen, 0, nlist, false);
            return seen;
        }

        /** A larger distance buffer keeping its first {@code keep} entries. */
        float[] grow(int n, int keep) {
            float[] bigger = new float[Math.max(n, distances.length * 2)];
            System.arraycopy(distances, 0, bigger, 0, keep);
            return distances = bigger;
        }

        TopK candidates(int k) {
            if (candidates == null || candidates.k() != k) candidates = new TopK(k);
            candidates.reset();
            return candidates;
        }
    }
}
