package io.vectorstream.bench;

import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.VectorFiles;
import io.vectorstream.index.VectorMath;
import io.vectorstream.index.filter.Filter;
import io.vectorstream.index.filter.FilterParser;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.TopK;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * {@code bench-index --filter-selectivity S1,S2,...}: filtered search on the IVF-Flat shard that bench-index built.
 * Vector i carries {@code {"u": u(i)}} with u a hash of i in [0, 1e6) (uncorrelated with the vectors), and selectivity
 * s is the range filter {@code {"u": {"$lt": s * 1e6}}}; faiss_bench.py computes the same u and filters FAISS's
 * IVF-Flat with an {@code IDSelectorBitmap}. Recall@10 is against exact search over the matching vectors (brute force
 * here), for every nprobe; each row also says which plans the shard ran.
 */
final class FilterBench {
    static final int K = 10;
    static final int BUCKETS = 1_000_000;

    private FilterBench() {
    }

    /** The metadata value of vector {@code i}: the same multiplicative hash as faiss_bench.py. */
    static int u(int i) {
        return (int) ((((long) i * 2654435761L) & 0xFFFFFFFFL) % BUCKETS);
    }

    static String metadata(int i) {
        return "{\"u\":" + u(i) + "}";
    }

    record Row(double selectivity, int matching, int nprobe, double recallAt10, double qpsSingleThread, double p50Ms,
               double p99Ms, Map<ShardSnapshot.Plan, Integer> plans, int n, int nq) {
        String json() {
            StringBuilder p = new StringBuilder("{");
            plans.forEach((plan, c) -> p.append(p.length() > 1 ? "," : "").append('"').append(plan.wireName()).append("\":").append(c));
            return String.format(Locale.ROOT, "{\"engine\":\"vectorstream\",\"index\":\"ivf-flat\",\"selectivity\":%s,\"matching\":%d,"
                            + "\"nprobe\":%d,\"recall_at_10\":%.4f,\"qps_single_thread\":%.1f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                            + "\"plans\":%s},\"n\":%d,\"nq\":%d}",
                    selectivity, matching, nprobe, recallAt10, qpsSingleThread, p50Ms, p99Ms, p, n, nq);
        }
    }

    static List<Row> run(ShardSnapshot snap, Metric metric, VectorFiles.Floats base, VectorFiles.Floats query,
                         List<Double> selectivities, List<Integer> nprobes) throws Exception {
        int n = base.n(), dim = base.dim(), nq = query.n();
        float[][] qs = new float[nq][];
        for (int i = 0; i < nq; i++) {
            float[] q = java.util.Arrays.copyOfRange(query.data(), i * dim, (i + 1) * dim);
            qs[i] = metric.normalizes() ? VectorMath.normalized(q) : q;
        }
        List<Row> rows = new ArrayList<>();
        System.out.printf("%-11s %9s %6s %9s %10s %8s %8s  %s%n", "selectivity", "matching", "nprobe", "recall@10",
                "qps(1thr)", "p50ms", "p99ms", "plans");
        List<Double> all = new ArrayList<>();
        all.add(1.0); // no filter at all: the reference a selective filter is compared with
        all.addAll(selectivities);
        for (double s : all) {
            int limit = (int) Math.round(s * BUCKETS);
            Filter filter = s >= 1 ? null : FilterParser.parse(new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree("{\"u\":{\"$lt\":" + limit + "}}"), "filter");
            int[] matching = IntStream.range(0, n).filter(i -> u(i) < limit).toArray();
            int[][] truth = new int[nq][];
            IntStream.range(0, nq).parallel().forEach(qi -> truth[qi] = bruteForce(metric, base, matching, qs[qi]));
            for (int nprobe : nprobes) {
                Map<ShardSnapshot.Plan, Integer> plans = new EnumMap<>(ShardSnapshot.Plan.class);
                int hits = 0, wanted = 0;
                for (int qi = 0; qi < nq; qi++) { // the first pass: recall and plans (also warms up)
                    ShardSnapshot.FilteredAnswer a = search(snap, qs[qi], nprobe, filter);
                    if (a.plan() != null) plans.merge(a.plan(), 1, Integer::sum);
                    java.util.Set<Integer> got = new java.util.HashSet<>();
                    for (SearchHit h : a.hits()) got.add(Integer.parseInt(h.id()));
                    for (int t : truth[qi]) if (got.contains(t)) hits++;
                    wanted += truth[qi].length;
                }
                double recall = wanted == 0 ? 1 : hits / (double) wanted;
                long warm = System.nanoTime();
                do {
                    for (float[] q : qs) search(snap, q, nprobe, filter);
                } while (System.nanoTime() - warm < (long) (BenchIndex.WARMUP_S * 1e9));
                List<Long> lat = new ArrayList<>();
                long start = System.nanoTime();
                int passes = 0;
                do {
                    for (float[] q : qs) {
                        long t = System.nanoTime();
                        search(snap, q, nprobe, filter);
                        lat.add(System.nanoTime() - t);
                    }
                    passes++;
                } while (System.nanoTime() - start < (long) (BenchIndex.MEASURE_S * 1e9) && passes < 100);
                double elapsed = (System.nanoTime() - start) / 1e9;
                long[] sorted = lat.stream().mapToLong(Long::longValue).sorted().toArray();
                Row row = new Row(s, matching.length, nprobe, recall, nq * passes / elapsed, sorted[sorted.length / 2] / 1e6,
                        sorted[Math.min(sorted.length - 1, (int) (sorted.length * 0.99))] / 1e6, plans, n, nq);
                rows.add(row);
                StringBuilder p = new StringBuilder();
                plans.forEach((plan, c) -> p.append(plan.wireName()).append('=').append(c).append(' '));
                System.out.printf(Locale.ROOT, "%-11s %9d %6d %9.4f %10.1f %8.3f %8.3f  %s%n", s, matching.length, nprobe,
                        recall, row.qpsSingleThread(), row.p50Ms(), row.p99Ms(), p.toString().trim());
            }
        }
        return rows;
    }

    /** A filtered search, or (filter null) a plain one reported as plan "none". */
    private static ShardSnapshot.FilteredAnswer search(ShardSnapshot snap, float[] q, int nprobe, Filter filter) {
        if (filter == null) return new ShardSnapshot.FilteredAnswer(snap.search(q, K, nprobe, false), null, snap.liveCount());
        return snap.search(q, K, nprobe, false, filter);
    }

    /** The exact top {@link #K} among {@code rows} of {@code base} (ids are row numbers). */
    private static int[] bruteForce(Metric metric, VectorFiles.Floats base, int[] rows, float[] q) {
        int dim = base.dim();
        float[] data = base.data();
        TopK top = new TopK(K);
        var kernels = Kernels.cpu();
        for (int r : rows) {
            float d;
            if (metric.normalizes()) {
                float[] v = VectorMath.normalized(java.util.Arrays.copyOfRange(data, r * dim, (r + 1) * dim));
                d = kernels.distance(metric, q, 0, v, 0, dim);
            } else {
                d = kernels.distance(metric, q, 0, data, r * dim, dim);
            }
            if (d < top.threshold()) top.offer(r, d);
        }
        int[] ids = new int[top.size()];
        top.drainSorted(ids, new float[ids.length]);
        return ids;
    }
}
