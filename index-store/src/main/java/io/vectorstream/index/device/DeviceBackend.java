package io.vectorstream.index.device;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.cuda.DeviceSelector;
import io.vectorstream.kernels.cuda.CudaDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where shards search: the CPU only, or the CPU plus CUDA devices onto which shards are mirrored
 * (see {@link DeviceMirror}). Chosen once at start-up from {@code --device auto|cpu|cuda}; with CUDA
 * it opens every device and spreads shards over them with a {@link DevicePlacement} whose per-device
 * budget is {@code memoryFraction} of the device's memory. {@link #close()} frees every device
 * resource (the mirrors still open, then the devices).
 */
public final class DeviceBackend implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceBackend.class);
    public static final double DEFAULT_MEMORY_FRACTION = 0.8;
    /**
     * Queries micro-batched into one device launch, and how long the first one waits for company: not at all. The
     * queries that arrive while a batch runs form the next one, so batches grow with the load by themselves and an
     * idle device answers a lone query at once (a fixed wait only adds latency to it).
     */
    static final int MAX_QUERY_BATCH = 256;
    static final Duration MAX_QUERY_WAIT = Duration.ZERO;

    /** One device as {@code /v1/status} shows it. */
    public record DeviceInfo(String device, String name, long totalBytes, long budgetBytes, long reservedBytes,
                             long usedBytes) {
    }

    private final boolean cuda;
    private final String reason;
    private final List<CudaDevice> devices;
    private final DevicePlacement placement;
    private final Set<DeviceMirror> mirrors = ConcurrentHashMap.newKeySet();
    private final AtomicLong serial = new AtomicLong();
    private volatile boolean closed;

    private DeviceBackend(boolean cuda, String reason, List<CudaDevice> devices, double fraction) {
        this.cuda = cuda;
        this.reason = reason;
        this.devices = List.copyOf(devices);
        this.placement = DevicePlacement.of(this.devices, fraction);
    }

    /** The CPU only (no device is touched). */
    public static DeviceBackend cpu(String reason) {
        return new DeviceBackend(false, reason, List.of(), DEFAULT_MEMORY_FRACTION);
    }

    /**
     * Decides {@code --device mode} with {@link DeviceSelector} (one log line) and, for CUDA, opens
     * every device. Explicit {@code cuda} without a usable device throws; {@code auto} falls back.
     */
    public static DeviceBackend select(String mode, double memoryFraction) {
        DeviceSelector.Mode m = DeviceSelector.Mode.parse(mode);
        DeviceSelector.Selection s = DeviceSelector.select(mode);
        if (!s.cuda()) return cpu(s.reason());
        List<Integer> ordinals = new ArrayList<>();
        for (int i = 0; i < s.deviceCount(); i++) ordinals.add(i);
        try {
            return open(s.reason(), ordinals, memoryFraction);
        } catch (RuntimeException e) {
            if (m == DeviceSelector.Mode.CUDA) throw e;
            LOG.warn("device: cpu -- opening the CUDA devices failed ({}); using the CPU", e.toString());
            return cpu("CUDA devices could not be opened: " + e.getMessage());
        }
    }

    /** Opens the given device ordinals (tests pick e.g. only the tiny emulated one). */
    public static DeviceBackend open(String reason, List<Integer> ordinals, double memoryFraction) {
        if (!(memoryFraction > 0)) throw new IllegalArgumentException("device memory fraction must be > 0, was " + memoryFraction);
        List<CudaDevice> open = new ArrayList<>();
        try {
            for (int o : ordinals) open.add(CudaDevice.open(o));
        } catch (RuntimeException e) {
            open.forEach(CudaDevice::close);
            throw e;
        }
        if (open.isEmpty()) throw new IllegalStateException("no CUDA device to open");
        DeviceBackend b = new DeviceBackend(true, reason, open, memoryFraction);
        for (CudaDevice d : open) {
            LOG.info("device: {} with {} MiB, shard budget {} MiB", d, d.totalBytes() >> 20,
                    (long) (d.totalBytes() * memoryFraction) >> 20);
        }
        return b;
    }

    /** True when shards are mirrored onto CUDA devices. */
    public boolean cuda() {
        return cuda;
    }

    public String kind() {
        return cuda ? "cuda" : "cpu";
    }

    /** Why this backend was chosen (the start-up log line's reason). */
    public String reason() {
        return reason;
    }

    DevicePlacement placement() {
        return placement;
    }

    public CudaDevice device(int ordinal) {
        for (CudaDevice d : devices) if (d.ordinal() == ordinal) return d;
        throw new IllegalArgumentException("no open device " + ordinal);
    }

    /** A fresh mirror for a shard of {@code partition}, or null when this backend is the CPU only. */
    public DeviceMirror mirror(int partition, IndexConfig config) {
        if (!cuda || closed) return null;
        DeviceMirror m = new DeviceMirror(this, partition, config, "partition-" + partition + "#" + serial.incrementAndGet());
        mirrors.add(m);
        return m;
    }

    void forget(DeviceMirror m) {
        mirrors.remove(m);
    }

    /** Every open device with its memory (empty on the CPU). */
    public List<DeviceInfo> devices() {
        List<DeviceInfo> out = new ArrayList<>();
        for (int i = 0; i < devices.size(); i++) {
            CudaDevice d = devices.get(i);
            DevicePlacement.DeviceBudget budget = placement.devices().get(i);
            long used;
            try {
                used = closed ? 0 : d.allocatedBytes();
            } catch (RuntimeException e) {
                used = 0;
            }
            out.add(new DeviceInfo("cuda:" + d.ordinal(), d.name(), d.totalBytes(), budget.budgetBytes(),
                    placement.usedBytes(d.ordinal()), used));
        }
        return out;
    }

    private io.vectorstream.kernels.cuda.CudaKernels buildKernels; // created on first use, on the first device

    /**
     * The kernels index builds train and encode with (k-means assignment and PQ encoding): with CUDA, the first device's
     * {@link io.vectorstream.kernels.cuda.CudaKernels} (falling back to {@code cpu} per call where the device does not
     * pay); otherwise {@code cpu}. Searches keep using the CPU kernels.
     */
    public synchronized io.vectorstream.kernels.VectorKernels buildKernels(io.vectorstream.kernels.VectorKernels cpu) {
        if (!cuda || devices.isEmpty() || closed) return cpu;
        if (buildKernels == null) buildKernels = new io.vectorstream.kernels.cuda.CudaKernels(devices.getFirst(), cpu);
        return buildKernels;
    }

    /** Closes every mirror still open, then the devices (each frees what is left on it). */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        synchronized (this) {
            if (buildKernels != null) buildKernels.close();
        }
        for (DeviceMirror m : new ArrayList<>(mirrors)) m.close();
        for (CudaDevice d : devices) {
            try {
                d.close();
            } catch (RuntimeException e) {
                LOG.warn("closing {}: {}", d, e.toString());
            }
        }
    }
}
