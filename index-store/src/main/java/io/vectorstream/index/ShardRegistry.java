package io.vectorstream.index;

import io.vectorstream.index.device.DeviceBackend;
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
    private final ConcurrentMap<Integer, Shard> shards = new ConcurrentHashMap<>();      // owned, searchable or not
    private final java.util.Set<Shard> searchable = ConcurrentHashMap.newKeySet();
    private final DeviceBackend backend;
    private volatile ShardListener listener = ShardListener.NONE;
    private volatile java.util.concurrent.Executor trainer; // null: hot indexes train on their writer's thread

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

    /** A fresh, empty shard for {@code partition}, replacing any previous one, searchable at once. */
    public Shard open(int partition) {
        Shard shard = openRestoring(partition);
        activate(shard);
        return shard;
    }

    /**
     * A fresh, empty shard for {@code partition}, replacing any previous one, that queries do not see until
     * {@link #activate}: while it is being restored (or kept as a standby), it is owned — compaction may build
     * its base — but a reader never sees it part-way.
     */
    public Shard openRestoring(int partition) {
        Shard shard = new Shard(partition, config, kernels, backend);
        shard.listener(listener);
        if (trainer != null) shard.trainInBackground(trainer);
        Shard previous = shards.put(partition, shard);
        if (previous != null) searchable.remove(previous);
        return shard;
    }

    /** Makes {@code shard} visible to queries (its restore is complete). */
    public void activate(Shard shard) {
        if (shards.get(shard.partition()) == shard) searchable.add(shard);
    }

    /**
     * Hides {@code shard} from queries again while this process keeps it: its partition's active task moved elsewhere
     * and Kafka Streams keeps the store here as a standby copy (a task recycled from active to standby keeps its
     * stores open, and tells them nothing).
     */
    public void deactivate(Shard shard) {
        searchable.remove(shard);
    }

    /** True while {@code shard} is the one this process holds for its partition (searchable or not). */
    public boolean isCurrent(Shard shard) {
        return shards.get(shard.partition()) == shard;
    }

    /** Shards opened from now on train their hot index's centroids on {@code trainer}, off their writer's thread. */
    public void trainInBackground(java.util.concurrent.Executor trainer) {
        this.trainer = trainer;
    }

    /** Told about every batch of every shard opened from now on (compaction's triggers). */
    public void listener(ShardListener listener) {
        this.listener = listener == null ? ShardListener.NONE : listener;
        for (Shard shard : shards.values()) shard.listener(this.listener);
    }

    /** The searchable shard of {@code partition}, or null when this process does not serve it. */
    public Shard shard(int partition) {
        Shard s = shards.get(partition);
        return s != null && searchable.contains(s) ? s : null;
    }

    /**
     * The copy of {@code partition} this process holds but does not serve — a standby kept current from the topic,
     * or a shard still restoring — or null. Its snapshots are consistent but may be behind the partition's owner.
     */
    public Shard standby(int partition) {
        Shard s = shards.get(partition);
        return s != null && !searchable.contains(s) ? s : null;
    }

    /** The searchable shards, by partition. */
    public List<Shard> shards() {
        List<Shard> out = new ArrayList<>(shards.size());
        for (Shard s : shards.values()) if (searchable.contains(s)) out.add(s);
        out.sort(Comparator.comparingInt(Shard::partition));
        return out;
    }

    /** Forgets {@code shard}, unless its partition has meanwhile been opened again. */
    public void close(Shard shard) {
        shards.remove(shard.partition(), shard);
        searchable.remove(shard);
        shard.close();
    }

    /** The current snapshot of every owned shard, by partition. */
    public List<ShardSnapshot> snapshots() {
        List<ShardSnapshot> out = new ArrayList<>(shards.size());
        for (Shard shard : shards()) out.add(shard.snapshot());
        out.sort(Comparator.comparingInt(ShardSnapshot::partition));
        return out;
    }
}
