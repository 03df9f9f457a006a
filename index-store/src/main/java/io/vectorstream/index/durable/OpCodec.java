package io.vectorstream.index.durable;

import io.vectorstream.index.IndexOp;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The one byte encoding of an {@link IndexOp} in a shard's durable change log. Little-endian:
 * <pre>
 *   upsert: 0, id length (int), id (UTF-8), dim (int), dim float32s, metadata length (int, -1 = none), metadata (UTF-8)
 *   delete: 1, id length (int), id (UTF-8)
 * </pre>
 */
public final class OpCodec {
    private static final byte UPSERT = 0, DELETE = 1;

    private OpCodec() {
    }

    public static byte[] encode(IndexOp op) {
        byte[] id = op.id().getBytes(StandardCharsets.UTF_8);
        if (op instanceof IndexOp.Upsert u) {
            byte[] meta = u.metadataJson() == null ? null : u.metadataJson().getBytes(StandardCharsets.UTF_8);
            float[] v = u.vector();
            ByteBuffer b = ByteBuffer.allocate(1 + 4 + id.length + 4 + 4 * v.length + 4 + (meta == null ? 0 : meta.length))
                    .order(ByteOrder.LITTLE_ENDIAN);
            b.put(UPSERT).putInt(id.length).put(id).putInt(v.length);
            b.asFloatBuffer().put(v);
            b.position(b.position() + 4 * v.length);
            b.putInt(meta == null ? -1 : meta.length);
            if (meta != null) b.put(meta);
            return b.array();
        }
        return ByteBuffer.allocate(1 + 4 + id.length).order(ByteOrder.LITTLE_ENDIAN).put(DELETE).putInt(id.length).put(id).array();
    }

    public static IndexOp decode(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
        byte type = b.get();
        int idLength = b.getInt();
        String id = new String(value, b.position(), idLength, StandardCharsets.UTF_8);
        b.position(b.position() + idLength);
        if (type == DELETE) return new IndexOp.Delete(id);
        if (type != UPSERT) throw new IllegalArgumentException("unknown operation type " + type);
        float[] v = new float[b.getInt()];
        b.asFloatBuffer().get(v);
        b.position(b.position() + 4 * v.length);
        int metaLength = b.getInt();
        String meta = metaLength < 0 ? null : new String(value, b.position(), metaLength, StandardCharsets.UTF_8);
        return new IndexOp.Upsert(id, v, meta);
    }
}
