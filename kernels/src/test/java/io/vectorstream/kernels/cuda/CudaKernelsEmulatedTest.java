package io.vectorstream.kernels.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;

import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("cuda-emulated")
class CudaKernelsEmulatedTest {
    private static CudaDevice device;
    private static CudaKernels kernels;

    @BeforeAll
    static void open() {
        device = CudaDevice.open(0);
        kernels = new CudaKernels(device, Reference.CPU);
    }

    @AfterAll
    static void close() {
        kernels.close();
        assertThat(device.liveBuffers()).isZero();
        assertThat(device.attribute(Reference.ATTR_LIVE_ALLOCATIONS)).isZero();
        device.close();
    }

    @Test
    void distanceMatrixEqualsTheCpu() {
        Random r = new Random(1);
        int nq = 37, nb = 101, dim = 35; // not multiples of the tile, on purpose
        float[] q = Reference.randomVectors(r, nq, dim);
        float[] x = Reference.randomVectors(r, nb, dim);
        for (Metric m : Metric.values()) {
            float[] gpu = new float[nq * nb];
            float[] cpu = new float[nq * nb];
            kernels.distanceMatrixOnDevice(m, q, nq, x, nb, dim, gpu);
            Reference.CPU.distanceMatrix(m, q, nq, x, nb, dim, cpu);
            for (int i = 0; i < gpu.length; i++) assertThat(gpu[i]).as("%s %d", m, i).isCloseTo(cpu[i], within(1e-4f));
        }
    }

    @Test
    void longScansGoToTheDeviceAndAgree() {
        Random r = new Random(2);
        int n = 3000, dim = 32;
        float[] q = Reference.randomVectors(r, 1, dim);
        float[] x = Reference.randomVectors(r, n, dim);
        float[] gpu = new float[n + 3];
        float[] cpu = new float[n];
        int launches = device.attribute(0x7654);
        kernels.distances(Metric.L2, q, 0, x, 0, n, dim, gpu, 3);
        assertThat(device.attribute(0x7654)).isGreaterThan(launches);
        Reference.CPU.distances(Metric.L2, q, 0, x, 0, n, dim, cpu, 0);
        for (int i = 0; i < n; i++) assertThat(gpu[i + 3]).isCloseTo(cpu[i], within(1e-4f));
    }

    @Test
    void pqLookupTablesAndAdcScanEqualTheCpu() {
        Random r = new Random(3);
        int nq = 5, dim = 16, m = 4, ksub = 16, n = 300, dsub = dim / m;
        float[] q = Reference.randomVectors(r, nq, dim);
        float[] codebooks = Reference.randomVectors(r, m * ksub, dsub);
        float[] lut = kernels.pqLookupTables(Metric.L2, q, nq, dim, codebooks, m, ksub);
        for (int qi = 0; qi < nq; qi++)
            for (int j = 0; j < m; j++)
                for (int c = 0; c < ksub; c++) {
                    float want = Reference.CPU.l2Squared(q, qi * dim + j * dsub, codebooks, (j * ksub + c) * dsub, dsub);
                    assertThat(lut[(qi * m + j) * ksub + c]).isCloseTo(want, within(1e-5f));
                }
        byte[] codes = new byte[n * m];
        for (int i = 0; i < codes.length; i++) codes[i] = (byte) r.nextInt(ksub);
        float[] adc = kernels.pqAdcScan(lut, nq, codes, n, m, ksub);
        for (int qi = 0; qi < nq; qi++)
            for (int i = 0; i < n; i++) {
                float want = 0;
                for (int j = 0; j < m; j++) want += lut[(qi * m + j) * ksub + (codes[i * m + j] & 0xff)];
                assertThat(adc[qi * n + i]).isCloseTo(want, within(1e-4f));
            }
    }

    @Test
    void kmeansStepEqualsALloydIterationOnTheCpu() {
        Random r = new Random(4);
        int n = 500, dim = 8, k = 6;
        float[] x = Reference.clustered(r, n, dim, k);
        float[] gpuCentroids = new float[k * dim];
        System.arraycopy(x, 0, gpuCentroids, 0, k * dim);
        float[] cpuCentroids = gpuCentroids.clone();
        int[] assign = kernels.kmeansStep(x, n, dim, gpuCentroids, k);
        double[] sums = new double[k * dim];
        int[] counts = new int[k];
        for (int i = 0; i < n; i++) {
            float[] v = java.util.Arrays.copyOfRange(x, i * dim, (i + 1) * dim);
            int c = Reference.nearest(Metric.L2, v, dim, cpuCentroids, k);
            assertThat(assign[i]).isEqualTo(c);
            counts[c]++;
            for (int j = 0; j < dim; j++) sums[c * dim + j] += v[j];
        }
        for (int c = 0; c < k; c++)
            for (int j = 0; j < dim; j++)
                if (counts[c] > 0) assertThat(gpuCentroids[c * dim + j]).isCloseTo((float) (sums[c * dim + j] / counts[c]), within(1e-4f));
    }
}
