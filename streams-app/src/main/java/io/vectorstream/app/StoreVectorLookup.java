package io.vectorstream.app;

import io.vectorstream.api.StoredVector;
import io.vectorstream.api.VectorLookup;
import io.vectorstream.streams.StoredVectorCodec;
import io.vectorstream.streams.VectorTopology;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

import java.util.Optional;

/** Get-by-id over the local vector store, through Kafka Streams interactive queries. */
final class StoreVectorLookup implements VectorLookup {
    private final KafkaStreams streams;

    StoreVectorLookup(KafkaStreams streams) {
        this.streams = streams;
    }

    @Override
    public Optional<StoredVector> find(String id) {
        if (id.isEmpty() || Character.isISOControl(id.charAt(0))) return Optional.empty(); // reserved keys
        ReadOnlyKeyValueStore<String, byte[]> store = streams.store(
                StoreQueryParameters.fromNameAndType(VectorTopology.STORE, QueryableStoreTypes.keyValueStore()));
        byte[] bytes = store.get(id);
        if (bytes == null) return Optional.empty();
        StoredVectorCodec.Entry e = StoredVectorCodec.decode(bytes);
        return Optional.of(new StoredVector(id, e.vector(), e.metadataJson()));
    }
}
