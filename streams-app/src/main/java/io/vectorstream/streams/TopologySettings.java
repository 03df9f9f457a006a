package io.vectorstream.streams;

import org.apache.kafka.streams.StreamsConfig;

/**
 * What the topology needs to know.
 *
 * @param topic               input topic of embedding events
 * @param dim                 vector dimension
 * @param maxEventBytes       larger values go to the dead-letter topic as {@code oversized}
 * @param batchMaxRecords     the most operations one index batch holds (a batch is otherwise applied as soon as
 *                            the stream thread has processed what it polled)
 * @param processingGuarantee Kafka Streams' {@code at_least_once} or {@code exactly_once_v2}
 */
public record TopologySettings(String topic, int dim, int maxEventBytes, int batchMaxRecords, String processingGuarantee) {

    public TopologySettings {
        if (topic == null || topic.isBlank()) throw new IllegalArgumentException("topic must not be empty");
        if (batchMaxRecords < 1) throw new IllegalArgumentException("batch max records must be >= 1");
        if (maxEventBytes < 16) throw new IllegalArgumentException("max event bytes must be >= 16");
        if (!StreamsConfig.AT_LEAST_ONCE.equals(processingGuarantee) && !StreamsConfig.EXACTLY_ONCE_V2.equals(processingGuarantee)) {
            throw new IllegalArgumentException("processing guarantee must be " + StreamsConfig.AT_LEAST_ONCE + " or "
                    + StreamsConfig.EXACTLY_ONCE_V2 + ", was " + processingGuarantee);
        }
    }

    /** At-least-once. */
    public TopologySettings(String topic, int dim, int maxEventBytes, int batchMaxRecords) {
        this(topic, dim, maxEventBytes, batchMaxRecords, StreamsConfig.AT_LEAST_ONCE);
    }

    /** The dead-letter topic: {@code <topic>.dlq}. */
    public String dlqTopic() {
        return topic + ".dlq";
    }
}
