package io.vectorstream.index;

import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteOptions;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * One shard's change log in its own RocksDB: every operation the batcher takes in, keyed by its source
 * offset (8 bytes, big-endian, so keys sort by offset). A snapshot file covers everything before its next
 * offset; a restart loads it and replays the log from there. Trimmed up to a snapshot's offset once that
 * snapshot is durable. Writes go through RocksDB's write-ahead log (not fsynced per write: a killed
 * process loses nothing, a power cut may lose the last writes, which the topic still holds).
 * Thread-safe; used by the shard's writer (append) and the compaction thread (trim).
 */
public final class ChangeLog implements AutoCloseable {
    private static final byte UPSERT = 0, DELETE = 1;

    static {
        RocksDB.loadLibrary();
    }

    private final Options options;
    private final WriteOptions writeOptions;
    private final RocksDB db;
    private boolean closed;

    private ChangeLog(Options options, WriteOptions writeOptions, RocksDB db) {
        this.options = options;
        this.writeOptions = writeOptions;
        this.db = db;
    }

    public static ChangeLog open(Path dir) throws IOException {
        Files.createDirectories(dir);
        Options options = new Options().setCreateIfMissing(true);
        WriteOptions writeOptions = new WriteOptions();
        try {
            return new ChangeLog(options, writeOptions, RocksDB.open(options, dir.toString()));
        } catch (RocksDBException e) {
            writeOptions.close();
            options.close();
            throw new IOException("cannot open the change log in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Records {@code op}, read at {@code offset}; written at once. */
    public synchronized void append(long offset, IndexOp op) {
        if (closed) return;
        try {
            db.put(writeOptions, key(offset), encode(op));
        } catch (RocksDBException e) {
            throw new IllegalStateException("change log write failed: " + e.getMessage(), e);
        }
    }

    /** Removes every entry before {@code offset}. */
    public synchronized void trimBefore(long offset) {
        if (closed) return;
        if (offset <= 0) return;
        try {
            db.deleteRange(key(0), key(offset));
        } catch (RocksDBException e) {
            throw new IllegalStateException("change log trim failed: " + e.getMessage(), e);
        }
    }

    /** The first offset held, or -1 when empty. */
    public synchronized long firstOffset() {
        try (RocksIterator it = db.newIterator()) {
            it.seekToFirst();
            return it.isValid() ? ByteBuffer.wrap(it.key()).getLong() : -1;
        }
    }

    /** The last offset held, or -1 when empty. */
    public synchronized long lastOffset() {
        try (RocksIterator it = db.newIterator()) {
            it.seekToLast();
            return it.isValid() ? ByteBuffer.wrap(it.key()).getLong() : -1;
        }
    }

    /** Every entry from {@code offset} on, in offset order. Returns how many. */
    public synchronized int replayFrom(long offset, BiConsumer<Long, IndexOp> sink) {
        if (closed) throw new IllegalStateException("change log closed");
        int n = 0;
        try (RocksIterator it = db.newIterator()) {
            for (it.seek(key(Math.max(0, offset))); it.isValid(); it.next()) {
                sink.accept(ByteBuffer.wrap(it.key()).getLong(), decode(it.value()));
                n++;
            }
        }
        return n;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        db.close();
        writeOptions.close();
        options.close();
    }

    private static byte[] key(long offset) {
        return ByteBuffer.allocate(Long.BYTES).putLong(offset).array();
    }

    static byte[] encode(IndexOp op) {
        byte[] id = op.id().getBytes(StandardCharsets.UTF_8);
        if (op instanceof IndexOp.Upsert u) {
            byte[] meta = u.metadataJson() == null ? null : u.metadataJson().getBytes(StandardCharsets.UTF_8);
            ByteBuffer b = ByteBuffer.allocate(1 + 4 + id.length + 4 + 4 * u.vector().length + 4 + (meta == null ? 0 : meta.length))
                    .order(ByteOrder.LITTLE_ENDIAN);
            b.put(UPSERT).putInt(id.length).put(id).putInt(u.vector().length);
            for (float f : u.vector()) b.putFloat(f);
            b.putInt(meta == null ? -1 : meta.length);
            if (meta != null) b.put(meta);
            return b.array();
        }
        return ByteBuffer.allocate(1 + 4 + id.length).order(ByteOrder.LITTLE_ENDIAN).put(DELETE).putInt(id.length).put(id).array();
    }

    static IndexOp decode(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        byte type = b.get();
        byte[] id = new byte[b.getInt()];
        b.get(id);
        String sid = new String(id, StandardCharsets.UTF_8);
        if (type == DELETE) return new IndexOp.Delete(sid);
        float[] v = new float[b.getInt()];
        for (int i = 0; i < v.length; i++) v[i] = b.getFloat();
        int ml = b.getInt();
        String meta = null;
        if (ml >= 0) {
            byte[] m = new byte[ml];
            b.get(m);
            meta = new String(m, StandardCharsets.UTF_8);
        }
        return new IndexOp.Upsert(sid, v, meta);
    }
}
