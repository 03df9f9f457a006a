package io.vectorstream.app;

import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.device.DeviceBackend;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.api.QueryApiConfig;
import io.vectorstream.api.QueryServer;
import io.vectorstream.compaction.CompactionService;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.durable.DurableShards;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.streams.VectorTopology;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;

/**
 * One Vectorstream process: (optionally) an embedded broker, the Kafka Streams topology that keeps
 * the shards up to date, and the HTTP query server over them. {@link #close()} stops all three.
 */
public final class VectorstreamServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VectorstreamServer.class);
    /** The warm-up thread's nice value (see where it starts). */
    static final int WARM_UP_NICE = 10;
    /** Nice value of the hot indexes' background training (see where the trainer is made). */
    static final int HOT_TRAINING_NICE = 10;

    private final ServerSettings settings;
    private final EmbeddedKafka embeddedKafka;
    private final String bootstrapServers;
    private final ShardRegistry registry;
    private final PrometheusMeterRegistry meters;
    private final KafkaStreams streams;
    private final QueryServer http;
    private final int httpPort;
    private DeviceBackend backend;
    private CompactionService compaction;
    private HeapTarget heapTarget;
    private ConsumerLag lag;
    private StandbyMaintenance standbyMaintenance;

    private VectorstreamServer(ServerSettings settings, EmbeddedKafka embeddedKafka, String bootstrapServers,
                               ShardRegistry registry, PrometheusMeterRegistry meters, KafkaStreams streams,
                               QueryServer http, int httpPort) {
        this.settings = settings;
        this.embeddedKafka = embeddedKafka;
        this.bootstrapServers = bootstrapServers;
        this.registry = registry;
        this.meters = meters;
        this.streams = streams;
        this.http = http;
        this.httpPort = httpPort;
    }

    /** Starts everything and returns once the HTTP port is bound (partitions may still be restoring). */
    public static VectorstreamServer start(ServerSettings s) throws Exception {
        return start(s, MaintenanceSettings.defaults());
    }

    /** As {@link #start(ServerSettings)}, with compaction and read-your-writes settings. */
    public static VectorstreamServer start(ServerSettings settings, MaintenanceSettings maintenance) throws Exception {
        // Kafka Streams advertises this instance's HTTP address to the others (application.server) before the HTTP
        // server binds: an ephemeral port is chosen now so that the address it advertises is the one it listens on.
        ServerSettings s = settings.httpPort() == 0 ? withPort(settings, freePort(settings.httpHost())) : settings;
        EmbeddedKafka kafka = null;
        CompactionService compaction = null;
        KafkaStreams streams = null;
        QueryServer http = null;
        ConsumerLag lag = null;
        DeviceBackend backend = null;
        DurableShards durables;
        int topicPartitions;
        try {
            String bootstrap = s.bootstrapServers();
            if (s.embeddedKafkaPort() != null) {
                // A fresh embedded broker has empty topics: local state from an earlier run would not match it.
                DataDirs.deleteRecursively(s.dataDir().resolve("streams"));
                DataDirs.deleteRecursively(s.dataDir().resolve("kafka"));
                kafka = EmbeddedKafka.start(s.embeddedKafkaPort(), s.dataDir().resolve("kafka"));
                bootstrap = kafka.bootstrapServers();
            }
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000))) {
                topicPartitions = TopicSetup.ensureTopics(admin, withBootstrap(s, bootstrap));
            }

            PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            new JvmMemoryMetrics().bindTo(meters);
            backend = DeviceBackend.select(s.device(), s.deviceMemoryFraction()); // logs which and why, once
            ShardRegistry registry = new ShardRegistry(s.index(), Kernels.cpu(), backend);
            // The warm-up (JIT of the ingest and search paths, ~3 s) runs beside Kafka Streams' start-up, which mostly
            // waits on the group coordinator; the instance reports ready only once both are done.
            java.util.concurrent.CompletableFuture<Void> warmedUp = new java.util.concurrent.CompletableFuture<>();
            Thread warmUpThread = new Thread(() -> {
                try {
                    // Below normal priority (nice 10, not idle: it must finish under a steady load too): during a
                    // backlog it yields to the stream threads (a 1M backfill: ~2 s sooner), idle it runs at full speed.
                    io.vectorstream.compaction.BackgroundPriority.lowerCurrentThread(WARM_UP_NICE, false);
                    WarmUp.run(s.index(), registry.kernels(), maintenance.compaction().pqMFor(s.index().dim()));
                } catch (RuntimeException | Error e) {
                    LOG.warn("warm-up failed (the first queries may be slower): {}", e.toString());
                } finally {
                    warmedUp.complete(null);
                }
            }, "vectorstream-warm-up");
            warmUpThread.setDaemon(true);
            warmUpThread.start();
            compaction = new CompactionService(registry, maintenance.compaction());
            // The hot indexes' k-means (and the assignment of what it trained on) runs here, off the stream threads, on
            // lowered threads: at normal priority its parallel steps took both cores from the stream threads and the
            // broker (records waited 100-450 ms before reaching the processor while a 100k-vector hot index retrained).
            // Not SCHED_IDLE: a shard works on with its old lists meanwhile, but should get the new ones under load too.
            java.util.concurrent.ExecutorService trainer = io.vectorstream.compaction.BackgroundPriority.forkJoinPool(
                    "vectorstream-hot-training", Runtime.getRuntime().availableProcessors(), HOT_TRAINING_NICE, false);
            registry.trainInBackground(trainer);
            durables = new DurableShards();
            compaction.snapshots(durables::checkpoint);
            OperatorMetrics.bind(meters, compaction, registry);

            String advertised = maintenance.advertisedHost() != null ? maintenance.advertisedHost() : advertisedHost(s);
            Properties props = streamsProperties(s, bootstrap);
            // where the other instances reach this one's HTTP API (Kafka Streams tells them; fan-out uses it)
            props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertised + ":" + s.httpPort());
            int threads = s.streamThreads() > 0 ? s.streamThreads()
                    : Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), topicPartitions));
            props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
            VectorTopology.configure(props, s.topology(), meters);
            sessionDefaults(props, maintenance.streamsProperties());
            props.putAll(maintenance.streamsProperties());
            io.vectorstream.streams.IngestMetrics ingestMetrics = new io.vectorstream.streams.IngestMetrics(meters);
            streams = new KafkaStreams(VectorTopology.build(s.topology(), registry, ingestMetrics, durables), props);
            lag = new ConsumerLag(bootstrap, s.topic(), topicPartitions, registry);
            ingestMetrics.bindConsumerLag(topicPartitions, lag::records);
            streams.setUncaughtExceptionHandler(e -> {
                if (causedBy(e, org.apache.kafka.common.errors.InvalidSessionTimeoutException.class)) { // replacing would fail again
                    LOG.error("the broker refused the consumer group's session timeout ({} ms): it is outside the broker's "
                            + "group.min.session.timeout.ms..group.max.session.timeout.ms. Restart with --streams-property "
                            + "consumer.session.timeout.ms=<a value in that range> (and consumer.heartbeat.interval.ms under a third "
                            + "of it). Ingestion has stopped.", props.get(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)), e);
                    return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
                }
                LOG.error("stream thread failed; replacing it", e);
                return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
            });
            KafkaStreams running = streams;
            running.start();

            http = new QueryServer(
                    new QueryApiConfig(s.httpHost(), s.httpPort(), s.maxBodyBytes(), s.searchThreads(), s.adminToken(), s.adminOpen()),
                    new IndexSearcher(registry), registry, new ShardVectorLookup(registry, topicPartitions),
                    () -> warmedUp.isDone() && ready(running, registry), meters);
            http.serving(maintenance.serving());
            StreamsClusterView clusterView = new StreamsClusterView(running, registry, s.topic(), topicPartitions,
                    new org.apache.kafka.streams.state.HostInfo(advertised, s.httpPort()));
            http.addAdminRoutes(new RebuildRoutes(compaction, new ClusterRebuilds(clusterView, compaction)));
            http.readYourWritesTimeout(maintenance.readYourWritesTimeout());
            http.storage(durables);
            http.consumerLag(lag::records);
            http.cluster(clusterView, maintenance.fanOutTimeoutMs());
            int port = http.start();
            LOG.info("Vectorstream listening on http://{}:{} — kernels: {}; Kafka {}; {}",
                    "0.0.0.0".equals(s.httpHost()) ? "localhost" : s.httpHost(), port, Kernels.cpuDescription(),
                    bootstrap, s.describe());
            VectorstreamServer server = new VectorstreamServer(s, kafka, bootstrap, registry, meters, streams, http, port);
            server.backend = backend;
            server.heapTarget = HeapTarget.startIfZgc(registry);
            server.compaction = compaction;
            server.lag = lag;
            server.standbyMaintenance = new StandbyMaintenance(durables);
            return server;
        } catch (Exception | Error e) {
            closeQuietly(http);
            closeQuietly(lag);
            closeQuietly(compaction);
            if (streams != null) streams.close(Duration.ofSeconds(10));
            closeQuietly(backend);
            closeQuietly(kafka);
            throw e;
        }
    }

    /**
     * Ready: Kafka Streams is running and every partition this instance was assigned is searchable (restored). Kafka
     * Streams reports RUNNING while its state updater still restores tasks, which is not ready for a query.
     */
    static boolean ready(KafkaStreams streams, ShardRegistry registry) {
        if (streams.state() != KafkaStreams.State.RUNNING) return false;
        java.util.Set<Integer> searchable = new java.util.HashSet<>();
        for (var shard : registry.shards()) searchable.add(shard.partition());
        for (var thread : streams.metadataForLocalThreads()) {
            for (var task : thread.activeTasks()) {
                if (!searchable.contains(task.taskId().partition())) return false;
            }
        }
        return true;
    }

    private static int freePort(String host) throws java.io.IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName(host))) {
            return socket.getLocalPort();
        }
    }

    private static ServerSettings withPort(ServerSettings s, int port) {
        return new ServerSettings(s.bootstrapServers(), s.embeddedKafkaPort(), s.topic(), s.partitions(), s.replicationFactor(),
                s.applicationId(), s.dataDir(), s.streamThreads(), s.httpHost(), port, s.maxBodyBytes(),
                s.searchThreads(), s.adminToken(), s.index(), s.topology(), s.device(), s.deviceMemoryFraction(), s.adminOpen());
    }

    private static ServerSettings withBootstrap(ServerSettings s, String bootstrap) {
        return new ServerSettings(bootstrap, s.embeddedKafkaPort(), s.topic(), s.partitions(), s.replicationFactor(),
                s.applicationId(), s.dataDir(), s.streamThreads(), s.httpHost(), s.httpPort(), s.maxBodyBytes(),
                s.searchThreads(), s.adminToken(), s.index(), s.topology(), s.device(), s.deviceMemoryFraction(), s.adminOpen());
    }

    /** The consumer group's session timeout unless the operator sets one: how long a crashed instance's partitions wait. */
    static final int DEFAULT_SESSION_TIMEOUT_MS = 6_000;

    /**
     * How soon the group notices a crashed instance: its partitions (and their standby copies) move after the session
     * times out. Kafka's 45 s default would leave them unanswerable for most of a minute, and a crashed instance
     * restarted at once would wait that long for its own partitions; 6 s is the smallest a broker accepts by default
     * ({@code group.min.session.timeout.ms}). Heartbeats come from the consumer's own thread, so a busy stream thread
     * does not miss them. Left alone when the operator sets either the session timeout or the heartbeat interval.
     */
    static void sessionDefaults(Properties p, Map<String, String> operators) {
        for (String key : operators.keySet()) {
            if (key.endsWith(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG) || key.endsWith(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG)) return;
        }
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), DEFAULT_SESSION_TIMEOUT_MS);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), DEFAULT_SESSION_TIMEOUT_MS / 6); // survivors learn of the rebalance at their next heartbeat
    }

    static Properties streamsProperties(ServerSettings s, String bootstrap) throws java.io.IOException {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, s.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, Files.createDirectories(s.dataDir().resolve("streams")).toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Math.max(1, s.streamThreads())); // 0 (automatic) is resolved at start
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, s.topology().processingGuarantee());
        io.vectorstream.streams.StreamsTuning.applyTo(p); // shared with the bench's Kafka Streams floor
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) s.replicationFactor());
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertisedHost(s) + ":" + s.httpPort());
        return p;
    }

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) if (type.isInstance(t)) return true;
        return false;
    }

    private static String advertisedHost(ServerSettings s) {
        return "0.0.0.0".equals(s.httpHost()) ? "localhost" : s.httpHost();
    }

    public int httpPort() {
        return httpPort;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public ShardRegistry registry() {
        return registry;
    }

    /** Where shards search: the CPU only, or CUDA devices. */
    public DeviceBackend backend() {
        return backend;
    }

    public KafkaStreams streams() {
        return streams;
    }

    public PrometheusMeterRegistry meters() {
        return meters;
    }

    public CompactionService compaction() {
        return compaction;
    }

    public ServerSettings settings() {
        return settings;
    }

    @Override
    public void close() {
        closeQuietly(http);
        closeQuietly(heapTarget);
        // Leave the group on a clean stop, so that a restart (or another instance) gets the partitions at once
        // instead of after the session timeout.
        streams.close(org.apache.kafka.streams.CloseOptions.groupMembershipOperation(
                org.apache.kafka.streams.CloseOptions.GroupMembershipOperation.LEAVE_GROUP).withTimeout(Duration.ofSeconds(30)));
        closeQuietly(standbyMaintenance); // the stream tasks closed their shards
        closeQuietly(compaction);
        closeQuietly(lag);
        closeQuietly(backend); // after the stream tasks closed their shards: frees whatever is left on the devices
        closeQuietly(embeddedKafka);
        meters.close();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("error while closing {}: {}", c.getClass().getSimpleName(), e.toString());
        }
    }
}
