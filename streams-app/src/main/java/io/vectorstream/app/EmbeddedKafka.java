package io.vectorstream.app;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A real single-node Kafka broker in KRaft mode (combined broker + controller), started inside this
 * JVM through Kafka's own cluster test kit: for trying Vectorstream out, for the demo and for tests.
 * It is a real broker speaking the real protocol on a real port, so any Kafka client (kcat,
 * librdkafka) can use it.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final KafkaClusterTestKit cluster;

    private EmbeddedKafka(KafkaClusterTestKit cluster) {
        this.cluster = cluster;
    }

    /**
     * Formats and starts a broker.
     *
     * @param port    the client port, or 0 for any free port
     * @param dataDir where the broker keeps its logs (deleted on close), or null for a temporary directory
     */
    public static EmbeddedKafka start(int port, Path dataDir) throws Exception {
        long t0 = System.nanoTime();
        Path base = dataDir != null ? Files.createDirectories(dataDir) : Files.createTempDirectory("vectorstream-kafka");
        TestKitNodes nodes = new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                .setBaseDirectory(base)
                .build();
        KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes)
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("offsets.topic.num.partitions", "4")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("num.partitions", "1")
                .setConfigProp("auto.create.topics.enable", "true");
        if (port > 0) {
            builder.setConfigProp("listeners", nodes.brokerListenerName().value() + "://localhost:" + port + ","
                    + nodes.controllerListenerName().value() + "://localhost:0");
        }
        KafkaClusterTestKit cluster = builder.build();
        try {
            cluster.format();
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception e) {
            cluster.close();
            throw new IllegalStateException("could not start the embedded Kafka broker"
                    + (port > 0 ? " on port " + port + " (is it in use?)" : "") + ": " + e.getMessage(), e);
        }
        EmbeddedKafka kafka = new EmbeddedKafka(cluster);
        LOG.info("embedded Kafka broker (KRaft) ready at {} in {} ms", kafka.bootstrapServers(),
                (System.nanoTime() - t0) / 1_000_000);
        return kafka;
    }

    /** The {@code host:port} list for clients. */
    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    @Override
    public void close() throws Exception {
        cluster.close();
    }
}
