package io.vectorstream.index;

import io.vectorstream.index.device.DeviceBackend;
import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.cuda.Reference;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shards mirrored onto (emulated) CUDA devices answer like the CPU shard through random add /
 * replace / delete batches, training and retraining; out of memory moves a shard to the CPU without
 * failing a batch; closing frees every device allocation.
 */
@Tag("cuda-emulated")
class DeviceShardEmulatedTest {

    private final Random random = new Random(7);
    private final List<String> liveIds = new ArrayList<>();
    private int nextId;

    private List<IndexOp> randomBatch(int dim, int maxSize) {
        int size = 1 + random.nextInt(maxSize);
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < size; i++) {
            double r = random.nextDouble();
            if (r < 0.15 && !liveIds.isEmpty()) {
                String id = liveIds.remove(random.nextInt(liveIds.size()));
                ops.add(new IndexOp.Delete(id));
            } else if (r < 0.3 && !liveIds.isEmpty()) {
                ops.add(new IndexOp.Upsert(liveIds.get(random.nextInt(liveIds.size())), vector(dim), "{\"r\":" + i + "}"));
            } else {
                String id = "v" + nextId++;
                liveIds.add(id);
                ops.add(new IndexOp.Upsert(id, vector(dim), null));
            }
        }
        return ops;
    }

    private float[] vector(int dim) {
        float[] v = new float[dim];
        int cluster = random.nextInt(8);
        for (int d = 0; d < dim; d++) v[d] = (float) (((cluster * 31 + d) % 7) + random.nextGaussian() * 0.6);
        return v;
    }

    private static List<String> ids(List<SearchHit> hits) {
        return hits.stream().map(SearchHit::id).toList();
    }

    private static float[] prepared(IndexConfig config, float[] q) {
        return config.metric().normalizes() ? VectorMath.normalized(q) : q;
    }

    @ParameterizedTest
    @EnumSource(Metric.class)
    void deviceShardAnswersLikeTheCpuShardThroughRandomBatches(Metric metric) {
        IndexConfig config = new IndexConfig(16, metric, 0, 300, 4, 42L);
        List<Integer> ordinals = Reference.ordinals(2); // two on the emulator; what a real host has, up to two
        try (DeviceBackend backend = DeviceBackend.open("test", ordinals, 0.8)) {
            Shard cpu = new Shard(0, config, Kernels.cpu());
            Shard gpu = new Shard(0, config, Kernels.cpu(), backend);
            int approxHits = 0, approxTotal = 0;
            for (int batch = 0; batch < 40; batch++) {
                List<IndexOp> ops = randomBatch(config.dim(), batch < 30 ? 150 : 40);
                cpu.apply(ops, batch + 1);
                gpu.apply(ops, batch + 1);
                assertThat(gpu.device()).as("batch %d", batch).startsWith("cuda:");
                ShardSnapshot c = cpu.snapshot();
                ShardSnapshot g = gpu.snapshot();
                assertThat(g.liveCount()).isEqualTo(c.liveCount()).isEqualTo(liveIds.size());
                for (int q = 0; q < 5; q++) {
                    float[] query = prepared(config, vector(config.dim()));
                    List<SearchHit> exactCpu = cpu.search(c, query, 10, 4, true);
                    List<SearchHit> exactGpu = gpu.search(g, query, 10, 4, true);
                    assertThat(ids(exactGpu)).as("exact, batch %d", batch).isEqualTo(ids(exactCpu));
                    for (int i = 0; i < exactGpu.size(); i++) {
                        assertThat(exactGpu.get(i).score()).isCloseTo(exactCpu.get(i).score(), org.assertj.core.data.Offset.offset(1e-3f));
                        assertThat(exactGpu.get(i).metadataJson()).isEqualTo(exactCpu.get(i).metadataJson());
                    }
                    Set<String> truth = new HashSet<>(ids(cpu.search(c, query, 10, 4, false)));
                    for (String id : ids(gpu.search(g, query, 10, 4, false))) if (truth.contains(id)) approxHits++;
                    approxTotal += truth.size();
                }
            }
            assertThat(gpu.snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
            assertThat((double) approxHits / approxTotal).as("IVF answers agree with the CPU's").isGreaterThanOrEqualTo(0.99);
            assertThat(gpu.deviceSearches()).as("the device really answered").isEqualTo(40L * 5 * 2);
            assertThat(gpu.deviceBytes()).isPositive();
            // k > 256 goes to the CPU and still answers.
            float[] query = prepared(config, vector(config.dim()));
            assertThat(ids(gpu.search(gpu.snapshot(), query, 300, 4, true)))
                    .isEqualTo(ids(cpu.search(cpu.snapshot(), query, 300, 4, true)));
            gpu.close();
            assertThat(gpu.device()).isEqualTo("cpu");
            assertThat(ordinals.stream().mapToInt(o -> Reference.liveAllocations(backend.device(o))).sum())
                    .as("closing the shard frees its device lists").isZero();
        }
    }

    @Test
    void shardsSpreadOverDevicesAndAnOldSnapshotIsAnsweredOnTheCpu() {
        Reference.assumeEmulatedDevices();
        IndexConfig config = IndexConfig.of(8, Metric.L2);
        try (DeviceBackend backend = DeviceBackend.open("test", List.of(0, 1), 0.8)) {
            ShardRegistry registry = new ShardRegistry(config, Kernels.cpu(), backend);
            Shard a = registry.open(0);
            Shard b = registry.open(1);
            a.apply(randomBatch(8, 50), 1);
            b.apply(randomBatch(8, 50), 1);
            assertThat(Set.of(a.device(), b.device())).containsExactlyInAnyOrder("cuda:0", "cuda:1");
            assertThat(backend.devices()).extracting(DeviceBackend.DeviceInfo::reservedBytes).allMatch(r -> r > 0);

            ShardSnapshot old = a.snapshot();
            a.apply(randomBatch(8, 50), 2);
            float[] query = vector(8);
            long before = a.deviceSearches();
            assertThat(ids(a.search(old, query, 20, 1, false))).isEqualTo(ids(old.search(query, 20, 1, false)));
            assertThat(a.deviceSearches()).as("a stale snapshot is not answered by the device").isEqualTo(before);

            SearchResult r = new IndexSearcher(registry).search(query, 5, null, true);
            assertThat(r.hits()).hasSize(5);
            assertThat(a.deviceSearches() + b.deviceSearches()).isEqualTo(before + 2);
            registry.close(a);
            registry.close(b);
            assertThat(Reference.liveAllocations(backend.device(0))).isZero();
            assertThat(Reference.liveAllocations(backend.device(1))).isZero();
        }
    }

    @Test
    void concurrentQueriesNeverSeeHalfABatch() throws Exception {
        IndexConfig config = new IndexConfig(8, Metric.L2, 0, 200, 4, 42L);
        try (DeviceBackend backend = DeviceBackend.open("test", List.of(0), 0.8)) {
            Shard shard = new Shard(0, config, Kernels.cpu(), backend);
            shard.apply(randomBatch(8, 100), 1);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                Random r = new Random(3);
                try {
                    while (!stop.get()) {
                        ShardSnapshot s = shard.snapshot();
                        float[] q = new float[8];
                        for (int d = 0; d < 8; d++) q[d] = (float) r.nextGaussian() * 3;
                        assertThat(ids(shard.search(s, q, 10, 4, true))).isEqualTo(ids(s.search(q, 10, 4, true)));
                        Thread.sleep(1); // two cores: leave the writer and the device thread room
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            reader.start();
            for (int batch = 2; batch < 40; batch++) {
                shard.apply(randomBatch(8, 60), batch);
                Thread.sleep(10); // queries land both during batches and between them
            }
            stop.set(true);
            reader.join();
            assertThat(failure.get()).isNull();
            assertThat(shard.device()).isEqualTo("cuda:0");
            assertThat(shard.deviceSearches()).as("some queries were answered by the device").isPositive();
            shard.close();
        }
    }

    @Test
    void placementRefusalMovesTheShardToTheCpuAndResultsStayCorrect() {
        Reference.assumeEmulatedDevices();
        IndexConfig config = new IndexConfig(64, Metric.L2, 0, 1_000_000, 4, 42L); // stays exact
        // Only the 3 MiB device: a budget of 2.4 MiB holds a few thousand 64-d vectors.
        try (DeviceBackend backend = DeviceBackend.open("test", List.of(2), 0.8)) {
            Shard cpu = new Shard(0, config, Kernels.cpu());
            Shard gpu = new Shard(0, config, Kernels.cpu(), backend);
            List<String> devices = new ArrayList<>();
            for (int batch = 0; batch < 20; batch++) {
                List<IndexOp> ops = randomBatch(64, 800);
                cpu.apply(ops, batch + 1);
                gpu.apply(ops, batch + 1); // never throws
                devices.add(gpu.device());
            }
            assertThat(devices.get(0)).isEqualTo("cuda:2");
            assertThat(gpu.device()).isEqualTo("cpu");
            assertThat(gpu.deviceBytes()).isZero();
            assertCorrect(cpu, gpu, 64);
            assertThat(Reference.liveAllocations(backend.device(2))).as("the device lists were freed").isZero();
            assertThat(backend.devices().get(0).reservedBytes()).isZero();
        }
    }

    @Test
    void deviceOutOfMemoryMovesTheShardToTheCpuAndResultsStayCorrect() {
        Reference.assumeEmulatedDevices();
        IndexConfig config = new IndexConfig(128, Metric.L2, 0, 1_000_000, 4, 42L);
        // A budget far over the 3 MiB the device has: placement agrees, the device runs out.
        try (DeviceBackend backend = DeviceBackend.open("test", List.of(2), 10.0)) {
            Shard cpu = new Shard(0, config, Kernels.cpu());
            Shard gpu = new Shard(0, config, Kernels.cpu(), backend);
            List<String> devices = new ArrayList<>();
            for (int batch = 0; batch < 20; batch++) {
                List<IndexOp> ops = randomBatch(128, 800);
                cpu.apply(ops, batch + 1);
                gpu.apply(ops, batch + 1);
                devices.add(gpu.device());
            }
            assertThat(devices.get(0)).isEqualTo("cuda:2");
            assertThat(gpu.device()).isEqualTo("cpu");
            assertCorrect(cpu, gpu, 128);
            assertThat(Reference.liveAllocations(backend.device(2))).isZero();
        }
    }

    private void assertCorrect(Shard cpu, Shard gpu, int dim) {
        for (int q = 0; q < 10; q++) {
            float[] query = vector(dim);
            assertThat(ids(gpu.search(gpu.snapshot(), query, 10, 4, false)))
                    .isEqualTo(ids(cpu.search(cpu.snapshot(), query, 10, 4, false)));
        }
        assertThat(gpu.snapshot().liveCount()).isEqualTo(liveIds.size());
    }
}
