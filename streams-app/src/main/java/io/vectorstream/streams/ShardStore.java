package io.vectorstream.streams;

import io.vectorstream.index.IndexOp;
import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.durable.DurableShard;
import io.vectorstream.index.durable.DurableShards;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.errors.ProcessorStateException;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.processor.internals.RecordBatchingStateRestoreCallback;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * One partition's shard as a Kafka Streams state store: the adapter between Kafka Streams' store life cycle and
 * {@link DurableShard}, which owns the state. Registered with {@code Topology.addReadOnlyStateStore}, so its
 * changelog is the input topic itself: no second copy of any vector is written to Kafka.
 * <ul>
 *   <li>{@link #init}: opens the durable shard (restoring the index to its applied offset A) under the task's state
 *       directory; the shard is owned but not yet searchable.</li>
 *   <li>{@link #committedOffset}: A, which Kafka Streams stores for us (KIP-1035, {@link #managesOffsets()}).
 *       Restore, and a standby's updates, replay the topic from A + 1 through {@link #restoreBatch}, which decodes
 *       each record exactly as processing does and skips the invalid ones (they were dead-lettered when processed).</li>
 *   <li>{@link IngestProcessor} (active tasks only, after restore) activates the shard and applies batches through
 *       {@link #apply}; its close deactivates it (the task may live on as a standby, with this store still open).</li>
 *   <li>{@link #commit}: nothing to sync (the topic is the durable copy of what is not yet in RocksDB); an empty map
 *       (Kafka Streams clearing a corrupted task) clears the store.</li>
 * </ul>
 * The restore callback is Kafka Streams' internal {@link RecordBatchingStateRestoreCallback}: the public
 * {@code BatchingStateRestoreCallback} drops the offsets (which must be stored atomically with the data) and the
 * headers (which select the binary format). Kafka is pinned to 4.3.1, where this is how built-in stores restore.
 */
public final class ShardStore implements StateStore, RecordBatchingStateRestoreCallback {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ShardStore.class);
    private final String name;
    private final ShardRegistry registry;
    private final DurableShards durables;
    private final EventDecoder decoder;
    private DurableShard durable;
    private volatile boolean open;
    private boolean startupPass; // opened by Kafka Streams' start-up pass: the offset only, no shard (see isStartupPass)
    private Long startupOffset;

    ShardStore(String name, ShardRegistry registry, DurableShards durables, EventDecoder decoder) {
        this.name = name;
        this.registry = registry;
        this.durables = durables;
        this.decoder = decoder;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        if (isStartupPass(context)) {
            initForStartupPass(context, root);
            return;
        }
        int partition = context.taskId().partition();
        Shard shard = registry.openRestoring(partition);
        try {
            durable = DurableShard.open(context.stateDir().toPath().resolve(name), shard);
        } catch (IOException e) {
            registry.close(shard);
            throw new ProcessorStateException("partition " + partition + ": cannot open the shard store: " + e.getMessage(), e);
        }
        durables.add(durable);
        open = true;
        context.register(root, this);
    }

    /**
     * Kafka Streams 4.3 opens every store found in the local state directory once while it starts
     * ({@code StateDirectory.initializeStartupStores}), only to read and checkpoint its committed offset, and closes
     * it again before any assignment; the task that is then assigned opens the store anew. A full open restores the
     * whole index (measured: 9-12 s per 500k-vector shard), so that pass alone doubled a restart. Recognised by its
     * context (an internal class of Kafka Streams, pinned at 4.3.1 like the restore callback above), it only reads
     * the committed offset ({@link DurableShard#peekCommittedOffset}) and restores nothing.
     */
    static boolean isStartupPass(StateStoreContext context) {
        return context.getClass().getName().equals(STARTUP_CONTEXT);
    }

    static final String STARTUP_CONTEXT = "org.apache.kafka.streams.processor.internals.StateDirectory$StartupContext";

    private void initForStartupPass(StateStoreContext context, StateStore root) {
        try {
            startupOffset = DurableShard.peekCommittedOffset(context.stateDir().toPath().resolve(name));
        } catch (IOException e) {
            // Kafka Streams treats any failure in this pass as fatal to the whole instance, before any assignment;
            // the task's own open (if this instance is assigned the partition) reports the store's problem itself.
            LOG.warn("partition {}: cannot read the shard store's offset at start-up ({}); its task will decide",
                    context.taskId().partition(), e.getMessage());
            startupOffset = null;
        }
        startupPass = true;
        open = true;
        context.register(root, this);
    }

    /** The shard this store keeps. */
    public Shard shard() {
        return durable.shard();
    }

    /** The durable state (for the processor and tests). */
    public DurableShard durable() {
        return durable;
    }

    /** Makes the shard searchable: its restore is done and this task is active. */
    void activate() {
        durable.attend(true); // the processor maintains the shard from now on
        registry.activate(durable.shard());
    }

    /**
     * Hides the shard from queries: its active task is closing. If Kafka Streams recycles the task into a standby (it
     * keeps the store open and does not tell it), the shard stays here as a copy that only {@code allow_stale}
     * reads; the owner elsewhere answers for the partition. If the task becomes active again, its processor's
     * {@code init} activates the shard again.
     */
    void deactivate() {
        if (durable == null) return;
        registry.deactivate(durable.shard());
        durable.attend(false); // a standby copy from now on, maintained by the server's timer (DurableShards)
    }

    /** Records a batch durably and applies it to the index: see {@link DurableShard#apply}. */
    void apply(List<IndexOp> ops, long[] offsets, long lastOffset) {
        durable.apply(ops, offsets, lastOffset);
    }

    @Override
    public void restoreBatch(Collection<ConsumerRecord<byte[], byte[]>> records) {
        if (records.isEmpty()) return;
        if (startupPass) throw new IllegalStateException("the start-up pass of " + name + " does not restore");
        List<IndexOp> ops = new ArrayList<>(records.size());
        long[] offsets = new long[records.size()];
        long last = -1;
        for (ConsumerRecord<byte[], byte[]> r : records) {
            last = r.offset();
            if (last <= durable.appliedOffset()) continue;
            EventDecoder.Decoded d = decoder.decode(r.key(), r.value(), r.headers());
            if (d.op() == null) continue; // dead-lettered when it was processed
            offsets[ops.size()] = last;
            ops.add(d.op());
        }
        if (last > durable.appliedOffset()) durable.apply(ops, offsets, last);
    }

    @Override
    @SuppressWarnings("deprecation")
    public boolean managesOffsets() {
        return true;
    }

    @Override
    public void commit(Map<TopicPartition, Long> changelogOffsets) {
        if (startupPass || durable == null) return; // the start-up pass changes nothing
        if (changelogOffsets.isEmpty() || changelogOffsets.values().stream().anyMatch(java.util.Objects::isNull)) {
            durable.reset();
        }
        // Otherwise nothing to do, and in particular no sync of the write-ahead log on the stream thread (it took up
        // to 50-124 ms under load, once a second, while records waited). The offsets given may be ahead of what is
        // applied (a batch still pending in the processor), and after a power loss RocksDB may come back at an
        // applied offset A' below them: either way Kafka Streams restores a source-topic store from its committed
        // offset (A') up to the group's committed offset, from the topic, before processing (restore ends at
        // min(end offset, committed offset), StoreChangelogReader), so the topic, not the sync, is what makes an
        // applied batch durable. A kill -9 loses nothing written: the OS keeps the log's pages.
    }

    @Override
    public Long committedOffset(TopicPartition partition) {
        if (startupPass) return startupOffset;
        return durable == null ? null : durable.committedOffset();
    }

    @Override
    public boolean persistent() {
        return true;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public void close() {
        if (!open) return;
        open = false;
        if (startupPass) return; // nothing was opened
        durables.remove(durable);
        durable.close(); // first: waits for a maintenance under way, and none starts after it
        registry.close(durable.shard());
    }
}
