package io.vectorstream.index.device;

import io.vectorstream.kernels.cuda.DeviceSelector;
import io.vectorstream.kernels.cuda.CudaDevice;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ivf.IvfFlatIndex;
import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.quantizer.KMeans;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.IntStream;


/**
 * GPU benchmark of the CUDA IVF-Flat path: add throughput, batched search throughput, and
 * single-query latency through the micro-batcher, at each nprobe, with recall@k measured against
 * exact answers computed by the CPU backend. Prints one line per measurement; see bench/GPU-MODEL.md
 * for what an H100 should reach.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp index-store.jar:deps io.vectorstream.index.device.CudaBench \
 *     [n=1000000] [dim=128] [nlist=1024] [queries=1000] [truth=200] [k=10] [device=0]</pre>
 */
public final class CudaBench {

    private CudaBench() {
    }

    public static void main(String[] args) throws Exception {
        int n = arg(args, "n", 1_000_000), dim = arg(args, "dim", 128), nlist = arg(args, "nlist", 1024);
        int nq = arg(args, "queries", 1000), nTruth = Math.min(nq, arg(args, "truth", 200)), k = arg(args, "k", 10);
        int ordinal = arg(args, "device", 0);
        DeviceSelector.Selection sel = DeviceSelector.select("cuda");
        Random r = new Random(42);
        float[] data = clustered(r, n, dim, Math.max(nlist, 64));
        float[] queries = clustered(new Random(43), nq, dim, Math.max(nlist, 64));
        VectorKernels cpu = Kernels.cpu();
        long t0 = System.nanoTime();
        int sample = Math.min(n, nlist * 64);
        KMeans.Result km = new KMeans(cpu).train(Arrays.copyOf(data, sample * dim), sample, dim, KMeans.Params.defaults(nlist));
        System.out.printf(Locale.ROOT, "setup n=%d dim=%d nlist=%d k=%d devices=%d; k-means on %d points (CPU) %.1f s%n",
                n, dim, nlist, k, sel.deviceCount(), sample, (System.nanoTime() - t0) / 1e9);
        int[][] truth = exact(cpu, data, n, dim, queries, nTruth, k);
        int[] nprobes = java.util.stream.IntStream.of(1, 4, 8, 16, 32, 64, 128).filter(p -> p <= nlist).toArray();
        double[] cpuQps = cpuReference(cpu, data, n, dim, km.centroids(), nlist, queries, nq, truth, k, nprobes);
        try (CudaDevice device = CudaDevice.open(ordinal);
             CudaIvfLists lists = CudaIvfLists.create(device, Metric.L2, dim, km.centroids(), nlist)) {
            int batch = 65_536;
            long a0 = System.nanoTime();
            for (int off = 0; off < n; off += batch) {
                int b = Math.min(batch, n - off);
                int[] ids = new int[b];
                for (int i = 0; i < b; i++) ids[i] = off + i;
                lists.add(ids, Arrays.copyOfRange(data, off * dim, (off + b) * dim), b);
            }
            double addS = (System.nanoTime() - a0) / 1e9;
            System.out.printf(Locale.ROOT, "add: %d vectors in %.2f s = %.0f vectors/s (batches of %d, %s, %d MiB on device)%n",
                    n, addS, n / addS, batch, device, lists.deviceBytes() >> 20);
            for (int pi = 0; pi < nprobes.length; pi++) {
                int nprobe = nprobes[pi];
                lists.search(queries, Math.min(nq, 64), k, nprobe); // warm-up
                long s0 = System.nanoTime();
                CudaIvfLists.SearchResult res = lists.search(queries, nq, k, nprobe);
                double searchS = (System.nanoTime() - s0) / 1e9;
                double recall = 0;
                for (int q = 0; q < nTruth; q++) recall += recall(Arrays.copyOfRange(res.ids(), q * k, q * k + k), truth[q]) / nTruth;
                double[] lat = latencies(lists, queries, Math.min(nq, 500), dim, k, nprobe);
                System.out.printf(Locale.ROOT, "search nprobe=%d: recall@%d=%.4f batch(%d)=%.0f q/s (%.2fx the CPU's 1-thread q/s); single queries via batcher p50=%.3f ms p99=%.3f ms%s%n",
                        nprobe, k, recall, nq, nq / searchS, nq / searchS / cpuQps[pi], lat[0], lat[1], recall >= 0.95 ? "  <- recall >= 0.95" : "");
            }
        }
    }

    /**
     * The reference the device is held against, in the same run: the CPU backend's IVF-Flat (the hot index a shard
     * serves from, bf16 copies re-checked) on the same data and centroids, one thread. Returns q/s per nprobe.
     */
    private static double[] cpuReference(VectorKernels cpu, float[] data, int n, int dim, float[] centroids, int nlist,
                                         float[] queries, int nq, int[][] truth, int k, int[] nprobes) {
        long t0 = System.nanoTime();
        IndexConfig config = new IndexConfig(dim, Metric.L2, nlist, Integer.MAX_VALUE, 8, 42L);
        IvfFlatIndex index = new IvfFlatIndex(0, config, cpu, CoarseQuantizer.of(cpu, Metric.L2, dim, centroids));
        index.retrainAsItGrows(false); // the device's centroids, kept
        for (int off = 0; off < n; off += 65_536) {
            int b = Math.min(65_536, n - off);
            List<IndexOp> ops = new ArrayList<>(b);
            for (int i = off; i < off + b; i++) ops.add(new IndexOp.Upsert(Integer.toString(i), Arrays.copyOfRange(data, i * dim, (i + 1) * dim), null));
            index.apply(ops);
        }
        IvfFlatSnapshot snap = index.snapshot();
        System.out.printf(Locale.ROOT, "cpu reference: IVF-Flat on the same centroids (%s, 1 thread), built in %.1f s%n",
                cpu.name(), (System.nanoTime() - t0) / 1e9);
        int timed = Math.min(nq, 300);
        for (int i = 0; i < 2_000; i++) { // warm the JIT before the first timed row
            int q = i % nq;
            snap.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), k, Math.min(8, nlist), false);
        }
        double[] qps = new double[nprobes.length];
        for (int pi = 0; pi < nprobes.length; pi++) {
            int nprobe = nprobes[pi];
            double recall = 0;
            for (int q = 0; q < truth.length; q++) {
                List<SearchHit> hits = snap.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), k, nprobe, false);
                int[] found = hits.stream().mapToInt(h -> Integer.parseInt(h.id())).toArray();
                recall += recall(found, truth[q]) / truth.length;
            }
            long s0 = System.nanoTime();
            for (int q = 0; q < timed; q++) snap.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), k, nprobe, false);
            qps[pi] = timed / ((System.nanoTime() - s0) / 1e9);
            System.out.printf(Locale.ROOT, "cpu nprobe=%d: recall@%d=%.4f %.0f q/s (1 thread)%n", nprobe, k, recall, qps[pi]);
        }
        return qps;
    }

    private static double[] latencies(CudaIvfLists lists, float[] queries, int nq, int dim, int k, int nprobe) throws Exception {
        double[] ms = new double[nq];
        try (QueryBatcher batcher = new QueryBatcher(lists, 256, Duration.ofMillis(1))) {
            for (int q = 0; q < nq; q++) { // one at a time: the latency a lone query sees
                long t = System.nanoTime();
                batcher.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), k, nprobe).get();
                ms[q] = (System.nanoTime() - t) / 1e6;
            }
            List<CompletableFuture<QueryBatcher.Hits>> inflight = new ArrayList<>();
            for (int q = 0; q < nq; q++) inflight.add(batcher.search(Arrays.copyOfRange(queries, q * dim, (q + 1) * dim), k, nprobe));
            for (CompletableFuture<QueryBatcher.Hits> f : inflight) f.get();
        }
        Arrays.sort(ms);
        return new double[] {ms[nq / 2], ms[Math.min(nq - 1, (int) Math.ceil(nq * 0.99) - 1)]};
    }

    /** Exact top-k on the CPU backend, queries in parallel. */
    private static int[][] exact(VectorKernels cpu, float[] data, int n, int dim, float[] queries, int nq, int k) {
        long t0 = System.nanoTime();
        int[][] out = new int[nq][];
        IntStream.range(0, nq).parallel().forEach(q -> {
            float[] d = new float[4096];
            TopK top = new TopK(k);
            int[] ids = new int[4096];
            for (int off = 0; off < n; off += 4096) {
                int b = Math.min(4096, n - off);
                cpu.distances(Metric.L2, queries, q * dim, data, off * dim, b, dim, d, 0);
                for (int i = 0; i < b; i++) ids[i] = off + i;
                top.offerAll(d, 0, ids, 0, b);
            }
            out[q] = top.sortedIds();
        });
        System.out.printf(Locale.ROOT, "ground truth: %d queries exact on the CPU (%s) in %.1f s%n", nq, cpu.name(), (System.nanoTime() - t0) / 1e9);
        return out;
    }

    private static double recall(int[] found, int[] truth) {
        int hit = 0;
        for (int t : truth) for (int f : found) if (f == t) { hit++; break; }
        return (double) hit / truth.length;
    }

    private static float[] clustered(Random r, int n, int dim, int clusters) {
        float[] centers = new float[clusters * dim];
        for (int i = 0; i < centers.length; i++) centers[i] = r.nextFloat() * 2 - 1;
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(clusters);
            for (int j = 0; j < dim; j++) v[i * dim + j] = centers[c * dim + j] + (float) r.nextGaussian() * 0.2f;
        }
        return v;
    }

    private static int arg(String[] args, String name, int dflt) {
        for (String a : args) if (a.startsWith(name + "=")) return Integer.parseInt(a.substring(name.length() + 1));
        return dflt;
    }
}
