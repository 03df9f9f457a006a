package io.vectorstream.kernels;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chooses the CPU kernel backend once, at start-up: the Vector API when the
 * {@code jdk.incubator.vector} module is present and gives a useful width, the scalar loops otherwise.
 * Set {@code -Dvectorstream.kernels=scalar} to force the fallback.
 */
public final class Kernels {
    private static final Logger LOG = LoggerFactory.getLogger(Kernels.class);
    private static final VectorKernels CPU = chooseCpu();

    private Kernels() {
    }

    /** The CPU backend chosen for this process. */
    public static VectorKernels cpu() {
        return CPU;
    }

    /** Why the CPU backend is what it is, for the start-up log line. */
    public static String cpuDescription() {
        return CPU.name() + (CPU instanceof PanamaKernels
                ? " (Java Vector API)"
                : " (scalar loops; start the JVM with --add-modules jdk.incubator.vector for SIMD)");
    }

    private static VectorKernels chooseCpu() {
        if ("scalar".equalsIgnoreCase(System.getProperty("vectorstream.kernels"))) {
            return new ScalarKernels();
        }
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            LOG.warn("jdk.incubator.vector is not enabled; using scalar kernels");
            return new ScalarKernels();
        }
        try {
            VectorKernels panama = new PanamaKernels();
            panama.dot(new float[16], 0, new float[16], 0, 16); // fails fast if the module is unusable
            return panama;
        } catch (Throwable e) {
            LOG.warn("Vector API unavailable ({}); using scalar kernels", e.toString());
            return new ScalarKernels();
        }
    }
}
