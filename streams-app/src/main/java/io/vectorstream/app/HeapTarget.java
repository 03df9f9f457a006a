package io.vectorstream.app;

import com.sun.management.HotSpotDiagnosticMXBean;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Sizes the heap to the data, so that nobody has to choose {@code -Xmx}: every few seconds it sets ZGC's
 * {@code SoftMaxHeapSize} (a manageable flag) to what the shards' indexes hold times {@link #HEADROOM}, plus a floor
 * for everything else. ZGC then collects before the heap grows past it and gives the rest back to the OS, instead of
 * growing to the JVM's default maximum (a quarter of RAM) under an allocation-heavy backfill. A soft limit: when the
 * data really needs more (a rebuild holds an old and a new base at once) the heap still grows, up to {@code -Xmx}.
 * Does nothing under other collectors, or when the user set {@code SoftMaxHeapSize} themselves.
 */
final class HeapTarget implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HeapTarget.class);
    /** Live index bytes times this: room for a compaction's new base next to the old one, and for garbage. */
    static final double HEADROOM = 2.0;
    static final long FLOOR_BYTES = 384L << 20;

    private final ShardRegistry registry;
    private final HotSpotDiagnosticMXBean hotspot;
    private final long maxHeap = Runtime.getRuntime().maxMemory();
    private final ScheduledExecutorService timer;
    private long lastSet;

    private HeapTarget(ShardRegistry registry, HotSpotDiagnosticMXBean hotspot) {
        this.registry = registry;
        this.hotspot = hotspot;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "vectorstream-heap-target");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::update, 0, 5, TimeUnit.SECONDS);
    }

    /** Starts adjusting when this JVM runs ZGC and nobody set the soft maximum; otherwise returns null. */
    static HeapTarget startIfZgc(ShardRegistry registry) {
        boolean zgc = ManagementFactory.getGarbageCollectorMXBeans().stream()
                .map(GarbageCollectorMXBean::getName).anyMatch(n -> n.startsWith("ZGC"));
        if (!zgc) return null;
        HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        var option = hotspot.getVMOption("SoftMaxHeapSize");
        var origin = option.getOrigin(); // DEFAULT or ERGONOMIC (ZGC sets it from -Xmx) are not the user's
        if (origin != com.sun.management.VMOption.Origin.DEFAULT && origin != com.sun.management.VMOption.Origin.ERGONOMIC) {
            LOG.info("heap: SoftMaxHeapSize set by the user ({}); not adjusting it", option.getValue());
            return null;
        }
        return new HeapTarget(registry, hotspot);
    }

    /** The soft maximum for {@code indexBytes} of index data. */
    static long target(long indexBytes, long maxHeap) {
        return Math.min(maxHeap, FLOOR_BYTES + (long) (indexBytes * HEADROOM));
    }

    private void update() {
        try {
            long index = 0;
            for (ShardSnapshot s : registry.snapshots()) index += s.memoryBytes();
            long target = target(index, maxHeap);
            if (Math.abs(target - lastSet) < (32L << 20)) return; // not worth a change
            hotspot.setVMOption("SoftMaxHeapSize", Long.toString(target));
            if (lastSet == 0) LOG.info("heap: soft maximum {} MB for {} MB of index (follows the index size)", target >> 20, index >> 20);
            lastSet = target;
            LOG.debug("heap: soft maximum {} MB for {} MB of index", target >> 20, index >> 20);
        } catch (RuntimeException e) {
            LOG.warn("heap: cannot adjust SoftMaxHeapSize: {}", e.toString());
            timer.shutdown();
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
