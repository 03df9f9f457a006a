package io.vectorstream.streams;

import io.micrometer.core.instrument.MeterRegistry;
import io.vectorstream.index.ShardRegistry;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The topology, built on the Processor API:
 * <pre>
 *   events (topic) -> validate -> batch-into-index (+ vectors-store, RocksDB)
 *                         \-> dead-letters (topic &lt;topic&gt;.dlq)
 * </pre>
 * Keys and values are read as raw bytes, so that no input can fail deserialization: every
 * judgement about an event is made in {@link EventValidator}, which routes bad ones to the DLQ.
 */
public final class VectorTopology {
    public static final String SOURCE = "events";
    public static final String VALIDATOR = "validate";
    public static final String BATCHER = "batch-into-index";
    public static final String DEAD_LETTERS = "dead-letters";
    public static final String STORE = "vectors-store";

    private VectorTopology() {
    }

    public static Topology build(TopologySettings settings, ShardRegistry registry, MeterRegistry meters) {
        return build(settings, registry, meters, null);
    }

    /** With {@code files} non-null, shards keep a change log and restart from their newest snapshot. */
    public static Topology build(TopologySettings settings, ShardRegistry registry, MeterRegistry meters,
                                 io.vectorstream.index.ShardFiles files) {
        EventDecoder decoder = new EventDecoder(settings.dim(), settings.maxEventBytes());
        Topology topology = new Topology();
        topology.addSource(SOURCE, new ByteArrayDeserializer(), new ByteArrayDeserializer(), settings.topic());
        topology.addProcessor(VALIDATOR, () -> new EventValidator(decoder, meters), SOURCE);
        topology.addProcessor(BATCHER, () -> new IndexBatcher(settings, registry, meters, files), VALIDATOR);
        topology.addSink(DEAD_LETTERS, settings.dlqTopic(), new ByteArraySerializer(), new ByteArraySerializer(), VALIDATOR);
        topology.addStateStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.ByteArray()),
                BATCHER);
        return topology;
    }
}
