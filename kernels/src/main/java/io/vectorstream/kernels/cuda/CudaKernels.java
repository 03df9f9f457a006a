package io.vectorstream.kernels.cuda;

import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;

/**
 * The kernel interface on a GPU. Pairwise calls stay on the CPU (a launch per pair would cost more
 * than the pair); batched work (distance matrices, long list scans, the 1-NN assignment behind k-means and PQ
 * encoding) runs on the device through reused staging buffers. Compaction trains and encodes its IVF-PQ bases through these when a device
 * is present ({@code DeviceBackend.buildKernels}); searches stay on the CPU kernels. Thread-safe: device work is
 * confined to the device's thread.
 */
public final class CudaKernels implements VectorKernels, AutoCloseable {
    /** Below this many distance evaluations a launch and its copies cost more than the CPU. */
    private static final long DEVICE_MIN_WORK = 4096;
    private static final int TILE = 16;
    /**
     * Warps per block of the device's IVF kernels. In the coarse probe and the merge each warp is one query, so n
     * queries take {@code ceil(n / WARPS_PER_BLOCK)} blocks; in the list scan a block is one (query, list) pair and
     * its warps share the list. Blocks have {@code 32 * WARPS_PER_BLOCK} threads. Equals {@code VS_WARPS_PER_BLOCK}
     * in {@code vs_common.cuh}.
     */
    public static final int WARPS_PER_BLOCK = 4;
    /** Threads per block of the warp-per-item kernels. */
    public static final int WARP_BLOCK_THREADS = 32 * WARPS_PER_BLOCK;

    private final CudaDevice device;
    private final VectorKernels cpu;
    private final StagingBuffer a;
    private final StagingBuffer b;
    private final StagingBuffer c;
    private final StagingBuffer d;
    private boolean closed;
    private final java.util.concurrent.atomic.LongAdder deviceAssignments = new java.util.concurrent.atomic.LongAdder();
    /** Rows per launch of the 1-NN assignment (bounds the staging buffers: 64k x dim floats). */
    private static final int NEAREST_CHUNK = 1 << 16;

    /** Blocks for {@code items} warp-sized work items. */
    public static int blocksForWarps(long items) {
        return Math.toIntExact((items + WARPS_PER_BLOCK - 1) / WARPS_PER_BLOCK);
    }

    /** The warp-queue size a kernel needs for the best {@code k} (the {@code _k<K>} suffix): a power of two in [32, 256]. */
    public static int warpQueueFor(int k) {
        if (k < 1 || k > 256) throw new IllegalArgumentException("k must be in [1, 256] on the device, was " + k);
        return Math.max(32, Integer.highestOneBit(k - 1) << 1);
    }

    public CudaKernels(CudaDevice device) {
        this(device, Kernels.cpu());
    }

    public CudaKernels(CudaDevice device, VectorKernels cpu) {
        this.device = device;
        this.cpu = cpu;
        this.a = new StagingBuffer(device);
        this.b = new StagingBuffer(device);
        this.c = new StagingBuffer(device);
        this.d = new StagingBuffer(device);
    }

    public CudaDevice device() {
        return device;
    }

    @Override
    public String name() {
        return device.toString();
    }

    @Override
    public float l2Squared(float[] x, int xOff, float[] y, int yOff, int dim) {
        return cpu.l2Squared(x, xOff, y, yOff, dim);
    }

    @Override
    public float dot(float[] x, int xOff, float[] y, int yOff, int dim) {
        return cpu.dot(x, xOff, y, yOff, dim);
    }

    @Override
    public void distances(Metric metric, float[] query, int queryOff, float[] data, int dataOff, int n, int dim,
                          float[] out, int outOff) {
        if ((long) n * dim < DEVICE_MIN_WORK * 16) {
            cpu.distances(metric, query, queryOff, data, dataOff, n, dim, out, outOff);
            return;
        }
        device.call(() -> {
            matrixOnDevice(metric, query, queryOff, 1, data, dataOff, n, dim, out, outOff);
            return null;
        });
    }

    @Override
    public void distanceMatrix(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, float[] out) {
        if ((long) nq * nb < DEVICE_MIN_WORK) {
            cpu.distanceMatrix(metric, queries, nq, vectors, nb, dim, out);
            return;
        }
        device.call(() -> {
            matrixOnDevice(metric, queries, 0, nq, vectors, 0, nb, dim, out, 0);
            return null;
        });
    }

    /**
     * 1-NN under L2 (k-means assignment, PQ encoding): one block per row over every centroid, the coarse-probe kernel
     * with nprobe 1, in chunks of {@link #NEAREST_CHUNK} rows; the centroids are uploaded once. Inner-product metrics
     * and small calls stay on the CPU.
     */
    @Override
    public void nearest(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, int[] outIdx, float[] outDist) {
        if (metric.usesDot() || (long) nq * nb < DEVICE_MIN_WORK * 16) {
            cpu.nearest(metric, queries, nq, vectors, nb, dim, outIdx, outDist);
            return;
        }
        device.call(() -> {
            DeviceBuffer centroids = b.atLeast((long) nb * dim * Float.BYTES);
            centroids.upload(vectors, 0, nb * dim);
            for (int q0 = 0; q0 < nq; q0 += NEAREST_CHUNK) {
                int qn = Math.min(NEAREST_CHUNK, nq - q0);
                DeviceBuffer rows = a.atLeast((long) qn * dim * Float.BYTES);
                DeviceBuffer dist = c.atLeast((long) qn * Float.BYTES);
                DeviceBuffer nearest = d.atLeast((long) qn * Integer.BYTES);
                rows.upload(queries, q0 * dim, qn * dim);
                device.launch("vs_coarse_k32", blocksForWarps(qn), 1, WARP_BLOCK_THREADS, 1, rows, qn, dim, 0, centroids, nb, 1, dist, nearest);
                nearest.download(outIdx, q0, qn);
                if (outDist != null) dist.download(outDist, q0, qn);
            }
            return null;
        });
        deviceAssignments.add(nq);
    }

    /** Rows this instance has assigned on the device through {@link #nearest} (for tests and status). */
    public long deviceAssignments() {
        return deviceAssignments.sum();
    }

    /** Always on the device (tests and benchmarks use this to bypass the size cut-off). */
    public void distanceMatrixOnDevice(Metric metric, float[] queries, int nq, float[] vectors, int nb, int dim, float[] out) {
        device.call(() -> {
            matrixOnDevice(metric, queries, 0, nq, vectors, 0, nb, dim, out, 0);
            return null;
        });
    }

    private void matrixOnDevice(Metric metric, float[] q, int qOff, int nq, float[] x, int xOff, int nb, int dim,
                                float[] out, int outOff) {
        if ((nq + TILE - 1) / TILE > 65_535) throw new IllegalArgumentException("too many queries for one launch: " + nq);
        DeviceBuffer dq = a.atLeast((long) nq * dim * Float.BYTES);
        DeviceBuffer dx = b.atLeast((long) nb * dim * Float.BYTES);
        DeviceBuffer dout = c.atLeast((long) nq * nb * Float.BYTES);
        dq.upload(q, qOff, nq * dim);
        dx.upload(x, xOff, nb * dim);
        device.launch("vs_distance_matrix", (nb + TILE - 1) / TILE, (nq + TILE - 1) / TILE, TILE, TILE,
                dq, nq, dx, nb, dim, metric.usesDot() ? 1 : 0, dout);
        dout.download(out, outOff, nq * nb);
    }

    @Override
    public void close() {
        device.call(() -> {
            if (closed) return null;
            closed = true;
            a.close();
            b.close();
            c.close();
            d.close();
            return null;
        });
    }
}
