package io.vectorstream.bench;

import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.index.VectorFiles;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

/**
 * {@code bench-index}: builds one index over a TEXMEX base file and measures, for every nprobe (and
 * refine) setting, recall@10 against the ground truth, single-thread single-query latency and
 * throughput, and batch throughput on all cores. The same rows as FAISS's script prints.
 */
final class BenchIndex {
    static final String USAGE = """
            usage: vectorstream bench-index --base B.fvecs --query Q.fvecs --gt G.ivecs --index ivf-flat|ivf-pq
                     [--nlist N (default 4*sqrt(n))] [--m 16] [--nprobe 1,2,4,8,16,32,64] [--refine 0,4,10]
                     [--scan bf16|float (ivf-flat: scan a bf16 copy + exact re-check, or the floats)]
                     [--metric l2|ip|cosine] [--kmeans-iter 10] [--kmeans-max-points 64] [--seed 42]
                     [--max-base ROWS] [--max-query ROWS] [--json FILE]
                     [--filter-selectivity 0.5,0.05,0.005,0.0005 (ivf-flat: filtered search instead, see FilterBench)]""";
    private static final int K = 10;

    private BenchIndex() {
    }

    record Row(String index, int nlist, int m, int nprobe, int refine, double recallAt10, double qpsSingleThread,
               double p50Ms, double p99Ms, double qpsBatch, int batchThreads, double trainS, double addS,
               double bytesPerVector, int n, int nq) {
        String json() {
            return String.format(Locale.ROOT, "{\"engine\":\"vectorstream\",\"index\":\"%s\",\"nlist\":%d,\"m\":%d,\"nprobe\":%d,"
                            + "\"refine\":%d,\"recall_at_10\":%.4f,\"qps_single_thread\":%.1f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
                            + "\"qps_batch\":%.1f,\"batch_threads\":%d,\"train_s\":%.3f,\"add_s\":%.3f,\"bytes_per_vector\":%.2f,\"n\":%d,\"nq\":%d}",
                    index, nlist, m, nprobe, refine, recallAt10, qpsSingleThread, p50Ms, p99Ms, qpsBatch, batchThreads,
                    trainS, addS, bytesPerVector, n, nq);
        }
    }

    /** One query: ids of the best {@link #K} into {@code out}. */
    interface Searcher {
        void search(float[] query, int nprobe, int refine, int[] out);
    }

    static void main(String[] argv) throws Exception {
        Args a = new Args(argv, 0, USAGE);
        if (a.flag("help")) {
            System.out.println(USAGE);
            return;
        }
        VectorFiles.Floats base = VectorFiles.readVectors(Path.of(a.string("base", null)), a.integer("max-base", 0));
        VectorFiles.Floats query = VectorFiles.readVectors(Path.of(a.string("query", null)), a.integer("max-query", 0));
        VectorFiles.Ints gt = VectorFiles.readIvecs(Path.of(a.string("gt", null)), a.integer("max-query", 0));
        if (gt.dim() < K || gt.n() < query.n()) throw a.fail("ground truth needs >= " + K + " neighbours for every query");
        if (a.integer("max-base", 0) > 0 && base.n() < VectorFiles.readFvecs(Path.of(a.string("base", null)), 1).n()) {
            System.err.println("warning: --max-base truncates the base: the ground truth may not match");
        }
        String kind = a.string("index", null);
        String selectivities = a.string("filter-selectivity", "");
        boolean filtered = !selectivities.isEmpty();
        if (filtered && !"ivf-flat".equals(kind)) throw a.fail("--filter-selectivity needs --index ivf-flat");
        int n = base.n(), dim = base.dim(), nq = query.n();
        int nlist = a.integer("nlist", (int) Math.round(4 * Math.sqrt(n)));
        int m = a.integer("m", 16);
        Metric metric = Metric.parse(a.string("metric", "l2"));
        int iters = a.integer("kmeans-iter", 10), maxPts = a.integer("kmeans-max-points", 64);
        long seed = a.longValue("seed", 42);
        List<Integer> nprobes = a.ints("nprobe", "1,2,4,8,16,32,64");
        List<Integer> refines = kind.equals("ivf-pq") ? a.ints("refine", "0,4,10") : List.of(0);
        System.err.printf("%s: n=%d dim=%d nq=%d nlist=%d%s metric=%s kernels=%s cores=%d%n", kind, n, dim, nq, nlist,
                kind.equals("ivf-pq") ? " m=" + m : "", metric.wireName(), Kernels.cpu().name(),
                Runtime.getRuntime().availableProcessors());

        Searcher searcher;
        double trainS, addS, bytesPerVector;
        int mOut = 0;
        switch (kind) {
            case "ivf-flat" -> {
                String scan = a.string("scan", "bf16");
                if (!scan.equals("bf16") && !scan.equals("float")) throw a.fail("--scan must be bf16 or float");
                System.err.println("ivf-flat: lists scanned as " + (scan.equals("bf16")
                        ? "a bf16 residual copy, candidates re-checked exactly (+~290 bytes/vector)" : "floats"));
                IndexConfig config = new IndexConfig(dim, metric, nlist, Integer.MAX_VALUE, 16, seed, scan.equals("bf16"));
                Shard shard = new Shard(0, config, Kernels.cpu());
                long t0 = System.nanoTime();
                shard.trainOn(base.data(), n);
                long t1 = System.nanoTime();
                final int batch = 1 << 16;
                for (int b0 = 0; b0 < n; b0 += batch) {
                    List<IndexOp> ops = new ArrayList<>(batch);
                    for (int i = b0; i < Math.min(n, b0 + batch); i++) {
                        ops.add(new IndexOp.Upsert(Integer.toString(i), Arrays.copyOfRange(base.data(), i * dim, (i + 1) * dim),
                                filtered ? FilterBench.metadata(i) : null));
                    }
                    shard.apply(ops, b0 + ops.size());
                }
                // batches this large defer the bf16 scan copies (as a backlog does in the server); build them now,
                // as a server does once caught up, so that the settled index is what is measured
                shard.settle();
                long t2 = System.nanoTime();
                trainS = (t1 - t0) / 1e9;
                addS = (t2 - t1) / 1e9;
                ShardSnapshot snap = shard.snapshot();
                bytesPerVector = (double) snap.listBytes() / n;
                if (filtered) {
                    System.err.printf("built: train %.2f s, add %.2f s (with metadata)%n", trainS, addS);
                    List<Double> sel = new ArrayList<>();
                    for (String x : selectivities.split(",")) sel.add(Double.parseDouble(x.trim()));
                    List<FilterBench.Row> rows = FilterBench.run(snap, metric, base, query, sel, nprobes);
                    String json = a.string("json", "");
                    if (!json.isEmpty()) {
                        StringBuilder sb = new StringBuilder("[\n");
                        for (int i = 0; i < rows.size(); i++) sb.append("  ").append(rows.get(i).json()).append(i + 1 < rows.size() ? ",\n" : "\n");
                        Files.writeString(Path.of(json), sb.append("]\n").toString());
                    }
                    return;
                }
                searcher = (q, nprobe, refine, out) -> {
                    List<SearchHit> hits = snap.search(metric.normalizes() ? io.vectorstream.index.VectorMath.normalized(q) : q, K, nprobe, false);
                    for (int j = 0; j < K; j++) out[j] = j < hits.size() ? Integer.parseInt(hits.get(j).id()) : -1;
                };
            }
            case "ivf-pq" -> {
                mOut = m;
                long t0 = System.nanoTime();
                IvfPqIndex.Params p = new IvfPqIndex.Params(nlist, m, iters, maxPts, 25, 256, seed);
                IvfPqIndex.Trained trained = IvfPqIndex.train(Kernels.cpu(), metric, base.data(), n, dim, p);
                long t1 = System.nanoTime();
                IvfPqIndex index = IvfPqIndex.build(Kernels.cpu(), trained, base.data(), n, null, new FlatVectorStore(base.data(), dim));
                long t2 = System.nanoTime();
                trainS = (t1 - t0) / 1e9;
                addS = (t2 - t1) / 1e9;
                bytesPerVector = index.bytesPerVector();
                System.err.printf("ivf-pq: %.2f bytes/vector in the index (codes + ordinal); the re-rank vectors are a FlatVectorStore on the heap: %d bytes/vector%n",
                        bytesPerVector, 4 * dim);
                System.err.printf("ivf-pq: fixed overhead (centroids, codebooks, precomputed L2 table if enabled) %.1f MiB = %.1f bytes/vector%n",
                        index.overheadBytes() / 1048576.0, (double) index.overheadBytes() / n);
                ThreadLocal<float[]> dists = ThreadLocal.withInitial(() -> new float[K]);
                searcher = (q, nprobe, refine, out) -> index.search(q, K, nprobe, refine, out, dists.get());
            }
            default -> throw a.fail("--index must be ivf-flat or ivf-pq");
        }
        System.err.printf("built: train %.2f s, add %.2f s, %.1f bytes/vector%n", trainS, addS, bytesPerVector);

        List<Row> rows = new ArrayList<>();
        printHeader();
        for (int refine : refines) {
            for (int nprobe : nprobes) {
                Row row = measure(kind, nlist, mOut, nprobe, refine, searcher, query, gt, trainS, addS, bytesPerVector, n);
                rows.add(row);
                printRow(row);
            }
        }
        String json = a.string("json", "");
        if (!json.isEmpty()) {
            Path out = Path.of(json);
            if (out.getParent() != null) Files.createDirectories(out.getParent());
            StringBuilder sb = new StringBuilder("[\n");
            for (int i = 0; i < rows.size(); i++) sb.append("  ").append(rows.get(i).json()).append(i + 1 < rows.size() ? ",\n" : "\n");
            Files.writeString(out, sb.append("]\n").toString());
        }
    }

    /** Seconds of untimed queries before each setting is timed, and the least timed seconds (both engines). */
    static final double WARMUP_S = 1.0, MEASURE_S = 2.0;

    static Row measure(String kind, int nlist, int m, int nprobe, int refine, Searcher s, VectorFiles.Floats query,
                       VectorFiles.Ints gt, double trainS, double addS, double bpv, int n) {
        int nq = query.n(), dim = query.dim();
        float[][] qs = new float[nq][];
        for (int i = 0; i < nq; i++) qs[i] = Arrays.copyOfRange(query.data(), i * dim, (i + 1) * dim);
        int[] found = new int[nq * K];
        int[] out = new int[K];
        // warm-up pass (JIT), which also gives the recall
        for (int i = 0; i < nq; i++) {
            s.search(qs[i], nprobe, refine, out);
            System.arraycopy(out, 0, found, i * K, K);
        }
        int hits = 0;
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < K; j++) {
                int id = found[i * K + j];
                for (int t = 0; t < K; t++) if (gt.data()[i * gt.dim() + t] == id) { hits++; break; }
            }
        }
        double recall = hits / (double) (nq * K);
        // more warm-up until WARMUP_S has passed (the JIT settles; FAISS's script does the same), then
        // single thread, one query at a time; repeat passes to at least MEASURE_S
        long warm = System.nanoTime();
        do {
            for (int i = 0; i < nq; i++) s.search(qs[i], nprobe, refine, out);
        } while (System.nanoTime() - warm < (long) (WARMUP_S * 1e9));
        long[] lat = new long[nq];
        List<Long> all = new ArrayList<>();
        long start = System.nanoTime();
        int passes = 0;
        do {
            for (int i = 0; i < nq; i++) {
                long t = System.nanoTime();
                s.search(qs[i], nprobe, refine, out);
                lat[i] = System.nanoTime() - t;
            }
            for (long l : lat) all.add(l);
            passes++;
        } while (System.nanoTime() - start < (long) (MEASURE_S * 1e9) && passes < 100);
        double elapsed = (System.nanoTime() - start) / 1e9;
        long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
        double p50 = sorted[sorted.length / 2] / 1e6, p99 = sorted[Math.min(sorted.length - 1, (int) (sorted.length * 0.99))] / 1e6;
        double qpsSingle = (double) nq * passes / elapsed;
        // batch: all queries spread over all cores
        int threads = java.util.concurrent.ForkJoinPool.getCommonPoolParallelism();
        long b0 = System.nanoTime();
        int bpasses = 0;
        do {
            IntStream.range(0, nq).parallel().forEach(i -> s.search(qs[i], nprobe, refine, new int[K]));
            bpasses++;
        } while (System.nanoTime() - b0 < (long) (MEASURE_S * 1e9) && bpasses < 100);
        double qpsBatch = (double) nq * bpasses / ((System.nanoTime() - b0) / 1e9);
        return new Row(kind, nlist, m, nprobe, refine, recall, qpsSingle, p50, p99, qpsBatch, threads, trainS, addS, bpv, n, nq);
    }

    static void printHeader() {
        System.out.printf("%-9s %6s %3s %6s %6s %9s %10s %8s %8s %10s %8s %8s %8s%n",
                "index", "nlist", "m", "nprobe", "refine", "recall@10", "qps(1thr)", "p50ms", "p99ms", "qps(batch)", "train_s", "add_s", "B/vec");
    }

    static void printRow(Row r) {
        System.out.printf(Locale.ROOT, "%-9s %6d %3d %6d %6d %9.4f %10.1f %8.3f %8.3f %10.1f %8.2f %8.2f %8.1f%n",
                r.index(), r.nlist(), r.m(), r.nprobe(), r.refine(), r.recallAt10(), r.qpsSingleThread(), r.p50Ms(), r.p99Ms(),
                r.qpsBatch(), r.trainS(), r.addS(), r.bytesPerVector());
    }
}
