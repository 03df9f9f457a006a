package io.vectorstream.index;

import io.vectorstream.kernels.VectorKernels;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The shards this process owns, by partition. A stream task opens its shard when it is assigned
 * the partition and closes it when the partition moves away.
 */
public final class ShardRegistry {
    private final IndexConfig config;
    private final VectorKernels kernels;
    private final ConcurrentMap<Integer, Shard> shards = new ConcurrentHashMap<>();
    private final DeviceBackend backend;
    private volatile ShardListener listener = ShardListener.NONE;

    public ShardRegistry(IndexConfig config, VectorKernels kernels) {
        this(config, kernels, DeviceBackend.cpu("requested the CPU"));
    }

    /** Shards whose searches may run on {@code backend}'s devices. */
    public ShardRegistry(IndexConfig config, VectorKernels kernels, DeviceBackend backend) {
        this.config = config;
        this.kernels = kernels;
        this.backend = backend;
    }

    public DeviceBackend backend() {
        return backend;
    }

    public IndexConfig config() {
        return config;
    }

    public VectorKernels kernels() {
        return kernels;
    }

    /** A fresh, empty shard for {@code partition}, replacing any previous one. */
    public Shard open(int partition) {
        Shard shard = new Shard(partition, config, kernels, backend);
        shard.listener(listener);
        shards.put(partition, shard);
        return shard;
    }

    /** Told about every batch of every shard opened from now on (compaction's triggers). */
    public void listener(ShardListener listener) {
        this.listener = listener == null ? ShardListener.NONE : listener;
        for (Shard shard : shards.values()) shard.listener(this.listener);
    }

    /** The shard of {@code partition}, or null when this process does not own it. */
    public Shard shard(int partition) {
        return shards.get(partition);
    }

    /** The owned shards, by partition. */
    public List<Shard> shards() {
        List<Shard> out = new ArrayList<>(shards.values());
        out.sort(Comparator.comparingInt(Shard::partition));
        return out;
    }

    /** Forgets {@code shard}, unless its partition has meanwhile been opened again. */
    public void close(Shard shard) {
        shards.remove(shard.partition(), shard);
        shard.close();
    }

    /** The current snapshot of every owned shard, by partition. */
    public List<ShardSnapshot> snapshots() {
        List<ShardSnapshot> out = new ArrayList<>(shards.size());
        for (Shard shard : shards.values()) out.add(shard.snapshot());
        out.sort(Comparator.comparingInt(ShardSnapshot::partition));
        return out;
    }
}
