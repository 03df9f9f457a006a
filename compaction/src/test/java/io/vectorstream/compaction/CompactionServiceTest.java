package io.vectorstream.compaction;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class CompactionServiceTest {
    private static final int DIM = 16;

    private static float[] vector(Random r, float shift) {
        float[] v = new float[DIM];
        int cluster = r.nextInt(8);
        for (int d = 0; d < DIM; d++) v[d] = shift + (d % 8 == cluster ? 4f : 0f) + (float) r.nextGaussian();
        return v;
    }

    private static List<String> bruteForce(Map<String, float[]> live, float[] q, int k) {
        List<Map.Entry<String, float[]>> all = new ArrayList<>(live.entrySet());
        all.sort(Comparator.comparingDouble(e -> l2(e.getValue(), q)));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, all.size()); i++) out.add(all.get(i).getKey());
        return out;
    }

    private static double l2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        return s;
    }

    /** Upserts of fresh vectors for ids {@code prefix + i}, {@code from <= i < to}, each also put into {@code live}. */
    private static List<IndexOp> upserts(Random r, Map<String, float[]> live, String prefix, int from, int to) {
        List<IndexOp> ops = new ArrayList<>();
        for (int i = from; i < to; i++) {
            float[] v = vector(r, 0);
            live.put(prefix + i, v);
            ops.add(new IndexOp.Upsert(prefix + i, v, null));
        }
        return ops;
    }

    private static List<String> ids(List<SearchHit> hits) {
        return hits.stream().map(SearchHit::id).toList();
    }

    /** Polls as the shard's writer would (installing handed-over bases) until {@code done}. */
    private static void writerWaits(Shard shard, BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out");
            shard.maintain();
            Thread.sleep(2);
        }
    }

    private static ShardRegistry registry() {
        return new ShardRegistry(new IndexConfig(DIM, Metric.L2, 0, 500, 8, 42L), Kernels.cpu());
    }

    @Test
    void rebuildUnderConcurrentIngestionAndQueriesLosesNothing() throws Exception {
        ShardRegistry registry = registry();
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(1000))) {
            Shard shard = registry.open(0);
            Random r = new Random(1);
            Map<String, float[]> live = new HashMap<>();
            List<IndexOp> load = upserts(r, live, "v", 0, 3000);
            long offset = 0;
            shard.apply(load, offset += load.size());
            ShardSnapshot before = shard.snapshot();
            Map<String, float[]> liveBefore = new HashMap<>(live);

            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger queries = new AtomicInteger();
            AtomicReference<Throwable> readerFailure = new AtomicReference<>();
            Thread reader = new Thread(() -> {
                Random qr = new Random(2);
                try {
                    while (!stop.get()) {
                        List<SearchHit> hits = shard.snapshot().search(vector(qr, 0), 10, 8, queries.get() % 2 == 0);
                        if (hits.size() != 10) throw new AssertionError("got " + hits.size() + " hits");
                        queries.incrementAndGet();
                    }
                } catch (Throwable t) {
                    readerFailure.set(t);
                }
            });
            reader.start();

            RebuildJob job = service.requestRebuild(List.of());
            int next = 3000;
            int batches = 0;
            // the writer keeps applying batches (upserts, replacements, deletes) until the job is done and a bit after
            while (job.state() == RebuildJob.State.QUEUED || job.state() == RebuildJob.State.RUNNING || batches < 20) {
                List<IndexOp> batch = new ArrayList<>();
                for (int j = 0; j < 20; j++) {
                    int kind = r.nextInt(3);
                    if (kind == 0) {
                        String id = "v" + next++;
                        float[] v = vector(r, 0);
                        live.put(id, v);
                        batch.add(new IndexOp.Upsert(id, v, null));
                    } else if (kind == 1) {
                        String id = "v" + r.nextInt(next);
                        float[] v = vector(r, 0);
                        live.put(id, v);
                        batch.add(new IndexOp.Upsert(id, v, null));
                    } else {
                        String id = "v" + r.nextInt(next);
                        live.remove(id);
                        batch.add(new IndexOp.Delete(id));
                    }
                }
                shard.apply(batch, offset += batch.size());
                batches++;
                Thread.sleep(1);
            }
            stop.set(true);
            reader.join();
            assertThat(readerFailure.get()).isNull();
            assertThat(job.state()).isEqualTo(RebuildJob.State.DONE);
            assertThat(job.shards().getFirst().outcome()).isEqualTo("built");

            ShardSnapshot after = shard.snapshot();
            assertThat(after.base()).isNotNull();
            assertThat(after.base().trigger()).isEqualTo("operator");
            assertThat(after.nextOffset()).isEqualTo(offset);
            assertThat(after.liveCount()).isEqualTo(live.size());
            for (String id : live.keySet()) assertThat(shard.contains(id)).as(id).isTrue();
            for (int i = 0; i < next; i++) if (!live.containsKey("v" + i)) assertThat(shard.contains("v" + i)).isFalse();

            Random qr = new Random(3);
            int hit = 0, total = 0;
            for (int q = 0; q < 30; q++) {
                float[] query = vector(qr, 0);
                List<String> truth = bruteForce(live, query, 10);
                assertThat(ids(after.search(query, 10, 8, true))).isEqualTo(truth);
                List<String> ann = ids(after.search(query, 10, 8, false));
                assertThat(ann).doesNotHaveDuplicates();
                for (String id : ann) if (truth.contains(id)) hit++;
                total += 10;
                // the snapshot taken before the rebuild is untouched
                assertThat(ids(before.search(query, 10, 8, true))).isEqualTo(bruteForce(liveBefore, query, 10));
            }
            assertThat(hit / (double) total).isGreaterThan(0.9);

            // the build ran on background-priority threads (Linux: each thread has its own nice value)
            Map<String, int[]> priorityByThread = threadPriorities("vectorstream-co", "vectorstream-bu"); // compaction-N, build-N
            if (priorityByThread.isEmpty()) {
                System.out.println("not checked: thread priorities (no /proc/self/task on this OS)");
            } else {
                assertThat(priorityByThread).as("build threads: {nice, policy}")
                        .allSatisfy((name, p) -> assertThat(p).as(name).containsExactly(CompactionPolicy.DEFAULT_NICE, BackgroundPriority.SCHED_IDLE));
                assertThat(priorityByThread.keySet()).anyMatch(n -> n.startsWith("vectorstream-bu")); // the build pool's workers
            }
        }
    }

    /** {nice, scheduling policy} of each live thread whose (15-character) Linux name starts with one of {@code prefixes}. */
    private static Map<String, int[]> threadPriorities(String... prefixes) throws java.io.IOException {
        Map<String, int[]> out = new java.util.TreeMap<>();
        java.nio.file.Path tasks = java.nio.file.Path.of("/proc/self/task");
        if (!java.nio.file.Files.isDirectory(tasks)) return out;
        try (var dirs = java.nio.file.Files.list(tasks)) {
            for (java.nio.file.Path t : dirs.toList()) {
                try {
                    String name = java.nio.file.Files.readString(t.resolve("comm")).trim();
                    if (java.util.Arrays.stream(prefixes).noneMatch(name::startsWith)) continue;
                    String stat = java.nio.file.Files.readString(t.resolve("stat"));
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                    out.put(name + "/" + t.getFileName(), new int[]{Integer.parseInt(f[16]), Integer.parseInt(f[38])});
                } catch (java.io.IOException | RuntimeException gone) {
                    // the thread ended meanwhile
                }
            }
        }
        return out;
    }

    @Test
    void triggersBuildTheFirstBaseThenRebuildOnTombstonesAndDrift() throws Exception {
        ShardRegistry registry = registry();
        CompactionPolicy policy = CompactionPolicy.defaults().withMinBaseVectors(1000).withHotRatio(0.5)
                .withTombstoneRatio(0.2).withDrift(0, 1000);
        try (CompactionService service = new CompactionService(registry, policy)) {
            Shard shard = registry.open(0);
            Random r = new Random(4);
            List<IndexOp> load = new ArrayList<>();
            for (int i = 0; i < 1500; i++) load.add(new IndexOp.Upsert("v" + i, vector(r, 0), null));
            shard.apply(load, 1500);
            writerWaits(shard, () -> shard.snapshot().base() != null);
            assertThat(shard.snapshot().base().trigger()).isEqualTo(CompactionTrigger.HOT_SIZE);
            assertThat(shard.snapshot().hotCount()).isZero();

            List<IndexOp> deletes = new ArrayList<>();
            for (int i = 0; i < 400; i++) deletes.add(new IndexOp.Delete("v" + i));
            shard.apply(deletes, 1900);
            writerWaits(shard, () -> shard.snapshot().base().version() == 2);
            assertThat(shard.snapshot().base().trigger()).isEqualTo(CompactionTrigger.TOMBSTONES);
            assertThat(shard.snapshot().tombstones().count()).isZero();
            assertThat(shard.snapshot().liveCount()).isEqualTo(1100);
            assertThat(shard.contains("v0")).isFalse();
            assertThat(shard.contains("v400")).isTrue();
        }
        ShardRegistry registry2 = registry();
        CompactionPolicy drift = CompactionPolicy.manual(1000).withDrift(1.5, 200);
        try (CompactionService service = new CompactionService(registry2, drift)) {
            Shard shard = registry2.open(0);
            Random r = new Random(5);
            List<IndexOp> load = new ArrayList<>();
            for (int i = 0; i < 1200; i++) load.add(new IndexOp.Upsert("v" + i, vector(r, 0), null));
            shard.apply(load, 1200);
            RebuildJob job = service.requestRebuild(null);
            writerWaits(shard, () -> job.state() == RebuildJob.State.DONE);
            long offset = 1200;
            for (int b = 0; b < 10 && shard.snapshot().base().version() == 1; b++) {
                List<IndexOp> batch = new ArrayList<>();
                for (int i = 0; i < 50; i++) batch.add(new IndexOp.Upsert("d" + b + "-" + i, vector(r, 6f), null));
                shard.apply(batch, offset += 50);
            }
            writerWaits(shard, () -> shard.snapshot().base().version() == 2);
            assertThat(shard.snapshot().base().trigger()).isEqualTo(CompactionTrigger.DRIFT);
        }
    }

    @Test
    void aSizeTriggeredRebuildMergesIntoTheBaseQuantizersAndAnOperatorRebuildRetrains() throws Exception {
        ShardRegistry registry = registry();
        CompactionPolicy policy = CompactionPolicy.defaults().withMinBaseVectors(1000).withHotRatio(0.25)
                .withTombstoneRatio(0).withDrift(0, 1000);
        try (CompactionService service = new CompactionService(registry, policy)) {
            Shard shard = registry.open(0);
            Random r = new Random(8);
            Map<String, float[]> live = new HashMap<>();
            List<IndexOp> load = upserts(r, live, "v", 0, 3000);
            shard.apply(load, 3000);
            writerWaits(shard, () -> shard.snapshot().base() != null);
            float[] trainedCentroids = shard.snapshot().base().index().trained().coarse().centroids();
            float[] sharedCentroids = shard.snapshot().base().index().trained().coarse().centroidsShared();
            assertThat(shard.snapshot().hot().quantizer().centroidsShared()).as("the hot index is on the base's centroids")
                    .isSameAs(sharedCentroids);

            // new ids, replaced base ids and deleted base ids: the hot index passes a quarter of the base
            List<IndexOp> changes = upserts(r, live, "n", 0, 900);
            changes.addAll(upserts(r, live, "v", 0, 300));
            for (int i = 300; i < 500; i++) {
                live.remove("v" + i);
                changes.add(new IndexOp.Delete("v" + i));
            }
            shard.apply(changes, 4400);
            writerWaits(shard, () -> shard.snapshot().base().version() == 2);
            RebuildJob merge = service.jobs().getFirst(); // newest first
            writerWaits(shard, () -> merge.state() == RebuildJob.State.DONE);
            assertThat(merge.trigger()).isEqualTo(CompactionTrigger.HOT_SIZE);
            assertThat(merge.shards().getFirst().outcome()).as("the hot vectors were encoded into the base's quantizers").isEqualTo("merged");
            ShardSnapshot merged = shard.snapshot();
            assertThat(merged.base().index().trained().coarse().centroidsShared()).isSameAs(sharedCentroids);
            assertThat(merged.hot().quantizer().centroidsShared()).isSameAs(sharedCentroids);
            assertThat(merged.base().size()).isEqualTo(live.size());
            assertThat(merged.hotCount()).isZero();
            assertThat(merged.tombstones().count()).isZero();
            assertThat(shard.contains("v300")).isFalse();
            int nlist = merged.base().index().nlist();
            int agree = 0, queries = 40;
            for (int q = 0; q < queries; q++) {
                float[] query = vector(r, 0);
                List<String> truth = bruteForce(live, query, 10);
                assertThat(ids(merged.search(query, 10, nlist, true))).as("exact search of the merged base").isEqualTo(truth);
                List<String> approx = ids(merged.search(query, 10, nlist, false));
                for (String id : approx) if (truth.contains(id)) agree++;
            }
            assertThat(agree / (double) (10 * queries)).as("recall@10 of the merged IVF-PQ base, every list probed").isGreaterThanOrEqualTo(0.9);
            for (int i = 0; i < 300; i += 37) { // a replaced id answers with its new vector
                assertThat(ids(merged.search(live.get("v" + i), 1, nlist, true))).containsExactly("v" + i);
            }

            RebuildJob operator = service.requestRebuild(List.of(0));
            writerWaits(shard, () -> operator.state() == RebuildJob.State.DONE);
            assertThat(operator.shards().getFirst().outcome()).as("an operator's rebuild trains afresh").isEqualTo("built");
            assertThat(shard.snapshot().base().version()).isEqualTo(3);
            assertThat(shard.snapshot().base().index().trained().coarse().centroids()).isNotEqualTo(trainedCentroids);
        }
    }

    @Test
    void aShardTooSmallForABaseIsStillSnapshottedSoItsChangeLogGetsTrimmed() throws Exception {
        ShardRegistry registry = registry();
        List<Long> persisted = java.util.Collections.synchronizedList(new ArrayList<>());
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.defaults().withMinBaseVectors(5000))
                .hotOnlySnapshotEvery(1000).snapshots(s -> persisted.add(s.nextOffset()))) {
            Shard shard = registry.open(0);
            Random r = new Random(11);
            long offset = 0;
            for (int b = 0; b < 3; b++) { // 300 live vectors, replaced over and over: 900 operations (600 since the first seen)
                List<IndexOp> batch = new ArrayList<>();
                for (int i = 0; i < 300; i++) batch.add(new IndexOp.Upsert("v" + i, vector(r, 0), null));
                shard.apply(batch, offset += batch.size());
            }
            Thread.sleep(200);
            assertThat(persisted).as("below the threshold: no snapshot yet").isEmpty();
            for (int b = 0; b < 2; b++) { // the first state seen was after the first batch: 1200 operations since
                List<IndexOp> more = new ArrayList<>();
                for (int i = 0; i < 300; i++) more.add(new IndexOp.Upsert("v" + i, vector(r, 0), null));
                shard.apply(more, offset += more.size());
            }
            writerWaits(shard, () -> !persisted.isEmpty());
            assertThat(persisted.getFirst()).isGreaterThanOrEqualTo(1000L);
            assertThat(shard.snapshot().base()).as("still too small for a base").isNull();
            assertThat(shard.snapshot().liveCount()).isEqualTo(300);
            RebuildJob job = service.job("rb-1").orElseThrow();
            assertThat(job.trigger()).isEqualTo(CompactionTrigger.LOG_SIZE);
            writerWaits(shard, () -> job.state() == RebuildJob.State.DONE);
            assertThat(job.shards().getFirst().outcome()).isEqualTo("skipped-too-small");
        }
    }

    @Test
    void aShardTooSmallToTrainStaysHotOnly() throws Exception {
        ShardRegistry registry = registry();
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(1000))) {
            Shard shard = registry.open(3);
            Random r = new Random(6);
            Map<String, float[]> live = new LinkedHashMap<>();
            List<IndexOp> load = upserts(r, live, "v", 0, 200);
            shard.apply(load, 200);
            RebuildJob job = service.requestRebuild(List.of(3));
            writerWaits(shard, () -> job.state() == RebuildJob.State.DONE);
            assertThat(job.shards().getFirst().outcome()).isEqualTo("skipped-too-small");
            assertThat(shard.snapshot().base()).isNull();
            float[] q = vector(r, 0);
            assertThat(ids(shard.snapshot().search(q, 5, 1, false))).isEqualTo(bruteForce(live, q, 5));
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> service.requestRebuild(List.of(7)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("partition 7");
        }
    }

    @Test
    void aRebuildOfAShardThatMovesAwayFailsInsteadOfWaiting() throws Exception {
        ShardRegistry registry = registry();
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(1000))) {
            Shard shard = registry.open(1);
            Random r = new Random(8);
            List<IndexOp> load = new ArrayList<>();
            for (int i = 0; i < 1500; i++) load.add(new IndexOp.Upsert("v" + i, vector(r, 0), null));
            shard.apply(load, 1500);
            RebuildJob job = service.requestRebuild(List.of(1));
            registry.close(shard); // its writer never calls maintain() again
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (job.state() != RebuildJob.State.FAILED) {
                if (System.nanoTime() > deadline) throw new AssertionError("job state " + job.state());
                Thread.sleep(5);
            }
            assertThat(job.shards().getFirst().error()).contains("moved away");
        }
    }

    @Test
    void operatorRebuildsAreDeduplicatedPerPartitionAndBounded() throws Exception {
        ShardRegistry registry = registry();
        java.util.concurrent.CountDownLatch persisting = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(1000))) {
            service.snapshots(snapshot -> { // the first job holds the rebuild thread until released
                persisting.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            for (int p = 0; p < 20; p++) registry.open(p);
            RebuildJob running = service.requestRebuild(List.of(0));
            assertThat(persisting.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

            CompactionService.Requested second = service.request(List.of(0)); // 0's first rebuild has started: queue another
            assertThat(second.created()).isTrue();
            assertThat(second.job()).isNotSameAs(running);
            CompactionService.Requested mixed = service.request(List.of(0, 1)); // 0 waits already; only 1 is new
            assertThat(mixed.created()).isTrue();
            assertThat(mixed.alreadyQueued()).containsExactly(Map.entry(0, second.job().id()));
            assertThat(mixed.job().shards()).extracting(RebuildJob.ShardPart::partition).containsExactly(1);
            CompactionService.Requested duplicate = service.request(List.of(1));
            assertThat(duplicate.created()).isFalse();
            assertThat(duplicate.job()).isSameAs(mixed.job());

            int pending = 3, p = 2;
            while (pending < CompactionService.MAX_PENDING_JOBS) {
                assertThat(service.request(List.of(p++)).created()).isTrue();
                pending++;
            }
            int next = p;
            assertThatThrownBy(() -> service.request(List.of(next))).isInstanceOf(RebuildQueueFullException.class)
                    .hasMessageContaining("at most " + CompactionService.MAX_PENDING_JOBS);
            assertThat(service.request(List.of(0)).created()).as("a duplicate is answered even when the queue is full").isFalse();

            release.countDown();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (service.busy()) {
                if (System.nanoTime() > deadline) throw new AssertionError("rebuilds did not finish");
                Thread.sleep(5);
            }
            assertThat(second.job().state()).isEqualTo(RebuildJob.State.DONE);
            assertThat(service.request(List.of(0)).created()).as("once done, a new request queues a new rebuild").isTrue();
        } finally {
            release.countDown();
        }
    }
}
