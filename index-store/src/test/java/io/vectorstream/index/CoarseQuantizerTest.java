package io.vectorstream.index;

import io.vectorstream.kernels.ScalarKernels;
import io.vectorstream.kernels.PanamaKernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The probe scans bf16 centroids: the lists it picks must be those a float scan picks up to near-ties
 * within the rounding radius, for every metric and backend, also when the data sit far from the origin
 * (where a bf16 scan that did not centre the centroids would lose all precision).
 */
class CoarseQuantizerTest {

    @ParameterizedTest
    @EnumSource(Metric.class)
    void probeChoosesTheListsAFloatScanChoosesUpToRoundingNearTies(Metric metric) {
        for (VectorKernels kernels : new VectorKernels[]{new PanamaKernels(), new ScalarKernels()}) {
            for (float offset : new float[]{0f, 1000f}) {
                for (int dim : new int[]{7, 64}) {
                    check(kernels, metric, dim, offset);
                }
            }
        }
    }

    private static void check(VectorKernels kernels, Metric metric, int dim, float offset) {
        Random r = new Random(dim * 31L + (long) offset);
        int nlist = 300, nq = 200;
        float[] centroids = TestData.blobs(dim, nlist, dim, 20);
        for (int i = 0; i < centroids.length; i++) centroids[i] += offset;
        if (metric.normalizes()) centroids = TestData.normalizedRows(centroids, nlist, dim);
        CoarseQuantizer cq = CoarseQuantizer.of(kernels, metric, dim, centroids);
        int[] lists = new int[nlist];
        int identical = 0, cases = 0;
        float[] dist = new float[nlist], scratch = new float[nlist];
        for (int qi = 0; qi < nq; qi++) {
            float[] q = new float[dim];
            for (int d = 0; d < dim; d++) q[d] = centroids[r.nextInt(nlist) * dim + d] + (float) r.nextGaussian() * 0.5f;
            if (metric.normalizes()) q = VectorMath.normalized(q);
            for (int nprobe : new int[]{1, 8, 32}) {
                int got = cq.probe(q, nprobe, lists, dist, scratch);
                assertThat(got).isEqualTo(nprobe);
                float[] reference = floatDistances(kernels, metric, q, centroids, nlist, dim);
                float[] sorted = reference.clone();
                Arrays.sort(sorted);
                float kth = sorted[nprobe - 1];
                float radius = cq.roundingRadius();
                float qNorm = (float) Math.sqrt(kernels.dot(q, 0, q, 0, dim));
                float tolerance = 1e-5f * (Math.abs(kth) + Math.abs(sorted[0])) + 1e-6f; // float rounding
                int[] exactSet = new int[nprobe];
                for (int c = 0, j = 0; c < nlist && j < nprobe; c++) if (reference[c] <= kth && j < nprobe) exactSet[j++] = c;
                if (sameSet(Arrays.copyOf(lists, got), exactSet)) identical++;
                cases++;
                for (int i = 0; i < got; i++) {
                    String what = String.format("%s dim %d offset %s nprobe %d, list %d (rank %d)", metric, dim, offset, nprobe, lists[i], i);
                    float d = reference[lists[i]];
                    if (metric.usesDot()) {
                        assertThat(d).as(what).isLessThanOrEqualTo(kth + 2 * radius * qNorm + tolerance);
                    } else {
                        assertThat(Math.sqrt(d)).as(what).isLessThanOrEqualTo(Math.sqrt(kth) + 2 * radius + tolerance);
                    }
                    assertThat(dist[i]).as(what).isCloseTo(d, org.assertj.core.data.Offset.offset(tolerance));
                    if (i > 0) assertThat(dist[i]).as(what).isGreaterThanOrEqualTo(dist[i - 1]);
                }
                assertThat(Arrays.stream(lists, 0, got).distinct().count()).isEqualTo(got);
            }
        }
        // near-ties are rare: almost every choice is exactly the float scan's
        assertThat(identical).as("%s dim %d offset %s: identical choices", metric, dim, offset).isGreaterThanOrEqualTo(cases * 9 / 10);
    }

    private static boolean sameSet(int[] a, int[] b) {
        int[] x = a.clone(), y = b.clone();
        Arrays.sort(x);
        Arrays.sort(y);
        return Arrays.equals(x, y);
    }

    /** Reference: the float distance to every centroid. */
    private static float[] floatDistances(VectorKernels kernels, Metric metric, float[] q, float[] centroids, int nlist, int dim) {
        float[] d = new float[nlist];
        for (int c = 0; c < nlist; c++) d[c] = kernels.distance(metric, q, 0, centroids, c * dim, dim);
        return d;
    }
}
