package io.vectorstream.index.ivf;

import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.IntPredicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one search loop on its own: which lists it scans (never one twice, exactly nprobe unfiltered, widened past
 * the first ordering when a filter's matches are rare), and that an exhaustive scan is exact search.
 */
class IvfSearchTest {
    private static final int DIM = 16, N = 6000, NLIST = 64;
    private static final VectorKernels KERNELS = Kernels.cpu();

    private final float[] data = blobs(new Random(5), N, DIM);
    private final CoarseQuantizer quantizer = CoarseQuantizer.train(KERNELS, Metric.L2, data, N, DIM, NLIST, 8, 64, 1L);
    private final HotLists lists = bucketed();

    @Test
    void unfilteredSearchScansExactlyNprobeDistinctListsNearestFirst() {
        float[] q = Arrays.copyOfRange(data, 17 * DIM, 18 * DIM);
        Recording scanner = new Recording(new FlatScanner(KERNELS, Metric.L2, DIM, lists));
        TopK top = new TopK(10);
        IvfSearch.search(KERNELS, quantizer, lists, scanner, q, 5, null, 0, top);
        int[] order = new int[5];
        quantizer.probe(q, 5, order, new float[5], new float[NLIST]);
        List<Integer> nonEmpty = new ArrayList<>();
        for (int l : order) if (lists.listSize(l) > 0) nonEmpty.add(l);
        assertThat(scanner.scanned).containsExactlyElementsOf(nonEmpty);
        assertThat(top.size()).isEqualTo(10);
    }

    @Test
    void aRareFilterWidensPastTheFirstOrderingUntilEveryMatchIsFoundAndNoListTwice() {
        Random random = new Random(3);
        Set<Integer> matching = new HashSet<>();
        while (matching.size() < 12) matching.add(random.nextInt(N)); // scattered over the lists
        IntPredicate accept = matching::contains;
        float[] q = Arrays.copyOfRange(data, 40 * DIM, 41 * DIM);
        Recording scanner = new Recording(new FlatScanner(KERNELS, Metric.L2, DIM, lists));
        TopK top = new TopK(10);
        IvfSearch.search(KERNELS, quantizer, lists, scanner, q, 1, accept, 10, top);
        assertThat(new HashSet<>(scanner.scanned)).as("no list scanned twice").hasSize(scanner.scanned.size());
        assertThat(scanner.scanned.size()).as("widened past 2 x nprobe lists").isGreaterThan(2);
        assertThat(top.size()).as("never fewer than min(k, matching)").isEqualTo(10);
        // the answer is exactly the filtered exact top 10 of the lists scanned: every id returned matches
        int[] ids = new int[10];
        top.drainSorted(ids, new float[10]);
        for (int id : ids) assertThat(matching).contains(id);
    }

    @Test
    void anExhaustiveScanOfAFlatStoreIsExactFilteredSearch() {
        FlatVectorStore store = new FlatVectorStore(data, DIM);
        ExhaustiveLists all = new ExhaustiveLists(store);
        assertThat(all.nlist()).isEqualTo((N + ExhaustiveLists.ROWS_PER_LIST - 1) / ExhaustiveLists.ROWS_PER_LIST);
        IntPredicate even = o -> o % 2 == 0;
        float[] q = Arrays.copyOfRange(data, 99 * DIM, 100 * DIM);
        TopK top = new TopK(20);
        IvfSearch.search(KERNELS, null, all, new FlatScanner(KERNELS, Metric.L2, DIM, all), q, 0, even, 0, top);
        int[] got = new int[20];
        float[] dist = new float[20];
        assertThat(top.drainSorted(got, dist)).isEqualTo(20);
        TopK truth = new TopK(20);
        for (int i = 0; i < N; i += 2) truth.offer(i, KERNELS.distance(Metric.L2, q, 0, data, i * DIM, DIM));
        int[] want = new int[20];
        truth.drainSorted(want, new float[20]);
        assertThat(got).containsExactly(want);
    }

    @Test
    void theBf16ScanWithItsReCheckAnswersAsTheFloatScanForDenseAndSparseFilters() {
        HotLists withCopies = withScanCopies(lists);
        Random random = new Random(9);
        for (int every : new int[]{1, 2, 50}) { // no filter, half, 2 % (the probe widens past nprobe)
            IntPredicate accept = every == 1 ? null : o -> Math.floorMod(o * 2654435761L, every) == 0;
            long sparse = 0;
            for (int i = 0; i < 50; i++) {
                int row = random.nextInt(N);
                float[] q = Arrays.copyOfRange(data, row * DIM, (row + 1) * DIM);
                for (int d = 0; d < DIM; d++) q[d] += (float) random.nextGaussian() * 0.3f;
                TopK floats = new TopK(10), bf16 = new TopK(10);
                IvfSearch.search(KERNELS, quantizer, lists, new FlatScanner(KERNELS, Metric.L2, DIM, lists), q, 4, accept, 10, floats);
                Bf16RecheckScanner scanner = new Bf16RecheckScanner(KERNELS, Metric.L2, DIM, quantizer, withCopies);
                IvfSearch.search(KERNELS, quantizer, withCopies, scanner, q, 4, accept, 10, bf16);
                sparse += scanner.sparseLists();
                float[] want = new float[10], got = new float[10];
                int nWant = floats.drainSorted(new int[10], want), nGot = bf16.drainSorted(new int[10], got);
                assertThat(nGot).as("filter 1/%d, query %d", every, i).isEqualTo(nWant);
                for (int r = 0; r < nWant; r++) {
                    assertThat(got[r]).as("rank %d, filter 1/%d, query %d", r, every, i)
                            .isCloseTo(want[r], org.assertj.core.data.Offset.offset(1e-4f * Math.max(1f, Math.abs(want[r]))));
                }
            }
            // a 2 % filter scores its lists sparsely (exact rows of the matches), no filter never does (with half
            // passing, a short list may by chance)
            if (every == 50) assertThat(sparse).as("lists scored sparsely, filter 1/50").isPositive();
            if (every == 1) assertThat(sparse).as("lists scored sparsely without a filter").isZero();
        }
    }

    /** The same lists with their bf16 residual copies. */
    private HotLists withScanCopies(HotLists plain) {
        PostingList[] out = new PostingList[plain.nlist()];
        float[] centroids = quantizer.centroidsShared();
        for (int l = 0; l < plain.nlist(); l++) {
            PostingList p = plain.list(l);
            ListScanCopy copy = ListScanCopy.empty(Math.max(1, p.size()), DIM);
            for (int r = 0; r < p.size(); r++) {
                copy = copy.withRow(r, p.chunkOf(r), PostingList.offsetOf(r, DIM), centroids, l * DIM, DIM);
            }
            out[l] = new PostingList(p.chunks(), p.ordinals(), p.size(), copy);
        }
        return new HotLists(out, DIM);
    }

    /** A scanner that records the lists it was asked to scan. */
    private static final class Recording implements ListScanner {
        final ListScanner inner;
        final List<Integer> scanned = new ArrayList<>();

        Recording(ListScanner inner) {
            this.inner = inner;
        }

        @Override
        public Refinement refinement() {
            return inner.refinement();
        }

        @Override
        public int candidates(int k) {
            return inner.candidates(k);
        }

        @Override
        public void setQuery(float[] query) {
            inner.setQuery(query);
        }

        @Override
        public int scanList(int list, float coarseDistance, int nextList, IntPredicate accept, int[] ordinals, int from, float[] out, int pos) {
            scanned.add(list);
            return inner.scanList(list, coarseDistance, nextList, accept, ordinals, from, out, pos);
        }

        @Override
        public void refine(float[] query, TopK candidates, Probed probed, TopK top) {
            inner.refine(query, candidates, probed, top);
        }
    }

    private HotLists bucketed() {
        int[] target = new int[N];
        quantizer.assign(data, N, target, null);
        PostingList[] out = new PostingList[NLIST];
        for (int l = 0; l < NLIST; l++) {
            int size = 0;
            for (int t : target) if (t == l) size++;
            float[] v = new float[size * DIM];
            int[] ords = new int[size];
            int w = 0;
            for (int i = 0; i < N; i++) {
                if (target[i] != l) continue;
                System.arraycopy(data, i * DIM, v, w * DIM, DIM);
                ords[w++] = i;
            }
            out[l] = new PostingList(PostingList.chunked(v, size, DIM), ords, size, null);
        }
        return new HotLists(out, DIM);
    }

    private static float[] blobs(Random r, int n, int dim) {
        float[][] centres = new float[30][dim];
        for (float[] c : centres) for (int d = 0; d < dim; d++) c[d] = (float) r.nextGaussian() * 4;
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            float[] c = centres[r.nextInt(centres.length)];
            for (int d = 0; d < dim; d++) v[i * dim + d] = c[d] + (float) r.nextGaussian();
        }
        return v;
    }
}
