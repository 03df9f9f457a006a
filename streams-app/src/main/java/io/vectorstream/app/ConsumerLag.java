package io.vectorstream.app;

import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How far each partition this instance owns is behind its topic: the partition's end offset (asked of the broker,
 * at most once a second for all partitions) minus the next offset its shard has applied, i.e. records written and
 * not yet searchable here. NaN for a partition this instance does not own, or while the broker does not answer.
 * Read by {@code /v1/status} and the {@code vectorstream_consumer_lag_*} gauges, never on an event loop.
 */
final class ConsumerLag implements AutoCloseable {
    private static final long REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Admin admin;
    private final String topic;
    private final int partitions;
    private final ShardRegistry registry;
    private Map<Integer, Long> ends = Map.of();
    private long fetchedAt = System.nanoTime() - 2 * REFRESH_NANOS;

    ConsumerLag(String bootstrap, String topic, int partitions, ShardRegistry registry) {
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                AdminClientConfig.CLIENT_ID_CONFIG, "vectorstream-lag",
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5_000, AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000));
        this.topic = topic;
        this.partitions = partitions;
        this.registry = registry;
    }

    /** Records of {@code partition} written and not yet applied here; NaN when not owned here or unknown. */
    double records(int partition) {
        Shard shard = registry.shard(partition);
        if (shard == null) return Double.NaN;
        Long end = endOffsets().get(partition);
        return end == null ? Double.NaN : Math.max(0, end - shard.snapshot().nextOffset());
    }

    private synchronized Map<Integer, Long> endOffsets() {
        if (System.nanoTime() - fetchedAt < REFRESH_NANOS) return ends;
        fetchedAt = System.nanoTime();
        Map<TopicPartition, OffsetSpec> ask = new HashMap<>();
        for (int p = 0; p < partitions; p++) ask.put(new TopicPartition(topic, p), OffsetSpec.latest());
        try {
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> got = admin.listOffsets(ask).all().get(3, TimeUnit.SECONDS);
            Map<Integer, Long> fresh = new HashMap<>();
            got.forEach((tp, info) -> fresh.put(tp.partition(), info.offset()));
            ends = fresh;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ends = Map.of();
        } catch (Exception e) {
            ends = Map.of(); // the broker did not answer: unknown, not stale
        }
        return ends;
    }

    @Override
    public void close() {
        admin.close(java.time.Duration.ofSeconds(5));
    }
}
