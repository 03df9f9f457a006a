package io.vectorstream.index.durable;

import io.vectorstream.index.IndexOp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The one byte encoding of {@link IndexOp}s in a shard's durable change log. Little-endian:
 * <pre>
 *   upsert: 0, id length (int), id (UTF-8), dim (int), dim float32s, metadata length (int, -1 = none), metadata (UTF-8)
 *   delete: 1, id length (int), id (UTF-8)
 *   batch:  count (int), then count times: input offset (long), operation
 * </pre>
 * The log stores one batch per applied index batch: one RocksDB entry instead of one per operation.
 */
public final class OpCodec {
    private static final byte UPSERT = 0, DELETE = 1;

    private OpCodec() {
    }

    public static byte[] encode(IndexOp op) {
        byte[] id = op.id().getBytes(StandardCharsets.UTF_8);
        byte[] meta = metadataBytes(op);
        ByteBuffer b = ByteBuffer.allocate(size(op, id, meta)).order(ByteOrder.LITTLE_ENDIAN);
        put(b, op, id, meta);
        return b.array();
    }

    public static IndexOp decode(byte[] value) {
        return read(ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN));
    }

    /** One batch: {@code ops.get(i)} was read at input offset {@code offsets[i]}. */
    public static byte[] encodeBatch(List<IndexOp> ops, long[] offsets) {
        ByteBuffer b = encodeBatch(ops, offsets, null);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /**
     * As {@link #encodeBatch(List, long[])}, into {@code reuse} when it is large enough (else into a new direct
     * buffer twice the size needed, for the caller to keep). Returns the buffer, flipped: position 0, limit the end.
     */
    public static ByteBuffer encodeBatch(List<IndexOp> ops, long[] offsets, ByteBuffer reuse) {
        int n = ops.size();
        byte[][] ids = new byte[n][];
        byte[][] metas = new byte[n][];
        int size = Integer.BYTES;
        for (int i = 0; i < n; i++) {
            IndexOp op = ops.get(i);
            ids[i] = op.id().getBytes(StandardCharsets.UTF_8);
            metas[i] = metadataBytes(op);
            size += Long.BYTES + size(op, ids[i], metas[i]);
        }
        ByteBuffer b = reuse != null && reuse.capacity() >= size ? reuse.clear() : ByteBuffer.allocateDirect(2 * size);
        b.order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(n);
        for (int i = 0; i < n; i++) {
            b.putLong(offsets[i]);
            put(b, ops.get(i), ids[i], metas[i]);
        }
        return b.flip();
    }

    /** Receives a batch's operations in order. */
    @FunctionalInterface
    public interface BatchVisitor {
        void accept(long offset, IndexOp op);
    }

    /** Decodes a batch written by {@link #encodeBatch}. */
    public static void decodeBatch(byte[] value, BatchVisitor visitor) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        int n = b.getInt();
        for (int i = 0; i < n; i++) {
            long offset = b.getLong();
            visitor.accept(offset, read(b));
        }
    }

    private static byte[] metadataBytes(IndexOp op) {
        return op instanceof IndexOp.Upsert u && u.metadataJson() != null
                ? u.metadataJson().getBytes(StandardCharsets.UTF_8) : null;
    }

    private static int size(IndexOp op, byte[] id, byte[] meta) {
        if (op instanceof IndexOp.Upsert u) {
            return 1 + 4 + id.length + 4 + 4 * u.vector().length + 4 + (meta == null ? 0 : meta.length);
        }
        return 1 + 4 + id.length;
    }

    private static void put(ByteBuffer b, IndexOp op, byte[] id, byte[] meta) {
        if (op instanceof IndexOp.Upsert u) {
            float[] v = u.vector();
            b.put(UPSERT).putInt(id.length).put(id).putInt(v.length);
            b.asFloatBuffer().put(v);
            b.position(b.position() + 4 * v.length);
            b.putInt(meta == null ? -1 : meta.length);
            if (meta != null) b.put(meta);
        } else {
            b.put(DELETE).putInt(id.length).put(id);
        }
    }

    private static IndexOp read(ByteBuffer b) {
        byte type = b.get();
        int idLength = b.getInt();
        String id = new String(b.array(), b.position(), idLength, StandardCharsets.UTF_8);
        b.position(b.position() + idLength);
        if (type == DELETE) return new IndexOp.Delete(id);
        if (type != UPSERT) throw new IllegalArgumentException("unknown operation type " + type);
        float[] v = new float[b.getInt()];
        b.asFloatBuffer().get(v);
        b.position(b.position() + 4 * v.length);
        int metaLength = b.getInt();
        String meta = null;
        if (metaLength >= 0) {
            meta = new String(b.array(), b.position(), metaLength, StandardCharsets.UTF_8);
            b.position(b.position() + metaLength);
        }
        return new IndexOp.Upsert(id, v, meta);
    }
}
