package io.vectorstream.app;

import io.vectorstream.api.ServingSettings;
import io.vectorstream.compaction.CompactionPolicy;

import java.time.Duration;

/**
 * Background compaction, read-your-writes, fan-out and query-limit settings of a process.
 *
 * @param compaction           when shards rebuild their base by themselves
 * @param readYourWritesTimeout how long a search with {@code min_offsets} may wait for its partitions
 * @param streamsProperties     extra Kafka Streams properties (e.g. {@code consumer.session.timeout.ms}), applied last
 * @param fanOutTimeoutMs       deadline of a search sent to another instance
 * @param advertisedHost        the host other instances reach this one's HTTP API at (null: the bind address, or
 *                              {@code localhost} when binding every interface)
 * @param serving           deadlines and cost bounds of requests, and the warm-up before ready
 */
public record MaintenanceSettings(CompactionPolicy compaction, Duration readYourWritesTimeout,
                                  java.util.Map<String, String> streamsProperties, long fanOutTimeoutMs,
                                  String advertisedHost, ServingSettings serving) {

    public MaintenanceSettings {
        streamsProperties = streamsProperties == null ? java.util.Map.of() : java.util.Map.copyOf(streamsProperties);
        if (serving == null) serving = ServingSettings.defaults();
    }

    public MaintenanceSettings(CompactionPolicy compaction, Duration readYourWritesTimeout) {
        this(compaction, readYourWritesTimeout, java.util.Map.of());
    }

    public MaintenanceSettings(CompactionPolicy compaction, Duration readYourWritesTimeout,
                               java.util.Map<String, String> streamsProperties) {
        this(compaction, readYourWritesTimeout, streamsProperties, 2_000, null, ServingSettings.defaults());
    }

    public static MaintenanceSettings defaults() {
        return new MaintenanceSettings(CompactionPolicy.defaults(), Duration.ofSeconds(2));
    }
}
