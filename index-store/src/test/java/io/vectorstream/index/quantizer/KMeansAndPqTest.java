package io.vectorstream.index.quantizer;

import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class KMeansAndPqTest {
    private final VectorKernels kernels = Kernels.cpu();

    /** Gaussian blobs around random centres: clusterable, like embeddings. */
    static float[] blobs(Random r, int n, int dim, int centres) {
        float[] c = gaussian(r, centres * dim);
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(centres);
            for (int d = 0; d < dim; d++) v[i * dim + d] = 3f * c[k * dim + d] + (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void objectiveNeverRisesAndSeedReproduces() {
        float[] data = blobs(new Random(11), 6000, 16, 40);
        KMeans.Params params = new KMeans.Params(32, 12, 1000, 5L);
        KMeans.Result a = new KMeans(kernels).train(data, 6000, 16, params);
        double[] obj = a.objectiveByIteration();
        for (int i = 1; i < obj.length; i++) assertThat(obj[i]).isLessThanOrEqualTo(obj[i - 1] * (1 + 1e-6));
        assertThat(obj[obj.length - 1]).isLessThan(obj[0]);
        KMeans.Result b = new KMeans(kernels).train(data, 6000, 16, params);
        assertThat(b.centroids()).containsExactly(a.centroids());
    }

    @Test
    void emptyClustersAreRepaired() {
        // 200 points but only 5 distinct values: most initial centroids collide, k-means must split.
        Random r = new Random(12);
        float[] data = new float[200 * 4];
        for (int i = 0; i < 200; i++) for (int d = 0; d < 4; d++) data[i * 4 + d] = (i % 5) + 0.01f * (float) r.nextGaussian();
        KMeans.Result res = new KMeans(kernels).train(data, 200, 4, new KMeans.Params(20, 10, 100, 1L));
        int[] assign = new int[200];
        new KMeans(kernels).assign(data, 200, 4, res.centroids(), res.k(), assign);
        long used = java.util.Arrays.stream(assign).distinct().count();
        assertThat(used).isGreaterThan(10);
    }

    @Test
    void pqReconstructionErrorIsBoundedAndAdcMatchesDecodedDistance() {
        Random r = new Random(13);
        int n = 8000, dim = 32, m = 8;
        float[] data = blobs(r, n, dim, 50);
        ProductQuantizer pq = ProductQuantizer.train(kernels, data, n, dim, m, new KMeans.Params(256, 15, 64, 3L));
        double energy = 0;
        float[] mean = new float[dim];
        for (int i = 0; i < n; i++) for (int d = 0; d < dim; d++) mean[d] += data[i * dim + d] / n;
        for (int i = 0; i < n; i++) for (int d = 0; d < dim; d++) {
            double e = data[i * dim + d] - mean[d];
            energy += e * e;
        }
        double variancePerVector = energy / n;
        double mse = pq.meanSquaredError(data, n);
        assertThat(mse).isLessThan(0.15 * variancePerVector);
        // a finer quantizer does better
        ProductQuantizer coarse = ProductQuantizer.train(kernels, data, n, dim, 2, new KMeans.Params(256, 15, 64, 3L));
        assertThat(mse).isLessThan(coarse.meanSquaredError(data, n));

        byte[] codes = pq.encode(data, 50);
        float[] q = gaussian(r, dim);
        for (Metric metric : new Metric[]{Metric.L2, Metric.IP}) {
            float[] lut = new float[m * 256];
            pq.lookupTable(metric, q, 0, lut);
            float[] adc = new float[50];
            kernels.adcScan(lut, m, codes, 0, 50, 0f, adc, 0);
            float[] rec = new float[dim];
            for (int i = 0; i < 50; i++) {
                pq.decode(codes, i * m, rec, 0);
                float exact = kernels.distance(metric, q, 0, rec, 0, dim);
                assertThat(adc[i]).isCloseTo(exact, org.assertj.core.data.Offset.offset(1e-3f * (1 + Math.abs(exact))));
            }
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
