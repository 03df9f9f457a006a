package io.vectorstream.streams;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The value format of the vector store (RocksDB, changelogged to Kafka): a version byte, the
 * dimension, the float32s little-endian, then the metadata JSON (UTF-8, possibly empty).
 */
public final class StoredVectorCodec {
    private static final byte VERSION = 1;

    private StoredVectorCodec() {
    }

    public record Entry(float[] vector, String metadataJson) {
    }

    public static byte[] encode(float[] vector, String metadataJson) {
        byte[] meta = metadataJson == null ? new byte[0] : metadataJson.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(1 + 4 + vector.length * 4 + 4 + meta.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(VERSION).putInt(vector.length);
        for (float f : vector) b.putFloat(f);
        b.putInt(meta.length).put(meta);
        return b.array();
    }

    public static Entry decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        byte version = b.get();
        if (version != VERSION) throw new IllegalStateException("unknown stored vector version " + version);
        float[] v = new float[b.getInt()];
        for (int i = 0; i < v.length; i++) v[i] = b.getFloat();
        int metaLen = b.getInt();
        String meta = metaLen == 0 ? null : new String(bytes, b.position(), metaLen, StandardCharsets.UTF_8);
        return new Entry(v, meta);
    }
}
