package io.vectorstream.streams;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;

import java.util.Properties;

/**
 * The Kafka Streams settings that shape how fast and how promptly records reach the processor. One owner, because
 * two programs must agree on them: the server, and the bench's Kafka Streams floor ({@code vectorstream
 * streams-floor}: the same settings with a processor that only counts), which says what Kafka Streams alone costs
 * on a machine, so that ingest is judged against it.
 */
public final class StreamsTuning {
    /** Offsets are committed (and the shards' write-ahead logs synced) this often; 100 ms under exactly-once is raised. */
    public static final int COMMIT_INTERVAL_MS = 1000;
    /** A poll returns as soon as records arrive; this only bounds how long an idle thread waits in it. */
    public static final int POLL_MS = 100;
    /** Records per poll: a backlog arrives in large passes, so a batch of the index grows to a useful size. */
    public static final int MAX_POLL_RECORDS = 10_000;

    private StreamsTuning() {
    }

    /** Puts the settings into {@code p} (which still needs the application id, bootstrap servers and threads). */
    public static void applyTo(Properties p) {
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, COMMIT_INTERVAL_MS);
        p.put(StreamsConfig.POLL_MS_CONFIG, POLL_MS);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), MAX_POLL_RECORDS);
        p.put(StreamsConfig.restoreConsumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), MAX_POLL_RECORDS);
        // a new application reads the topic from its start: the index is the whole topic
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    }
}
