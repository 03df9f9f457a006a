package io.vectorstream.index.durable;

import io.vectorstream.index.ShardSnapshot;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/** The open {@link DurableShard}s of this process, by partition: where compaction's checkpoints go. Thread-safe. */
public final class DurableShards {
    private final ConcurrentMap<Integer, DurableShard> open = new ConcurrentHashMap<>();
    private final ConcurrentMap<Integer, Integer> opens = new ConcurrentHashMap<>();

    /** Registers a shard just opened (restored); counted in {@link #opens}. */
    public void add(DurableShard d) {
        open.put(d.shard().partition(), d);
        opens.merge(d.shard().partition(), 1, Integer::sum);
    }

    /**
     * How many times this process has opened (restored) {@code partition}'s durable shard: 1 after a start, more once
     * the partition moved away and back, or between this process's stream threads.
     */
    public int opens(int partition) {
        return opens.getOrDefault(partition, 0);
    }

    public void remove(DurableShard d) {
        open.remove(d.shard().partition(), d);
    }

    /** The open durable shard of {@code partition}, or null. */
    public DurableShard get(int partition) {
        return open.get(partition);
    }

    /** Every open durable shard, by partition. */
    public List<DurableShard> all() {
        List<DurableShard> out = new ArrayList<>(open.values());
        out.sort(Comparator.comparingInt(d -> d.shard().partition()));
        return out;
    }

    /**
     * Maintains every open shard that no attending writer maintains ({@link DurableShard#maintainUnattended}): restoring
     * shards and standby copies. For a timer; returns how many it maintained.
     */
    public int maintainUnattended() {
        int n = 0;
        for (DurableShard d : open.values()) if (d.maintainUnattended()) n++;
        return n;
    }

    /**
     * Checkpoints {@code s} with its partition's durable state (compaction's snapshot sink); a no-op when the
     * partition is no longer open here.
     */
    public Path checkpoint(ShardSnapshot s) throws IOException {
        DurableShard d = open.get(s.partition());
        if (d == null) return null;
        return d.checkpoint(s);
    }
}
