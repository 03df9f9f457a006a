package io.vectorstream.index.device;

import io.vectorstream.kernels.cuda.CudaDevice;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Spreads shards over devices within a per-device memory budget. A shard goes to the device with
 * the most budget left that can hold it; one that fits nowhere stays on the CPU (placement never
 * fails). Writers call this when shards are created, grow or move, never on a query path, so plain
 * synchronisation is fine; {@link #placements()} is a copy for {@code /v1/status}.
 */
public final class DevicePlacement {
    public static final int CPU = -1;

    /** A device and how many bytes of it shards may use. */
    public record DeviceBudget(int ordinal, String name, long budgetBytes) {
    }

    /** Where one shard lives ({@link #CPU} or a device ordinal) and its reserved bytes. */
    public record Placement(String shard, int device, long bytes, String reason) {
        public boolean onCpu() {
            return device == CPU;
        }
    }

    private final List<DeviceBudget> devices;
    private final long[] used;
    private final Map<String, Placement> shards = new LinkedHashMap<>();

    public DevicePlacement(List<DeviceBudget> devices) {
        this.devices = List.copyOf(devices);
        this.used = new long[devices.size()];
    }

    /** Budgets of {@code fraction} of each device's memory (leaving room for staging and the driver). */
    public static DevicePlacement of(List<CudaDevice> open, double fraction) {
        List<DeviceBudget> b = new ArrayList<>();
        for (CudaDevice d : open) b.add(new DeviceBudget(d.ordinal(), d.name(), (long) (d.totalBytes() * fraction)));
        return new DevicePlacement(b);
    }

    /** Places (or re-places) {@code shard} needing {@code bytes}. */
    public synchronized Placement place(String shard, long bytes) {
        release(shard);
        int best = -1;
        for (int i = 0; i < devices.size(); i++) {
            long left = devices.get(i).budgetBytes() - used[i];
            if (left >= bytes && (best < 0 || left > devices.get(best).budgetBytes() - used[best])) best = i;
        }
        Placement p;
        if (best < 0) {
            p = new Placement(shard, CPU, 0, devices.isEmpty() ? "no CUDA device" : "needs " + bytes + " bytes, more than any device has left");
        } else {
            used[best] += bytes;
            p = new Placement(shard, devices.get(best).ordinal(), bytes, "fits on " + devices.get(best).name());
        }
        shards.put(shard, p);
        return p;
    }

    /**
     * Grows a device shard's reservation to {@code bytes}; false (and the shard moved to the CPU) when
     * its device's budget cannot take it, so the caller migrates it instead of hitting out-of-memory.
     */
    public synchronized boolean grow(String shard, long bytes) {
        Placement p = shards.get(shard);
        if (p == null || p.onCpu()) return false;
        int i = indexOf(p.device());
        if (devices.get(i).budgetBytes() - used[i] + p.bytes() < bytes) {
            moveToCpu(shard, "grew to " + bytes + " bytes, over the budget of " + devices.get(i).name());
            return false;
        }
        used[i] += bytes - p.bytes();
        shards.put(shard, new Placement(shard, p.device(), bytes, p.reason()));
        return true;
    }

    /** Records that {@code shard} now lives on the CPU (after an out-of-memory, say). */
    public synchronized void moveToCpu(String shard, String reason) {
        release(shard);
        shards.put(shard, new Placement(shard, CPU, 0, reason));
    }

    public synchronized void release(String shard) {
        Placement p = shards.remove(shard);
        if (p != null && !p.onCpu()) used[indexOf(p.device())] -= p.bytes();
    }

    /** Bytes reserved on the device with this ordinal. */
    public synchronized long usedBytes(int ordinal) {
        return used[indexOf(ordinal)];
    }

    public List<DeviceBudget> devices() {
        return devices;
    }

    public synchronized List<Placement> placements() {
        return List.copyOf(shards.values());
    }

    private int indexOf(int ordinal) {
        for (int i = 0; i < devices.size(); i++) if (devices.get(i).ordinal() == ordinal) return i;
        throw new IllegalArgumentException("no device " + ordinal);
    }
}
