package io.vectorstream.streams;

import io.micrometer.core.instrument.MeterRegistry;
import io.vectorstream.index.IndexOp;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;

/**
 * First processor: decodes each raw record. A valid event goes on to the {@link IndexBatcher} as an
 * {@link IndexOp}; a bad one goes to the dead-letter topic with its reason in a header, and is
 * counted. Nothing here throws on bad input, so a bad event never stops the topology.
 */
final class EventValidator implements Processor<byte[], byte[], Object, Object> {
    private static final Logger LOG = LoggerFactory.getLogger(EventValidator.class);

    private final EventDecoder decoder;
    private final MeterRegistry meters;
    private ProcessorContext<Object, Object> context;

    EventValidator(EventDecoder decoder, MeterRegistry meters) {
        this.decoder = decoder;
        this.meters = meters;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        EventDecoder.Decoded decoded;
        try {
            decoded = decoder.decode(record.key(), record.value(), record.headers());
        } catch (RuntimeException e) { // a decoder bug must not stop ingestion either
            LOG.error("unexpected error decoding an event; sending it to the dead-letter topic", e);
            decoded = new EventDecoder.Decoded(null, new EventDecoder.InvalidEvent("internal", String.valueOf(e)));
        }
        if (decoded.op() != null) {
            IndexOp op = decoded.op();
            meters.counter("vectorstream_events", "result", op instanceof IndexOp.Delete ? "delete" : "upsert").increment();
            context.forward(new Record<Object, Object>(op.id(), op, record.timestamp()), VectorTopology.BATCHER);
            return;
        }
        EventDecoder.InvalidEvent error = decoded.error();
        meters.counter("vectorstream_events", "result", "invalid").increment();
        meters.counter("vectorstream_dead_letters", "code", error.code()).increment();
        Headers headers = new RecordHeaders(record.headers().toArray());
        headers.add(DeadLetterHeaders.ERROR_CODE, bytes(error.code()));
        headers.add(DeadLetterHeaders.ERROR_REASON, bytes(error.reason()));
        context.recordMetadata().ifPresent((RecordMetadata m) -> {
            headers.add(DeadLetterHeaders.SOURCE_TOPIC, bytes(m.topic()));
            headers.add(DeadLetterHeaders.SOURCE_PARTITION, bytes(Integer.toString(m.partition())));
            headers.add(DeadLetterHeaders.SOURCE_OFFSET, bytes(Long.toString(m.offset())));
        });
        context.forward(new Record<Object, Object>(record.key(), record.value(), record.timestamp(), headers),
                VectorTopology.DEAD_LETTERS);
        context.forward(new Record<Object, Object>(null, SkippedEvent.INSTANCE, record.timestamp()), VectorTopology.BATCHER);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
