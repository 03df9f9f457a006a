package io.vectorstream.compaction;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.VectorFiles;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * The rebuild benchmark of bench/RESULTS.md (issue 4; not part of the test suite): one shard loaded with N
 * vectors (default the 1M x 128 {@code c1m} set), a steady paced query load through {@link IndexSearcher}
 * (k = 10, default nprobe), and operator rebuilds through {@link CompactionService} while it runs. Reports the
 * rebuild wall time and phases, p50/p99/max latency and failures outside and during each rebuild, recall@10
 * against the ground truth per period, and the IVF-PQ parameters the compactor used (for FAISS's train + add).
 *
 * <p>Run (see bench/run-rebuild-bench.sh, which also runs FAISS and computes the ratio):
 * {@code mvn -B -pl compaction -am test -Dtest=RebuildBenchmark -Dvectorstream.bench=true -Dsurefire.failIfNoSpecifiedTests=false
 * -Dvectorstream.bench.base=/path/c1m_base.fvecs}
 *
 * <p>System properties (all optional): {@code vectorstream.bench.base} (.fvecs; absent: ../bench/data/c1m_base.fvecs,
 * else synthetic clustered data), {@code .query} / {@code .gt} (default: the base path with _query.fvecs / _gt.ivecs),
 * {@code .n} (1000000), {@code .qps} (total paced rate, 500), {@code .queryThreads} (2), {@code .warmupSeconds} (5),
 * {@code .steadySeconds} (20, each period outside a rebuild), {@code .rebuilds} (2, under load: hot -> base, then
 * base -> base), {@code .quietRebuild} (true: one more rebuild with no query load, for the FAISS comparison).
 */
class RebuildBenchmark {
    private static final int K = 10;
    private static final String PROP = "vectorstream.bench";

    @BeforeAll
    static void optIn() {
        boolean on = "true".equals(System.getProperty(PROP));
        if (!on) {
            System.out.println("RebuildBenchmark skipped: opt-in benchmark (1M x 128 rebuild under query load, minutes);"
                    + " run with -D" + PROP + "=true");
        }
        Assumptions.assumeTrue(on, "opt-in benchmark: run with -D" + PROP + "=true");
    }

    // ---- configuration ----

    private static String prop(String name, String def) {
        return System.getProperty(PROP + "." + name, def);
    }

    private static int intProp(String name, int def) {
        return Integer.parseInt(prop(name, Integer.toString(def)));
    }

    // ---- per-period statistics, one per query thread (merged at the end) ----

    private static final class Stats {
        long[] service = new long[1 << 12]; // ns, call start to end
        long[] response = new long[1 << 12]; // ns, scheduled start to end (includes waiting behind a late query)
        int count, failures, hits;
        String firstError;

        void add(long serviceNs, long responseNs, int hit) {
            if (count == service.length) {
                service = Arrays.copyOf(service, count * 2);
                response = Arrays.copyOf(response, count * 2);
            }
            service[count] = serviceNs;
            response[count] = responseNs;
            count++;
            hits += hit;
        }

        void merge(Stats o) {
            for (int i = 0; i < o.count; i++) add(o.service[i], o.response[i], 0);
            hits += o.hits;
            failures += o.failures;
            if (firstError == null) firstError = o.firstError;
        }
    }

    /** A labelled period of the run: queries are counted in the period current when they start. */
    private record Period(String label, long startNs, long gcMillisAtStart) {
    }

    private final AtomicReference<Period> period = new AtomicReference<>();
    private final List<Period> periods = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Long> periodWallNs = new LinkedHashMap<>();
    private final Map<String, Long> periodGcMs = new LinkedHashMap<>();

    private void enter(String label) {
        long now = System.nanoTime();
        Period prev = period.get();
        if (prev != null) {
            periodWallNs.put(prev.label(), now - prev.startNs());
            periodGcMs.put(prev.label(), gcMillis() - prev.gcMillisAtStart());
        }
        Period p = label == null ? null : new Period(label, now, gcMillis());
        if (p != null) periods.add(p);
        period.set(p);
    }

    private static long gcMillis() {
        long sum = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) sum += Math.max(0, gc.getCollectionTime());
        return sum;
    }

    @Test
    void rebuildUnderQueryLoad() throws Exception {
        int nWanted = intProp("n", 1_000_000);
        int qps = intProp("qps", 500);
        int threads = intProp("queryThreads", 2);
        int warmup = intProp("warmupSeconds", 5);
        int steady = intProp("steadySeconds", 20);
        int rebuilds = intProp("rebuilds", 2);
        boolean quietRebuild = Boolean.parseBoolean(prop("quietRebuild", "true"));
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "cores %d, kernels %s, max heap %d MiB, JVM %s%n",
                Runtime.getRuntime().availableProcessors(), Kernels.cpuDescription(),
                Runtime.getRuntime().maxMemory() >> 20, System.getProperty("java.vm.version")));

        // ---- data ----
        long t0 = System.nanoTime();
        Data data = data(nWanted, report);
        int n = data.n, dim = data.dim;
        report.append(String.format(Locale.ROOT, "data: %s, n %d, dim %d, %d queries (%.1f s to read/generate)%n",
                data.source, n, dim, data.nq, secs(System.nanoTime() - t0)));

        IndexConfig config = IndexConfig.of(dim, Metric.L2);
        ShardRegistry registry = new ShardRegistry(config, Kernels.cpu());
        try (CompactionService service = new CompactionService(registry, CompactionPolicy.manual(10_000))) {
            Shard shard = registry.open(0);
            IndexSearcher searcher = new IndexSearcher(registry);

            // ---- load: train the hot lists on the data (k-means samples it), then add in batches ----
            t0 = System.nanoTime();
            shard.trainOn(data.vectors, n);
            long trained = System.nanoTime();
            final int batch = 20_000;
            for (int from = 0; from < n; from += batch) {
                int to = Math.min(n, from + batch);
                List<IndexOp> ops = new ArrayList<>(to - from);
                for (int i = from; i < to; i++) {
                    ops.add(new IndexOp.Upsert(Integer.toString(i), Arrays.copyOfRange(data.vectors, i * dim, (i + 1) * dim), null));
                }
                shard.apply(ops, to);
            }
            long loaded = System.nanoTime();
            data = data.withoutVectors(); // the shard has its own copy
            report.append(String.format(Locale.ROOT, "load: hot IVF-Flat, %d lists: train %.1f s + add %.1f s; live %d%n",
                    config.nlistFor(n), secs(trained - t0), secs(loaded - trained), shard.snapshot().liveCount()));
            if (data.gt == null) {
                t0 = System.nanoTime();
                data = data.withGt(exactGt(searcher, data.queries, data.nq));
                report.append(String.format(Locale.ROOT, "ground truth: exact search over the shard (%.1f s)%n", secs(System.nanoTime() - t0)));
            }
            report.append(String.format(Locale.ROOT, "recall@10 (all %d queries, quiet) before any rebuild (hot IVF-Flat): %.4f%n",
                    data.nq, recallAll(searcher, data)));

            // ---- steady query load ----
            List<Thread> workers = new ArrayList<>();
            stopping = false;
            long intervalNs = 1_000_000_000L * threads / qps;
            long startAt = System.nanoTime() + 50_000_000L;
            enter("warm-up");
            for (int t = 0; t < threads; t++) {
                Map<String, Stats> mine = new HashMap<>();
                final int tid = t;
                final Data d = data;
                Thread w = new Thread(() -> queryLoop(searcher, d, tid, threads, startAt + tid * intervalNs / threads, intervalNs, mine),
                        "bench-query-" + t);
                w.setDaemon(true);
                workers.add(w);
                perThreadMaps.add(mine);
                w.start();
            }
            Thread.sleep(warmup * 1000L);
            String before = "outside: hot IVF-Flat, before rebuild 1";
            enter(before);
            Thread.sleep(steady * 1000L);
            List<String[]> rebuildRows = new ArrayList<>();
            List<String> outsideLabels = new ArrayList<>(List.of(before));
            List<String> duringLabels = new ArrayList<>();
            for (int r = 1; r <= rebuilds; r++) {
                String during = "during rebuild " + r;
                duringLabels.add(during);
                enter(during);
                rebuildRows.add(rebuild(service, shard, r, true));
                String after = "outside: after rebuild " + r + " (IVF-PQ base)";
                outsideLabels.add(after);
                enter(after);
                Thread.sleep(steady * 1000L);
            }
            enter(null);
            stopping = true;
            for (Thread w : workers) w.join();

            BaseSegment base = shard.snapshot().base();
            if (base != null) {
                report.append(String.format(Locale.ROOT, "IVF-PQ base built by the compactor: nlist %d, m %d (8-bit codes), re-rank x%d, %d vectors%n",
                        base.index().nlist(), base.index().m(), BaseSegment.REFINE, base.size()));
            }
            report.append(String.format(Locale.ROOT, "recall@10 (all %d queries, quiet) after the rebuilds: %.4f%n",
                    data.nq, recallAll(searcher, data)));
            if (quietRebuild) rebuildRows.add(rebuild(service, shard, rebuilds + 1, false));

            // ---- summary ----
            Map<String, Stats> merged = new LinkedHashMap<>();
            for (Period p : periods) merged.put(p.label(), new Stats());
            for (Map<String, Stats> m : perThreadMaps) m.forEach((label, s) -> merged.get(label).merge(s));
            report.append(String.format(Locale.ROOT, "%nquery load: %d thread(s), paced at %d q/s in total, k %d, nprobe %d (default), "
                    + "queries cycle through the %d query vectors%n", threads, qps, K, config.defaultNprobe(), data.nq));
            report.append("| period | wall s | queries | q/s | failed | p50 ms | p99 ms | max ms | p99 ms from schedule | recall@10 | GC ms |\n");
            report.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
            Map<String, double[]> p99s = new HashMap<>();
            long totalFailures = 0;
            for (var e : merged.entrySet()) {
                Stats s = e.getValue();
                long wall = periodWallNs.getOrDefault(e.getKey(), 0L);
                long[] sv = Arrays.copyOf(s.service, s.count), rs = Arrays.copyOf(s.response, s.count);
                Arrays.sort(sv);
                Arrays.sort(rs);
                double p50 = ms(pct(sv, 0.50)), p99 = ms(pct(sv, 0.99)), max = ms(s.count == 0 ? 0 : sv[s.count - 1]), r99 = ms(pct(rs, 0.99));
                p99s.put(e.getKey(), new double[]{p50, p99, r99});
                if (!e.getKey().equals("warm-up")) totalFailures += s.failures;
                report.append(String.format(Locale.ROOT, "| %s | %.1f | %d | %.0f | %d | %.3f | %.3f | %.2f | %.3f | %.4f | %d |%n",
                        e.getKey(), secs(wall), s.count, wall > 0 ? s.count / secs(wall) : 0, s.failures, p50, p99, max, r99,
                        s.count == 0 ? 0 : s.hits / (double) (s.count * K), periodGcMs.getOrDefault(e.getKey(), 0L)));
                if (s.firstError != null) report.append("  first failure: ").append(s.firstError).append('\n');
            }
            report.append("\nrebuilds (operator, via CompactionService.requestRebuild; wall = request to installed):\n");
            report.append("| rebuild | under load | wall s | queue + snapshot + collect s | train s | encode s | swap wait s | compactor's own build ms | outcome |\n");
            report.append("|---|---|---|---|---|---|---|---|---|\n");
            for (String[] row : rebuildRows) report.append("| ").append(String.join(" | ", row)).append(" |\n");
            report.append('\n');
            // every query outside any rebuild, pooled (the index differs before and after a rebuild)
            Stats outsideAll = new Stats();
            for (String label : outsideLabels) outsideAll.merge(merged.get(label));
            long[] osv = Arrays.copyOf(outsideAll.service, outsideAll.count), ors = Arrays.copyOf(outsideAll.response, outsideAll.count);
            Arrays.sort(osv);
            Arrays.sort(ors);
            double outP99 = ms(pct(osv, 0.99)), outR99 = ms(pct(ors, 0.99));
            report.append(String.format(Locale.ROOT, "outside every rebuild, pooled (%d queries): p99 %.3f ms, from schedule %.3f ms%n",
                    outsideAll.count, outP99, outR99));
            for (int r = 0; r < duringLabels.size(); r++) {
                double[] d = p99s.get(duringLabels.get(r));
                report.append(String.format(Locale.ROOT, "target check rebuild %d vs pooled outside: p99 %.3f / %.3f ms = %.2fx (target <= 2x: %s); from schedule %.3f / %.3f = %.2fx%n",
                        r + 1, d[1], outP99, d[1] / outP99, d[1] <= 2 * outP99 ? "met" : "MISSED", d[2], outR99, d[2] / outR99));
            }
            for (int r = 0; r < duringLabels.size(); r++) {
                double[] during = p99s.get(duringLabels.get(r));
                double[] outBefore = p99s.get(outsideLabels.get(r));
                double[] outAfter = p99s.get(outsideLabels.get(r + 1));
                report.append(String.format(Locale.ROOT,
                        "target check rebuild %d: p99 during %.3f ms vs outside before %.3f ms (%.2fx) and after %.3f ms (%.2fx); "
                                + "from schedule: during %.3f vs before %.3f (%.2fx) / after %.3f (%.2fx)%n",
                        r + 1, during[1], outBefore[1], during[1] / outBefore[1], outAfter[1], during[1] / outAfter[1],
                        during[2], outBefore[2], during[2] / outBefore[2], outAfter[2], during[2] / outAfter[2]));
            }
            report.append(String.format(Locale.ROOT, "failed queries (all periods after warm-up): %d%n", totalFailures));
            for (String[] row : rebuildRows) {
                report.append(String.format(Locale.ROOT, "rebuild-seconds: %s %s %s%n", row[0], row[1].equals("yes") ? "load" : "quiet", row[2]));
            }
            if (base != null) {
                report.append(String.format(Locale.ROOT, "faiss-args: --nlist %d --m %d --nprobe %d --refine %d --kmeans-iter 10 --kmeans-max-points 64 --seed %d%n",
                        base.index().nlist(), base.index().m(), config.defaultNprobe(), BaseSegment.REFINE, config.seed()));
            }
            System.out.println("\n==== RebuildBenchmark summary ====\n" + report + "==== end ====");
        }
    }

    // ---- the query threads ----

    private volatile boolean stopping;
    private final List<Map<String, Stats>> perThreadMaps = java.util.Collections.synchronizedList(new ArrayList<>());

    private void queryLoop(IndexSearcher searcher, Data d, int tid, int threads, long firstAt, long intervalNs, Map<String, Stats> mine) {
        long next = firstAt;
        int i = tid;
        while (!stopping) {
            long now = System.nanoTime();
            if (now < next) {
                LockSupport.parkNanos(next - now);
                continue;
            }
            Period p = period.get();
            if (p == null) break;
            Stats s = mine.computeIfAbsent(p.label(), l -> new Stats());
            int q = i % d.nq;
            i += threads;
            long start = System.nanoTime();
            try {
                SearchResult r = searcher.search(Arrays.copyOfRange(d.queries, q * d.dim, (q + 1) * d.dim), K, null, false);
                long end = System.nanoTime();
                int hit = hits(r.hits(), d.gt, q);
                if (r.hits().size() < K) {
                    s.failures++;
                    if (s.firstError == null) s.firstError = "only " + r.hits().size() + " hits";
                }
                s.add(end - start, end - next, hit);
            } catch (Throwable t) {
                s.failures++;
                if (s.firstError == null) s.firstError = t.toString();
            }
            next += intervalNs;
        }
    }

    // ---- one operator rebuild, this thread acting as the shard's writer ----

    private String[] rebuild(CompactionService service, Shard shard, int number, boolean underLoad) throws Exception {
        long t0 = System.nanoTime();
        RebuildJob job = service.requestRebuild(List.of(shard.partition()));
        RebuildJob.ShardPart part = job.shards().getFirst();
        Map<String, Long> phaseAt = new LinkedHashMap<>();
        phaseAt.put("requested", 0L);
        String last = null;
        while (job.state() == RebuildJob.State.QUEUED || job.state() == RebuildJob.State.RUNNING) {
            shard.maintain(); // the writer installs the new base at its next apply or maintain
            String ph = part.phase();
            if (!ph.equals(last)) {
                phaseAt.putIfAbsent(ph, System.nanoTime() - t0);
                last = ph;
            }
            Thread.sleep(1);
        }
        long wall = System.nanoTime() - t0;
        shard.maintain();
        if (job.state() != RebuildJob.State.DONE) throw new AssertionError("rebuild " + number + " failed: " + part.error());
        phaseAt.putIfAbsent("done", wall);
        BaseSegment base = shard.snapshot().base();
        return new String[]{Integer.toString(number), underLoad ? "yes" : "no", fmt(secs(wall)),
                span(phaseAt, "requested", "train"), span(phaseAt, "train", "encode"), span(phaseAt, "encode", "swap"),
                span(phaseAt, "swap", phaseAt.containsKey("persist") ? "persist" : "done"), base == null ? "-" : Long.toString(base.buildMillis()), part.outcome()};
    }

    private static String span(Map<String, Long> at, String from, String to) {
        Long a = at.get(from), b = at.get(to);
        return a == null || b == null ? "-" : fmt(secs(b - a));
    }

    // ---- recall ----

    private static int hits(List<SearchHit> got, int[] gt, int q) {
        int hit = 0;
        for (SearchHit h : got) {
            int id = Integer.parseInt(h.id());
            for (int j = 0; j < K; j++) {
                if (gt[q * K + j] == id) {
                    hit++;
                    break;
                }
            }
        }
        return hit;
    }

    private static double recallAll(IndexSearcher searcher, Data d) {
        long hit = 0;
        for (int q = 0; q < d.nq; q++) {
            hit += hits(searcher.search(Arrays.copyOfRange(d.queries, q * d.dim, (q + 1) * d.dim), K, null, false).hits(), d.gt, q);
        }
        return hit / (double) (d.nq * K);
    }

    private static int[] exactGt(IndexSearcher searcher, float[] queries, int nq) {
        int dim = queries.length / nq;
        int[] gt = new int[nq * K];
        java.util.stream.IntStream.range(0, nq).parallel().forEach(q -> {
            List<SearchHit> hits = searcher.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), K, null, true).hits();
            for (int j = 0; j < K; j++) gt[q * K + j] = j < hits.size() ? Integer.parseInt(hits.get(j).id()) : -1;
        });
        return gt;
    }

    // ---- data: the .fvecs files, or synthetic clusters ----

    /** gt: the true top-K ids of each query ({@code nq * K}), null until known. */
    private record Data(String source, float[] vectors, int n, int dim, float[] queries, int nq, int[] gt) {
        Data withoutVectors() {
            return new Data(source, null, n, dim, queries, nq, gt);
        }

        Data withGt(int[] g) {
            return new Data(source, vectors, n, dim, queries, nq, g);
        }
    }

    private static Data data(int nWanted, StringBuilder report) throws Exception {
        String baseProp = prop("base", null);
        Path base = Path.of(baseProp != null ? baseProp : "../bench/data/c1m_base.fvecs");
        if (Files.isRegularFile(base)) {
            String b = base.toString();
            Path query = Path.of(prop("query", b.replace("_base.fvecs", "_query.fvecs")));
            Path gtFile = Path.of(prop("gt", b.replace("_base.fvecs", "_gt.ivecs")));
            VectorFiles.Floats xb = VectorFiles.readFvecs(base, nWanted);
            VectorFiles.Floats xq = VectorFiles.readFvecs(query, 0);
            long fileRows = Files.size(base) / (4L + 4L * xb.dim());
            int[] gt = null;
            if (xb.n() == fileRows && Files.isRegularFile(gtFile)) { // the file's ground truth is for the whole base
                VectorFiles.Ints g = VectorFiles.readIvecs(gtFile, xq.n());
                gt = new int[xq.n() * K];
                for (int q = 0; q < xq.n(); q++) System.arraycopy(g.data(), q * g.dim(), gt, q * K, K);
            } else {
                report.append("ground truth file not used (a prefix of the base, or missing): computing it exactly\n");
            }
            return new Data(base + (xb.n() < fileRows ? " (first " + xb.n() + " rows)" : ""), xb.data(), xb.n(), xb.dim(),
                    xq.data(), xq.n(), gt);
        }
        if (baseProp != null) throw new IllegalArgumentException(base + " does not exist");
        report.append("no ").append(base.toAbsolutePath().normalize()).append(": synthetic clustered data\n");
        int dim = 128, centres = 1000, nq = 200;
        Random r = new Random(1);
        float[] c = new float[centres * dim];
        for (int i = 0; i < c.length; i++) c[i] = (float) r.nextGaussian() * 2f;
        float[] v = new float[nWanted * dim], q = new float[nq * dim];
        for (int i = 0; i < nWanted; i++) {
            int cc = r.nextInt(centres);
            for (int d = 0; d < dim; d++) v[i * dim + d] = c[cc * dim + d] + (float) r.nextGaussian();
        }
        for (int i = 0; i < nq; i++) {
            int cc = r.nextInt(centres);
            for (int d = 0; d < dim; d++) q[i * dim + d] = c[cc * dim + d] + (float) r.nextGaussian();
        }
        return new Data("synthetic: " + centres + " Gaussian clusters", v, nWanted, dim, q, nq, null);
    }

    // ---- formatting ----

    private static long pct(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1)];
    }

    private static double ms(long ns) {
        return ns / 1e6;
    }

    private static double secs(long ns) {
        return ns / 1e9;
    }

    private static String fmt(double s) {
        return String.format(Locale.ROOT, "%.2f", s);
    }
}
