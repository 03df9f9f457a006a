package io.vectorstream.streams;

import io.micrometer.core.instrument.MeterRegistry;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Kafka Streams' processing-exception handler (KIP-1034) for the topology: a bad event
 * ({@link InvalidEventException}) is answered with one dead-letter record — the original key, value, headers and
 * timestamp, plus {@link DeadLetterHeaders}' code, reason and source coordinates — and processing resumes. Kafka
 * Streams sends it through the task's own producer, so under exactly-once it commits with the input offsets.
 * Any other exception is a bug and fails the task (the stream thread is replaced and the records retried).
 *
 * <p>Kafka Streams instantiates it; {@link #configure} reads the dead-letter topic and the meter registry from the
 * streams properties {@value #DLQ_TOPIC_CONFIG} and {@value #METERS_CONFIG}.
 */
public final class DeadLetterHandler implements ProcessingExceptionHandler {
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterHandler.class);
    public static final String DLQ_TOPIC_CONFIG = "vectorstream.dead.letter.topic";
    public static final String METERS_CONFIG = "vectorstream.meters";

    private String topic;
    private MeterRegistry meters;

    @Override
    public void configure(Map<String, ?> configs) {
        Object t = configs.get(DLQ_TOPIC_CONFIG);
        if (t == null) throw new IllegalArgumentException(DLQ_TOPIC_CONFIG + " is not set");
        topic = t.toString();
        meters = configs.get(METERS_CONFIG) instanceof MeterRegistry m ? m : null;
    }

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception exception) {
        if (!(exception instanceof InvalidEventException bad)) {
            LOG.error("partition {} offset {}: unexpected error while processing; failing the task", context.partition(),
                    context.offset(), exception);
            return Response.fail();
        }
        if (meters != null) {
            io.micrometer.core.instrument.Counter.builder("vectorstream_dead_letters")
                    .description("Bad events sent to the dead-letter topic, by error code").tag("code", bad.code())
                    .register(meters).increment();
        }
        return Response.resume(List.of(deadLetter(topic, context, bad.code(), bad.reason())));
    }

    /** The dead-letter record for the source record of {@code context}. */
    static ProducerRecord<byte[], byte[]> deadLetter(String topic, ErrorHandlerContext context, String code, String reason) {
        Headers headers = new RecordHeaders(context.headers().toArray());
        headers.add(DeadLetterHeaders.ERROR_CODE, bytes(code));
        headers.add(DeadLetterHeaders.ERROR_REASON, bytes(reason));
        headers.add(DeadLetterHeaders.SOURCE_TOPIC, bytes(context.topic()));
        headers.add(DeadLetterHeaders.SOURCE_PARTITION, bytes(Integer.toString(context.partition())));
        headers.add(DeadLetterHeaders.SOURCE_OFFSET, bytes(Long.toString(context.offset())));
        return new ProducerRecord<>(topic, null, context.timestamp(), context.sourceRawKey(), context.sourceRawValue(), headers);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
