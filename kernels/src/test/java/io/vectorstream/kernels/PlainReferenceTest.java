package io.vectorstream.kernels;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Both CPU backends against the plainest possible reference: the textbook formulas evaluated in
 * double precision. (KernelsAgreementTest checks the backends against each other.)
 */
class PlainReferenceTest {

    private static double l2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
        return s;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    @Test
    void everyBackendMatchesDoublePrecisionFormulas() {
        Random r = new Random(11);
        for (VectorKernels k : List.of(new ScalarKernels(), new PanamaKernels(), Kernels.cpu())) {
            for (int dim : new int[]{1, 2, 7, 15, 16, 31, 64, 65, 128, 257, 768}) {
                float[] a = new float[dim], b = new float[dim];
                for (int i = 0; i < dim; i++) {
                    a[i] = (float) (r.nextGaussian() * 3);
                    b[i] = (float) (r.nextGaussian() * 3);
                }
                double scale = dot(a, a) + dot(b, b) + 1;
                assertThat((double) k.l2Squared(a, 0, b, 0, dim)).as("%s l2 dim %d", k.name(), dim)
                        .isCloseTo(l2(a, b), org.assertj.core.data.Offset.offset(1e-5 * scale));
                assertThat((double) k.dot(a, 0, b, 0, dim)).as("%s dot dim %d", k.name(), dim)
                        .isCloseTo(dot(a, b), org.assertj.core.data.Offset.offset(1e-5 * scale));
                assertThat((double) k.distance(Metric.IP, a, 0, b, 0, dim)).isCloseTo(-dot(a, b),
                        org.assertj.core.data.Offset.offset(1e-5 * scale));
            }
        }
    }

    @Test
    void theChosenBackendIsTheVectorApiWhenTheModuleIsThere() {
        // The build runs tests with --add-modules jdk.incubator.vector, so SIMD must be what was picked.
        assertThat(Kernels.cpu().name()).startsWith("panama-");
        assertThat(Kernels.cpuDescription()).contains("Vector API");
    }
}
