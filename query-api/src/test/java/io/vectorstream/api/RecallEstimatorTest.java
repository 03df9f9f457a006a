package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The live recall estimate converges to the recall measured against exact search, on generated clustered data. */
class RecallEstimatorTest {
    private static final int DIM = 16;

    @Test
    void theEstimateConvergesToTheMeasuredRecall() throws Exception {
        ShardRegistry registry = new ShardRegistry(IndexConfig.of(DIM, Metric.L2).withTrainThreshold(1_000), Kernels.cpu());
        Random random = new Random(11);
        float[][] centres = new float[40][DIM];
        for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = (float) random.nextGaussian() * 3;
        for (int p = 0; p < 2; p++) {
            List<IndexOp> ops = new ArrayList<>();
            for (int i = 0; i < 6_000; i++) ops.add(new IndexOp.Upsert(p + "-" + i, near(centres, random), null));
            registry.open(p).apply(ops, ops.size());
        }
        IndexSearcher searcher = new IndexSearcher(registry);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        int queries = 400, k = 10, nprobe = 2;
        try (RecallEstimator estimator = new RecallEstimator(registry.config(), 0.5, 10_000, meters)) {
            double measured = 0;
            for (int q = 0; q < queries; q++) {
                float[] query = near(centres, random);
                SearchResult approx = searcher.search(query, k, nprobe, false);
                List<io.vectorstream.index.SearchHit> exact = searcher.search(query, k, nprobe, true).hits();
                measured += RecallEstimator.recall(approx.hits(), exact);
                double before = meters.get("vectorstream_recall_samples").counter().count();
                estimator.offer(query, k, nprobe, false, null, approx);
                // one at a time: the estimator's queue is small on purpose (it drops samples rather than queue)
                for (int wait = 0; wait < 200 && meters.get("vectorstream_recall_samples").counter().count() == before
                        && estimator.pending() > 0; wait++) Thread.sleep(5);
            }
            measured /= queries;
            double sampled = meters.get("vectorstream_recall_samples").counter().count();
            assertThat(measured).as("the setting is approximate enough for the estimate to mean something").isBetween(0.4, 0.97);
            assertThat(sampled).as("about half the queries were sampled").isBetween(queries * 0.35, queries * 0.65);
            assertThat(estimator.estimate("all")).as("estimate vs measured recall %.3f", measured).isCloseTo(measured, org.assertj.core.data.Offset.offset(0.05));
            for (String p : List.of("0", "1")) assertThat(estimator.estimate(p)).isBetween(0.0, 1.0);
            assertThat(meters.scrape()).contains("vectorstream_recall_estimate{partition=\"all\"}")
                    .contains("vectorstream_recall_estimate{partition=\"0\"}");
        }
    }

    private static float[] near(float[][] centres, Random random) {
        float[] c = centres[random.nextInt(centres.length)];
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = c[d] + (float) random.nextGaussian();
        return v;
    }
}
