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

    public Shard(int partition, IndexConfig config, VectorKernels kernels) {
        this.partition = partition;
        this.writer = new IvfFlatIndex(partition, config, kernels);
        this.current = writer.snapshot(0, -1);
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
        writer.apply(ops);
        ShardSnapshot next = writer.snapshot(++version, nextOffset);
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
        current = next;
        return next;
    }
}
