package io.vectorstream.index;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where each shard keeps its durable state, under one root: {@code partition-<p>/snapshots/} ({@link SnapshotFile}s)
 * and {@code partition-<p>/changelog/} (its {@link ChangeLog}). The partition's writer opens the log when it takes
 * the partition and closes it when it gives it up; {@link #persist} (compaction's thread) writes a snapshot and
 * then trims the log up to it.
 */
public final class ShardFiles {
    private static final Logger LOG = LoggerFactory.getLogger(ShardFiles.class);

    private final Path root;
    private final Map<Integer, ChangeLog> logs = new ConcurrentHashMap<>();

    public ShardFiles(Path root) {
        this.root = root;
    }

    public Path snapshotDir(int partition) {
        return root.resolve("partition-" + partition).resolve("snapshots");
    }

    /** Opens (and registers) the change log of {@code partition}; for its writer. */
    public ChangeLog openLog(int partition) throws IOException {
        ChangeLog log = ChangeLog.open(root.resolve("partition-" + partition).resolve("changelog"));
        ChangeLog previous = logs.put(partition, log);
        if (previous != null) previous.close();
        return log;
    }

    /**
     * Forgets the partition's saved state: its snapshots, and its change log up to now (for a writer that has
     * rebuilt from elsewhere, after which they would no longer line up).
     */
    public void discard(int partition, ChangeLog log) {
        for (Path p : SnapshotFile.list(snapshotDir(partition))) {
            try {
                java.nio.file.Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.warn("cannot delete {}: {}", p, e.toString());
            }
        }
        if (log != null) log.trimBefore(Long.MAX_VALUE);
    }

    /** Closes the change log of {@code partition}, if it is still {@code log}. */
    public void closeLog(int partition, ChangeLog log) {
        logs.remove(partition, log);
        log.close();
    }

    /**
     * Writes {@code s} as the partition's newest snapshot (atomically, durably), then trims its change log
     * to what comes after it. Any thread; never the writer's (it takes as long as writing the shard).
     */
    public void persist(ShardSnapshot s) throws IOException {
        if (s.nextOffset() < 0) return; // nothing applied yet
        long start = System.nanoTime();
        Path file = SnapshotFile.write(snapshotDir(s.partition()), s);
        ChangeLog log = logs.get(s.partition());
        // keep what the oldest kept snapshot needs, so that it can stand in for a newer one found corrupt
        long keepFrom = s.nextOffset();
        for (Path kept : SnapshotFile.list(snapshotDir(s.partition()))) keepFrom = Math.min(keepFrom, SnapshotFile.offsetOf(kept));
        if (log != null && keepFrom > 0) log.trimBefore(keepFrom);
        LOG.info("partition {}: snapshot {} written ({} live, offset {}) in {} ms", s.partition(), file.getFileName(),
                s.liveCount(), s.nextOffset(), (System.nanoTime() - start) / 1_000_000);
    }
}
