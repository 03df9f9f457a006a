package io.vectorstream.index;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The TEXMEX formats of the public ANN data sets (SIFT1M, GIST1M, BIGANN): each row is a little-endian
 * int32 dimension followed by that many values, float32 ({@code .fvecs}), int32 ({@code .ivecs}) or
 * uint8 ({@code .bvecs}). Rows are read into one flat array (no object per row).
 */
public final class VectorFiles {
    private VectorFiles() {
    }

    /** {@code n} rows of {@code dim} floats, row-major. */
    public record Floats(float[] data, int n, int dim) {
    }

    /** {@code n} rows of {@code dim} ints, row-major (e.g. ground-truth neighbour ids). */
    public record Ints(int[] data, int n, int dim) {
    }

    private static final int CHUNK_BYTES = 1 << 22;

    /** Reads at most {@code maxRows} rows ({@code <= 0}: all) of an {@code .fvecs} file. */
    public static Floats readFvecs(Path file, int maxRows) throws IOException {
        Rows r = read(file, 4, maxRows);
        float[] out = new float[r.n * r.dim];
        r.forEachRow((row, buf) -> buf.asFloatBuffer().get(out, row * r.dim, r.dim));
        return new Floats(out, r.n, r.dim);
    }

    /** Reads an {@code .ivecs} file. */
    public static Ints readIvecs(Path file, int maxRows) throws IOException {
        Rows r = read(file, 4, maxRows);
        int[] out = new int[r.n * r.dim];
        r.forEachRow((row, buf) -> buf.asIntBuffer().get(out, row * r.dim, r.dim));
        return new Ints(out, r.n, r.dim);
    }

    /** Reads a {@code .bvecs} file, widening the unsigned bytes to floats. */
    public static Floats readBvecs(Path file, int maxRows) throws IOException {
        Rows r = read(file, 1, maxRows);
        float[] out = new float[r.n * r.dim];
        r.forEachRow((row, buf) -> {
            for (int d = 0; d < r.dim; d++) out[row * r.dim + d] = buf.get(buf.position() + d) & 0xff;
        });
        return new Floats(out, r.n, r.dim);
    }

    /** Any of the three by extension; {@code .bvecs} is widened to floats. */
    public static Floats readVectors(Path file, int maxRows) throws IOException {
        String name = file.getFileName().toString();
        if (name.endsWith(".bvecs")) return readBvecs(file, maxRows);
        if (name.endsWith(".fvecs")) return readFvecs(file, maxRows);
        throw new IOException(file + ": expected a .fvecs or .bvecs file");
    }

    public static void writeFvecs(Path file, float[] data, int n, int dim) throws IOException {
        write(file, n, dim, 4, (row, buf) -> buf.asFloatBuffer().put(data, row * dim, dim));
    }

    public static void writeIvecs(Path file, int[] data, int n, int dim) throws IOException {
        write(file, n, dim, 4, (row, buf) -> buf.asIntBuffer().put(data, row * dim, dim));
    }

    public static void writeBvecs(Path file, byte[] data, int n, int dim) throws IOException {
        write(file, n, dim, 1, (row, buf) -> buf.put(buf.position(), data, row * dim, dim));
    }

    private interface RowIo {
        /** {@code buf} is positioned at the row's first value (after the dimension). */
        void row(int row, ByteBuffer buf);
    }

    private record Rows(Path file, int n, int dim, int valueBytes) {
        void forEachRow(RowIo io) throws IOException {
            int rowBytes = 4 + dim * valueBytes;
            int rowsPerChunk = Math.max(1, CHUNK_BYTES / rowBytes);
            ByteBuffer buf = ByteBuffer.allocate(rowsPerChunk * rowBytes).order(ByteOrder.LITTLE_ENDIAN);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                for (int r0 = 0; r0 < n; r0 += rowsPerChunk) {
                    int rn = Math.min(rowsPerChunk, n - r0);
                    buf.clear().limit(rn * rowBytes);
                    while (buf.hasRemaining()) if (ch.read(buf) < 0) throw new IOException(file + ": truncated");
                    for (int i = 0; i < rn; i++) {
                        int at = i * rowBytes;
                        int d = buf.getInt(at);
                        if (d != dim) throw new IOException(file + ": row " + (r0 + i) + " has dimension " + d + ", expected " + dim);
                        buf.limit(at + rowBytes).position(at + 4);
                        io.row(r0 + i, buf.slice().order(ByteOrder.LITTLE_ENDIAN));
                        buf.limit(rn * rowBytes);
                    }
                }
            }
        }
    }

    private static Rows read(Path file, int valueBytes, int maxRows) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) return new Rows(file, 0, 0, valueBytes);
            ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (head.hasRemaining()) if (ch.read(head) < 0) throw new IOException(file + ": truncated");
            int dim = head.getInt(0);
            if (dim < 1) throw new IOException(file + ": bad dimension " + dim);
            long rowBytes = 4L + (long) dim * valueBytes;
            if (size % rowBytes != 0) throw new IOException(file + ": size " + size + " is not a multiple of the row size " + rowBytes);
            long rows = size / rowBytes;
            if (maxRows > 0) rows = Math.min(rows, maxRows);
            if (rows * dim > Integer.MAX_VALUE - 8) throw new IOException(file + ": too large for one array; pass a row limit");
            return new Rows(file, (int) rows, dim, valueBytes);
        }
    }

    private static void write(Path file, int n, int dim, int valueBytes, RowIo io) throws IOException {
        int rowBytes = 4 + dim * valueBytes;
        int rowsPerChunk = Math.max(1, CHUNK_BYTES / rowBytes);
        ByteBuffer buf = ByteBuffer.allocate(rowsPerChunk * rowBytes).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            for (int r0 = 0; r0 < n; r0 += rowsPerChunk) {
                int rn = Math.min(rowsPerChunk, n - r0);
                buf.clear();
                for (int i = 0; i < rn; i++) {
                    int at = i * rowBytes;
                    buf.putInt(at, dim);
                    buf.limit(at + rowBytes).position(at + 4);
                    io.row(r0 + i, buf.slice().order(ByteOrder.LITTLE_ENDIAN));
                    buf.limit(buf.capacity());
                }
                buf.position(0).limit(rn * rowBytes);
                while (buf.hasRemaining()) ch.write(buf);
            }
        }
    }
}
