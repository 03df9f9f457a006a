package io.vectorstream.streams;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The one place where batching happens. Each valid event is written to the partition's vector store
 * (RocksDB, changelogged) at once, and buffered; the buffer is applied to the partition's index as
 * one batch when it reaches {@link TopologySettings#batchMaxRecords()} or when the punctuator finds
 * it older than {@link TopologySettings#batchMaxDelay()}. Applying a batch publishes a new snapshot.
 *
 * <p>On start (after Kafka Streams has restored the store) the index is rebuilt from the store, so a
 * restarted or migrated partition serves exactly the live set it had.
 */
final class IndexBatcher implements Processor<String, Object, Void, Void> {
    private static final Logger LOG = LoggerFactory.getLogger(IndexBatcher.class);
    /** Where the next offset to apply is kept; ids cannot contain control characters, so it never clashes. */
    static final String APPLIED_OFFSET_KEY = "\u0000applied-offset";

    private final TopologySettings settings;
    private final ShardRegistry registry;
    private final MeterRegistry meters;
    private KeyValueStore<String, byte[]> store;
    private Shard shard;
    private int partition;
    private List<IndexOp> pending = new ArrayList<>();
    private long pendingSinceMs;
    private long lastOffset = -1;
    private boolean dirty; // records seen since the last published snapshot
    private ProcessorContext<Void, Void> context;
    private Timer applyTimer;
    private DistributionSummary batchSizes;

    IndexBatcher(TopologySettings settings, ShardRegistry registry, MeterRegistry meters) {
        this.settings = settings;
        this.registry = registry;
        this.meters = meters;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        this.partition = context.taskId().partition();
        this.store = context.getStateStore(VectorTopology.STORE);
        this.applyTimer = Timer.builder("vectorstream_batch_apply").description("time to apply one batch to the index")
                .register(meters);
        this.batchSizes = DistributionSummary.builder("vectorstream_batch_size").description("operations per applied batch")
                .register(meters);
        this.shard = registry.open(partition);
        rebuildFromStore();
        long tick = Math.max(1, settings.batchMaxDelay().toMillis() / 2);
        context.schedule(java.time.Duration.ofMillis(tick), PunctuationType.WALL_CLOCK_TIME, this::flushIfDue);
    }

    @Override
    public void process(Record<String, Object> record) {
        if (pending.isEmpty() && !dirty) pendingSinceMs = context.currentSystemTimeMs();
        context.recordMetadata().ifPresent(m -> lastOffset = m.offset());
        dirty = true; // even a dead-lettered event advances the offsets the next snapshot covers
        if (record.value() instanceof IndexOp op) {
            if (op instanceof IndexOp.Upsert u) {
                store.put(u.id(), StoredVectorCodec.encode(u.vector(), u.metadataJson()));
            } else {
                store.delete(op.id());
            }
            pending.add(op);
            if (pending.size() >= settings.batchMaxRecords()) flush();
        }
    }

    private void flushIfDue(long nowMs) {
        shard.maintain(); // installs a base that compaction has finished, even when no batch comes
        if (dirty && nowMs - pendingSinceMs >= settings.batchMaxDelay().toMillis()) flush();
    }

    private void flush() {
        if (!dirty) return;
        dirty = false;
        List<IndexOp> batch = pending;
        pending = new ArrayList<>(Math.min(settings.batchMaxRecords(), 4096));
        long nextOffset = lastOffset + 1;
        applyTimer.record(() -> shard.apply(batch, nextOffset));
        batchSizes.record(batch.size());
        store.put(APPLIED_OFFSET_KEY, ByteBuffer.allocate(Long.BYTES).putLong(nextOffset).array());
    }

    private void rebuildFromStore() {
        long start = System.nanoTime();
        List<IndexOp> all = new ArrayList<>();
        long nextOffset = -1;
        try (KeyValueIterator<String, byte[]> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<String, byte[]> kv = it.next();
                if (APPLIED_OFFSET_KEY.equals(kv.key)) {
                    nextOffset = ByteBuffer.wrap(kv.value).getLong();
                    continue;
                }
                StoredVectorCodec.Entry e = StoredVectorCodec.decode(kv.value);
                all.add(new IndexOp.Upsert(kv.key, e.vector(), e.metadataJson()));
            }
        }
        lastOffset = nextOffset - 1;
        if (!all.isEmpty() || nextOffset >= 0) {
            shard.apply(all, nextOffset);
            LOG.info("partition {}: rebuilt the index from the store: {} vectors up to offset {} in {} ms",
                    partition, all.size(), nextOffset, (System.nanoTime() - start) / 1_000_000);
        }
    }

    @Override
    public void close() {
        // Pending operations are already in the store; whoever opens this partition next rebuilds from it.
        registry.close(shard);
    }

}
