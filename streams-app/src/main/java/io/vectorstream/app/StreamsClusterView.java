package io.vectorstream.app;

import io.vectorstream.api.ClusterView;
import io.vectorstream.index.ShardRegistry;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.state.HostInfo;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * Who owns each partition of the input topic, from Kafka Streams' own instance metadata (every instance sets
 * {@code application.server} to its HTTP address, and the group's assignment says which instance's active task
 * holds which partition). Nothing of our own decides membership: a partition is searched where Kafka Streams put
 * its active task, and is unavailable while it is unassigned or still restoring.
 */
final class StreamsClusterView implements ClusterView {
    private final KafkaStreams streams;
    private final ShardRegistry registry;
    private final String topic;
    private final int partitions;
    private final HostInfo self;

    StreamsClusterView(KafkaStreams streams, ShardRegistry registry, String topic, int partitions, HostInfo self) {
        this.streams = streams;
        this.registry = registry;
        this.topic = topic;
        this.partitions = partitions;
        this.self = self;
    }

    @Override
    public String self() {
        return url(self);
    }

    private static String url(HostInfo host) {
        return "http://" + host.host() + ":" + host.port();
    }

    @Override
    public Map<Integer, java.util.List<String>> standbys() {
        Map<Integer, java.util.List<String>> out = new TreeMap<>();
        try {
            for (StreamsMetadata m : streams.metadataForAllStreamsClients()) {
                for (TopicPartition tp : m.standbyTopicPartitions()) {
                    if (tp.topic().equals(topic)) out.computeIfAbsent(tp.partition(), p -> new java.util.ArrayList<>()).add(url(m.hostInfo()));
                }
            }
        } catch (RuntimeException e) {
            // not started, or shutting down: none known
        }
        return out;
    }

    @Override
    public Map<Integer, Owner> owners() {
        Map<Integer, Owner> out = new TreeMap<>();
        for (int p = 0; p < partitions; p++) {
            out.put(p, new Owner.Unavailable("no instance holds it now (the group is rebalancing, or its owner left)"));
        }
        Collection<StreamsMetadata> all;
        try {
            all = streams.metadataForAllStreamsClients();
        } catch (RuntimeException e) { // not started, or shutting down
            return out;
        }
        for (StreamsMetadata m : all) {
            boolean here = self.equals(m.hostInfo());
            for (TopicPartition tp : m.topicPartitions()) {
                if (!tp.topic().equals(topic) || tp.partition() >= partitions) continue;
                int p = tp.partition();
                if (!here) {
                    out.put(p, new Owner.Remote(url(m.hostInfo())));
                } else if (registry.shard(p) != null) {
                    out.put(p, new Owner.Local());
                } else {
                    out.put(p, new Owner.Unavailable("restoring at this instance"));
                }
            }
        }
        // a shard searchable here whose assignment the metadata does not show yet (it refreshes after rebalances)
        for (var shard : registry.shards()) {
            if (out.get(shard.partition()) instanceof Owner.Unavailable) out.put(shard.partition(), new Owner.Local());
        }
        return out;
    }
}
