package io.vectorstream.index;

import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.kernels.cuda.CudaKernels;
import io.vectorstream.index.device.DeviceBackend;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An IVF-PQ base as compaction builds it on a server with a CUDA device (here the emulated one): k-means and PQ
 * encoding run on the device ({@link DeviceBackend#buildKernels}), the base then searches on the CPU, and its recall
 * against exact search is the CPU-built base's.
 */
@Tag("cuda-emulated")
class DeviceBuildEmulatedTest {
    private static final int N = 2_000, DIM = 8, QUERIES = 60, K = 10;

    @Test
    void aBaseTrainedAndEncodedOnTheDeviceSearchesOnTheCpuAsWellAsACpuBuiltOne() {
        Random random = new Random(11);
        float[] data = new float[N * DIM];
        for (int i = 0; i < N; i++) {
            int cluster = random.nextInt(12);
            for (int d = 0; d < DIM; d++) data[i * DIM + d] = (float) (((cluster * 7 + d * 3) % 11) + random.nextGaussian() * 0.8);
        }
        float[] queries = new float[QUERIES * DIM];
        for (int i = 0; i < queries.length; i++) queries[i] = data[(i / DIM * 31 % N) * DIM + i % DIM] + (float) random.nextGaussian() * 0.3f;
        IvfPqIndex.Params params = new IvfPqIndex.Params(32, 4, 5, 64, 5, 16, 7L);
        VectorKernels cpu = Kernels.cpu();
        try (DeviceBackend backend = DeviceBackend.open("test", List.of(0), 0.8)) {
            VectorKernels build = backend.buildKernels(cpu);
            assertThat(build).as("a server with a device builds on it").isInstanceOf(CudaKernels.class);
            CudaKernels device = (CudaKernels) build;

            IvfPqIndex.Trained trained = IvfPqIndex.train(build, Metric.L2, data, N, DIM, params);
            long afterTraining = device.deviceAssignments();
            assertThat(afterTraining).as("k-means assignments ran on the device").isPositive();
            FlatVectorStore store = new FlatVectorStore(data, DIM);
            IvfPqIndex onDevice = IvfPqIndex.build(cpu, trained, data, N, null, store);
            long afterEncoding = device.deviceAssignments();
            assertThat(afterEncoding).as("coarse assignment and PQ encoding ran on the device").isGreaterThan(afterTraining);

            double deviceRecall = recall(onDevice, data, queries);
            assertThat(device.deviceAssignments()).as("searches run on the CPU kernels").isEqualTo(afterEncoding);

            IvfPqIndex onCpu = IvfPqIndex.build(cpu, IvfPqIndex.train(cpu, Metric.L2, data, N, DIM, params), data, N, null, store);
            double cpuRecall = recall(onCpu, data, queries);
            System.out.printf("IVF-PQ base built on the (emulated) device: recall@%d %.3f; built on the CPU: %.3f%n",
                    K, deviceRecall, cpuRecall);
            assertThat(deviceRecall).as("measured against exact search").isGreaterThan(0.5);
            assertThat(Math.abs(deviceRecall - cpuRecall)).as("device %.3f vs CPU %.3f", deviceRecall, cpuRecall).isLessThan(0.05);
        }
    }

    /** recall@K of {@code index} (nprobe 8, ADC distances only: no exact re-rank, so the codes themselves are measured) against exact L2 search over {@code data}. */
    private static double recall(IvfPqIndex index, float[] data, float[] queries) {
        int found = 0;
        int[] ids = new int[K];
        float[] dist = new float[K];
        for (int q = 0; q < QUERIES; q++) {
            float[] query = java.util.Arrays.copyOfRange(queries, q * DIM, (q + 1) * DIM);
            int got = index.search(query, K, 8, 0, ids, dist);
            Set<Integer> truth = exact(data, query);
            for (int i = 0; i < got; i++) if (truth.contains(ids[i])) found++;
        }
        return found / (double) (QUERIES * K);
    }

    private static Set<Integer> exact(float[] data, float[] q) {
        Integer[] order = new Integer[N];
        double[] d = new double[N];
        for (int i = 0; i < N; i++) {
            order[i] = i;
            for (int j = 0; j < DIM; j++) d[i] += (data[i * DIM + j] - q[j]) * (double) (data[i * DIM + j] - q[j]);
        }
        java.util.Arrays.sort(order, (a, b) -> Double.compare(d[a], d[b]));
        return new HashSet<>(List.of(order).subList(0, K));
    }
}
