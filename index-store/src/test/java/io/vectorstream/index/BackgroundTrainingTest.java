package io.vectorstream.index;

import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * With a trainer executor, crossing the training threshold does not train on the writer's thread: the hot index
 * stays exact (and answers exactly) until the trainer's centroids are ready, and the writer installs them at its
 * next batch or {@code maintain()}.
 */
class BackgroundTrainingTest {
    private static final int DIM = 8;

    private static double l2(float[] rows, int row, float[] centroids, int list) {
        double sum = 0;
        for (int d = 0; d < DIM; d++) {
            double x = rows[row * DIM + d] - centroids[list * DIM + d];
            sum += x * x;
        }
        return sum;
    }

    /** A trainer that runs each task on a thread of its own once {@code release} opens, then counts {@code ran} down. */
    private static Executor gated(CountDownLatch release, CountDownLatch ran) {
        return task -> new Thread(() -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            task.run();
            ran.countDown();
        }).start();
    }

    @Test
    void theWriterKeepsGoingWhileKMeansRunsElsewhereAndInstallsTheResult() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Executor gated = gated(release, new CountDownLatch(1));
        Shard shard = new Shard(0, new IndexConfig(DIM, Metric.L2, 0, 500, 4, 42L), Kernels.cpu());
        shard.trainInBackground(gated);
        Random r = new Random(1);
        List<float[]> all = new ArrayList<>();
        long offset = 0;
        for (int b = 0; b < 8; b++) {
            List<IndexOp> ops = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                float[] v = new float[DIM];
                for (int d = 0; d < DIM; d++) v[d] = (float) r.nextGaussian();
                all.add(v);
                ops.add(new IndexOp.Upsert("v" + all.size(), v, null));
            }
            shard.apply(ops, offset += ops.size());
        }
        assertThat(shard.snapshot().liveCount()).isEqualTo(800);
        assertThat(shard.snapshot().kind()).as("past the threshold, but k-means has not run").isEqualTo(IvfFlatSnapshot.Kind.EXACT);
        assertThat(shard.snapshot().search(all.get(7), 1, 4, false).getFirst().id()).isEqualTo("v8");

        // while k-means runs: entries it trained on are deleted and replaced (their lists worked out by the trainer
        // must not bring the old versions back)
        List<IndexOp> changes = new ArrayList<>();
        for (int i = 0; i < 50; i++) changes.add(new IndexOp.Delete("v" + (i + 1)));
        for (int i = 50; i < 100; i++) {
            float[] v = new float[DIM];
            for (int d = 0; d < DIM; d++) v[d] = 3f + (float) r.nextGaussian();
            all.set(i, v);
            changes.add(new IndexOp.Upsert("v" + (i + 1), v, null));
        }
        shard.apply(changes, offset += changes.size());

        release.countDown();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (shard.snapshot().kind() == IvfFlatSnapshot.Kind.EXACT && System.nanoTime() < deadline) {
            shard.maintain(); // what the stream task's punctuator does
            Thread.sleep(5);
        }
        ShardSnapshot s = shard.snapshot();
        assertThat(s.kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
        assertThat(s.liveCount()).isEqualTo(750);
        assertThat(s.nextOffset()).isEqualTo(900);
        for (int i = 50; i < all.size(); i += 7) {
            assertThat(s.search(all.get(i), 1, 1, true).getFirst().id()).isEqualTo("v" + (i + 1));
        }
        assertThat(s.find("v1")).isNull();
        // every entry is in its nearest list: those the trainer assigned and those the writer added after
        ShardSnapshot.LiveData live = s.live();
        var q = s.hot().quantizer();
        float[] c = q.centroids();
        for (int j = 0; j < live.size(); j++) {
            double nearest = Double.MAX_VALUE;
            for (int l = 0; l < q.nlist(); l++) nearest = Math.min(nearest, l2(live.vectors(), j, c, l));
            // the nearest centroid, up to the rounding of the batched kernels (a near-tie may go either way)
            assertThat(l2(live.vectors(), j, c, live.hotLists()[j])).as(live.ids()[j]).isLessThanOrEqualTo(nearest * (1 + 1e-4) + 1e-6);
        }
    }

    /**
     * A compaction begins on a quiet shard (a standby copy, fed only when records come) while a background training
     * is ready: the training that {@code maintain()} installs keeps the ordinals the compaction's snapshot counts on,
     * so the hand-over carries no hot entry and tombstones no base entry (it carried and tombstoned every one).
     */
    @Test
    void aTrainingInstalledWhileACompactionRunsKeepsTheOrdinalsItsHandOverNeeds() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch trained = new CountDownLatch(1);
        Executor gated = gated(release, trained);
        Shard shard = new Shard(0, new IndexConfig(DIM, Metric.L2, 0, 500, 4, 42L), Kernels.cpu());
        shard.trainInBackground(gated);
        Random r = new Random(2);
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < 800; i++) {
            float[] v = new float[DIM];
            for (int d = 0; d < DIM; d++) v[d] = (float) r.nextGaussian();
            ops.add(new IndexOp.Upsert("v" + i, v, null));
        }
        shard.apply(ops, 800); // past the threshold: k-means is queued behind the gate
        ShardSnapshot from = shard.beginCompaction(); // the compaction's snapshot: before the training lands
        release.countDown();
        assertThat(trained.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (shard.snapshot().kind() == IvfFlatSnapshot.Kind.EXACT && System.nanoTime() < deadline) {
            shard.maintain(); // no batch comes: the maintenance installs the training while the base is being built
            Thread.sleep(5);
        }
        assertThat(shard.snapshot().kind()).as("the training was installed").isNotEqualTo(IvfFlatSnapshot.Kind.EXACT);
        var installed = TestBases.offer(shard, from, 8, 4);
        shard.maintain();
        assertThat(installed).isCompleted();
        ShardSnapshot s = shard.snapshot();
        assertThat(s.base()).isNotNull();
        assertThat(s.base().size()).isEqualTo(800);
        assertThat(s.liveCount()).isEqualTo(800);
        assertThat(s.hot().liveCount()).as("hot entries carried over the base").isZero();
        assertThat(s.tombstones().count()).as("base entries dead").isZero();
    }
}
