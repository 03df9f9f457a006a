package io.vectorstream.bench;

import io.vectorstream.index.VectorFiles;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Synthetic embeddings: a mixture of low-rank Gaussian clusters of uneven (log-normal) sizes, plus a
 * little isotropic noise, like real embedding sets; queries from the same mixture; exact ground truth.
 * Everything follows from the seed.
 */
final class GenData {
    static final String USAGE = """
            usage: vectorstream gen-data --out PREFIX [--n 1000000] [--nq 1000] [--dim 128] [--clusters 1000]
                                         [--rank 64] [--noise 0.6] [--gt-k 100] [--metric l2|ip|cosine] [--seed 1]
              writes PREFIX_base.fvecs, PREFIX_query.fvecs, PREFIX_gt.ivecs (exact top gt-k, best first)""";

    private GenData() {
    }

    static void main(String[] argv) throws Exception {
        Args a = new Args(argv, 0, USAGE);
        if (a.flag("help")) {
            System.out.println(USAGE);
            return;
        }
        String prefix = a.string("out", null);
        int n = a.integer("n", 1_000_000), nq = a.integer("nq", 1000), dim = a.integer("dim", 128);
        int clusters = a.integer("clusters", 1000), rank = Math.min(a.integer("rank", 64), dim);
        int gtK = a.integer("gt-k", 100);
        double noise = Double.parseDouble(a.string("noise", "0.6")); // total isotropic noise variance
        Metric metric = Metric.parse(a.string("metric", "l2"));
        long seed = a.longValue("seed", 1);

        long t0 = System.nanoTime();
        Mixture mix = new Mixture(new Random(seed), clusters, dim, rank, noise);
        float[] base = mix.sample(n, seed * 31 + 1);
        float[] queries = mix.sample(nq, seed * 31 + 2);
        if (metric.normalizes()) {
            normalize(base, n, dim);
            normalize(queries, nq, dim);
        }
        Path p = Path.of(prefix);
        if (p.getParent() != null) Files.createDirectories(p.getParent());
        VectorFiles.writeFvecs(Path.of(prefix + "_base.fvecs"), base, n, dim);
        VectorFiles.writeFvecs(Path.of(prefix + "_query.fvecs"), queries, nq, dim);
        System.err.printf("generated %d base + %d queries (dim %d, %d clusters, rank %d) in %.1f s%n",
                n, nq, dim, clusters, rank, (System.nanoTime() - t0) / 1e9);
        long t1 = System.nanoTime();
        int[] gt = groundTruth(Kernels.cpu(), metric.usesDot() ? Metric.IP : Metric.L2, base, n, queries, nq, dim, gtK);
        VectorFiles.writeIvecs(Path.of(prefix + "_gt.ivecs"), gt, nq, gtK);
        System.err.printf("exact ground truth (k=%d) in %.1f s%n", gtK, (System.nanoTime() - t1) / 1e9);
    }

    /** Brute force on all cores, in query chunks. */
    static int[] groundTruth(VectorKernels kernels, Metric metric, float[] base, int n, float[] queries, int nq, int dim, int k) {
        int[] ids = new int[nq * k];
        final int chunk = 128; // enough queries per call to amortise the kernel's transposition of the base
        IntStream.range(0, (nq + chunk - 1) / chunk).parallel().forEach(c -> {
            int q0 = c * chunk, qn = Math.min(chunk, nq - q0);
            float[] q = java.util.Arrays.copyOfRange(queries, q0 * dim, (q0 + qn) * dim);
            int[] out = new int[qn * k];
            kernels.knn(metric, q, qn, base, n, dim, k, out, new float[qn * k]);
            System.arraycopy(out, 0, ids, q0 * k, qn * k);
        });
        return ids;
    }

    private static void normalize(float[] v, int n, int dim) {
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int d = 0; d < dim; d++) s += v[i * dim + d] * v[i * dim + d];
            float inv = s == 0 ? 0f : (float) (1 / Math.sqrt(s));
            for (int d = 0; d < dim; d++) v[i * dim + d] *= inv;
        }
    }

    /** Cluster c: centre mu_c, basis U_c (dim x rank, unit columns), decaying scales; x = mu + U (s*z) + noise. */
    static final class Mixture {
        final int clusters, dim, rank;
        final float[] centres, bases, scales;
        final double[] cumulative;
        final double noiseStd;

        Mixture(Random r, int clusters, int dim, int rank, double noise) {
            this.noiseStd = Math.sqrt(noise / dim);
            this.clusters = clusters;
            this.dim = dim;
            this.rank = rank;
            centres = new float[clusters * dim];
            for (int i = 0; i < centres.length; i++) centres[i] = (float) (r.nextGaussian() / Math.sqrt(dim));
            bases = new float[clusters * dim * rank];
            for (int i = 0; i < bases.length; i++) bases[i] = (float) (r.nextGaussian() / Math.sqrt(dim));
            scales = new float[rank];
            for (int j = 0; j < rank; j++) scales[j] = (float) (0.6 / Math.sqrt(j + 1));
            cumulative = new double[clusters]; // log-normal weights: a few big clusters, many small
            double total = 0;
            for (int c = 0; c < clusters; c++) cumulative[c] = total += Math.exp(r.nextGaussian());
            for (int c = 0; c < clusters; c++) cumulative[c] /= total;
        }

        float[] sample(int n, long seed) {
            float[] out = new float[n * dim];
            final int chunk = 8192;
            IntStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(ch -> {
                SplittableRandom r = new SplittableRandom(seed * 1_000_003L + ch);
                float[] z = new float[rank];
                for (int i = ch * chunk; i < Math.min(n, (ch + 1) * chunk); i++) {
                    int c = java.util.Arrays.binarySearch(cumulative, r.nextDouble());
                    c = Math.min(clusters - 1, c < 0 ? -c - 1 : c);
                    for (int j = 0; j < rank; j++) z[j] = (float) (gaussian(r) * scales[j]);
                    int o = i * dim, co = c * dim, bo = c * dim * rank;
                    for (int d = 0; d < dim; d++) {
                        float x = centres[co + d] + (float) (gaussian(r) * noiseStd);
                        for (int j = 0; j < rank; j++) x += bases[bo + d * rank + j] * z[j];
                        out[o + d] = x;
                    }
                }
            });
            return out;
        }

        private static double gaussian(SplittableRandom r) { // Box-Muller, one value
            double u = 1 - r.nextDouble(), v = r.nextDouble();
            return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        }
    }
}
