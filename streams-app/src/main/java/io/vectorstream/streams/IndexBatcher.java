package io.vectorstream.streams;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vectorstream.index.ChangeLog;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.ShardFiles;
import io.vectorstream.index.SnapshotFile;
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
 *
 * <p>With {@link ShardFiles}, every operation is also appended to the partition's change log (RocksDB, keyed
 * by offset) as it is taken in, and start-up first tries the newest intact snapshot file plus the change log
 * after it (no retraining); records below the offset so restored are not applied again. It falls back to the
 * store when there is no usable snapshot, or when the store has been applied further than the snapshot and
 * log reach (the partition was processed elsewhere meanwhile).
 */
final class IndexBatcher implements Processor<String, Object, Void, Void> {
    private static final Logger LOG = LoggerFactory.getLogger(IndexBatcher.class);
    /** Where the next offset to apply is kept; ids cannot contain control characters, so it never clashes. */
    static final String APPLIED_OFFSET_KEY = "\u0000applied-offset";

    private final TopologySettings settings;
    private final ShardRegistry registry;
    private final MeterRegistry meters;
    private final ShardFiles files;
    private ChangeLog changeLog;
    private long skipBelow = -1; // records below this offset are already in the restored index
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
        this(settings, registry, meters, null);
    }

    IndexBatcher(TopologySettings settings, ShardRegistry registry, MeterRegistry meters, ShardFiles files) {
        this.settings = settings;
        this.registry = registry;
        this.meters = meters;
        this.files = files;
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
        if (files == null || !restoreFromSnapshot()) {
            if (changeLog != null) files.discard(partition, changeLog); // from here on the log is complete again
            rebuildFromStore();
        }
        long tick = Math.max(1, settings.batchMaxDelay().toMillis() / 2);
        context.schedule(java.time.Duration.ofMillis(tick), PunctuationType.WALL_CLOCK_TIME, this::flushIfDue);
    }

    @Override
    public void process(Record<String, Object> record) {
        if (pending.isEmpty() && !dirty) pendingSinceMs = context.currentSystemTimeMs();
        long offset = context.recordMetadata().map(m -> m.offset()).orElse(-1L);
        if (offset >= 0 && offset < skipBelow) { // already in the index restored from snapshot + change log
            if (record.value() instanceof IndexOp op) writeStore(op);
            return;
        }
        if (offset >= 0) lastOffset = offset;
        dirty = true; // even a dead-lettered event advances the offsets the next snapshot covers
        if (record.value() instanceof IndexOp op) {
            writeStore(op);
            if (changeLog != null && offset >= 0) changeLog.append(offset, op);
            pending.add(op);
            if (pending.size() >= settings.batchMaxRecords()) flush();
        }
    }

    private void writeStore(IndexOp op) {
        if (op instanceof IndexOp.Upsert u) {
            store.put(u.id(), StoredVectorCodec.encode(u.vector(), u.metadataJson()));
        } else {
            store.delete(op.id());
        }
    }

    /** Newest intact snapshot + change log after it; false (nothing restored) when unusable. */
    private boolean restoreFromSnapshot() {
        long start = System.nanoTime();
        try {
            changeLog = files.openLog(partition);
        } catch (java.io.IOException e) {
            LOG.warn("partition {}: no change log ({}); rebuilding from the store", partition, e.getMessage());
            return false;
        }
        var loaded = SnapshotFile.loadNewest(files.snapshotDir(partition), registry.config(), registry.kernels());
        if (loaded.isEmpty()) return false;
        SnapshotFile.Loaded s = loaded.get();
        long storeApplied = -1;
        byte[] applied = store.get(APPLIED_OFFSET_KEY);
        if (applied != null) storeApplied = ByteBuffer.wrap(applied).getLong();
        // The log is never trimmed past the oldest kept snapshot, and is discarded with the snapshots whenever the
        // index is rebuilt from the store, so it holds every operation from the snapshot's offset on; offsets
        // without an entry were dead letters. Only a store applied further than snapshot + log proves it stale.
        long logEnd = Math.max(s.nextOffset(), changeLog.lastOffset() + 1);
        if (logEnd < storeApplied) {
            LOG.warn("partition {}: snapshot + change log reach offset {}, the store {}: stale, rebuilding from the store",
                    partition, logEnd, storeApplied);
            return false;
        }
        shard.restore(s.base(), s.tombstones(), s.hot(), s.version(), s.nextOffset());
        List<IndexOp> batch = new ArrayList<>();
        long[] last = {s.nextOffset() - 1};
        int replayed = changeLog.replayFrom(s.nextOffset(), (offset, op) -> {
            batch.add(op);
            last[0] = offset;
            if (batch.size() >= 10_000) {
                shard.apply(new ArrayList<>(batch), offset + 1);
                batch.clear();
            }
        });
        if (!batch.isEmpty()) shard.apply(batch, last[0] + 1);
        skipBelow = last[0] + 1;
        lastOffset = last[0];
        LOG.info("partition {}: restored {} vectors from {} (offset {}) + {} change-log operations up to {} in {} ms",
                partition, shard.snapshot().liveCount(), s.file().getFileName(), s.nextOffset(), replayed, skipBelow,
                (System.nanoTime() - start) / 1_000_000);
        return true;
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
        if (changeLog != null) files.closeLog(partition, changeLog);
    }

}
