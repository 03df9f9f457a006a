package io.vectorstream.index;

import io.vectorstream.kernels.VectorKernels;

import java.util.List;

/**
 * One partition's index: a single writer (the partition's stream task) applies batches, and every
 * batch publishes a new immutable {@link ShardSnapshot} with one volatile write. Readers call
 * {@link #snapshot()} and never block.
 */
public final class Shard {
    private final int partition;
    private final IvfFlatIndex writer;
    private volatile ShardSnapshot current;
    private long version;
    private final DeviceMirror mirror; // null: CPU only

    public Shard(int partition, IndexConfig config, VectorKernels kernels) {
        this(partition, config, kernels, null);
    }

    /** A shard whose batches are also mirrored onto a CUDA device when {@code backend} has one. */
    public Shard(int partition, IndexConfig config, VectorKernels kernels, DeviceBackend backend) {
        this.partition = partition;
        this.writer = new IvfFlatIndex(partition, config, kernels);
        this.current = writer.snapshot(0, -1);
        this.mirror = backend == null ? null : backend.mirror(partition, config);
    }

    public int partition() {
        return partition;
    }

    /** The latest published snapshot. */
    public ShardSnapshot snapshot() {
        return current;
    }

    /**
     * Applies a batch and publishes the result.
     *
     * @param nextOffset the input offset after the batch's last record
     */
    public ShardSnapshot apply(List<IndexOp> ops, long nextOffset) {
        DeviceMirror.Pending pending = mirror == null ? null : mirror.before(ops, writer::ordinalOf);
        writer.apply(ops);
        ShardSnapshot next = writer.snapshot(++version, nextOffset);
        if (mirror != null) mirror.after(next, pending, writer::ordinalOf); // before publishing: see DeviceMirror
        current = next;
        return next;
    }

    /** True when the live set holds {@code id} (writer's view; for the writer thread). */
    public boolean contains(String id) {
        return writer.contains(id);
    }

    /**
     * Trains the inverted lists on {@code n} vectors ({@code dim} floats each) now, instead of waiting for
     * the training threshold, and publishes the re-bucketed index (FAISS's train-then-add; used for bulk
     * loads and benchmarks). For the writer thread.
     */
    public ShardSnapshot trainOn(float[] sample, int n) {
        writer.trainOn(sample, n);
        ShardSnapshot next = writer.snapshot(++version, current.nextOffset());
        if (mirror != null) mirror.after(next, DeviceMirror.Pending.REBUILD, writer::ordinalOf);
        current = next;
        return next;
    }

    /**
     * The top-k of {@code snapshot} (one of this shard's): on the device when the shard is mirrored
     * there and the mirror holds exactly that snapshot, else the snapshot's own CPU scan.
     */
    public List<SearchHit> search(ShardSnapshot snapshot, float[] query, int k, int nprobe, boolean exact) {
        if (mirror != null) {
            List<SearchHit> hits = mirror.search(snapshot, query, k, nprobe, exact);
            if (hits != null) return hits;
        }
        return snapshot.search(query, k, nprobe, exact);
    }

    /** Where this shard's searches run: "cpu" or "cuda:N". */
    public String device() {
        return mirror == null ? "cpu" : mirror.device();
    }

    /** Device memory held by this shard's mirror (0 on the CPU). */
    public long deviceBytes() {
        return mirror == null ? 0 : mirror.deviceBytes();
    }

    /** Searches answered by the device so far (0 on the CPU). */
    public long deviceSearches() {
        return mirror == null ? 0 : mirror.deviceSearches();
    }

    /** Frees this shard's device resources (the CPU index stays readable). */
    public void close() {
        if (mirror != null) mirror.close();
    }
}
