package io.vectorstream.app;

import io.vectorstream.compaction.CompactionPolicy;

import java.time.Duration;

/**
 * Background compaction and read-your-writes settings of a process.
 *
 * @param compaction           when shards rebuild their base by themselves
 * @param readYourWritesTimeout how long a search with {@code min_offsets} may wait for its partitions
 */
public record MaintenanceSettings(CompactionPolicy compaction, Duration readYourWritesTimeout) {

    public static MaintenanceSettings defaults() {
        return new MaintenanceSettings(CompactionPolicy.defaults(), Duration.ofSeconds(2));
    }
}
