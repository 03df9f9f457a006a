package io.vectorstream.compaction;

import io.vectorstream.index.ShardSnapshot;

import java.time.Duration;

/**
 * When a shard's base is rebuilt by itself (the operator can always ask). Checked by the shard's writer
 * after every batch, so every check is O(1).
 *
 * @param minBaseVectors  live vectors a shard needs for an IVF-PQ base (PQ trains 256 centroids per
 *                        sub-space); below it the shard stays hot-only (exact or IVF-Flat). At least 1000.
 * @param hotRatio        rebuild when the hot index holds more than this fraction of the base (0 = never);
 *                        a shard with no base builds its first once it has {@code minBaseVectors} live vectors
 * @param tombstoneRatio  rebuild when this fraction of the base is tombstoned (0 = never)
 * @param driftRatio      rebuild when the mean quantization error of recent inserts against the base's
 *                        coarse centroids exceeds this multiple of its value at build time (0 = never)
 * @param driftWindow     inserts the drift average spans (an exponential moving average), and the
 *                        inserts needed before drift is judged at all
 * @param interval        rebuild a changed shard when its base is this old (zero = never)
 * @param pqM             PQ sub-quantizers (bytes per vector); 0 = dim/4, dim/2 or dim, the first that divides
 * @param threads         compaction threads (the bounded executor)
 * @param nice            Linux nice value (0-19) of every thread that builds a base, so that searches and
 *                        ingestion win the CPU whenever they want it (as RocksDB lowers its compaction
 *                        threads); 0 = leave at the process's priority
 * @param schedIdle       also put those threads under Linux's SCHED_IDLE policy: they run only when no
 *                        other thread wants the CPU, and a waking search preempts them at once. A query
 *                        load that keeps every core busy leaves a build only the kernel's minimum share
 */
public record CompactionPolicy(int minBaseVectors, double hotRatio, double tombstoneRatio, double driftRatio,
                               int driftWindow, Duration interval, int pqM, int threads, int nice, boolean schedIdle) {

    public CompactionPolicy {
        if (minBaseVectors < 1000) throw new IllegalArgumentException("minBaseVectors must be >= 1000, was " + minBaseVectors);
        if (hotRatio < 0 || tombstoneRatio < 0 || driftRatio < 0) throw new IllegalArgumentException("ratios must be >= 0");
        if (tombstoneRatio > 1) throw new IllegalArgumentException("tombstoneRatio must be <= 1");
        if (driftWindow < 1) throw new IllegalArgumentException("driftWindow must be >= 1");
        if (interval == null || interval.isNegative()) throw new IllegalArgumentException("interval must be >= 0");
        if (pqM < 0) throw new IllegalArgumentException("pqM must be >= 0");
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1");
        if (nice < 0 || nice > 19) throw new IllegalArgumentException("nice must be 0..19, was " + nice);
    }

    /** The lowest CPU priority: builds use idle CPU, and get about 1.5 % of a contended core. */
    public static final int DEFAULT_NICE = 19;

    public CompactionPolicy withNice(int n) {
        return new CompactionPolicy(minBaseVectors, hotRatio, tombstoneRatio, driftRatio, driftWindow, interval, pqM, threads, n, schedIdle);
    }

    public CompactionPolicy withSchedIdle(boolean idle) {
        return new CompactionPolicy(minBaseVectors, hotRatio, tombstoneRatio, driftRatio, driftWindow, interval, pqM, threads, nice, idle);
    }

    public static CompactionPolicy defaults() {
        return new CompactionPolicy(10_000, 0.25, 0.2, 1.5, 1000, Duration.ZERO, 0, 1, DEFAULT_NICE, true);
    }

    /** Only the operator rebuilds (every automatic trigger off). */
    public static CompactionPolicy manual(int minBaseVectors) {
        return new CompactionPolicy(minBaseVectors, 0, 0, 0, 1000, Duration.ZERO, 0, 1, DEFAULT_NICE, true);
    }

    public CompactionPolicy withMinBaseVectors(int n) {
        return new CompactionPolicy(n, hotRatio, tombstoneRatio, driftRatio, driftWindow, interval, pqM, threads, nice, schedIdle);
    }

    public CompactionPolicy withHotRatio(double r) {
        return new CompactionPolicy(minBaseVectors, r, tombstoneRatio, driftRatio, driftWindow, interval, pqM, threads, nice, schedIdle);
    }

    public CompactionPolicy withTombstoneRatio(double r) {
        return new CompactionPolicy(minBaseVectors, hotRatio, r, driftRatio, driftWindow, interval, pqM, threads, nice, schedIdle);
    }

    public CompactionPolicy withDrift(double ratio, int window) {
        return new CompactionPolicy(minBaseVectors, hotRatio, tombstoneRatio, ratio, window, interval, pqM, threads, nice, schedIdle);
    }

    public CompactionPolicy withInterval(Duration d) {
        return new CompactionPolicy(minBaseVectors, hotRatio, tombstoneRatio, driftRatio, driftWindow, d, pqM, threads, nice, schedIdle);
    }

    /** PQ sub-quantizers for {@code dim}. */
    public int pqMFor(int dim) {
        if (pqM > 0) return pqM;
        if (dim % 4 == 0) return dim / 4;
        if (dim % 2 == 0) return dim / 2;
        return dim;
    }

    /**
     * The trigger due for {@code s} (writer-side figures), or null.
     *
     * @param driftError the recent inserts' mean quantization error, or NaN while too few
     */
    public String due(ShardSnapshot s, double driftError, long nowMillis) {
        var base = s.base();
        if (base == null) {
            return hotRatio > 0 && s.hotCount() >= minBaseVectors ? CompactionTrigger.HOT_SIZE : null;
        }
        int baseSize = base.size();
        if (hotRatio > 0 && s.hotCount() > hotRatio * baseSize) return CompactionTrigger.HOT_SIZE;
        if (tombstoneRatio > 0 && s.tombstones().count() > tombstoneRatio * baseSize) return CompactionTrigger.TOMBSTONES;
        if (driftRatio > 0 && !Double.isNaN(driftError) && base.buildQuantizationError() > 0
                && driftError > driftRatio * base.buildQuantizationError()) return CompactionTrigger.DRIFT;
        boolean changed = s.hotCount() > 0 || s.tombstones().count() > 0;
        if (!interval.isZero() && changed && nowMillis - base.builtAtMillis() >= interval.toMillis()) return CompactionTrigger.TIMER;
        return null;
    }
}
