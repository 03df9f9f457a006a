package io.vectorstream.index;

import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

class IvfPqIndexTest {

    @ParameterizedTest
    @EnumSource(Metric.class)
    void recallAgainstExactSearch(Metric metric) {
        int n = 20_000, nq = 100, dim = 32, k = 10;
        float[] base = TestData.blobs(21, n, dim, 60);
        float[] queries = TestData.blobs(22, nq, dim, 60);
        if (metric.normalizes()) {
            base = TestData.normalizedRows(base, n, dim);
            queries = TestData.normalizedRows(queries, nq, dim);
        }
        int[] truth = TestData.exact(metric, base, n, queries, nq, dim, k);
        IvfPqIndex.Params params = new IvfPqIndex.Params(64, 8, 10, 64, 15, 64, 7L);
        IvfPqIndex.Trained trained = IvfPqIndex.train(Kernels.cpu(), metric, base, n, dim, params);
        IvfPqIndex index = IvfPqIndex.build(Kernels.cpu(), trained, base, n, null, new FlatVectorStore(base, dim));
        assertThat(index.size()).isEqualTo(n);
        assertThat(index.bytesPerVector()).isLessThan(8 + 4 + 1.0); // code + ordinal, plus block padding

        double adcOnly = recall(index, queries, nq, dim, k, 64, 0, truth);
        double refined = recall(index, queries, nq, dim, k, 64, 10, truth);
        double fewProbes = recall(index, queries, nq, dim, k, 4, 10, truth);
        assertThat(adcOnly).isGreaterThan(0.4);
        assertThat(refined).isGreaterThanOrEqualTo(0.97).isGreaterThan(adcOnly);
        assertThat(fewProbes).isGreaterThan(0.6).isLessThanOrEqualTo(refined);
    }

    private static double recall(IvfPqIndex index, float[] queries, int nq, int dim, int k, int nprobe, int refine, int[] truth) {
        int[] found = new int[nq * k];
        int[] ids = new int[k];
        float[] dist = new float[k];
        float[] q = new float[dim];
        for (int i = 0; i < nq; i++) {
            System.arraycopy(queries, i * dim, q, 0, dim);
            int got = index.search(q, k, nprobe, refine, ids, dist);
            assertThat(got).isEqualTo(k);
            for (int j = 1; j < got; j++) assertThat(dist[j]).isGreaterThanOrEqualTo(dist[j - 1]);
            System.arraycopy(ids, 0, found, i * k, k);
        }
        return TestData.recall(truth, found, nq, k);
    }
}
