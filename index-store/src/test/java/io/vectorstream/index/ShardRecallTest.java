package io.vectorstream.index;

import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class ShardRecallTest {

    private static List<IndexOp> upserts(float[] v, int from, int to, int dim) {
        List<IndexOp> ops = new ArrayList<>();
        for (int i = from; i < to; i++) ops.add(new IndexOp.Upsert(Integer.toString(i), java.util.Arrays.copyOfRange(v, i * dim, (i + 1) * dim), null));
        return ops;
    }

    private static int[] searchAll(ShardSnapshot s, float[] queries, int nq, int dim, int k, int nprobe, boolean exact, Metric metric) {
        int[] found = new int[nq * k];
        for (int q = 0; q < nq; q++) {
            float[] query = java.util.Arrays.copyOfRange(queries, q * dim, (q + 1) * dim);
            if (metric.normalizes()) query = VectorMath.normalized(query);
            List<SearchHit> hits = s.search(query, k, nprobe, exact);
            for (int j = 0; j < k; j++) found[q * k + j] = j < hits.size() ? Integer.parseInt(hits.get(j).id()) : -1;
        }
        return found;
    }

    @ParameterizedTest
    @EnumSource(Metric.class)
    void ivfFlatRecallAgainstExact(Metric metric) {
        int n = 12_000, nq = 100, dim = 24, k = 10;
        float[] base = TestData.blobs(31, n, dim, 40), queries = TestData.blobs(32, nq, dim, 40);
        IndexConfig config = new IndexConfig(dim, metric, 48, 3000, 8, 9L);
        Shard shard = new Shard(0, config, Kernels.cpu());
        for (int b = 0; b < n; b += 1000) shard.apply(upserts(base, b, Math.min(n, b + 1000), dim), b + 1000);
        ShardSnapshot s = shard.snapshot();
        assertThat(s.kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
        assertThat(s.liveCount()).isEqualTo(n);
        float[] b = metric.normalizes() ? TestData.normalizedRows(base, n, dim) : base;
        float[] q = metric.normalizes() ? TestData.normalizedRows(queries, nq, dim) : queries;
        int[] truth = TestData.exact(metric, b, n, q, nq, dim, k);
        assertThat(TestData.recall(truth, searchAll(s, queries, nq, dim, k, s.listCount(), false, metric), nq, k)).isGreaterThanOrEqualTo(0.999);
        assertThat(TestData.recall(truth, searchAll(s, queries, nq, dim, k, 8, false, metric), nq, k)).isGreaterThan(0.85);
        assertThat(TestData.recall(truth, searchAll(s, queries, nq, dim, k, 1, true, metric), nq, k)).isGreaterThanOrEqualTo(0.999);
    }

    @Test
    void trainOnThenAddIsLikeFaissTrainThenAdd() {
        int n = 8000, dim = 16, k = 10, nq = 50;
        float[] base = TestData.blobs(41, n, dim, 30), queries = TestData.blobs(42, nq, dim, 30);
        Shard shard = new Shard(0, new IndexConfig(dim, Metric.L2, 40, Integer.MAX_VALUE, 8, 1L), Kernels.cpu());
        shard.trainOn(base, n);
        assertThat(shard.snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
        shard.apply(upserts(base, 0, n, dim), n);
        ShardSnapshot s = shard.snapshot();
        assertThat(s.listCount()).isEqualTo(40);
        assertThat(s.listBytes()).isGreaterThanOrEqualTo((long) n * (4L * dim + 4));
        int[] truth = TestData.exact(Metric.L2, base, n, queries, nq, dim, k);
        assertThat(TestData.recall(truth, searchAll(s, queries, nq, dim, k, 40, false, Metric.L2), nq, k)).isGreaterThanOrEqualTo(0.999);
    }

    /** Random upserts, replacements and deletes in exact mode, checked against a brute-force model. */
    @ParameterizedTest
    @EnumSource(Metric.class)
    void addRemoveReplaceKeepExactModeExact(Metric metric) {
        int dim = 8, k = 15;
        Random r = new Random(51);
        Shard shard = new Shard(0, new IndexConfig(dim, metric, 0, 1_000_000, 4, 1L), Kernels.cpu());
        Map<String, float[]> model = new HashMap<>();
        for (int batch = 0; batch < 30; batch++) {
            List<IndexOp> ops = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                String id = Integer.toString(r.nextInt(300));
                if (r.nextInt(4) == 0) {
                    ops.add(new IndexOp.Delete(id));
                    model.remove(id);
                } else {
                    float[] v = new float[dim];
                    for (int d = 0; d < dim; d++) v[d] = (float) r.nextGaussian();
                    ops.add(new IndexOp.Upsert(id, v, null));
                    model.put(id, metric.normalizes() ? VectorMath.normalized(v) : v);
                }
            }
            shard.apply(ops, batch);
            ShardSnapshot s = shard.snapshot();
            assertThat(s.kind()).isEqualTo(IvfFlatSnapshot.Kind.EXACT);
            assertThat(s.liveCount()).isEqualTo(model.size());
            float[] q = new float[dim];
            for (int d = 0; d < dim; d++) q[d] = (float) r.nextGaussian();
            float[] query = metric.normalizes() ? VectorMath.normalized(q) : q;
            List<SearchHit> hits = s.search(query, k, 4, false);
            List<Map.Entry<String, float[]>> expected = new ArrayList<>(model.entrySet());
            expected.sort(java.util.Comparator.comparingDouble(e -> Kernels.cpu().distance(metric, query, 0, e.getValue(), 0, dim)));
            assertThat(hits).hasSize(Math.min(k, model.size()));
            for (int j = 0; j < hits.size(); j++) {
                float want = Kernels.cpu().distance(metric, query, 0, expected.get(j).getValue(), 0, dim);
                assertThat(hits.get(j).distance()).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4f * (1 + Math.abs(want))));
                assertThat(model).containsKey(hits.get(j).id());
            }
        }
    }
}
