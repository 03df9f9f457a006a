package io.vectorstream.app;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vectorstream.compaction.CompactionService;
import io.vectorstream.index.Shard;
import io.vectorstream.index.ShardRegistry;

import java.util.concurrent.TimeUnit;

/**
 * The process's background-work meters: compaction runs by trigger and outcome
 * ({@code vectorstream_compaction_runs_total}), their durations ({@code vectorstream_compaction_seconds}, by trigger),
 * and the device memory the shards' mirrors hold ({@code vectorstream_device_memory_bytes}; 0 on the CPU).
 * The API's meters are {@code io.vectorstream.api.ApiMetrics}', the ingest path's {@code IngestMetrics}'.
 */
final class OperatorMetrics {
    private OperatorMetrics() {
    }

    static void bind(MeterRegistry meters, CompactionService compaction, ShardRegistry registry) {
        compaction.onRun(run -> {
            Counter.builder("vectorstream_compaction_runs").description("Rebuilds of a shard's base, by trigger and outcome")
                    .tags("trigger", run.trigger(), "outcome", run.outcome()).register(meters).increment();
            Timer.builder("vectorstream_compaction").description("Duration of a shard's rebuild (train, encode, install, persist)")
                    .tag("trigger", run.trigger()).publishPercentileHistogram()
                    .register(meters).record(run.nanos(), TimeUnit.NANOSECONDS);
        });
        Gauge.builder("vectorstream_device_memory_bytes", registry, r -> {
            long bytes = 0;
            for (Shard shard : r.shards()) bytes += shard.deviceBytes();
            return bytes;
        }).description("Device (GPU) memory held by the shards' mirrors; 0 when searching on the CPU").baseUnit("bytes")
                .register(meters);
    }
}
