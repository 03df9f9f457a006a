package io.vectorstream.app;

import io.vectorstream.api.ServingSettings;
import io.vectorstream.compaction.CompactionPolicy;
import picocli.CommandLine.Option;

import java.time.Duration;

/** The options of background compaction and read-your-writes (for {@code serve} and {@code demo}). */
final class MaintenanceOptions {

    @Option(names = "--compaction-min-vectors", defaultValue = "10000",
            description = "Live vectors a shard needs for an IVF-PQ base; below it the shard stays hot-only, exact or IVF-Flat (default: ${DEFAULT-VALUE}, at least 1000).")
    int minBaseVectors;

    @Option(names = "--compaction-hot-ratio", defaultValue = "0.25",
            description = "Rebuild a shard's base when its hot index exceeds this fraction of the base; 0 = never (default: ${DEFAULT-VALUE}).")
    double hotRatio;

    @Option(names = "--compaction-tombstone-ratio", defaultValue = "0.2",
            description = "Rebuild when this fraction of the base is deleted or replaced; 0 = never (default: ${DEFAULT-VALUE}).")
    double tombstoneRatio;

    @Option(names = "--compaction-drift-ratio", defaultValue = "1.5",
            description = "Rebuild when recent inserts' mean quantization error exceeds this multiple of the base's at build time; 0 = never (default: ${DEFAULT-VALUE}).")
    double driftRatio;

    @Option(names = "--compaction-drift-window", defaultValue = "1000",
            description = "Inserts the drift average spans (default: ${DEFAULT-VALUE}).")
    int driftWindow;

    @Option(names = "--compaction-interval-s", defaultValue = "0",
            description = "Rebuild a changed shard once its base is this many seconds old; 0 = never (default: ${DEFAULT-VALUE}).")
    long intervalSeconds;

    @Option(names = "--compaction-threads", defaultValue = "1",
            description = "Threads that run rebuilds, one shard each (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--compaction-nice", defaultValue = "" + CompactionPolicy.DEFAULT_NICE,
            description = "Linux nice value (0-19) of the threads that build a base, so that searches and ingestion get the CPU first; 0 = no change (default: ${DEFAULT-VALUE}).")
    int nice;

    @Option(names = "--compaction-sched-idle", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Run base builds under Linux SCHED_IDLE: only on CPU nothing else wants, preempted at once by searches (default: ${DEFAULT-VALUE}; --no-compaction-sched-idle for nice only, so that rebuilds progress faster under a load that saturates every core).")
    boolean schedIdle;

    @Option(names = "--pq-m", defaultValue = "0",
            description = "PQ bytes per vector in the base; 0 = dim/4 (or dim/2, dim) (default: ${DEFAULT-VALUE}).")
    int pqM;

    @Option(names = "--read-your-writes-timeout-ms", defaultValue = "2000",
            description = "How long a search with min_offsets waits for its partitions to catch up before answering 503 (default: ${DEFAULT-VALUE}).")
    long readYourWritesTimeoutMs;

    @Option(names = "--standby-replicas", defaultValue = "1",
            description = "Warm copies of each shard kept by other instances of the application (Kafka Streams' num.standby.replicas), so that a failover promotes a copy instead of rebuilding; ignored while one instance runs (default: ${DEFAULT-VALUE}).")
    int standbyReplicas;

    @Option(names = "--fan-out-timeout-ms", defaultValue = "2000",
            description = "Deadline of a search at another instance: any instance answers for the whole topic by asking the owners of the partitions it lacks (default: ${DEFAULT-VALUE}).")
    long fanOutTimeoutMs;

    @Option(names = "--advertised-host",
            description = "Host name the other instances of the application reach this one's HTTP API at (e.g. a container's service name); default: the --http-host, or localhost when it is 0.0.0.0.")
    String advertisedHost;

    @Option(names = "--warm-up", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Before reporting ready, send this server real searches over loopback HTTP so the first client query runs compiled code (default: ${DEFAULT-VALUE}; --no-warm-up to skip).")
    boolean warmUp;

    @Option(names = "--default-timeout-ms", defaultValue = "10000",
            description = "Deadline of a search request that sends no timeout_ms; past it the answer is 503 deadline_exceeded (default: ${DEFAULT-VALUE}).")
    long defaultTimeoutMs;

    @Option(names = "--max-timeout-ms", defaultValue = "60000",
            description = "The longest timeout_ms a request may ask for; longer ones are cut to it (default: ${DEFAULT-VALUE}).")
    long maxTimeoutMs;

    @Option(names = "--max-request-scan", defaultValue = "100000000",
            description = "The most vectors one request may have scored, over its queries and shards (an exact query scores every vector); past it the request is refused with 400 too_costly (default: ${DEFAULT-VALUE}).")
    long maxRequestScan;

    @Option(names = "--max-request-results", defaultValue = "100000",
            description = "The most hits one request may ask for (the sum of k over a batch's queries); past it, 400 too_many_results (default: ${DEFAULT-VALUE}).")
    int maxRequestResults;

    @Option(names = "--recall-sample-rate", defaultValue = "0.01",
            description = "Fraction of approximate queries searched again exactly in the background for the live recall estimate (metric vectorstream_recall_estimate; 0 turns it off; default: ${DEFAULT-VALUE}).")
    double recallSampleRate;

    @Option(names = "--recall-samples-per-second", defaultValue = "2",
            description = "The most exact re-searches per second for the recall estimate; each scans every local shard, at the lowest thread priority (default: ${DEFAULT-VALUE}).")
    double recallSamplesPerSecond;

    @Option(names = "--streams-property", paramLabel = "KEY=VALUE",
            description = "Extra Kafka Streams property, repeatable, e.g. consumer.session.timeout.ms=10000 (how soon a crashed instance's partitions move).")
    java.util.Map<String, String> streamsProperties;

    MaintenanceSettings toSettings() {
        if (readYourWritesTimeoutMs < 0) throw new IllegalArgumentException("--read-your-writes-timeout-ms must be >= 0");
        CompactionPolicy policy = new CompactionPolicy(minBaseVectors, hotRatio, tombstoneRatio, driftRatio, driftWindow,
                Duration.ofSeconds(intervalSeconds), pqM, threads, nice, schedIdle);
        if (standbyReplicas < 0) throw new IllegalArgumentException("--standby-replicas must be >= 0");
        if (fanOutTimeoutMs < 1) throw new IllegalArgumentException("--fan-out-timeout-ms must be >= 1");
        java.util.Map<String, String> props = new java.util.HashMap<>();
        props.put("num.standby.replicas", Integer.toString(standbyReplicas));
        if (streamsProperties != null) props.putAll(streamsProperties); // an explicit --streams-property wins
        ServingSettings limits = new ServingSettings(warmUp, defaultTimeoutMs, maxTimeoutMs, maxRequestScan, maxRequestResults,
                recallSampleRate, recallSamplesPerSecond);
        return new MaintenanceSettings(policy, Duration.ofMillis(readYourWritesTimeoutMs), props, fanOutTimeoutMs,
                advertisedHost == null || advertisedHost.isBlank() ? null : advertisedHost, limits);
    }
}
