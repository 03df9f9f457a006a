package io.vectorstream.index;

import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** A shard's snapshots against a brute-force reference over the live set, for every metric (fixed seeds). */
class ShardTest {
    private static final int DIM = 32;

    private final Random random = new Random(7);
    private final float[][] centres = new float[20][DIM];
    private final Map<String, float[]> live = new LinkedHashMap<>();

    ShardTest() {
        for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = (float) random.nextGaussian() * 2;
    }

    private float[] sample() {
        float[] c = centres[random.nextInt(centres.length)];
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = c[d] + (float) random.nextGaussian() * 0.5f;
        return v;
    }

    private List<IndexOp> upserts(int n, int firstId) {
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] v = sample();
            String id = "v" + (firstId + i);
            live.put(id, v);
            ops.add(new IndexOp.Upsert(id, v, null));
        }
        return ops;
    }

    private static float distance(Metric metric, float[] q, float[] v) {
        return switch (metric) {
            case L2 -> {
                float s = 0;
                for (int i = 0; i < q.length; i++) s += (q[i] - v[i]) * (q[i] - v[i]);
                yield s;
            }
            case IP -> -dot(q, v);
            case COSINE -> -dot(q, v) / (float) Math.sqrt(dot(q, q) * dot(v, v));
        };
    }

    private static float dot(float[] a, float[] b) {
        float s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    private List<String> bruteForce(Metric metric, float[] q, int k) {
        return live.entrySet().stream().sorted(Comparator.comparingDouble(e -> distance(metric, q, e.getValue())))
                .limit(k).map(Map.Entry::getKey).toList();
    }

    private static List<String> ids(List<SearchHit> hits) {
        return hits.stream().map(SearchHit::id).toList();
    }

    @ParameterizedTest
    @EnumSource(Metric.class)
    void exactEqualsBruteForceAndIvfRecallIsHighAfterTraining(Metric metric) {
        ShardRegistry registry = new ShardRegistry(new IndexConfig(DIM, metric, 0, 1000, 8, 42L), Kernels.cpu());
        Shard shard = registry.open(0);
        shard.apply(upserts(600, 0), 600);
        assertThat(shard.snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.EXACT);
        shard.apply(upserts(1400, 600), 2000);
        assertThat(shard.snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
        assertThat(shard.snapshot().listCount()).isGreaterThan(10);

        IndexSearcher searcher = new IndexSearcher(registry);
        int hits = 0, queries = 100;
        for (int i = 0; i < queries; i++) {
            float[] q = sample();
            List<String> truth = bruteForce(metric, q, 10);
            assertThat(ids(searcher.search(q, 10, null, true).hits())).as("exact search").isEqualTo(truth);
            Set<String> t = new HashSet<>(truth);
            for (String id : ids(searcher.search(q, 10, null, false).hits())) if (t.contains(id)) hits++;
        }
        double recall = hits / (queries * 10.0);
        assertThat(recall).as("recall@10 at nprobe 8 (%s)", metric).isGreaterThanOrEqualTo(0.9);
    }

    @Test
    void anEmptyShardCoversOffsetZero() {
        // "next offset to apply" of a partition nothing was read from is 0 (the first record's offset), so that
        // read-your-writes of nothing, min_offsets {p: 0}, is already covered
        Shard shard = new ShardRegistry(IndexConfig.of(2, Metric.L2), Kernels.cpu()).open(0);
        assertThat(shard.snapshot().nextOffset()).isZero();
        assertThat(shard.whenCovers(0)).isCompleted();
        assertThat(shard.whenCovers(1)).isNotCompleted();
    }

    @Test
    void scoresFollowTheMetric() {
        ShardRegistry registry = new ShardRegistry(IndexConfig.of(2, Metric.COSINE), Kernels.cpu());
        registry.open(0).apply(List.of(new IndexOp.Upsert("x", new float[]{3, 0}, null),
                new IndexOp.Upsert("y", new float[]{0, 5}, null)), 2);
        List<SearchHit> hits = new IndexSearcher(registry).search(new float[]{1, 1}, 2, null, false).hits();
        assertThat(hits.get(0).score()).isCloseTo((float) Math.sqrt(0.5), org.assertj.core.data.Offset.offset(1e-5f));

        ShardRegistry ip = new ShardRegistry(IndexConfig.of(2, Metric.IP), Kernels.cpu());
        ip.open(0).apply(List.of(new IndexOp.Upsert("x", new float[]{3, 0}, null),
                new IndexOp.Upsert("y", new float[]{0, 5}, null)), 2);
        List<SearchHit> ipHits = new IndexSearcher(ip).search(new float[]{1, 1}, 2, null, false).hits();
        assertThat(ipHits).extracting(SearchHit::id).containsExactly("y", "x");
        assertThat(ipHits.get(0).score()).isEqualTo(5f);
    }

    @Test
    void publishedSnapshotsNeverChangeWhileTheWriterMovesOn() {
        ShardRegistry registry = new ShardRegistry(new IndexConfig(DIM, Metric.L2, 0, 300, 4, 42L), Kernels.cpu());
        Shard shard = registry.open(0);
        shard.apply(upserts(200, 0), 200);
        ShardSnapshot before = shard.snapshot();
        float[] q = live.get("v5");
        List<String> answerBefore = ids(before.search(q, 20, 4, true));

        // Deletes, replacements, appends and a retraining (crossing 300) all happen after `before`.
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < 100; i += 2) {
            ops.add(new IndexOp.Delete("v" + i));
            live.remove("v" + i);
        }
        ops.add(new IndexOp.Upsert("v5", sample(), null));
        ops.addAll(upserts(400, 1000));
        shard.apply(ops, 551);

        assertThat(ids(before.search(q, 20, 4, true))).as("an old snapshot answers as it did").isEqualTo(answerBefore);
        assertThat(before.liveCount()).isEqualTo(200);
        assertThat(before.version()).isEqualTo(1);
        ShardSnapshot after = shard.snapshot();
        assertThat(after.version()).isEqualTo(2);
        assertThat(after.nextOffset()).isEqualTo(551);
        assertThat(after.liveCount()).isEqualTo(200 - 50 + 400);
    }

    @Test
    void replaceAndDeleteKeepExactModeExact() {
        ShardRegistry registry = new ShardRegistry(new IndexConfig(DIM, Metric.L2, 0, 100_000, 4, 42L), Kernels.cpu());
        Shard shard = registry.open(0);
        shard.apply(upserts(500, 0), 500);
        Random r = new Random(3);
        for (int round = 0; round < 20; round++) {
            List<IndexOp> ops = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                String id = "v" + r.nextInt(700);
                if (r.nextBoolean()) {
                    ops.add(new IndexOp.Delete(id));
                    live.remove(id);
                } else {
                    float[] v = sample();
                    ops.add(new IndexOp.Upsert(id, v, null));
                    live.remove(id);
                    live.put(id, v);
                }
            }
            shard.apply(ops, 500 + round);
            float[] q = sample();
            assertThat(ids(new IndexSearcher(registry).search(q, 15, null, false).hits())).isEqualTo(bruteForce(Metric.L2, q, 15));
            assertThat(shard.snapshot().liveCount()).isEqualTo(live.size());
        }
    }
}
