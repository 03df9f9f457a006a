package io.vectorstream.index.device;

import io.vectorstream.kernels.cuda.Reference;
import io.vectorstream.kernels.cuda.DeviceOutOfMemoryException;
import io.vectorstream.kernels.cuda.CudaDevice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The device-resident IVF lists against CPU answers, under the emulated driver. */
@Tag("cuda-emulated")
class CudaIvfListsEmulatedTest {
    private static CudaDevice device;

    @BeforeAll
    static void open() {
        device = CudaDevice.open(0);
    }

    @AfterAll
    static void close() {
        assertThat(Reference.liveAllocations(device)).isZero();
        device.close();
    }

    private static Map<Integer, float[]> asMap(int[] ids, float[] v, int dim) {
        Map<Integer, float[]> m = new HashMap<>();
        for (int i = 0; i < ids.length; i++) m.put(ids[i], Arrays.copyOfRange(v, i * dim, (i + 1) * dim));
        return m;
    }

    private static int[] range(int from, int n) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = from + i;
        return ids;
    }

    @Test
    void exactSearchReturnsTheSameIdsAsBruteForce() {
        Random r = new Random(10);
        int dim = 24, n = 1500, nq = 20, k = 10;
        for (Metric m : new Metric[] {Metric.L2, Metric.IP}) {
            float[] v = Reference.randomVectors(r, n, dim);
            int[] ids = range(100, n);
            float[] centroid = new float[dim];
            try (CudaIvfLists lists = CudaIvfLists.create(device, m, dim, centroid, 1)) {
                lists.add(ids, v, n);
                float[] q = Reference.randomVectors(r, nq, dim);
                CudaIvfLists.SearchResult res = lists.search(q, nq, k, 1);
                Map<Integer, float[]> live = asMap(ids, v, dim);
                for (int qi = 0; qi < nq; qi++) {
                    int[] want = Reference.topK(m, q, qi * dim, live, dim, k, null);
                    assertThat(Arrays.copyOfRange(res.ids(), qi * k, qi * k + k)).as("%s query %d", m, qi).containsExactly(want);
                    float d0 = Reference.distance(m, q, qi * dim, live.get(want[0]), 0, dim);
                    assertThat(res.distances()[qi * k]).isEqualTo(d0);
                }
            }
        }
    }

    /**
     * Every warp-queue size of the scan, merge and coarse kernels (k and nprobe of 1, 33, 100, 256 pick queues of 32,
     * 64, 128, 256), lists whose lengths are not multiples of the 32-slot group, and a dimension past the query's
     * shared-memory slice (read from global memory instead): with every list probed the answer is exact, so the ids
     * must be brute force's, in order.
     */
    @Test
    void everyQueueSizeAndBothQueryPathsReturnBruteForceIds() {
        Random r = new Random(13);
        int[][] cases = { // dim, n, k, nlist (= nprobe)
            {8, 700, 1, 40}, {8, 700, 33, 33}, {8, 900, 100, 70}, {8, 1500, 256, 130}, {1100, 150, 20, 3}};
        for (int[] c : cases) {
            int dim = c[0], n = c[1], k = c[2], nlist = c[3], nq = 6;
            for (Metric m : new Metric[] {Metric.L2, Metric.IP}) {
                float[] v = Reference.randomVectors(r, n, dim);
                int[] ids = range(7, n);
                float[] centroids = Arrays.copyOf(v, nlist * dim);
                try (CudaIvfLists lists = CudaIvfLists.create(device, m, dim, centroids, nlist)) {
                    lists.add(ids, v, n);
                    lists.remove(new int[] {7, 8, 9 + n / 2}, 3); // tombstones inside groups
                    Map<Integer, float[]> live = asMap(ids, v, dim);
                    live.keySet().removeAll(List.of(7, 8, 9 + n / 2));
                    float[] q = Reference.randomVectors(r, nq, dim);
                    CudaIvfLists.SearchResult res = lists.search(q, nq, k, nlist);
                    for (int qi = 0; qi < nq; qi++) {
                        int[] want = Reference.topK(m, q, qi * dim, live, dim, k, null);
                        assertThat(Arrays.copyOfRange(res.ids(), qi * k, qi * k + k))
                                .as("%s dim %d k %d nprobe %d query %d", m, dim, k, nlist, qi).containsExactly(want);
                    }
                }
            }
        }
    }

    /** A search is one batch on the stream: three launches between page-locked copies, and the host waits once. */
    @Test
    void aSearchQueuesThreeLaunchesAndWaitsOnce() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Reference.emulator(), "counts launches and waits only under the emulator");
        Random r = new Random(14);
        int dim = 16, n = 500, nlist = 8;
        float[] v = Reference.randomVectors(r, n, dim);
        try (CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, Arrays.copyOf(v, nlist * dim), nlist)) {
            lists.add(range(0, n), v, n);
            float[] q = Reference.randomVectors(r, 8, dim);
            lists.search(q, 8, 10, 4); // grows the staging once
            int launches = Reference.launches(device), waits = Reference.hostWaits(device);
            CudaIvfLists.SearchResult res = lists.search(q, 8, 10, 4);
            assertThat(Reference.launches(device) - launches).as("coarse, scan, merge").isEqualTo(3);
            assertThat(Reference.hostWaits(device) - waits).as("host waits per batch").isEqualTo(1);
            assertThat(res.ids()).doesNotContain(-1);
        }
    }

    @Test
    void ivfRecallMatchesTheCpuIvf() {
        Random r = new Random(11);
        int dim = 16, n = 3000, nq = 40, k = 10, nlist = 24, nprobe = 4;
        float[] v = Reference.clustered(r, n, dim, 30);
        int[] ids = range(0, n);
        float[] centroids = Arrays.copyOf(v, nlist * dim); // the first points stand in for trained centroids
        Map<Integer, float[]> live = asMap(ids, v, dim);
        float[] q = Reference.clustered(new Random(12), nq, dim, 30);
        try (CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, centroids, nlist)) {
            for (int off = 0; off < n; off += 700) { // several batches: lists grow geometrically
                int b = Math.min(700, n - off);
                lists.add(Arrays.copyOfRange(ids, off, off + b), Arrays.copyOfRange(v, off * dim, (off + b) * dim), b);
            }
            CudaIvfLists.SearchResult res = lists.search(q, nq, k, nprobe);
            double gpuRecall = 0, cpuRecall = 0;
            int identical = 0;
            for (int qi = 0; qi < nq; qi++) {
                int[] truth = Reference.topK(Metric.L2, q, qi * dim, live, dim, k, null);
                int[] cpu = Reference.ivfTopK(Metric.L2, q, qi * dim, live, dim, centroids, nlist, nprobe, k);
                int[] gpu = Arrays.copyOfRange(res.ids(), qi * k, qi * k + k);
                gpuRecall += Reference.recall(gpu, truth) / nq;
                cpuRecall += Reference.recall(cpu, truth) / nq;
                if (Arrays.equals(gpu, cpu)) identical++;
            }
            assertThat(gpuRecall).isCloseTo(cpuRecall, within(0.01));
            assertThat(identical).isEqualTo(nq);
            assertThat(gpuRecall).isGreaterThan(0.5);
        }
    }

    @Test
    void anyInterleavingOfAddsRemovesAndCompactionsStaysEqualToTheCpu() {
        Random r = new Random(13);
        int dim = 8, nlist = 4, k = 8;
        float[] centroids = Reference.randomVectors(r, nlist, dim);
        Map<Integer, float[]> model = new HashMap<>();
        try (CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, centroids, nlist)) {
            int nextId = 0;
            for (int step = 0; step < 60; step++) {
                int op = r.nextInt(10);
                if (op < 5 || model.size() < 20) { // add, with some upserts and in-batch duplicates
                    int b = 1 + r.nextInt(60);
                    int[] ids = new int[b];
                    float[] v = Reference.randomVectors(r, b, dim);
                    List<Integer> existing = new ArrayList<>(model.keySet());
                    for (int i = 0; i < b; i++) {
                        int pick = r.nextInt(10);
                        ids[i] = pick < 2 && !existing.isEmpty() ? existing.get(r.nextInt(existing.size()))
                                : pick < 3 && i > 0 ? ids[i - 1] : nextId++;
                    }
                    lists.add(ids, v, b);
                    for (int i = 0; i < b; i++) model.put(ids[i], Arrays.copyOfRange(v, i * dim, (i + 1) * dim));
                } else if (op < 9) { // remove, some unknown
                    List<Integer> existing = new ArrayList<>(model.keySet());
                    int b = 1 + r.nextInt(Math.max(1, existing.size() / 2));
                    int[] ids = new int[b];
                    for (int i = 0; i < b; i++) ids[i] = r.nextInt(8) == 0 ? 1_000_000 + i : existing.get(r.nextInt(existing.size()));
                    int removed = lists.remove(ids, b);
                    int expected = 0;
                    for (int id : ids) if (model.remove(id) != null) expected++;
                    assertThat(removed).isEqualTo(expected);
                } else {
                    lists.compact();
                    assertThat(lists.holes()).isZero();
                }
                assertThat(lists.size()).isEqualTo(model.size());
                int nq = 3;
                float[] q = Reference.randomVectors(r, nq, dim);
                CudaIvfLists.SearchResult res = lists.search(q, nq, k, nlist); // all lists: exact
                for (int qi = 0; qi < nq; qi++) {
                    int[] want = Reference.topK(Metric.L2, q, qi * dim, model, dim, k, null);
                    assertThat(Arrays.copyOfRange(res.ids(), qi * k, qi * k + k)).as("step %d query %d", step, qi).containsExactly(want);
                }
            }
            assertThat(lists.compactions()).isPositive();
        }
    }

    @Test
    void outOfMemoryLeavesTheListsIntactAndSignalsTheFallback() {
        Random r = new Random(14);
        int dim = 64, nlist = 2;
        Reference.assumeEmulatedDevices();
        try (CudaDevice tiny = CudaDevice.open(2)) { // 3 MiB
            float[] centroids = Reference.randomVectors(r, nlist, dim);
            Map<Integer, float[]> model = new HashMap<>();
            int next = 0;
            DeviceOutOfMemoryException oom = null;
            try (CudaIvfLists lists = CudaIvfLists.create(tiny, Metric.L2, dim, centroids, nlist)) {
                for (int round = 0; round < 40 && oom == null; round++) {
                    int b = 1000;
                    int[] ids = range(next, b);
                    float[] v = Reference.randomVectors(r, b, dim);
                    try {
                        lists.add(ids, v, b);
                        model.putAll(asMap(ids, v, dim));
                        next += b;
                    } catch (DeviceOutOfMemoryException e) {
                        oom = e;
                    }
                }
                assertThat(oom).as("a 3 MiB device must run out").isNotNull();
                assertThat(lists.size()).isEqualTo(model.size());
                float[] q = Reference.randomVectors(r, 2, dim);
                CudaIvfLists.SearchResult res = lists.search(q, 2, 5, nlist);
                for (int qi = 0; qi < 2; qi++) {
                    assertThat(Arrays.copyOfRange(res.ids(), qi * 5, qi * 5 + 5))
                            .containsExactly(Reference.topK(Metric.L2, q, qi * dim, model, dim, 5, null));
                }
            }
            assertThat(Reference.liveAllocations(tiny)).isZero();
            DevicePlacement placement = DevicePlacement.of(List.of(tiny), 0.9);
            assertThat(placement.place("big", CudaIvfLists.estimateBytes(next * 2L, dim, nlist)).onCpu()).isTrue();
        }
    }

    @Test
    void closeFreesEveryDeviceAllocation() {
        Random r = new Random(15);
        int dim = 8;
        CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, Reference.randomVectors(r, 3, dim), 3);
        lists.add(range(0, 500), Reference.randomVectors(r, 500, dim), 500);
        lists.remove(range(0, 300), 300);
        lists.search(Reference.randomVectors(r, 4, dim), 4, 40, 3); // the k <= 256 kernel
        assertThat(Reference.liveAllocations(device)).isGreaterThan(4);
        lists.close();
        lists.close();
        assertThat(device.liveBuffers()).isZero();
        assertThat(Reference.liveAllocations(device)).isZero();
        assertThatThrownBy(() -> lists.search(new float[dim], 1, 0, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void concurrentQueriesAreMicroBatched() throws Exception {
        Random r = new Random(16);
        int dim = 8, n = 400, k = 5;
        float[] v = Reference.randomVectors(r, n, dim);
        int[] ids = range(0, n);
        Map<Integer, float[]> live = asMap(ids, v, dim);
        try (CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, new float[dim], 1);
             QueryBatcher batcher = new QueryBatcher(lists, 64, Duration.ofMillis(20))) {
            lists.add(ids, v, n);
            int nq = 32;
            float[] q = Reference.randomVectors(r, nq, dim);
            List<CompletableFuture<QueryBatcher.Hits>> futures = new ArrayList<>();
            for (int i = 0; i < nq; i++) futures.add(batcher.search(Arrays.copyOfRange(q, i * dim, (i + 1) * dim), k, 1));
            for (int i = 0; i < nq; i++) {
                assertThat(futures.get(i).get().ids()).containsExactly(Reference.topK(Metric.L2, q, i * dim, live, dim, k, null));
            }
            assertThat(batcher.batches()).isLessThan(nq);
        }
    }
}
