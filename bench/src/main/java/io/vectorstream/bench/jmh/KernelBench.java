package io.vectorstream.bench.jmh;

import io.vectorstream.kernels.Bf16Blocks;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.PanamaKernels;
import io.vectorstream.kernels.ScalarKernels;
import io.vectorstream.kernels.TopK;
import io.vectorstream.kernels.VectorKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Micro-benchmarks of the hot kernels, each on both backends: the inverted-list scan (one query x 256
 * vectors, as floats and as the bf16 copy), the blocked 1-NN assignment (256 queries x 1024 centroids), top-k selection and the ADC
 * table and scan. Run: see bench/RESULTS.md.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@State(Scope.Thread)
public class KernelBench {

    @Param({"panama", "scalar"})
    public String backend;

    @Param({"128"})
    public int dim;

    private VectorKernels k;
    private float[] query, list, queries, centroids, dist, lut, codebooksT, random;
    private int[] ids, assign, listBf16;
    private float[] listBf16Norms;
    private byte[] codes16, codes32;
    private static final int LIST = 256, NQ = 256, NC = 1024, CODES = 4096;

    @Setup
    public void setup() {
        k = backend.equals("panama") ? new PanamaKernels() : new ScalarKernels();
        Random r = new Random(1);
        query = gaussian(r, dim);
        list = gaussian(r, LIST * dim);
        listBf16 = Bf16Blocks.of(list, LIST, dim);
        listBf16Norms = new float[LIST];
        Bf16Blocks.roundedSquaredNorms(list, LIST, dim, listBf16Norms);
        queries = gaussian(r, NQ * dim);
        centroids = gaussian(r, NC * dim);
        dist = new float[Math.max(CODES, LIST)];
        random = new float[CODES];
        for (int i = 0; i < CODES; i++) random[i] = r.nextFloat();
        ids = new int[CODES];
        for (int i = 0; i < CODES; i++) ids[i] = i;
        assign = new int[NQ];
        lut = gaussian(r, 32 * 256);
        codebooksT = gaussian(r, dim * 256);
        codes16 = new byte[CODES * 16];
        codes32 = new byte[CODES * 32];
        r.nextBytes(codes16);
        r.nextBytes(codes32);
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    /** One inverted list: a query against 256 contiguous vectors. */
    @Benchmark
    public float listScanL2() {
        k.distances(Metric.L2, query, 0, list, 0, LIST, dim, dist, 0);
        return dist[LIST - 1];
    }

    /** The same list as its bf16 copy (what IVF-Flat queries scan before the exact re-check). */
    @Benchmark
    public float listScanBf16L2() {
        k.scanBf16Blocks(Metric.L2, query, 0, listBf16, listBf16Norms, LIST, dim, dist, 0);
        return dist[LIST - 1];
    }

    /** k-means / add assignment: 256 queries x 1024 centroids. */
    @Benchmark
    public int[] nearest256x1024() {
        k.nearest(Metric.L2, queries, NQ, centroids, NC, dim, assign, null);
        return assign;
    }

    @Benchmark
    public void topK10of4096(Blackhole bh) {
        TopK t = new TopK(10);
        t.offerAll(random, 0, ids, 0, CODES);
        bh.consume(t);
    }

    @Benchmark
    public void topK1000of4096(Blackhole bh) {
        TopK t = new TopK(1000);
        t.offerAll(random, 0, ids, 0, CODES);
        bh.consume(t);
    }

    @Benchmark
    public float adcTableM16() {
        k.adcTable(Metric.L2, query, 0, codebooksT, 16, dim / 16, lut);
        return lut[5];
    }

    @Benchmark
    public float adcScanM16x4096() {
        k.adcScan(lut, 16, codes16, 0, CODES, 0f, dist, 0);
        return dist[CODES - 1];
    }

    @Benchmark
    public float adcScanM32x4096() {
        k.adcScan(lut, 32, codes32, 0, CODES, 0f, dist, 0);
        return dist[CODES - 1];
    }

    /** The same 4096 codes in the blocked (16-code, sub-quantizer-major) layout: one gather per 16 look-ups. */
    @Benchmark
    public float adcScanBlockedM16x4096() {
        k.adcScanBlocked(lut, 16, codes16, 0, CODES, 0f, dist, 0);
        return dist[CODES - 1];
    }

    @Benchmark
    public float adcScanBlockedM32x4096() {
        k.adcScanBlocked(lut, 32, codes32, 0, CODES, 0f, dist, 0);
        return dist[CODES - 1];
    }
}
