package io.vectorstream.index;

import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bf16 scan copy changes nothing a query sees: a shard with it answers exactly as one scanning the
 * float vectors, through adds, removals, replacements and retraining. The data are built to break an
 * unsound bound: tight clusters of near-duplicates (much closer together than bf16 can tell apart) and,
 * in one case, far from the origin. One batch is large enough to be applied as a backlog (scan copies deferred:
 * those lists are scanned exactly until smaller batches rebuild their copies), and the answers stay the same.
 */
class Bf16RecheckScannerTest {
    private static final int DIM = 24;
    private static final int K = 10;

    @ParameterizedTest
    @CsvSource({"L2, 0, 0.001", "L2, 1000, 0.001", "IP, 0, 0.001", "COSINE, 0, 0.02"})
    void answersAsTheFloatScanDoes(Metric metric, float offset, float tight) throws InterruptedException {
        // tight: near-duplicates far closer than bf16 resolves, yet (for cosine, after normalising) still
        // farther apart than float resolution, so that the ranking is well defined
        Random random = new Random(11);
        float[][] centres = new float[40][DIM];
        for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = offset + (float) random.nextGaussian();
        IndexConfig config = new IndexConfig(DIM, metric, 32, 1000, 3, 42L);
        Shard withCopy = new Shard(0, config, Kernels.cpu());
        Shard floatsOnly = new Shard(0, config.withBf16Scan(false), Kernels.cpu());

        List<float[]> stored = new ArrayList<>();
        long offsetCounter = 0;
        int deferredSeen = 0;
        for (int round = 0; round < 7; round++) {
            List<IndexOp> ops = new ArrayList<>();
            int upserts = round == 3 ? 1500 : 700; // round 3: a backlog-sized batch
            for (int i = 0; i < upserts; i++) { // fresh ids, then replacements of earlier ones
                String id = round > 0 && i % 5 == 0 ? "v" + random.nextInt(stored.size()) : "v" + stored.size();
                float[] v = nearDuplicate(centres[random.nextInt(centres.length)], random, i % 3 == 0 ? tight : 0.2f);
                if (id.equals("v" + stored.size())) stored.add(v);
                ops.add(new IndexOp.Upsert(id, v, null));
            }
            for (int i = 0; round > 0 && i < 60; i++) ops.add(new IndexOp.Delete("v" + random.nextInt(stored.size())));
            offsetCounter += ops.size();
            withCopy.apply(ops, offsetCounter);
            floatsOnly.apply(ops, offsetCounter);
            int deferred = withCopy.snapshot().hot().listsWithoutScanCopy();
            if (round == 3) {
                assertThat(deferred).as("lists whose copies the backlog batch deferred").isPositive();
                deferredSeen = deferred;
                assertSameAnswers(withCopy.snapshot(), floatsOnly.snapshot(), stored, centres, random, metric, tight, 100);
            }
        }
        assertThat(deferredSeen).isPositive();
        Thread.sleep(1_100); // IvfFlatIndex.BACKLOG_OVER_NANOS without a backlog batch: the copies come back while idle
        for (int i = 0; i < 100 && withCopy.snapshot().hot().listsWithoutScanCopy() > 0; i++) withCopy.maintain();
        assertThat(withCopy.snapshot().hot().listsWithoutScanCopy()).as("copies rebuilt while idle").isZero();
        ShardSnapshot a = withCopy.snapshot(), b = floatsOnly.snapshot();
        assertThat(a.kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
        assertThat(a.listBytes()).as("the copy is counted").isGreaterThan(b.listBytes());
        assertSameAnswers(a, b, stored, centres, random, metric, tight, 300);
    }

    /** A shard loaded in backlog-sized batches has its copies rebuilt by settle() at once, without waiting. */
    @Test
    void settleRebuildsDeferredCopiesAtOnce() {
        Random random = new Random(5);
        Shard shard = new Shard(0, new IndexConfig(DIM, Metric.L2, 32, 1000, 3, 42L), Kernels.cpu());
        for (int round = 0; round < 3; round++) {
            List<IndexOp> ops = new ArrayList<>();
            for (int i = 0; i < 2_000; i++) {
                float[] v = new float[DIM];
                for (int d = 0; d < DIM; d++) v[d] = (float) random.nextGaussian();
                ops.add(new IndexOp.Upsert("v" + (round * 2_000 + i), v, null));
            }
            shard.apply(ops, (round + 1) * 2_000L);
        }
        assertThat(shard.snapshot().hot().listsWithoutScanCopy()).as("deferred by the large batches").isPositive();
        long version = shard.snapshot().version();
        ShardSnapshot settled = shard.settle();
        assertThat(settled.hot().listsWithoutScanCopy()).isZero();
        assertThat(settled.version()).as("published").isGreaterThan(version);
        assertThat(shard.settle()).as("nothing left to do").isSameAs(settled);
    }

    /** Every query answers with the same distances at every rank, filtered and not, on both shards. */
    private static void assertSameAnswers(ShardSnapshot a, ShardSnapshot b, List<float[]> stored, float[][] centres,
                                          Random random, Metric metric, float tight, int queries) {
        int sameIds = 0;
        for (int i = 0; i < queries; i++) {
            float[] q = i % 2 == 0 ? stored.get(random.nextInt(stored.size())).clone()
                    : nearDuplicate(centres[random.nextInt(centres.length)], random, tight);
            if (metric.normalizes()) q = VectorMath.normalized(q);
            List<SearchHit> got = a.search(q, K, 3, false), want = b.search(q, K, 3, false);
            assertThat(got).hasSameSizeAs(want);
            for (int r = 0; r < want.size(); r++) { // the same distance at every rank: nothing better was missed
                float tolerance = 1e-5f * Math.max(1f, Math.abs(want.get(r).distance()));
                assertThat(got.get(r).distance()).as("rank %d of query %d", r, i).isCloseTo(want.get(r).distance(),
                        org.assertj.core.data.Offset.offset(tolerance));
            }
            if (got.stream().map(SearchHit::id).toList().equals(want.stream().map(SearchHit::id).toList())) sameIds++;
            for (int every : new int[]{2, 20}) { // filtered: whole-list scans of the copies, and the sparse exact path
                java.util.function.IntPredicate accept = o -> o % every == 0;
                List<SearchHit> fGot = a.hot().search(q, K, 3, accept), fWant = b.hot().search(q, K, 3, accept);
                assertThat(fGot).as("filter 1/%d, query %d", every, i).hasSameSizeAs(fWant);
                for (int r = 0; r < fWant.size(); r++) {
                    float tolerance = 1e-5f * Math.max(1f, Math.abs(fWant.get(r).distance()));
                    assertThat(fGot.get(r).distance()).as("filter 1/%d, rank %d of query %d", every, r, i)
                            .isCloseTo(fWant.get(r).distance(), org.assertj.core.data.Offset.offset(tolerance));
                }
            }
        }
        assertThat(sameIds).as("queries whose ranked ids match exactly (ties may swap)").isGreaterThanOrEqualTo(queries * 95 / 100);
    }

    private static float[] nearDuplicate(float[] centre, Random random, float spread) {
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = centre[d] + (float) random.nextGaussian() * spread;
        return v;
    }
}
