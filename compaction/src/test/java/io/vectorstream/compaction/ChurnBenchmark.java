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
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The churn benchmark of bench/RESULTS.md (not part of the test suite): one shard, a drifting data
 * distribution with inserts, replacements and deletes; recall@10 at the default nprobe (that of
 * {@code vectorstream serve}, 16) against exact search
 * over the same snapshot, per epoch, with the default compaction policy and with automatic compaction off
 * (both start from a full rebuild). Run:
 * {@code mvn -B -pl compaction -am test -Dtest=ChurnBenchmark -Dvectorstream.bench=true -Dsurefire.failIfNoSpecifiedTests=false}
 */
@EnabledIfSystemProperty(named = "vectorstream.bench", matches = "true")
class ChurnBenchmark {
    private static final int DIM = 32, INITIAL = 40_000, EPOCHS = 20, QUERIES = 1000, K = 10, CENTRES = 1024;
    /** {@code vectorstream serve --nprobe}'s default: the issue asks for recall at the default search settings. */
    private static final int DEFAULT_NPROBE = 16;

    @Test
    void recallTimelineWithAndWithoutCompaction() throws Exception {
        List<double[]> with = run(CompactionPolicy.defaults().withMinBaseVectors(5000), true);
        List<double[]> without = run(CompactionPolicy.manual(5000), false);
        StringBuilder out = new StringBuilder("\n| epoch | live | full rebuild now (reference) | with compaction | shortfall ± 2 SE (paired) | base v | without compaction |\n|---|---|---|---|---|---|---|\n");
        double worstWith = 0, worstWithout = 0;
        for (int e = 0; e < with.size(); e++) {
            double ref = with.get(e)[3];
            worstWith = Math.max(worstWith, ref - with.get(e)[0]);
            worstWithout = Math.max(worstWithout, ref - without.get(e)[0]);
            out.append(String.format("| %d | %d | %.4f | %.4f | %+.4f ± %.4f | %d | %.4f |%n", e, (long) with.get(e)[1], ref, with.get(e)[0],
                    ref - with.get(e)[0], 2 * with.get(e)[4], (long) with.get(e)[2], without.get(e)[0]));
        }
        out.append(String.format("%nlargest shortfall below a full rebuild of the same live set: with compaction %.3f, without %.3f%n",
                worstWith, worstWithout));
        double startWith = with.getFirst()[0], minWith = with.stream().mapToDouble(r -> r[0]).min().orElseThrow();
        double minWithout = without.stream().mapToDouble(r -> r[0]).min().orElseThrow();
        out.append(String.format("%nwith compaction: start %.3f, min %.3f (drop %.3f); without: start %.3f, min %.3f (drop %.3f)%n",
                startWith, minWith, startWith - minWith, without.getFirst()[0], minWithout, without.getFirst()[0] - minWithout));
        System.out.println(out);
    }

    /**
     * Per epoch: {recall, live, base version, recall of a full rebuild of the same live set (when reference),
     * standard error of the paired per-query difference}.
     */
    private List<double[]> run(CompactionPolicy policy, boolean reference) throws Exception {
        ShardRegistry registry = new ShardRegistry(new IndexConfig(DIM, Metric.L2, 0, 2000, DEFAULT_NPROBE, 42L), Kernels.cpu());
        List<double[]> timeline = new ArrayList<>();
        try (CompactionService service = new CompactionService(registry, policy)) {
            Shard shard = registry.open(0);
            Random r = new Random(99);
            float[][] centres = new float[CENTRES][DIM];
            for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = (float) r.nextGaussian() * 1.5f;
            Map<String, float[]> live = new LinkedHashMap<>();
            List<String> ids = new ArrayList<>();
            int next = 0;
            long offset = 0;
            List<IndexOp> load = new ArrayList<>();
            for (int i = 0; i < INITIAL; i++, next++) {
                float[] v = sample(r, centres);
                live.put("v" + next, v);
                ids.add("v" + next);
                load.add(new IndexOp.Upsert("v" + next, v, null));
            }
            shard.apply(load, offset += load.size());
            RebuildJob first = service.requestRebuild(null);
            while (first.state() != RebuildJob.State.DONE) {
                shard.maintain();
                Thread.sleep(5);
            }
            timeline.add(measure(shard.snapshot(), new Random(1000), centres, live.size(), reference));
            for (int epoch = 1; epoch <= EPOCHS; epoch++) {
                for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] += 0.25f + (float) r.nextGaussian() * 0.2f; // drift: the whole distribution moves
                for (int b = 0; b < 10; b++) {
                    List<IndexOp> batch = new ArrayList<>();
                    for (int i = 0; i < 400; i++) {
                        int kind = r.nextInt(10);
                        if (kind < 5) {
                            String id = "v" + next++;
                            float[] v = sample(r, centres);
                            live.put(id, v);
                            ids.add(id);
                            batch.add(new IndexOp.Upsert(id, v, null));
                        } else if (kind < 7) {
                            String id = ids.get(r.nextInt(ids.size()));
                            float[] v = sample(r, centres);
                            live.put(id, v);
                            batch.add(new IndexOp.Upsert(id, v, null));
                        } else {
                            String id = ids.get(r.nextInt(ids.size()));
                            live.remove(id);
                            batch.add(new IndexOp.Delete(id));
                        }
                    }
                    shard.apply(batch, offset += batch.size());
                    shard.maintain();
                }
                // ingestion paced so that a rebuild keeps up: let triggered rebuilds finish and swap before measuring
                while (service.busy()) {
                    shard.maintain();
                    Thread.sleep(2);
                }
                shard.maintain();
                timeline.add(measure(shard.snapshot(), new Random(1000 + epoch), centres, live.size(), reference));
            }
        }
        return timeline;
    }

    private static float[] sample(Random r, float[][] centres) {
        float[] c = centres[r.nextInt(centres.length)];
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = c[d] + (float) r.nextGaussian();
        return v;
    }

    private static double[] measure(ShardSnapshot s, Random r, float[][] centres, int live, boolean reference) throws Exception {
        float[][] queries = new float[QUERIES][];
        for (int q = 0; q < QUERIES; q++) queries[q] = sample(r, centres);
        if (s.liveCount() != live) throw new AssertionError("live " + s.liveCount() + " != " + live);
        double[] mine = recalls(s, queries);
        double[] ref = reference ? recalls(fullRebuild(s), queries) : null;
        // the same queries on both indexes: the standard error of the paired difference
        double se = Double.NaN;
        if (ref != null) {
            double[] diff = new double[QUERIES];
            for (int q = 0; q < QUERIES; q++) diff[q] = ref[q] - mine[q];
            double m = mean(diff), var = 0;
            for (double d : diff) var += (d - m) * (d - m);
            se = Math.sqrt(var / (QUERIES - 1) / QUERIES);
        }
        return new double[]{mean(mine), live, s.base() == null ? 0 : s.base().version(), ref == null ? Double.NaN : mean(ref), se};
    }

    private static double mean(double[] v) {
        double sum = 0;
        for (double x : v) sum += x;
        return sum / v.length;
    }

    /** recall@10 of each query. */
    private static double[] recalls(ShardSnapshot s, float[][] queries) {
        double[] out = new double[queries.length];
        for (int q = 0; q < queries.length; q++) {
            Set<String> truth = new HashSet<>();
            for (SearchHit h : s.search(queries[q], K, DEFAULT_NPROBE, true)) truth.add(h.id());
            int hit = 0;
            for (SearchHit h : s.search(queries[q], K, DEFAULT_NPROBE, false)) if (truth.contains(h.id())) hit++;
            out[q] = hit / (double) K;
        }
        return out;
    }

    /** The same live set, freshly compacted into one base (what recall is right after a full rebuild). */
    private static ShardSnapshot fullRebuild(ShardSnapshot s) throws Exception {
        ShardRegistry registry = new ShardRegistry(s.config(), Kernels.cpu());
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(5000))) {
            Shard ref = registry.open(0);
            ShardSnapshot.LiveData all = s.live();
            List<IndexOp> ops = new ArrayList<>(all.size());
            for (int i = 0; i < all.size(); i++) {
                ops.add(new IndexOp.Upsert(all.ids()[i], java.util.Arrays.copyOfRange(all.vectors(), i * DIM, (i + 1) * DIM), null));
            }
            ref.apply(ops, s.nextOffset());
            RebuildJob job = service.requestRebuild(null);
            while (job.state() != RebuildJob.State.DONE) {
                ref.maintain();
                Thread.sleep(2);
            }
            return ref.snapshot();
        }
    }
}
