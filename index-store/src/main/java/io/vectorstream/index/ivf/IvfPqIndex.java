package io.vectorstream.index.ivf;

import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.quantizer.ProductQuantizer;
import io.vectorstream.index.quantizer.KMeans;

import java.util.Random;

/**
 * IVF-PQ (FAISS's {@code IndexIVFPQ} + {@code IndexRefineFlat}): a coarse quantizer, and per list the
 * PQ codes of the residuals (vector minus its list's centroid) with the vectors' ordinals. A query scans
 * its {@code nprobe} lists by ADC, keeps the best {@code k * refine}, and re-ranks those exactly from
 * a {@link VectorStore}. Immutable once built (the base of a shard); safe for any number of readers.
 *
 * <p>Memory: {@code m} code bytes + a 4-byte ordinal per vector, in two flat arrays sorted by list
 * (no object per vector; codes padded to blocks of 16 per list). The full vectors for re-rank are the
 * store's, not counted here.
 *
 * <p>For {@link Metric#COSINE} the caller normalises vectors and queries (as the shard does on ingest);
 * it is then inner product.
 */
public final class IvfPqIndex implements InvertedLists {

    /** Build parameters; k-means defaults match what the benchmark passes to FAISS. */
    public record Params(int nlist, int m, int coarseIterations, int coarsePointsPerCentroid,
                         int pqIterations, int pqPointsPerCentroid, long seed) {
        public static Params of(int nlist, int m) {
            return new Params(nlist, m, 10, 64, 25, 256, 42L);
        }
    }

    /** The trained quantizers: what compaction retrains, and what every build encodes with. */
    public record Trained(CoarseQuantizer coarse, ProductQuantizer pq) {
        /** The same quantizers computing with {@code kernels} (e.g. trained on a device, searched on the CPU). */
        public Trained on(VectorKernels kernels) {
            if (coarse.kernels() == kernels && pq.kernels() == kernels) return this;
            return new Trained(CoarseQuantizer.of(kernels, coarse.metric(), coarse.dim(), coarse.centroids()),
                    ProductQuantizer.of(kernels, pq.dim(), pq.m(), pq.codebooks()));
        }
    }

    private final VectorKernels kernels;
    private final Metric metric;
    private final int dim;
    private final CoarseQuantizer coarse;
    private final ProductQuantizer pq;
    private final int m;
    private final int[] listStart; // list l holds entries [listStart[l], listStart[l+1])
    private final long[] codeStart; // list l's codes start at byte codeStart[l] (a block boundary)
    private final byte[] codes;    // per list, blocks of 16 codes, sub-quantizer-major (VectorKernels.adcScanBlocked)
    private final int[] ordinals;  // entry i: the vector's ordinal (its key in the VectorStore)
    private final VectorStore store; // null: no re-rank possible
    // L2 only, optional (-Dvectorstream.pq.precomputedTable=true), FAISS's "precomputed table": term[list][j][c] = |y_jc|^2 + 2<centroid_list_j, y_jc>, so that a
    // list's table is term[list] - 2<q_j, y_jc> (one add per entry) instead of a fresh residual table.
    private final float[] term; // null: tables are computed from the residual per list

    /** Largest precomputed table built by default: FAISS's precomputed_table_max_bytes is 2 GiB. */
    public static final long DEFAULT_TABLE_BUDGET_BYTES = 1L << 30;

    private IvfPqIndex(VectorKernels kernels, Trained trained, int[] listStart, long[] codeStart, byte[] codes, int[] ordinals, VectorStore store) {
        this.kernels = kernels;
        this.coarse = trained.coarse();
        this.pq = trained.pq();
        this.metric = coarse.metric();
        this.dim = coarse.dim();
        this.m = pq.m();
        this.listStart = listStart;
        this.codeStart = codeStart;
        this.codes = codes;
        this.ordinals = ordinals;
        this.store = store;
        long tableBytes = (long) coarse.nlist() * m * VectorKernels.PQ_KSUB * Float.BYTES;
        // Off by default: measured at 1M x 128 (nlist 3968), streaming a list's 16-32 KiB slab of the table
        // from DRAM costs more per probe than computing the residual table in L1 (see bench/RESULTS.md).
        boolean wanted = Boolean.parseBoolean(System.getProperty("vectorstream.pq.precomputedTable", "false"));
        this.term = !wanted || metric.usesDot() || tableBytes > DEFAULT_TABLE_BUDGET_BYTES ? null : precompute(kernels, coarse, pq);
    }

    private static float[] precompute(VectorKernels kernels, CoarseQuantizer coarse, ProductQuantizer pq) {
        int nlist = coarse.nlist(), dim = coarse.dim(), m = pq.m(), dsub = pq.dsub(), ksub = VectorKernels.PQ_KSUB;
        float[] cb = pq.codebooks(); // [m][256][dsub]
        float[] norms = new float[m * ksub];
        kernels.squaredNorms(cb, m * ksub, dsub, norms);
        float[] term = new float[nlist * m * ksub];
        float[] c = coarse.centroidsShared();
        java.util.stream.IntStream.range(0, nlist).parallel().forEach(l -> {
            float[] negDot = new float[m * ksub];
            pq.lookupTable(Metric.IP, c, l * dim, negDot); // -<c_j, y_jc>
            int o = l * m * ksub;
            for (int i = 0; i < m * ksub; i++) term[o + i] = norms[i] - 2f * negDot[i];
        });
        return term;
    }

    /** Trains the coarse centroids, then the PQ on the residuals of a seeded sample. */
    public static Trained train(VectorKernels kernels, Metric metric, float[] data, int n, int dim, Params p) {
        CoarseQuantizer coarse = CoarseQuantizer.train(kernels, metric, data, n, dim, p.nlist(),
                p.coarseIterations(), p.coarsePointsPerCentroid(), p.seed());
        int rows = Math.min(n, VectorKernels.PQ_KSUB * p.pqPointsPerCentroid());
        float[] sample = new float[rows * dim];
        int[] pick = sampleIndices(n, rows, p.seed() + 1);
        for (int i = 0; i < rows; i++) System.arraycopy(data, pick[i] * dim, sample, i * dim, dim);
        int[] lists = new int[rows];
        coarse.assign(sample, rows, lists, null);
        subtractCentroids(coarse, sample, rows, lists, 0);
        ProductQuantizer pq = ProductQuantizer.train(kernels, sample, rows, dim, p.m(),
                new KMeans.Params(VectorKernels.PQ_KSUB, p.pqIterations(), p.pqPointsPerCentroid(), p.seed() + 2));
        return new Trained(coarse, pq);
    }

    /**
     * Encodes {@code n} vectors into a new index. Vector {@code i} gets ordinal {@code ordinals[i]}
     * ({@code i} when {@code ordinals} is null), which is also its key in {@code store} (null: no re-rank).
     * Assignment and encoding run on {@code trained}'s kernels (a device's, when compaction has one); the index
     * searches with {@code kernels}.
     */
    public static IvfPqIndex build(VectorKernels kernels, Trained trained, float[] data, int n, int[] ordinals, VectorStore store) {
        int[] lists = new int[n];
        byte[] flatCodes = new byte[n * trained.pq().m()];
        encode(trained, data, 0, n, lists, flatCodes, false);
        return fromCodes(kernels, trained, lists, flatCodes, n, ordinals, store);
    }

    /**
     * Assigns rows {@code [from, from + n)} of {@code data} to their lists and PQ-encodes their residuals, into
     * {@code lists[from ..]} and {@code flatCodes[from * m ..]} (the layout {@link #fromCodes} reads), on
     * {@code trained}'s kernels. With {@code assigned} the rows' lists are already in {@code lists} (rows of a hot index
     * on these centroids) and only the encoding is done. A merge encodes only the rows that are new to a base this way.
     */
    public static void encode(Trained trained, float[] data, int from, int n, int[] lists, byte[] flatCodes, boolean assigned) {
        CoarseQuantizer coarse = trained.coarse();
        int dim = coarse.dim(), m = trained.pq().m();
        final int chunk = 1 << 15; // rows in chunks: never a second n x dim copy
        float[] residuals = new float[Math.min(n, chunk) * dim];
        int[] chunkLists = new int[Math.min(n, chunk)];
        for (int r0 = 0; r0 < n; r0 += chunk) {
            int rn = Math.min(chunk, n - r0);
            System.arraycopy(data, (from + r0) * dim, residuals, 0, rn * dim);
            if (assigned) {
                System.arraycopy(lists, from + r0, chunkLists, 0, rn);
            } else {
                coarse.assign(residuals, rn, chunkLists, null);
                System.arraycopy(chunkLists, 0, lists, from + r0, rn);
            }
            subtractCentroids(coarse, residuals, rn, chunkLists, 0);
            trained.pq().encode(residuals, rn, flatCodes, (from + r0) * m);
        }
    }

    /**
     * The index of {@code n} vectors already assigned and encoded: vector {@code i} is in list {@code lists[i]} with
     * the {@code m} code bytes {@code flatCodes[i*m ..]} (what {@link #exportCodes} gives back), so a snapshot loads
     * without assigning or encoding anything again.
     *
     * @throws IllegalArgumentException when a list is out of range or the arrays are too short
     */
    public static IvfPqIndex fromCodes(VectorKernels kernels, Trained trained, int[] lists, byte[] flatCodes, int n,
                                       int[] ordinals, VectorStore store) {
        CoarseQuantizer coarse = trained.coarse();
        int m = trained.pq().m(), nlist = coarse.nlist();
        if (lists.length < n || flatCodes.length < (long) n * m) throw new IllegalArgumentException("fewer lists or codes than vectors");
        // counting sort by list: contiguous codes and ordinals per list
        int[] start = new int[nlist + 1];
        for (int i = 0; i < n; i++) {
            if (lists[i] < 0 || lists[i] >= nlist) throw new IllegalArgumentException("vector " + i + " in list " + lists[i] + " of " + nlist);
            start[lists[i] + 1]++;
        }
        for (int l = 0; l < nlist; l++) start[l + 1] += start[l];
        int[] fill = java.util.Arrays.copyOf(start, nlist);
        final int blk = VectorKernels.PQ_BLOCK;
        long[] codeStart = new long[nlist + 1];
        for (int l = 0; l < nlist; l++) {
            int size = start[l + 1] - start[l];
            codeStart[l + 1] = codeStart[l] + (long) ((size + blk - 1) / blk) * blk * m;
        }
        if (codeStart[nlist] > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many codes for one array");
        byte[] codes = new byte[(int) codeStart[nlist]];
        int[] ords = new int[n];
        for (int i = 0; i < n; i++) {
            int l = lists[i];
            int at = fill[l]++, r = at - start[l];
            int block = (int) codeStart[l] + (r / blk) * blk * m, lane = r % blk;
            for (int j = 0; j < m; j++) codes[block + j * blk + lane] = flatCodes[i * m + j];
            ords[at] = ordinals == null ? i : ordinals[i];
        }
        return new IvfPqIndex(kernels, trained.on(kernels), start, codeStart, codes, ords, store);
    }

    /**
     * Writes each vector's list and code bytes, by its ordinal, into {@code lists} and {@code flatCodes} (room for
     * {@link #size()} vectors; ordinals must be {@code 0 .. size()-1}, as in a base): the inverse of {@link #fromCodes}.
     */
    public void exportCodes(int[] lists, byte[] flatCodes) {
        final int blk = VectorKernels.PQ_BLOCK;
        for (int l = 0; l + 1 < listStart.length; l++) {
            for (int at = listStart[l]; at < listStart[l + 1]; at++) {
                int r = at - listStart[l], ordinal = ordinals[at];
                int block = (int) codeStart[l] + (r / blk) * blk * m, lane = r % blk;
                lists[ordinal] = l;
                for (int j = 0; j < m; j++) flatCodes[ordinal * m + j] = codes[block + j * blk + lane];
            }
        }
    }

    private static void subtractCentroids(CoarseQuantizer coarse, float[] rows, int n, int[] lists, int listOff) {
        int dim = coarse.dim();
        float[] c = coarse.centroidsShared();
        for (int i = 0; i < n; i++) {
            int co = lists[listOff + i] * dim, ro = i * dim;
            for (int d = 0; d < dim; d++) rows[ro + d] -= c[co + d];
        }
    }

    private static int[] sampleIndices(int n, int count, long seed) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        Random r = new Random(seed);
        for (int i = 0; i < count; i++) {
            int j = i + r.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return java.util.Arrays.copyOf(perm, count);
    }

    public int size() {
        return ordinals.length;
    }

    public int nlist() {
        return coarse.nlist();
    }

    public int m() {
        return m;
    }

    public Trained trained() {
        return new Trained(coarse, pq);
    }

    /** Bytes per vector held by this index: its code and its ordinal (the re-rank store is extra). */
    public double bytesPerVector() {
        return ordinals.length == 0 ? 0 : (double) (codes.length + 4L * ordinals.length + 12L * listStart.length) / ordinals.length;
    }

    /** Fixed bytes: coarse centroids, PQ codebooks and the precomputed L2 table (nlist x m x 256 floats). */
    public long overheadBytes() {
        return coarse.memoryBytes() + (long) dim * VectorKernels.PQ_KSUB * Float.BYTES + (term == null ? 0 : (long) term.length * Float.BYTES);
    }

    @Override
    public int listSize(int list) {
        return listStart[list + 1] - listStart[list];
    }

    @Override
    public int[] ordinals(int list) {
        return ordinals;
    }

    @Override
    public int ordinalsOffset(int list) {
        return listStart[list];
    }

    /**
     * The {@code k} nearest vectors to {@code query} by ADC over {@code nprobe} lists; with
     * {@code refine > 0} (and a store) the best {@code k * refine} by ADC are re-ranked by exact distance.
     * Writes ordinals and distances best first; returns how many (at most k).
     */
    public int search(float[] query, int k, int nprobe, int refine, int[] outOrdinals, float[] outDist) {
        return search(query, k, nprobe, refine, null, 0, outOrdinals, outDist);
    }

    /**
     * A filtered search: only ordinals that {@code accept} takes compete (null: all), and probing goes on past
     * {@code nprobe} lists, nearest centroid first, until at least {@code minAccepted} accepted entries were scanned
     * or every list was.
     */
    public int search(float[] query, int k, int nprobe, int refine, java.util.function.IntPredicate accept,
                      int minAccepted, int[] outOrdinals, float[] outDist) {
        TopK top = new TopK(k);
        IvfSearch.search(kernels, coarse, this, scanner(refine), query, nprobe, accept, minAccepted, top);
        return top.drainSorted(outOrdinals, outDist);
    }

    /** A scanner for one query: ADC over the PQ codes, re-ranked {@code refine}-fold from the store (0: not re-ranked). */
    public ListScanner scanner(int refine) {
        return new PqScanner(refine > 0 && store != null ? refine : 0);
    }

    /**
     * The PQ encoder's scanner (FAISS's IVF-PQ scanner + {@code IndexRefineFlat}): one look-up table per probed list
     * (for L2, of the residual to its centroid; two lists' tables in one pass over the codebooks), an ADC scan of the
     * list's blocked codes, and the best {@code k * refine} re-ranked by exact distance.
     */
    private final class PqScanner implements ListScanner {
        private final int refine;
        private final Scratch s = Scratch.get(coarse.nlist(), dim, m);
        private final boolean l2 = !metric.usesDot();
        private float[] query;
        private int tableReady = -1; // the list whose table the previous pair already wrote into s.lut2

        PqScanner(int refine) {
            this.refine = refine;
        }

        @Override
        public Refinement refinement() {
            return refine > 0 ? Refinement.RERANK : Refinement.NONE;
        }

        @Override
        public int candidates(int k) {
            return refine > 0 ? k * refine : k;
        }

        @Override
        public void setQuery(float[] query) {
            this.query = query;
            tableReady = -1;
            if (!l2 || term != null) pq.lookupTable(Metric.IP, query, 0, s.qy); // -q.y: the same for every list
        }

        @Override
        public int scanList(int list, float coarseDistance, int nextList, java.util.function.IntPredicate accept,
                            int[] ordinals, int from, float[] out, int pos) {
            float bias;
            float[] lut = s.lut;
            if (l2 && term != null) { // |q-c-y|^2 = |q-c|^2 + (|y|^2 + 2<c,y>) - 2<q,y>
                int tableSize = m * VectorKernels.PQ_KSUB, to = list * tableSize;
                for (int i = 0; i < tableSize; i++) s.lut[i] = term[to + i] + 2f * s.qy[i];
                bias = coarseDistance;
            } else if (l2) { // |q - c - y|^2 = |r - y|^2 with the residual r = q - c
                bias = 0f;
                if (list == tableReady) {
                    lut = s.lut2;
                    tableReady = -1;
                } else { // this list's table and the next one's, in one pass over the codebooks
                    coarse.residual(query, list, s.residual);
                    if (nextList >= 0) {
                        coarse.residual(query, nextList, s.residual2);
                        pq.lookupTablePair(metric, s.residual, s.residual2, s.lut, s.lut2);
                        tableReady = nextList;
                    } else {
                        pq.lookupTable(metric, s.residual, 0, s.lut);
                    }
                }
            } else {
                bias = coarseDistance; // -q.c
            }
            int n = listSize(list);
            kernels.adcScanBlocked(l2 ? lut : s.qy, m, codes, (int) codeStart[list], n, bias, out, pos);
            return ListScanner.reject(accept, ordinals, from, out, pos, n);
        }

        @Override
        public void refine(float[] query, TopK candidates, Probed probed, TopK top) {
            int kk = candidates.k();
            int got = candidates.drainSorted(s.candidates(kk), s.candidateDist(kk));
            float[] v = s.vector;
            FlatVectorStore flat = store instanceof FlatVectorStore f ? f : null;
            if (flat != null) CacheLineTouch.rows(flat.vectors(), s.candidates, got, dim);
            for (int i = 0; i < got; i++) {
                int o = s.candidates[i];
                float d;
                if (flat != null) {
                    d = kernels.distance(metric, query, 0, flat.vectors(), o * dim, dim);
                } else {
                    store.read(o, v, 0);
                    d = kernels.distance(metric, query, 0, v, 0, dim);
                }
                if (d < top.threshold()) top.offer(o, d);
            }
        }
    }

    /** Per-thread buffers: a query allocates nothing once warm. */
    private static final class Scratch {
        private static final ThreadLocal<Scratch> LOCAL = new ThreadLocal<>();
        float[] lut = new float[0];
        float[] lut2 = new float[0];
        float[] qy = new float[0];
        float[] residual = new float[0];
        float[] residual2 = new float[0];
        float[] vector = new float[0];
        int[] candidates = new int[0];
        float[] candDist = new float[0];

        static Scratch get(int nlist, int dim, int m) {
            Scratch s = LOCAL.get();
            if (s == null) LOCAL.set(s = new Scratch());
            if (s.lut.length < m * VectorKernels.PQ_KSUB) {
                s.lut = new float[m * VectorKernels.PQ_KSUB];
                s.lut2 = new float[m * VectorKernels.PQ_KSUB];
                s.qy = new float[m * VectorKernels.PQ_KSUB];
            }
            if (s.residual.length < dim) {
                s.residual = new float[dim];
                s.residual2 = new float[dim];
                s.vector = new float[dim];
            }
            return s;
        }

        int[] candidates(int n) {
            if (candidates.length < n) {
                candidates = new int[n];
                candDist = new float[n];
            }
            return candidates;
        }

        float[] candidateDist(int n) {
            return candDist;
        }
    }
}
