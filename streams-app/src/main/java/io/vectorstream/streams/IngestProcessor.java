package io.vectorstream.streams;

import io.vectorstream.index.IndexOp;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The one place where batching happens. Decodes each record ({@link EventDecoder}); a bad one is thrown as an
 * {@link InvalidEventException} for {@link DeadLetterHandler}; a valid one joins the pending batch. The batch goes
 * to the {@link ShardStore} (change log and index in one step) when it reaches
 * {@link TopologySettings#batchMaxRecords()}, or at a punctuation (after each pass of the stream thread's loop, at
 * most every millisecond) when either the pass brought fewer than {@link #BACKLOG_PASS} records — a trickle: apply
 * now, for freshness — or the oldest pending record has waited {@link #MAX_WAIT_MS}. Under a backlog each pass
 * brings many records, so batches grow to what arrives in that time (measured: flushing at every pass made batches
 * of ~80 records on a 1M backfill, and the fixed cost of publishing a snapshot per batch dominated). An idle thread
 * blocks in poll, so "wait for the next pass" would mean up to {@code poll.ms}: a trickle never waits.
 *
 * <p>When the records are old — the batch's first record was produced more than {@link #BEHIND_MS} before it
 * arrived, i.e. the partition is catching up on a backlog — the batch is applied when it is full or
 * {@link #BEHIND_MAX_WAIT_MS} old, whatever the passes bring (while catching up, a pass often brings few records:
 * the next fetch is still on its way). Their freshness is already set by the backlog, and larger batches make each
 * operation cheaper: a list gets many rows per batch instead of one or two, so its cache lines and its growth are
 * paid once (measured on a 1M backfill: batches of ~180 records otherwise). Live traffic is fresh and keeps the
 * trickle rule and the 5 ms bound. (A producer whose clock runs more than {@link #BEHIND_MS} behind the server's
 * makes live records look old: they then wait up to the longer bound.)
 *
 * <p>Records at or below the store's applied offset are already in the index (Kafka redelivers what was processed
 * after the last consumer commit): they are validated again (a bad one is dead-lettered again, at least once) but
 * not applied, so the index never moves back.
 */
final class IngestProcessor implements Processor<byte[], byte[], Void, Void> {
    private final TopologySettings settings;
    private final EventDecoder decoder;
    private final IngestMetrics metrics;
    private ShardStore store;
    private ProcessorContext<Void, Void> context;
    private List<IndexOp> pending;
    private long[] pendingOffsets;
    private long[] pendingTimestamps; // each pending record's timestamp, for freshness
    private long lastOffset = -1; // the last offset taken in, dead letters included
    private int sincePunctuation; // records taken in since the last punctuation
    private long pendingSinceMs; // when the first pending record arrived (the stream thread's wall clock)
    /** A pass that brings at least this many records looks like a backlog: let the batch grow (up to the wait). */
    static final int BACKLOG_PASS = 64;
    /** The longest a record waits in a batch while more keep coming (freshness under load: p99 <= 20 ms). */
    static final long MAX_WAIT_MS = 5;
    /** A pending record older than this (record timestamp to arrival) means the partition is catching up. */
    static final long BEHIND_MS = 500;
    /** The longest a record waits in a batch while the partition catches up (see the class comment). */
    static final long BEHIND_MAX_WAIT_MS = 50;
    private boolean behind; // the first pending record was older than BEHIND_MS when it arrived

    IngestProcessor(TopologySettings settings, EventDecoder decoder, IngestMetrics metrics) {
        this.settings = settings;
        this.decoder = decoder;
        this.metrics = metrics;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.context = context;
        this.store = context.getStateStore(VectorTopology.STORE);
        this.pending = new ArrayList<>(Math.min(settings.batchMaxRecords(), 4096));
        this.pendingOffsets = new long[settings.batchMaxRecords()];
        this.pendingTimestamps = new long[settings.batchMaxRecords()];
        this.lastOffset = store.durable().appliedOffset();
        // Restored: from now on queries see this shard. It only moves forward from here.
        store.activate();
        // Punctuations run between the thread's processing passes; 1 ms means "after every pass".
        context.schedule(Duration.ofMillis(1), PunctuationType.WALL_CLOCK_TIME, now -> {
            store.shard().maintain(); // installs a base that compaction has finished, even when no batch comes
            boolean trickle = sincePunctuation < BACKLOG_PASS;
            sincePunctuation = 0;
            long waited = now - pendingSinceMs;
            if (behind ? waited >= BEHIND_MAX_WAIT_MS : trickle || waited >= MAX_WAIT_MS) flush();
        });
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        long offset = context.recordMetadata().orElseThrow().offset();
        EventDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(record.key(), record.value(), record.headers());
        } catch (RuntimeException e) { // a decoder bug must not stop ingestion either
            decoded = new EventDecoder.Decoded(null, new EventDecoder.InvalidEvent("internal", String.valueOf(e)));
        }
        boolean fresh = offset > lastOffset;
        sincePunctuation++;
        if (fresh) {
            if (lastOffset <= store.durable().appliedOffset()) { // the first pending record
                pendingSinceMs = context.currentSystemTimeMs();
                behind = pendingSinceMs - record.timestamp() > BEHIND_MS;
            }
            lastOffset = offset;
        }
        if (decoded.op() == null) {
            metrics.invalid.increment();
            throw new InvalidEventException(decoded.error().code(), decoded.error().reason());
        }
        if (!fresh) return; // already applied before a restart or a move
        IndexOp op = decoded.op();
        (op instanceof IndexOp.Delete ? metrics.deletes : metrics.upserts).increment();
        pendingTimestamps[pending.size()] = record.timestamp();
        pendingOffsets[pending.size()] = offset;
        pending.add(op);
        if (pending.size() >= settings.batchMaxRecords()) flush();
    }

    private void flush() {
        if (lastOffset <= store.durable().appliedOffset()) return; // nothing new, not even a dead letter
        List<IndexOp> batch = pending;
        long[] offsets = Arrays.copyOf(pendingOffsets, batch.size());
        pending = new ArrayList<>(Math.min(settings.batchMaxRecords(), Math.max(16, batch.size())));
        long start = System.nanoTime();
        store.apply(batch, offsets, lastOffset);
        metrics.applyTimer.record(Duration.ofNanos(System.nanoTime() - start));
        metrics.batchSizes.record(batch.size());
        metrics.applied(context.taskId().partition(), pendingTimestamps, batch.size(), System.currentTimeMillis());
    }

    @Override
    public void close() {
        if (store == null || !store.isOpen()) return;
        flush(); // a clean hand-over keeps what was taken in
        store.deactivate(); // no longer this instance's to answer for: it may stay here only as a standby copy
    }
}
