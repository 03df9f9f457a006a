package io.vectorstream.streams;

import java.time.Duration;

/**
 * What the topology needs to know.
 *
 * @param topic           input topic of embedding events
 * @param dim             vector dimension
 * @param maxEventBytes   larger values go to the dead-letter topic as {@code oversized}
 * @param batchMaxRecords a batch is applied to the index once it holds this many operations…
 * @param batchMaxDelay   …or once its oldest operation has waited this long
 */
public record TopologySettings(String topic, int dim, int maxEventBytes, int batchMaxRecords, Duration batchMaxDelay) {

    public TopologySettings {
        if (topic == null || topic.isBlank()) throw new IllegalArgumentException("topic must not be empty");
        if (batchMaxRecords < 1) throw new IllegalArgumentException("batch max records must be >= 1");
        if (batchMaxDelay.isNegative() || batchMaxDelay.isZero()) throw new IllegalArgumentException("batch max delay must be > 0");
        if (maxEventBytes < 16) throw new IllegalArgumentException("max event bytes must be >= 16");
    }

    /** The dead-letter topic: {@code <topic>.dlq}. */
    public String dlqTopic() {
        return topic + ".dlq";
    }
}
