package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.app.MaintenanceSettings;
import io.vectorstream.app.ServerSettings;
import io.vectorstream.app.VectorstreamServer;
import io.vectorstream.compaction.CompactionPolicy;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.TopologySettings;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import kafka.server.BrokerServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Against a real broker: a partition moving from instance A to B and back to A while records arrive skips nothing;
 * a broker restart in the middle of ingestion loses nothing and the server recovers by itself.
 */
class MovesAndBrokerRestartEndToEndTest {
    private static final int DIM = 8;
    private static final String TOPIC = "moves";

    @TempDir
    Path dataDir;

    private static ServerSettings settings(String bootstrap, String appId, Path dir) {
        return new ServerSettings(bootstrap, null, TOPIC, 2, (short) 1, appId, dir, 1, "127.0.0.1", 0, 16 << 20, 1, null,
                new IndexConfig(DIM, Metric.L2, 0, 300, 8, 42L), new TopologySettings(TOPIC, DIM, 1 << 20, 100));
    }

    private static MaintenanceSettings maintenance() {
        return new MaintenanceSettings(CompactionPolicy.manual(1000), Duration.ofSeconds(2),
                java.util.Map.of("consumer.session.timeout.ms", "6000", "consumer.heartbeat.interval.ms", "1000"));
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aPartitionMovingToAnotherInstanceAndBackSkipsNothing() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start();
             TopicWriter writer = new TopicWriter(cluster.bootstrapServers(), TOPIC, DIM)) {
            Random r = new Random(5);
            ServerSettings a = settings(cluster.bootstrapServers(), "moves-e2e", dataDir.resolve("a"));
            ServerSettings b = settings(cluster.bootstrapServers(), "moves-e2e", dataDir.resolve("b"));
            try (VectorstreamServer serverA = VectorstreamServer.start(a, maintenance())) {
                SearchClient clientA = new SearchClient(serverA.httpPort());
                writer.churn(r, 1500, 0);
                clientA.awaitCovered(writer, 60);
                try (VectorstreamServer serverB = VectorstreamServer.start(b, maintenance())) {
                    awaitPartitions(serverA, 1, 60); // one partition moved to B
                    awaitPartitions(serverB, 1, 60);
                    int moved = serverB.registry().shards().getFirst().partition();
                    for (int i = 0; i < 5; i++) writer.churn(r, 200, 100); // while it is at B
                    new SearchClient(serverB.httpPort()).awaitCovered(java.util.Map.of(moved, writer.end.get(moved)), DIM, 60);
                } // B leaves: the partition comes back to A, which restores what B applied from the topic
                awaitPartitions(serverA, 2, 60);
                writer.churn(r, 200, 100);
                clientA.awaitCovered(writer, 60);
                clientA.assertAnswersAsTheTopic(writer, r, 15);
                JsonNode status = clientA.status();
                for (JsonNode p : status.path("partitions")) {
                    assertThat(p.path("applied_offset").asLong()).isEqualTo(writer.end.get(p.path("partition").asInt()));
                }
            }
        }
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aBrokerRestartDuringIngestionLosesNothing() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start();
             TopicWriter writer = new TopicWriter(cluster.bootstrapServers(), TOPIC, DIM)) {
            Random r = new Random(6);
            try (VectorstreamServer server = VectorstreamServer.start(settings(cluster.bootstrapServers(), "broker-e2e",
                    dataDir), maintenance())) {
                SearchClient client = new SearchClient(server.httpPort());
                writer.churn(r, 1500, 0);
                Thread producing = new Thread(() -> {
                    try {
                        for (int i = 0; i < 10; i++) writer.churn(new Random(i), 200, 100);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                producing.start();
                BrokerServer broker = cluster.brokers().values().iterator().next();
                Thread.sleep(300);
                broker.shutdown();
                broker.awaitShutdown();
                Thread.sleep(2000); // the server sees the broker gone
                broker.startup();
                cluster.waitForReadyBrokers();
                producing.join(120_000);
                assertThat(producing.isAlive()).isFalse();
                writer.churn(r, 100, 50);
                client.awaitCovered(writer, 120);
                client.assertAnswersAsTheTopic(writer, r, 15);
                assertThat(server.streams().state().isRunningOrRebalancing()).as("recovered by itself").isTrue();
            }
        }
    }

    private static void awaitPartitions(VectorstreamServer server, int n, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (server.registry().shards().size() == n) return;
            Thread.sleep(100);
        }
        throw new AssertionError("the instance serves " + server.registry().shards().size() + " partitions, expected " + n);
    }
}
