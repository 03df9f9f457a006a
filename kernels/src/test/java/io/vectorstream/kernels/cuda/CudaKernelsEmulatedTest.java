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
        assertThat(Reference.liveAllocations(device)).isZero();
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
        int launches = Reference.launches(device);
        kernels.distances(Metric.L2, q, 0, x, 0, n, dim, gpu, 3);
        if (Reference.emulator()) assertThat(Reference.launches(device)).isGreaterThan(launches); // counted by the emulator only
        Reference.CPU.distances(Metric.L2, q, 0, x, 0, n, dim, cpu, 0);
        for (int i = 0; i < n; i++) assertThat(gpu[i + 3]).isCloseTo(cpu[i], within(1e-4f));
    }

    @Test
    void nearestRunsOnTheDeviceAndEqualsTheCpu() {
        Random r = new Random(4);
        int n = 3_000, dim = 8, k = 40; // n x k above the device cut-off: one launch over every row
        float[] centroids = Reference.randomVectors(r, k, dim);
        float[] x = Reference.randomVectors(r, n, dim);
        int[] gpu = new int[n];
        float[] gpuDist = new float[n];
        long before = kernels.deviceAssignments();
        int launches = Reference.launches(device);
        kernels.nearest(Metric.L2, x, n, centroids, k, dim, gpu, gpuDist);
        if (Reference.emulator()) assertThat(Reference.launches(device)).as("launched on the device").isGreaterThan(launches);
        assertThat(kernels.deviceAssignments()).isEqualTo(before + n);
        for (int i = 0; i < n; i++) {
            float[] v = java.util.Arrays.copyOfRange(x, i * dim, (i + 1) * dim);
            int want = Reference.nearest(Metric.L2, v, dim, centroids, k);
            float wantDist = Reference.CPU.l2Squared(x, i * dim, centroids, want * dim, dim);
            assertThat(gpuDist[i]).isCloseTo(wantDist, within(1e-3f));
            if (gpu[i] != want) { // a float tie: the other centroid must be as near
                assertThat(Reference.CPU.l2Squared(x, i * dim, centroids, gpu[i] * dim, dim)).isCloseTo(wantDist, within(1e-3f));
            }
        }
        int[] small = new int[2];
        kernels.nearest(Metric.L2, x, 2, centroids, k, dim, small, null);
        assertThat(kernels.deviceAssignments()).as("a small call stays on the CPU").isEqualTo(before + n);
    }
}
