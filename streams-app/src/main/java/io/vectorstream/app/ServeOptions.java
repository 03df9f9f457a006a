package io.vectorstream.app;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.TopologySettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The options of {@code serve} (and {@code demo}); each is also settable from the environment and a config file. */
final class ServeOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with any of these options without the dashes (http-port=8080). Env: VECTORSTREAM_CONFIG.")
    Path config;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...", defaultValue = "localhost:9092",
            description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
    String bootstrapServers;

    @Option(names = "--embedded-kafka", arity = "0..1", paramLabel = "PORT", fallbackValue = "0",
            description = "Start a real single-node KRaft broker inside this process, on PORT (default: any free port). For trying it out.")
    Integer embeddedKafkaPort;

    @Option(names = "--topic", defaultValue = "vectors", description = "Input topic (default: ${DEFAULT-VALUE}); bad events go to <topic>.dlq.")
    String topic;

    @Option(names = "--partitions", defaultValue = "3",
            description = "Partitions when the topic has to be created (default: ${DEFAULT-VALUE}). One index shard per partition.")
    int partitions;

    @Option(names = "--replication-factor", defaultValue = "-1",
            description = "Replication factor of created topics; -1 = the broker's default (default: ${DEFAULT-VALUE}).")
    short replicationFactor;

    @Option(names = "--dim", description = "Vector dimension (required by serve; the demo's default is 64).")
    Integer dim;

    @Option(names = "--metric", defaultValue = "l2", description = "l2 | ip | cosine (default: ${DEFAULT-VALUE}).")
    String metric;

    @Option(names = "--http-host", defaultValue = "0.0.0.0", description = "HTTP bind address (default: ${DEFAULT-VALUE}).")
    String httpHost;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--data-dir", defaultValue = "./data", description = "Local state: RocksDB stores, snapshots (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--application-id", defaultValue = "vectorstream",
            description = "Kafka Streams application id: instances with the same id share the partitions (default: ${DEFAULT-VALUE}).")
    String applicationId;

    @Option(names = "--stream-threads", defaultValue = "0",
            description = "Kafka Streams threads; each applies its partitions' batches. 0 = one per partition, at most one per core (default: ${DEFAULT-VALUE}).")
    int streamThreads;

    @Option(names = "--batch-max-records", defaultValue = "10000",
            description = "The most events one index batch holds; a batch is otherwise applied as soon as the stream "
                    + "thread has processed what it polled, so a trickle is applied at once, or within 5 ms; while a "
                    + "partition catches up on records produced over 0.5 s earlier, within 50 ms "
                    + "(default: ${DEFAULT-VALUE}).")
    int batchMaxRecords;

    @Option(names = "--processing-guarantee", defaultValue = "at_least_once",
            description = "Kafka Streams' processing guarantee: at_least_once or exactly_once_v2 (dead letters are then "
                    + "written in the same transaction as the input offsets) (default: ${DEFAULT-VALUE}).")
    String processingGuarantee;

    @Option(names = "--max-event-bytes", defaultValue = "4194304",
            description = "Larger events go to the dead-letter topic (default: ${DEFAULT-VALUE}).")
    int maxEventBytes;

    @Option(names = "--train-threshold", defaultValue = "10000",
            description = "Vectors a shard needs before it trains IVF lists; below it search is exact (default: ${DEFAULT-VALUE}).")
    int trainThreshold;

    @Option(names = "--nlist", defaultValue = "0", description = "IVF lists per shard; 0 = sqrt(vectors) at training (default: ${DEFAULT-VALUE}).")
    int nlist;

    @Option(names = "--nprobe", defaultValue = "16", description = "Lists searched when a query does not say (default: ${DEFAULT-VALUE}).")
    int nprobe;

    @Option(names = "--bf16-scan", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Trained hot lists keep a bf16 copy of their residuals that searches scan first, re-checking "
                    + "the candidates exactly: the same answers for about half the memory traffic, at ~290 more bytes per hot vector "
                    + "(default: ${DEFAULT-VALUE}; --no-bf16-scan scans the float vectors only).")
    boolean bf16Scan;

    @Option(names = "--search-threads", defaultValue = "0", description = "Threads for search work; 0 = number of cores (default: ${DEFAULT-VALUE}).")
    int searchThreads;

    @Option(names = "--max-body-bytes", defaultValue = "16777216", description = "Largest HTTP request body (default: ${DEFAULT-VALUE}).")
    long maxBodyBytes;

    @Option(names = "--admin-token", description = "Bearer token required by /v1/admin endpoints (default: none: loopback clients only, see --admin-open).")
    String adminToken;

    @Option(names = "--admin-open", defaultValue = "false",
            description = "Without --admin-token, let any client use the admin routes (rebuilds); by default they accept loopback clients only.")
    boolean adminOpen;

    @Option(names = "--device", defaultValue = "auto",
            description = "auto | cpu | cuda: where shards search. auto takes CUDA when a driver and a device are found; "
                    + "cuda without one is an error (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--device-memory-fraction", defaultValue = "0.8",
            description = "Share of each GPU's memory that shards may use; a shard that does not fit stays on the CPU (default: ${DEFAULT-VALUE}).")
    double deviceMemoryFraction;

    /** Checks the values together and builds the settings; throws IllegalArgumentException with a clear message. */
    ServerSettings toSettings() {
        if (dim == null) throw new IllegalArgumentException("--dim is required (the dimension of the vectors on the topic)");
        Metric m = Metric.parse(metric);
        if (partitions < 1) throw new IllegalArgumentException("--partitions must be >= 1");
        if (httpPort < 0 || httpPort > 65535) throw new IllegalArgumentException("--http-port must be in 0..65535");
        if (streamThreads < 0) throw new IllegalArgumentException("--stream-threads must be >= 0 (0 = automatic)");
        io.vectorstream.kernels.cuda.DeviceSelector.Mode.parse(device); // fails early on a typo
        if (!(deviceMemoryFraction > 0 && deviceMemoryFraction <= 1)) {
            throw new IllegalArgumentException("--device-memory-fraction must be in (0, 1], was " + deviceMemoryFraction);
        }
        IndexConfig index = new IndexConfig(dim, m, nlist, trainThreshold, nprobe, 42L, bf16Scan);
        TopologySettings topology = new TopologySettings(topic, dim, maxEventBytes, batchMaxRecords, processingGuarantee);
        int threads = searchThreads > 0 ? searchThreads : Runtime.getRuntime().availableProcessors();
        return new ServerSettings(bootstrapServers, embeddedKafkaPort, topic, partitions, replicationFactor, applicationId,
                dataDir.toAbsolutePath().normalize(), streamThreads, httpHost, httpPort, maxBodyBytes, threads, adminToken,
                index, topology, device, deviceMemoryFraction, adminOpen);
    }
}
