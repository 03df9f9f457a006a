package io.vectorstream.kernels.cuda;

import java.util.Locale;
import java.util.function.Supplier;

import io.vectorstream.kernels.Kernels;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides {@code --device auto|cpu|cuda} once at start-up and says why in one log line.
 * {@code auto} takes CUDA when a driver and a device are found and the CPU otherwise; an explicit
 * {@code cuda} without a usable driver is a configuration error, not a silent fallback.
 */
public final class DeviceSelector {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceSelector.class);

    public enum Mode {
        AUTO, CPU, CUDA;

        public static Mode parse(String text) {
            if (text == null) return AUTO;
            return switch (text.trim().toLowerCase(Locale.ROOT)) {
                case "auto", "" -> AUTO;
                case "cpu" -> CPU;
                case "cuda", "gpu" -> CUDA;
                default -> throw new IllegalArgumentException("unknown device '" + text + "': expected auto, cpu or cuda");
            };
        }
    }

    /** The decision: CUDA (with how many devices) or CPU, and the sentence that explains it. */
    public record Selection(boolean cuda, int deviceCount, String reason) {
        public String logLine() {
            return "device: " + (cuda ? "cuda" : "cpu") + " -- " + reason;
        }
    }

    private DeviceSelector() {
    }

    /** Selects for {@code --device mode}, probing the real driver, and logs the one line. */
    public static Selection select(String mode) {
        return select(Mode.parse(mode), CudaDriver::probe);
    }

    static Selection select(Mode mode, Supplier<CudaDriver.Probe> probe) {
        Selection s = decide(mode, probe);
        LOG.info(s.logLine());
        return s;
    }

    private static Selection decide(Mode mode, Supplier<CudaDriver.Probe> probe) {
        String cpu = Kernels.cpuDescription();
        if (mode == Mode.CPU) return new Selection(false, 0, "requested with --device cpu; kernels " + cpu);
        CudaDriver.Probe p = probe.get();
        if (p.available()) return new Selection(true, p.deviceCount(), p.reason());
        if (mode == Mode.CUDA) throw new IllegalStateException("--device cuda, but " + p.reason());
        return new Selection(false, 0, "no usable CUDA device (" + p.reason() + "); kernels " + cpu);
    }
}
