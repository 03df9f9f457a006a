package io.vectorstream.streams;

import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.durable.DurableShards;
import org.apache.kafka.streams.state.StoreBuilder;

import java.util.Map;

/**
 * Builds a {@link ShardStore} per task. Never logged to a changelog topic of its own: the input topic is its
 * changelog ({@code Topology.addReadOnlyStateStore} turns logging off and connects the source topic), and there
 * is no cache (every batch goes to RocksDB and the index at once).
 */
final class ShardStoreBuilder implements StoreBuilder<ShardStore> {
    private final String name;
    private final ShardRegistry registry;
    private final DurableShards durables;
    private final EventDecoder decoder;

    ShardStoreBuilder(String name, ShardRegistry registry, DurableShards durables, EventDecoder decoder) {
        this.name = name;
        this.registry = registry;
        this.durables = durables;
        this.decoder = decoder;
    }

    @Override
    public StoreBuilder<ShardStore> withCachingEnabled() {
        throw new UnsupportedOperationException("the shard store has no cache");
    }

    @Override
    public StoreBuilder<ShardStore> withCachingDisabled() {
        return this;
    }

    @Override
    public StoreBuilder<ShardStore> withLoggingEnabled(Map<String, String> config) {
        throw new UnsupportedOperationException("the shard store's changelog is the input topic");
    }

    @Override
    public StoreBuilder<ShardStore> withLoggingDisabled() {
        return this;
    }

    @Override
    public ShardStore build() {
        return new ShardStore(name, registry, durables, decoder);
    }

    @Override
    public Map<String, String> logConfig() {
        return Map.of();
    }

    @Override
    public boolean loggingEnabled() {
        return false;
    }

    @Override
    public String name() {
        return name;
    }
}
