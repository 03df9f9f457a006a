package io.vectorstream.index.durable;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.Tombstones;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.kernels.Metric;
import io.vectorstream.kernels.VectorKernels;
import io.vectorstream.index.quantizer.CoarseQuantizer;
import io.vectorstream.index.quantizer.ProductQuantizer;
import io.vectorstream.index.ivf.IvfPqIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;
import java.util.zip.CheckedOutputStream;

/**
 * A shard's state on disk, device-independent: the base (coarse centroids, PQ codebooks, the full vectors
 * for re-rank, ids, metadata, its tombstones) and the hot index's live vectors, with the next offset it covers.
 *
 * <p>Format (big-endian): magic {@code VSSNAP01}, format version, header (partition, version, next offset,
 * dim, metric, index config), base section (or a 0 flag), hot section, body length; then a trailer outside the
 * checksum: the CRC32C of everything before it and the end magic {@code VSEND!01}. Written atomically: to a
 * temporary file, fsync, rename, fsync of the directory. A file whose magic, length, checksum or content does
 * not add up is reported as corrupt and never loaded. Since format version 2 the base section ends with each
 * vector's list and PQ code bytes, so loading lays the lists out again without assigning or encoding anything
 * (format 1 stored neither, and loading re-encoded every vector with the stored quantizers: at 500k vectors per
 * shard ~10 s of a restart on two cores; format 1 files are still read that way).
 */
public final class SnapshotFile {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFile.class);
    private static final byte[] MAGIC = "VSSNAP01".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END = "VSEND!01".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT_VERSION = 2;
    private static final int FIRST_FORMAT_WITH_CODES = 2;
    private static final String PREFIX = "snapshot-";
    private static final String SUFFIX = ".vss";
    private static final int KEEP = 1; // the change log is trimmed to the newest; a corrupt one means a replay from the topic

    /** A snapshot read back: what {@link Shard#restore} takes. */
    public record Loaded(int partition, long version, long nextOffset, BaseSegment base, Tombstones tombstones,
                         ShardSnapshot.LiveData hot, Path file) {
    }

    /** The file is not a complete, intact snapshot. */
    public static final class CorruptSnapshotException extends IOException {
        CorruptSnapshotException(String message) {
            super(message);
        }
    }

    private SnapshotFile() {
    }

    /** Writes {@code s} into {@code dir} atomically, keeps the newest {@value #KEEP}, and returns its path. */
    public static Path write(Path dir, ShardSnapshot s) throws IOException {
        return write(dir, s, FORMAT_VERSION);
    }

    /** As {@link #write(Path, ShardSnapshot)} in an older {@code format} (tests: older files must still load). */
    static Path write(Path dir, ShardSnapshot s, int format) throws IOException {
        if (format < 1 || format > FORMAT_VERSION) throw new IllegalArgumentException("format " + format);
        Files.createDirectories(dir);
        Path target = dir.resolve(String.format("%s%020d-%012d%s", PREFIX, Math.max(0, s.nextOffset()), s.version(), SUFFIX));
        Path tmp = dir.resolve(target.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            OutputStream raw = new SyncingOutputStream(java.nio.channels.Channels.newOutputStream(ch), ch);
            CRC32C crc = new CRC32C();
            CountingOutputStream counting = new CountingOutputStream(new CheckedOutputStream(raw, crc));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(counting, 1 << 16));
            writeBody(out, s, format);
            out.flush();
            long length = counting.count;
            DataOutputStream trailer = new DataOutputStream(raw);
            trailer.writeLong(length);
            trailer.writeInt((int) crc.getValue());
            trailer.write(END);
            trailer.flush();
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(dir);
        prune(dir, target);
        return target;
    }

    private static void writeBody(DataOutputStream out, ShardSnapshot s, int format) throws IOException {
        IndexConfig c = s.config();
        out.write(MAGIC);
        out.writeInt(format);
        out.writeInt(s.partition());
        out.writeLong(s.version());
        out.writeLong(s.nextOffset());
        out.writeInt(c.dim());
        writeString(out, c.metric().wireName());
        out.writeInt(c.nlist());
        out.writeInt(c.trainThreshold());
        out.writeInt(c.defaultNprobe());
        out.writeLong(c.seed());
        BaseSegment b = s.base();
        out.writeBoolean(b != null);
        if (b != null) {
            out.writeLong(b.version());
            out.writeLong(b.coversOffset());
            out.writeLong(b.builtAtMillis());
            out.writeLong(b.buildMillis());
            writeString(out, b.trigger());
            out.writeDouble(b.buildQuantizationError());
            IvfPqIndex.Trained t = b.index().trained();
            float[] centroids = t.coarse().centroids();
            out.writeInt(t.coarse().nlist());
            writeFloats(out, centroids, centroids.length);
            out.writeInt(t.pq().m());
            float[] books = t.pq().codebooks();
            writeFloats(out, books, books.length);
            int n = b.size();
            out.writeInt(n);
            writeFloats(out, b.vectors().vectors(), n * c.dim());
            for (int i = 0; i < n; i++) writeString(out, b.id(i));
            for (int i = 0; i < n; i++) writeString(out, b.metadata(i));
            int[] dead = s.tombstones().toArray();
            out.writeInt(dead.length);
            for (int o : dead) out.writeInt(o);
            if (format >= FIRST_FORMAT_WITH_CODES) {
                int[] lists = new int[n];
                byte[] codes = new byte[n * t.pq().m()];
                b.index().exportCodes(lists, codes);
                for (int l : lists) out.writeInt(l);
                out.write(codes);
            }
        }
        ShardSnapshot.LiveData hot = s.hotLive();
        out.writeInt(hot.size());
        writeFloats(out, hot.vectors(), hot.size() * c.dim());
        for (int i = 0; i < hot.size(); i++) writeString(out, hot.ids()[i]);
        for (int i = 0; i < hot.size(); i++) writeString(out, hot.metadata()[i]);
    }

    /**
     * Reads and verifies one snapshot file made for {@code config}.
     *
     * @throws CorruptSnapshotException when the file is truncated, altered, or not a snapshot for this index
     */
    public static Loaded read(Path file, IndexConfig config, VectorKernels kernels) throws IOException {
        long size = Files.size(file);
        if (size < MAGIC.length + 8 + 4 + END.length) throw new CorruptSnapshotException(file + ": too short (" + size + " bytes)");
        // verify the trailer and checksum before trusting any length inside
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CRC32C crc = new CRC32C();
            long bodyLength = size - 8 - 4 - END.length;
            CheckedInputStream checked = new CheckedInputStream(in, crc);
            byte[] buf = new byte[1 << 16];
            long left = bodyLength;
            while (left > 0) {
                int r = checked.read(buf, 0, (int) Math.min(buf.length, left));
                if (r < 0) throw new CorruptSnapshotException(file + ": truncated");
                left -= r;
            }
            DataInputStream trailer = new DataInputStream(in);
            long length = trailer.readLong();
            int expected = trailer.readInt();
            byte[] end = trailer.readNBytes(END.length);
            if (length != bodyLength || !java.util.Arrays.equals(end, END)) throw new CorruptSnapshotException(file + ": bad trailer (truncated or not a snapshot)");
            if ((int) crc.getValue() != expected) throw new CorruptSnapshotException(file + ": checksum mismatch");
        }
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            return readBody(in, file, size, config, kernels);
        } catch (EOFException | IllegalArgumentException | NegativeArraySizeException e) {
            throw new CorruptSnapshotException(file + ": " + e);
        }
    }

    private static Loaded readBody(DataInputStream in, Path file, long size, IndexConfig config, VectorKernels kernels) throws IOException {
        byte[] magic = in.readNBytes(MAGIC.length);
        if (!java.util.Arrays.equals(magic, MAGIC)) throw new CorruptSnapshotException(file + ": not a snapshot file");
        int format = in.readInt();
        if (format < 1 || format > FORMAT_VERSION) throw new CorruptSnapshotException(file + ": format version " + format + " is not supported");
        int partition = in.readInt();
        long version = in.readLong();
        long nextOffset = in.readLong();
        int dim = in.readInt();
        Metric metric = Metric.parse(readString(in, size));
        in.readInt(); // nlist, trainThreshold, nprobe and seed of the writer: informative
        in.readInt();
        in.readInt();
        in.readLong();
        if (dim != config.dim() || metric != config.metric()) {
            throw new CorruptSnapshotException(file + ": made for dim " + dim + "/" + metric.wireName() + ", the index is "
                    + config.dim() + "/" + config.metric().wireName());
        }
        BaseSegment base = null;
        Tombstones tombstones = Tombstones.NONE;
        if (in.readBoolean()) {
            long baseVersion = in.readLong();
            long covers = in.readLong();
            long builtAt = in.readLong();
            long buildMillis = in.readLong();
            String trigger = readString(in, size);
            double error = in.readDouble();
            int nlist = count(in.readInt(), (long) dim * 4, size);
            float[] centroids = readFloats(in, nlist * dim);
            int m = in.readInt();
            float[] books = readFloats(in, count(dim * VectorKernels.PQ_KSUB, 4, size));
            int n = count(in.readInt(), (long) dim * 4, size);
            float[] vectors = readFloats(in, n * dim);
            String[] ids = readStrings(in, n, size);
            String[] meta = readStrings(in, n, size);
            int deadCount = count(in.readInt(), 4, size);
            int[] dead = new int[deadCount];
            for (int i = 0; i < deadCount; i++) {
                dead[i] = in.readInt();
                if (dead[i] < 0 || dead[i] >= n) throw new CorruptSnapshotException(file + ": tombstone out of range");
            }
            IvfPqIndex.Trained trained = new IvfPqIndex.Trained(CoarseQuantizer.of(kernels, metric, dim, centroids),
                    ProductQuantizer.of(kernels, dim, m, books));
            FlatVectorStore store = new FlatVectorStore(vectors, dim);
            IvfPqIndex index;
            if (format >= FIRST_FORMAT_WITH_CODES) {
                int[] lists = new int[n];
                for (int i = 0; i < n; i++) lists[i] = in.readInt();
                byte[] codes = in.readNBytes(count(n * m, 1, size));
                if (codes.length != n * m) throw new CorruptSnapshotException(file + ": truncated codes");
                index = IvfPqIndex.fromCodes(kernels, trained, lists, codes, n, null, store); // IllegalArgumentException: corrupt
            } else {
                index = IvfPqIndex.build(kernels, trained, vectors, n, null, store);
            }
            base = new BaseSegment(baseVersion, covers, index, store, ids, meta, error, builtAt, buildMillis, trigger);
            tombstones = Tombstones.NONE.with(dead, deadCount);
        }
        int hotN = count(in.readInt(), (long) dim * 4, size);
        float[] hotVectors = readFloats(in, hotN * dim);
        String[] hotIds = readStrings(in, hotN, size);
        String[] hotMeta = readStrings(in, hotN, size);
        return new Loaded(partition, version, nextOffset, base, tombstones,
                new ShardSnapshot.LiveData(hotVectors, hotIds, hotMeta, hotN), file);
    }

    /** The newest snapshot in {@code dir} that reads back intact; corrupt ones are logged and skipped. */
    public static Optional<Loaded> loadNewest(Path dir, IndexConfig config, VectorKernels kernels) {
        for (Path file : list(dir)) {
            try {
                return Optional.of(read(file, config, kernels));
            } catch (IOException | RuntimeException e) {
                LOG.warn("skipping snapshot {}: {}", file, e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** The next offset a snapshot file covers, from its name. */
    public static long offsetOf(Path file) {
        String n = file.getFileName().toString();
        return Long.parseLong(n.substring(PREFIX.length(), PREFIX.length() + 20));
    }

    /** Snapshot files in {@code dir}, newest (highest next offset, then version) first. */
    public static List<Path> list(Path dir) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (var files = Files.list(dir)) {
            files.filter(p -> {
                String n = p.getFileName().toString();
                return n.startsWith(PREFIX) && n.endsWith(SUFFIX);
            }).forEach(out::add);
        } catch (IOException e) {
            LOG.warn("cannot list snapshots in {}: {}", dir, e.toString());
        }
        out.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
        return out;
    }

    private static void prune(Path dir, Path keepNewest) {
        List<Path> all = list(dir);
        for (int i = KEEP; i < all.size(); i++) {
            try {
                Files.deleteIfExists(all.get(i));
            } catch (IOException e) {
                LOG.warn("cannot delete old snapshot {}: {}", all.get(i), e.toString());
            }
        }
        try (var files = Files.list(dir)) { // leftovers of interrupted writes
            files.filter(p -> p.getFileName().toString().endsWith(SUFFIX + ".tmp") && !p.equals(keepNewest)).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // next time
                }
            });
        } catch (IOException ignored) {
            // next time
        }
    }

    static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            LOG.debug("cannot fsync directory {}: {}", dir, e.toString()); // not supported on every platform
        }
    }

    private static int count(int n, long bytesEach, long fileSize) throws CorruptSnapshotException {
        if (n < 0 || n * bytesEach > fileSize) throw new CorruptSnapshotException("implausible count " + n);
        return n;
    }

    private static void writeFloats(DataOutputStream out, float[] a, int n) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        for (int i = 0; i < n; ) {
            buf.clear();
            int m = Math.min(n - i, buf.capacity() / 4);
            buf.asFloatBuffer().put(a, i, m);
            out.write(buf.array(), 0, m * 4);
            i += m;
        }
    }

    private static float[] readFloats(DataInputStream in, int n) throws IOException {
        float[] a = new float[n];
        byte[] bytes = new byte[1 << 16];
        for (int i = 0; i < n; ) {
            int m = Math.min(n - i, bytes.length / 4);
            in.readFully(bytes, 0, m * 4);
            ByteBuffer.wrap(bytes, 0, m * 4).asFloatBuffer().get(a, i, m);
            i += m;
        }
        return a;
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in, long fileSize) throws IOException {
        int len = in.readInt();
        if (len == -1) return null;
        if (len < 0 || len > fileSize) throw new CorruptSnapshotException("implausible string length " + len);
        return new String(in.readNBytes(len), StandardCharsets.UTF_8);
    }

    private static String[] readStrings(DataInputStream in, int n, long fileSize) throws IOException {
        String[] out = new String[n];
        for (int i = 0; i < n; i++) out[i] = readString(in, fileSize);
        return out;
    }

    /**
     * Forces the file's data to disk every {@link #SYNC_EVERY_BYTES} as it is written (like RocksDB's bytes_per_sync):
     * a snapshot is hundreds of megabytes, and left to the final force they sat as dirty pages that the stream
     * threads' WAL syncs then waited behind (p99 50 ms, up to 124 ms, while a compaction wrote its snapshot).
     */
    private static final class SyncingOutputStream extends java.io.FilterOutputStream {
        static final long SYNC_EVERY_BYTES = 8L << 20;
        private final FileChannel channel;
        private long unsynced;

        SyncingOutputStream(OutputStream out, FileChannel channel) {
            super(out);
            this.channel = channel;
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            if (++unsynced >= SYNC_EVERY_BYTES) sync();
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            unsynced += len;
            if (unsynced >= SYNC_EVERY_BYTES) sync();
        }

        private void sync() throws IOException {
            channel.force(false);
            unsynced = 0;
        }
    }

    private static final class CountingOutputStream extends java.io.FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
