package io.vectorstream.kernels.cuda;

import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;

/**
 * The process-wide view of the CUDA driver: whether JCuda's native library and a driver
 * ({@code libcuda.so.1}) load, and how many devices they see. Probing never throws; the answer is
 * computed once because a failed native load cannot be retried in the same JVM anyway.
 */
public final class CudaDriver {

    /** What the probe found; {@code reason} is a sentence for the one start-up log line. */
    public record Probe(boolean available, int deviceCount, int driverVersion, String reason) {
    }

    private static Probe probe;

    private CudaDriver() {
    }

    public static synchronized Probe probe() {
        if (probe == null) probe = doProbe();
        return probe;
    }

    /** Throws with the probe's reason unless a usable driver and at least one device exist. */
    static void requireAvailable() {
        Probe p = probe();
        if (!p.available()) throw new IllegalStateException("CUDA is not available: " + p.reason());
    }

    private static Probe doProbe() {
        try {
            JCudaDriver.setExceptionsEnabled(true); // loads libJCudaDriver, which needs libcuda.so.1
            JCudaDriver.cuInit(0);
            int[] version = new int[1];
            JCudaDriver.cuDriverGetVersion(version);
            int[] count = new int[1];
            JCudaDriver.cuDeviceGetCount(count);
            if (count[0] == 0) return new Probe(false, 0, version[0], "the CUDA driver reports no device");
            if (version[0] < 13000) {
                return new Probe(false, count[0], version[0], "driver API " + version[0]
                        + " is older than 13.0, which the PTX built by CUDA 13's nvcc needs (driver 580+)");
            }
            CUdevice first = new CUdevice();
            JCudaDriver.cuDeviceGet(first, 0);
            return new Probe(true, count[0], version[0], count[0] + " CUDA device(s), driver API " + version[0]);
        } catch (LinkageError e) {
            return new Probe(false, 0, 0, "JCuda's driver binding did not load, most likely because no libcuda.so.1 (the CUDA driver) is installed: " + firstLine(e));
        } catch (Throwable e) {
            return new Probe(false, 0, 0, "the CUDA driver failed to initialise: " + firstLine(e));
        }
    }

    /** JCuda's load errors carry every attempt's stack trace; the log line wants the first sentence. */
    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        String line = (nl < 0 ? m : m.substring(0, nl)).trim();
        return line.length() > 200 ? line.substring(0, 200) + "..." : line;
    }
}
