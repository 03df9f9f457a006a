package io.vectorstream.kernels.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.ScalarKernels;
import io.vectorstream.kernels.VectorKernels;

/** The CPU answers the CUDA backend is held against (scalar kernels: the same summation order). */
public final class Reference {
    public static final VectorKernels CPU = new ScalarKernels();
    /** Emulator hook: live allocations on a device (see emu_driver.cpp). */
    public static final int ATTR_LIVE_ALLOCATIONS = 0x7653;

    private static volatile Boolean emulator;

    private Reference() {
    }

    /**
     * Whether the CUDA driver this JVM loaded is the emulator (kernels/src/test/native), whose test hooks — live
     * allocation and launch counts, three devices of 256M, 256M and 3M — a real driver does not have. The device
     * tests run against both: bench/gpu-check.sh runs them on a real GPU.
     */
    public static boolean emulator() {
        Boolean e = emulator;
        if (e == null) {
            try (CudaDevice d = CudaDevice.open(0)) {
                emulator = e = d.name().startsWith("Vectorstream emulated");
            }
        }
        return e;
    }

    /** Device allocations not yet freed: the emulated driver's own count, else the library's count of live buffers. */
    public static int liveAllocations(CudaDevice device) {
        return emulator() ? device.attribute(ATTR_LIVE_ALLOCATIONS) : device.liveBuffers();
    }

    /** Kernel launches the emulator counted on {@code device}; -1 on a real driver (it does not count them). */
    public static int launches(CudaDevice device) {
        return emulator() ? device.attribute(0x7654) : -1;
    }

    /**
     * Times the host has waited for {@code device} so far, as the emulator counts them (synchronisations, synchronous
     * copies, asynchronous copies of memory that is not page-locked); -1 on a real driver.
     */
    public static int hostWaits(CudaDevice device) {
        return emulator() ? device.attribute(0x7658) : -1;
    }

    /** Skips (with the reason printed) a test that needs the emulator's three devices, e.g. its 3 MiB one. */
    public static void assumeEmulatedDevices() {
        boolean yes = emulator();
        if (!yes) System.out.println("skipped on a real driver: the test needs the emulator's devices (256M, 256M, 3M)");
        org.junit.jupiter.api.Assumptions.assumeTrue(yes, "needs the emulator's three devices (256M, 256M, 3M)");
    }

    /** The first {@code max} device ordinals this host has (the emulator has three). */
    public static List<Integer> ordinals(int max) {
        int n = Math.min(max, CudaDriver.probe().deviceCount());
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(i);
        return out;
    }

    public static float[] randomVectors(Random r, int n, int dim) {
        float[] v = new float[n * dim];
        for (int i = 0; i < v.length; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    /** Clustered data, so IVF has structure to exploit. */
    public static float[] clustered(Random r, int n, int dim, int clusters) {
        float[] centers = randomVectors(r, clusters, dim);
        float[] v = new float[n * dim];
        for (int i = 0; i < n; i++) {
            int c = r.nextInt(clusters);
            for (int j = 0; j < dim; j++) v[i * dim + j] = centers[c * dim + j] + (float) r.nextGaussian() * 0.15f;
        }
        return v;
    }

    public static float distance(Metric m, float[] a, int aOff, float[] b, int bOff, int dim) {
        return CPU.distance(m, a, aOff, b, bOff, dim);
    }

    /** Top-k (distance, then id) over the given live vectors, ids -1 padded. */
    public static int[] topK(Metric m, float[] q, int qOff, Map<Integer, float[]> live, int dim, int k, List<Integer> restrictTo) {
        List<long[]> cand = new ArrayList<>();
        List<Integer> ids = restrictTo != null ? restrictTo : new ArrayList<>(live.keySet());
        int[] outIds = new int[k];
        Arrays.fill(outIds, -1);
        record C(int id, float d) {
        }
        List<C> cs = new ArrayList<>();
        for (int id : ids) cs.add(new C(id, distance(m, q, qOff, live.get(id), 0, dim)));
        cs.sort(Comparator.comparingDouble((C c) -> c.d).thenComparingInt(c -> c.id));
        for (int i = 0; i < Math.min(k, cs.size()); i++) outIds[i] = cs.get(i).id;
        return outIds;
    }

    /** CPU IVF: the nprobe nearest centroids (ties by list number), then top-k over their lists. */
    public static int[] ivfTopK(Metric m, float[] q, int qOff, Map<Integer, float[]> live, int dim, float[] centroids, int nlist,
                         int nprobe, int k) {
        Integer[] order = new Integer[nlist];
        float[] cd = new float[nlist];
        for (int c = 0; c < nlist; c++) {
            order[c] = c;
            cd[c] = distance(m, q, qOff, centroids, c * dim, dim);
        }
        Arrays.sort(order, Comparator.comparingDouble((Integer c) -> cd[c]).thenComparingInt(c -> c));
        boolean[] probed = new boolean[nlist];
        for (int p = 0; p < nprobe; p++) probed[order[p]] = true;
        List<Integer> ids = new ArrayList<>();
        for (Map.Entry<Integer, float[]> e : live.entrySet()) {
            if (probed[nearest(m, e.getValue(), dim, centroids, nlist)]) ids.add(e.getKey());
        }
        return topK(m, q, qOff, live, dim, k, ids);
    }

    public static int nearest(Metric m, float[] v, int dim, float[] centroids, int nlist) {
        int best = 0;
        float bd = Float.POSITIVE_INFINITY;
        for (int c = 0; c < nlist; c++) {
            float d = distance(m, v, 0, centroids, c * dim, dim);
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        return best;
    }

    public static double recall(int[] found, int[] truth) {
        int hit = 0, n = 0;
        for (int t : truth) {
            if (t < 0) continue;
            n++;
            for (int f : found) if (f == t) { hit++; break; }
        }
        return n == 0 ? 1.0 : (double) hit / n;
    }
}
