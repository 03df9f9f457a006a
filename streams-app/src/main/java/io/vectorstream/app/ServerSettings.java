package io.vectorstream.app;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.cuda.DeviceSelector;
import io.vectorstream.streams.TopologySettings;

import java.nio.file.Path;

/**
 * Everything a running Vectorstream process is configured with, after the command line, the
 * environment and the config file have been merged (see {@link SettingsDefaults}).
 *
 * @param bootstrapServers Kafka bootstrap servers; ignored when {@code embeddedKafkaPort} is set
 * @param embeddedKafkaPort null: use an external broker; 0: embedded broker on any port; else that port
 * @param partitions        partitions for the topic when it has to be created
 * @param replicationFactor for created topics, or -1 for the broker's default
 * @param device            {@code auto | cpu | cuda} (see {@code DeviceSelector})
 * @param deviceMemoryFraction share of each GPU's memory shards may use
 * @param adminOpen         without an admin token, admin routes accept any client (otherwise loopback only)
 */
public record ServerSettings(
        String bootstrapServers,
        Integer embeddedKafkaPort,
        String topic,
        int partitions,
        short replicationFactor,
        String applicationId,
        Path dataDir,
        int streamThreads,
        String httpHost,
        int httpPort,
        long maxBodyBytes,
        int searchThreads,
        String adminToken,
        IndexConfig index,
        TopologySettings topology,
        String device,
        double deviceMemoryFraction,
        boolean adminOpen) {

    /** Settings with admin routes for loopback clients only when there is no token. */
    public ServerSettings(String bootstrapServers, Integer embeddedKafkaPort, String topic, int partitions,
                          short replicationFactor, String applicationId, Path dataDir, int streamThreads, String httpHost,
                          int httpPort, long maxBodyBytes, int searchThreads, String adminToken, IndexConfig index,
                          TopologySettings topology, String device, double deviceMemoryFraction) {
        this(bootstrapServers, embeddedKafkaPort, topic, partitions, replicationFactor, applicationId, dataDir, streamThreads,
                httpHost, httpPort, maxBodyBytes, searchThreads, adminToken, index, topology, device, deviceMemoryFraction, false);
    }

    /** Settings with {@code --device auto} and the default memory fraction. */
    public ServerSettings(String bootstrapServers, Integer embeddedKafkaPort, String topic, int partitions,
                          short replicationFactor, String applicationId, Path dataDir, int streamThreads, String httpHost,
                          int httpPort, long maxBodyBytes, int searchThreads, String adminToken, IndexConfig index,
                          TopologySettings topology) {
        this(bootstrapServers, embeddedKafkaPort, topic, partitions, replicationFactor, applicationId, dataDir, streamThreads,
                httpHost, httpPort, maxBodyBytes, searchThreads, adminToken, index, topology, "auto", 0.8);
    }

    /** The same settings with {@code --device mode}. */
    public ServerSettings withDevice(String mode) {
        return new ServerSettings(bootstrapServers, embeddedKafkaPort, topic, partitions, replicationFactor, applicationId,
                dataDir, streamThreads, httpHost, httpPort, maxBodyBytes, searchThreads, adminToken, index, topology, mode,
                deviceMemoryFraction, adminOpen);
    }

    public String describe() {
        return "topic " + topic + ", dim " + index.dim() + ", metric " + index.metric().wireName()
                + ", application " + applicationId + ", data " + dataDir;
    }
}
