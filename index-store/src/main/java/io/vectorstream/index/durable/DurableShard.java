package io.vectorstream.index.durable;

import io.vectorstream.index.Tombstones;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.ShardSnapshot;
import org.rocksdb.CompressionType;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one owner of a shard's durable state: open → restore → apply(batch, offsets) → checkpoint(snapshot) → trim.
 * Under {@code dir}:
 * <ul>
 *   <li>{@code log/}: a RocksDB holding the shard's change log — every operation applied since the newest snapshot,
 *       one entry per applied batch ({@link OpCodec#encodeBatch}), keyed by the batch's first input offset — and the <em>applied offset</em> (the last input offset the index reflects,
 *       dead letters included). Each {@link #apply} writes its operations and the new applied offset in one
 *       atomic write batch, before the index publishes them, so the log is never behind the index.</li>
 *   <li>{@code snapshots/}: the newest {@link SnapshotFile} (written by {@link #checkpoint} after a compaction),
 *       so that a restart loads the trained index instead of retraining it.</li>
 * </ul>
 * The input topic is the log of record; this is a local cache of it that lets a restart skip most of the replay.
 *
 * <p><b>Restore.</b> {@link #open} rebuilds the index at exactly the applied offset A: the newest intact snapshot
 * (offset S, with {@code S >= logFrom}, the offset from which the log is complete) plus the log's operations after
 * it, or the whole log when it was never trimmed. The index is not shown to readers before that (the caller
 * publishes the shard when restoring is done) and it only moves forward from A, so a reader never sees it roll
 * back. When neither works (the snapshot is corrupt and the log was trimmed past what is left) everything is
 * cleared and {@link #committedOffset()} says null: Kafka Streams then replays the whole topic into
 * {@link #apply}. {@link #restorePath()} says which path was taken.
 *
 * <p><b>Threads.</b> One writer at a time calls {@link #apply}, {@link #reset} and {@link #maintainUnattended}: the
 * partition's stream thread while its task is active, Kafka Streams' restore thread while it restores or keeps a
 * standby copy, and a maintenance timer between the batches of an <em>unattended</em> shard (see {@link #attend}).
 * They take turns on a writer lock, which readers of the index never touch. {@link #checkpoint} runs on a compaction
 * thread. RocksDB is thread-safe; trimming and closing are serialised on this object.
 */
public final class DurableShard implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DurableShard.class);
    private static final byte LOG_PREFIX = 'L';
    private static final byte[] APPLIED_KEY = {'M', 'a'};
    private static final byte[] LOG_FROM_KEY = {'M', 'f'};
    /** Set while the store is being rebuilt from the topic after its state was found unusable; cleared by a checkpoint. */
    private static final byte[] REPLAYING_KEY = {'M', 'r'};
    private static final int REPLAY_BATCH = 10_000;

    static {
        RocksDB.loadLibrary();
    }

    /** How {@link #open} rebuilt the index. */
    public enum RestorePath {
        /** Nothing was stored: an empty shard. */
        EMPTY,
        /** The newest snapshot plus the change log after it. */
        SNAPSHOT_AND_LOG,
        /** The change log alone (never trimmed: no snapshot was needed). */
        LOG_ONLY,
        /** The stored state could not be used and was cleared: the topic is replayed from its beginning. */
        REPLAY_TOPIC
    }

    private final Path dir;
    private final Shard shard;
    private final Options options;
    private final WriteOptions writeOptions;
    private final RocksDB db;
    private volatile long applied = -1;  // last input offset reflected; -1: none (written by the writer only)
    private long logFrom;       // the log holds every operation from this offset on
    private RestorePath restorePath;
    private long restoreMillis; // how long open() took to restore the index
    private volatile boolean closed;
    /** Held by whoever writes the shard (see the class comment); never by readers. */
    private final Object writerLock = new Object();
    private boolean attended; // guarded by writerLock: a writer that maintains the shard itself is attached
    private ByteBuffer encoded;  // the writer's reusable (direct) buffer for a batch's log entry
    private final ByteBuffer directKey = ByteBuffer.allocateDirect(1 + Long.BYTES); // the writer's, for its log key

    private DurableShard(Path dir, Shard shard, Options options, WriteOptions writeOptions, RocksDB db) {
        this.dir = dir;
        this.shard = shard;
        this.options = options;
        this.writeOptions = writeOptions;
        this.db = db;
    }

    /** Opens the state under {@code dir} and restores {@code shard} (fresh, unpublished to readers) from it. */
    public static DurableShard open(Path dir, Shard shard) throws IOException {
        Files.createDirectories(dir);
        Options options = new Options().setCreateIfMissing(true)
                .setCompressionType(CompressionType.NO_COMPRESSION) // float vectors do not compress
                .setWriteBufferSize(32L << 20)
                .setMaxWriteBufferNumber(3)
                // The log is trimmed from its old end at each checkpoint, whole files at a time: compacting it first
                // would rewrite every vector once or twice more (measured: a fifth of a core during a backfill).
                // Compaction runs only if checkpoints stop coming and files pile up.
                .setLevel0FileNumCompactionTrigger(64)
                .setLevel0SlowdownWritesTrigger(256)
                .setLevel0StopWritesTrigger(512)
                // Written data goes to disk a megabyte at a time (RocksDB's sync_file_range), not in one burst when a
                // checkpoint's synced write or the kernel's write-back comes: behind a backlog of dirty pages a sync
                // took p99 50 ms, up to 124 ms, under 10k upserts/s.
                .setBytesPerSync(1L << 20)
                .setWalBytesPerSync(1L << 20);
        WriteOptions writeOptions = new WriteOptions(); // WAL on, never synced per write: the topic replays what a power loss takes
        RocksDB db;
        try {
            db = RocksDB.open(options, dir.resolve("log").toString());
        } catch (RocksDBException e) {
            writeOptions.close();
            options.close();
            throw new IOException("cannot open the shard store in " + dir + ": " + e.getMessage(), e);
        }
        DurableShard d = new DurableShard(dir, shard, options, writeOptions, db);
        try {
            d.restore();
        } catch (RuntimeException | IOException e) {
            d.close();
            throw e;
        }
        return d;
    }

    public Shard shard() {
        return shard;
    }

    /** Which path {@link #open} took. */
    public RestorePath restorePath() {
        return restorePath;
    }

    /** The last input offset the index reflects, or -1 when none. Writer thread. */
    public long appliedOffset() {
        return applied;
    }

    /** The applied offset as Kafka Streams' committed changelog offset: null when nothing is stored. */
    public Long committedOffset() {
        return applied < 0 ? null : applied;
    }

    /**
     * What {@link #committedOffset()} would say after {@link #open} of {@code dir}, read without restoring anything:
     * the applied offset from the change log (opened read-only) and the newest snapshot's offset from its file name
     * (a snapshot is fsynced, the log is not, so after a power loss the snapshot may be the newer). Null when
     * nothing is stored. Costs a RocksDB open instead of loading the index: for a caller that only needs the offset
     * (Kafka Streams opens every local store once at start-up for that alone). It does not check that the snapshot
     * reads back intact: if it does not, {@link #open} may end at a lower offset or replay the topic.
     */
    public static Long peekCommittedOffset(Path dir) throws IOException {
        Path log = dir.resolve("log");
        long applied = -1;
        if (Files.isDirectory(log)) {
            try (Options options = new Options(); RocksDB db = RocksDB.openReadOnly(options, log.toString())) {
                byte[] v = db.get(APPLIED_KEY);
                if (v != null) applied = ByteBuffer.wrap(v).getLong();
            } catch (RocksDBException e) {
                throw new IOException("cannot read the shard store in " + dir + ": " + e.getMessage(), e);
            }
        }
        if (applied < 0) return null; // nothing applied, or a replay from the topic under way: as open() would say
        List<Path> snapshots = SnapshotFile.list(dir.resolve("snapshots"));
        if (!snapshots.isEmpty()) applied = Math.max(applied, SnapshotFile.offsetOf(snapshots.getFirst()) - 1);
        return applied;
    }

    public Path snapshotDir() {
        return dir.resolve("snapshots");
    }

    // ---- restore ----

    private void restore() throws IOException {
        long start = System.nanoTime();
        try {
            restoreIndex(start);
        } finally {
            restoreMillis = (System.nanoTime() - start) / 1_000_000;
        }
    }

    private void restoreIndex(long start) throws IOException {
        applied = readLong(APPLIED_KEY, -1);
        logFrom = readLong(LOG_FROM_KEY, 0);
        if (applied < 0) {
            boolean replaying = readLong(REPLAYING_KEY, 0) == 1;
            clearAll();
            if (replaying) markReplaying();
            restorePath = replaying ? RestorePath.REPLAY_TOPIC : RestorePath.EMPTY;
            return;
        }
        Optional<SnapshotFile.Loaded> loaded = SnapshotFile.loadNewest(snapshotDir(), shard.config(), shard.kernels());
        long replayFrom;
        if (loaded.isPresent() && loaded.get().nextOffset() >= logFrom) {
            SnapshotFile.Loaded s = loaded.get();
            shard.restore(s.base(), s.tombstones(), s.hot(), s.version(), s.nextOffset());
            // A snapshot is fsynced, the log is not: after a power loss the snapshot may be the newer one.
            applied = Math.max(applied, s.nextOffset() - 1);
            replayFrom = s.nextOffset();
            restorePath = RestorePath.SNAPSHOT_AND_LOG;
        } else if (logFrom == 0) {
            replayFrom = 0;
            restorePath = RestorePath.LOG_ONLY;
        } else {
            LOG.warn("partition {}: no intact snapshot at or after offset {} (where the change log starts); "
                    + "clearing the local state, the topic will be replayed from its beginning", shard.partition(), logFrom);
            clearAll();
            markReplaying();
            restorePath = RestorePath.REPLAY_TOPIC;
            return;
        }
        int replayed = replayLog(replayFrom);
        LOG.info("partition {}: restored {} vectors at offset {} from {} + {} change-log operations in {} ms",
                shard.partition(), shard.snapshot().liveCount(), applied,
                restorePath == RestorePath.SNAPSHOT_AND_LOG ? loaded.get().file().getFileName() : "no snapshot",
                replayed, (System.nanoTime() - start) / 1_000_000);
    }

    private void markReplaying() {
        try {
            db.put(writeOptions, REPLAYING_KEY, longBytes(1));
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot write the shard store: " + e.getMessage(), e);
        }
    }

    private int replayLog(long from) {
        var replay = new Object() {
            List<IndexOp> batch = new ArrayList<>(REPLAY_BATCH);
            int n;

            void accept(long offset, IndexOp op) {
                // before from: in the snapshot already; after applied: cannot happen (written with the entries)
                if (offset < from || offset > applied) return;
                batch.add(op);
                n++;
                if (batch.size() == REPLAY_BATCH) {
                    shard.apply(batch, offset + 1);
                    batch = new ArrayList<>(REPLAY_BATCH);
                }
            }
        };
        try (RocksIterator it = db.newIterator()) {
            seekToEntryHolding(it, from);
            for (; it.isValid() && it.key()[0] == LOG_PREFIX; it.next()) OpCodec.decodeBatch(it.value(), replay::accept);
        }
        shard.apply(replay.batch, applied + 1); // also publishes the applied offset when the tail was dead letters
        return replay.n;
    }

    /** Positions {@code it} at the log entry (a batch, keyed by its first offset) that holds {@code offset}, or after. */
    private static void seekToEntryHolding(RocksIterator it, long offset) {
        it.seekForPrev(logKey(offset));
        if (!it.isValid() || it.key()[0] != LOG_PREFIX) it.seek(logKey(offset));
    }

    // ---- the writer ----

    /**
     * Records a batch durably, then applies it to the index (which publishes it).
     *
     * @param ops        the batch's valid operations, in input order
     * @param offsets    {@code offsets[i]} is the input offset {@code ops.get(i)} was read at
     * @param lastOffset the batch's last input offset (at least every {@code offsets[i]}; dead letters count)
     */
    public ShardSnapshot apply(List<IndexOp> ops, long[] offsets, long lastOffset) {
        synchronized (writerLock) {
            return applyLocked(ops, offsets, lastOffset);
        }
    }

    private ShardSnapshot applyLocked(List<IndexOp> ops, long[] offsets, long lastOffset) {
        if (lastOffset <= applied) throw new IllegalArgumentException("offset " + lastOffset + " is already applied (" + applied + ")");
        try (WriteBatch batch = new WriteBatch()) {
            if (!ops.isEmpty()) { // one entry per batch, encoded into a buffer kept for the next batch
                encoded = OpCodec.encodeBatch(ops, offsets, encoded);
                batch.put(directKey.clear().put(LOG_PREFIX).putLong(Math.max(0, offsets[0])).flip(), encoded);
            }
            batch.put(APPLIED_KEY, longBytes(lastOffset));
            db.write(writeOptions, batch);
        } catch (RocksDBException e) {
            throw new IllegalStateException("partition " + shard.partition() + ": change log write failed: " + e.getMessage(), e);
        }
        applied = lastOffset;
        return shard.apply(ops, lastOffset + 1);
    }

    /** Forgets everything (Kafka Streams asks for this before re-bootstrapping a corrupted task). Writer thread. */
    public void reset() {
        synchronized (writerLock) {
            synchronized (this) {
                clearAll();
                shard.restore(null, Tombstones.NONE, new ShardSnapshot.LiveData(new float[0], new String[0], new String[0], 0), 0, 0);
            }
        }
    }

    /**
     * Says whether a writer that maintains the shard between its batches is attached: an active task's processor,
     * which calls {@link Shard#maintain()} at every punctuation. While none is (the shard restores, or is kept as a
     * standby copy, fed only when records arrive), {@link #maintainUnattended} does it instead, so that a base a
     * compaction built is installed even when the topic is quiet (a compaction of a standby copy otherwise waited at
     * its swap for the next record, and every rebuild of the instance queued behind it).
     */
    public void attend(boolean attended) {
        synchronized (writerLock) {
            this.attended = attended;
        }
    }

    /**
     * Maintains the shard ({@link Shard#maintain()}: installs a finished base or training) if no attending writer is
     * attached; true when it did. For a timer; takes turns with the other writers.
     */
    public boolean maintainUnattended() {
        synchronized (writerLock) {
            if (attended || closed) return false;
            shard.maintain();
            return true;
        }
    }

    private void clearAll() {
        for (Path p : SnapshotFile.list(snapshotDir())) deleteQuietly(p);
        try (WriteBatch batch = new WriteBatch()) {
            batch.deleteRange(new byte[]{LOG_PREFIX}, new byte[]{LOG_PREFIX + 1});
            batch.delete(APPLIED_KEY);
            batch.delete(LOG_FROM_KEY);
            batch.delete(REPLAYING_KEY);
            db.write(writeOptions, batch);
            db.flushWal(true);
        } catch (RocksDBException e) {
            throw new IllegalStateException("partition " + shard.partition() + ": cannot clear the store: " + e.getMessage(), e);
        }
        applied = -1;
        logFrom = 0;
    }

    // ---- checkpoints (compaction's thread) ----

    /**
     * Writes {@code s} (a snapshot this shard published) as the shard's snapshot file, durably, then trims the change
     * log to what comes after it and removes older snapshots. Any thread but the writer's: it takes as long as writing
     * the shard. Returns the file, or null when this store was closed meanwhile.
     */
    public Path checkpoint(ShardSnapshot s) throws IOException {
        if (s.nextOffset() <= 0) return null; // nothing applied yet
        long start = System.nanoTime();
        Path file = SnapshotFile.write(snapshotDir(), s); // fsynced and renamed atomically; older ones pruned
        synchronized (this) {
            if (closed) return null;
            try (WriteBatch batch = new WriteBatch(); WriteOptions synced = new WriteOptions().setSync(true)) {
                byte[] keepFrom = logKey(s.nextOffset()); // the entry holding nextOffset stays (entries are batches)
                try (RocksIterator it = db.newIterator()) {
                    seekToEntryHolding(it, s.nextOffset());
                    if (it.isValid() && it.key()[0] == LOG_PREFIX && compareKeys(it.key(), keepFrom) < 0) keepFrom = it.key();
                }
                batch.deleteRange(logKey(0), keepFrom);
                batch.put(LOG_FROM_KEY, longBytes(s.nextOffset()));
                batch.delete(REPLAYING_KEY);
                db.write(synced, batch);
                logFrom = s.nextOffset();
                // Give the trimmed entries' disk space back now: whole files are dropped without being read, the
                // one file that straddles the cut is compacted.
                db.deleteFilesInRanges(db.getDefaultColumnFamily(), List.of(logKey(0), keepFrom), false);
                db.compactRange(logKey(0), keepFrom);
            } catch (RocksDBException e) {
                throw new IOException("partition " + shard.partition() + ": change log trim failed: " + e.getMessage(), e);
            }
        }
        LOG.info("partition {}: checkpoint {} written ({} live, offset {}) in {} ms", s.partition(), file.getFileName(),
                s.liveCount(), s.nextOffset(), (System.nanoTime() - start) / 1_000_000);
        return file;
    }

    /** What status shows of a shard's durable state. */
    public record Info(RestorePath restorePath, long restoreMillis, long appliedOffset, long logFrom, long checkpointOffset,
                       long diskBytes) {
    }

    /** The current {@link Info} (walks the shard's directory for its size). Any thread. */
    public Info info() {
        List<Path> snapshots = SnapshotFile.list(snapshotDir());
        long checkpoint = snapshots.isEmpty() ? -1 : SnapshotFile.offsetOf(snapshots.getFirst());
        return new Info(restorePath, restoreMillis, applied, logFrom(), checkpoint, diskBytes());
    }

    /** Bytes this shard keeps on disk (change log and snapshots). Any thread. */
    public long diskBytes() {
        return directoryBytes(dir);
    }

    /** The offset from which the change log is complete (for tests and status). */
    public synchronized long logFrom() {
        return logFrom;
    }

    @Override
    public void close() {
        synchronized (writerLock) { // no writer is inside, and none enters after this (see maintainUnattended)
            closeLocked();
        }
    }

    private synchronized void closeLocked() {
        if (closed) return;
        closed = true;
        try {
            db.flushWal(true);
        } catch (RocksDBException e) {
            LOG.warn("partition {}: change log sync at close failed: {}", shard.partition(), e.getMessage());
        }
        db.close();
        writeOptions.close();
        options.close();
    }

    // ---- helpers ----

    private long readLong(byte[] key, long absent) {
        try {
            byte[] v = db.get(key);
            return v == null ? absent : ByteBuffer.wrap(v).getLong();
        } catch (RocksDBException e) {
            throw new IllegalStateException("cannot read the shard store: " + e.getMessage(), e);
        }
    }

    private static byte[] logKey(long offset) {
        return ByteBuffer.allocate(1 + Long.BYTES).put(LOG_PREFIX).putLong(Math.max(0, offset)).array();
    }

    private static int compareKeys(byte[] a, byte[] b) {
        return java.util.Arrays.compareUnsigned(a, b);
    }

    private static byte[] longBytes(long v) {
        return ByteBuffer.allocate(Long.BYTES).putLong(v).array();
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("cannot delete {}: {}", p, e.toString());
        }
    }

    static long directoryBytes(Path dir) {
        if (!Files.isDirectory(dir)) return 0;
        try (var files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0; // deleted meanwhile
                }
            }).sum();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0;
        }
    }
}
