package io.vectorstream.api;

import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Read-your-writes: before a search with {@code min_offsets} runs, waits (on the worker thread, never the
 * event loop, and never holding anything the writer needs) until every named partition has published a
 * snapshot whose next offset is at least the one asked for; the shards' writers complete the waits when
 * they publish. After the bounded timeout it fails with 503 {@code behind}, naming the partitions.
 */
final class ReadYourWrites {
    private static final long ABSENT_POLL_MS = 20;

    private final ShardRegistry registry;
    private final Duration timeout;

    ReadYourWrites(ShardRegistry registry, Duration timeout) {
        this.registry = registry;
        this.timeout = timeout;
    }

    /** Returns once every partition in {@code minOffsets} is covered; otherwise throws a 503 ApiError. */
    void await(Map<Integer, Long> minOffsets) {
        await(minOffsets, Long.MAX_VALUE);
    }

    /** As {@link #await(Map)}, waiting at most {@code atMostMillis} (the request's own deadline) if shorter. */
    void await(Map<Integer, Long> minOffsets, long atMostMillis) {
        if (minOffsets.isEmpty()) return;
        long waitMillis = Math.min(timeout.toMillis(), atMostMillis);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        for (Map.Entry<Integer, Long> e : minOffsets.entrySet()) {
            int partition = e.getKey();
            long need = e.getValue();
            while (true) {
                Shard shard = registry.shard(partition);
                long left = deadline - System.nanoTime();
                if (shard == null) { // not (yet) assigned here, e.g. still restoring: look again shortly
                    if (left <= 0) break;
                    sleep(Math.min(ABSENT_POLL_MS, TimeUnit.NANOSECONDS.toMillis(left) + 1));
                    continue;
                }
                CompletableFuture<ShardSnapshot> covered = shard.whenCovers(need);
                try {
                    covered.get(Math.max(0, left), TimeUnit.NANOSECONDS);
                    break;
                } catch (TimeoutException t) {
                    covered.cancel(false);
                    break;
                } catch (InterruptedException ie) {
                    covered.cancel(false);
                    Thread.currentThread().interrupt();
                    throw new ApiError(503, "interrupted", "interrupted while waiting for partition " + partition);
                } catch (ExecutionException | java.util.concurrent.CancellationException x) {
                    break;
                }
            }
        }
        List<String> behind = behind(minOffsets);
        if (!behind.isEmpty()) {
            throw new ApiError(503, "behind", "partitions still behind after " + waitMillis + " ms: "
                    + String.join(", ", behind));
        }
    }

    /**
     * Waits (at most {@code atMostMillis}, and the server's read-your-writes timeout) until {@code copy} — any shard,
     * e.g. a standby copy — has published offset {@code need}; the caller checks the answer it then reads.
     */
    void await(io.vectorstream.index.Shard copy, long need, long atMostMillis) {
        CompletableFuture<ShardSnapshot> covered = copy.whenCovers(need);
        try {
            covered.get(Math.max(0, Math.min(timeout.toMillis(), atMostMillis)), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException | java.util.concurrent.CancellationException e) {
            covered.cancel(false);
        } catch (InterruptedException ie) {
            covered.cancel(false);
            Thread.currentThread().interrupt();
            throw new ApiError(503, "interrupted", "interrupted while waiting for partition " + copy.partition());
        }
    }

    /** The partitions whose current snapshot does not cover {@code minOffsets}, described. */
    List<String> behind(Map<Integer, Long> minOffsets) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<Integer, Long> e : minOffsets.entrySet()) {
            Shard shard = registry.shard(e.getKey());
            if (shard == null) {
                out.add(e.getKey() + " (not assigned to this instance, need " + e.getValue() + ")");
            } else if (shard.snapshot().nextOffset() < e.getValue()) {
                out.add(e.getKey() + " (at " + shard.snapshot().nextOffset() + ", need " + e.getValue() + ")");
            }
        }
        return out;
    }

    /** True when every snapshot of {@code snapshots} named in {@code minOffsets} covers it. */
    static boolean covers(List<ShardSnapshot> snapshots, Map<Integer, Long> minOffsets) {
        for (Map.Entry<Integer, Long> e : minOffsets.entrySet()) {
            boolean ok = false;
            for (ShardSnapshot s : snapshots) if (s.partition() == e.getKey() && s.nextOffset() >= e.getValue()) ok = true;
            if (!ok) return false;
        }
        return true;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "interrupted", "interrupted while waiting for partitions");
        }
    }
}
