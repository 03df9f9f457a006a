package io.vectorstream.streams;

import io.micrometer.core.instrument.MeterRegistry;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.durable.DurableShards;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

import java.util.Properties;

/**
 * The topology, built on the Processor API:
 * <pre>
 *   events (topic) -> ingest (IngestProcessor) -> shard store (ShardStore: change log in RocksDB + index)
 *                        \-> bad events: DeadLetterHandler -> &lt;topic&gt;.dlq
 * </pre>
 * The store is a read-only state store whose changelog is the input topic ({@code addReadOnlyStateStore}):
 * restore and standbys replay the topic itself from the store's applied offset, and no event is copied to
 * another topic. Keys and values are read as raw bytes, so no input can fail deserialization: every judgement
 * about an event is made by {@link EventDecoder}.
 */
public final class VectorTopology {
    public static final String SOURCE = "events";
    public static final String INGEST = "ingest";
    public static final String STORE = "shard-store";

    private VectorTopology() {
    }

    public static Topology build(TopologySettings settings, ShardRegistry registry, IngestMetrics metrics, DurableShards durables) {
        EventDecoder decoder = new EventDecoder(settings.dim(), settings.maxEventBytes(), registry.config().metric().normalizes());
        Topology topology = new Topology();
        topology.addReadOnlyStateStore(new ShardStoreBuilder(STORE, registry, durables, decoder), SOURCE,
                new ByteArrayDeserializer(), new ByteArrayDeserializer(), settings.topic(), INGEST,
                () -> new IngestProcessor(settings, decoder, metrics));
        return topology;
    }

    /** The streams properties this topology needs: its dead-letter handling. */
    public static void configure(Properties props, TopologySettings settings, MeterRegistry meters) {
        props.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterHandler.class.getName());
        props.put("processing.exception.handler.global.enabled", "true"); // no global stores; says so instead of a warning
        props.put(DeadLetterHandler.DLQ_TOPIC_CONFIG, settings.dlqTopic());
        props.put(DeadLetterHandler.METERS_CONFIG, meters);
    }
}
