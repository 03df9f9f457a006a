package io.vectorstream.streams;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The ingest path's meters, shared by every partition's {@link IngestProcessor}: events by result
 * ({@code vectorstream_events_total{result}}, whose rate is the ingest rate), batch sizes and apply times,
 * <b>freshness</b> — from a record's timestamp to the moment it is searchable, one observation per record
 * ({@code vectorstream_freshness_seconds}, a histogram) — and, once bound to the Kafka Streams client, consumer lag
 * per partition in records (written and not yet searchable) and in seconds (the age of the newest searchable record
 * while records wait; 0 when caught up).
 */
public final class IngestMetrics {
    private final MeterRegistry meters;
    final Timer applyTimer;
    final DistributionSummary batchSizes;
    final Counter upserts, deletes, invalid;
    private final Timer freshness;
    private final Map<Integer, Long> newestApplied = new ConcurrentHashMap<>();

    public IngestMetrics(MeterRegistry meters) {
        this.meters = meters;
        this.applyTimer = Timer.builder("vectorstream_batch_apply").description("time to apply one batch to the index")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(10_000)).maximumExpectedValue(Duration.ofSeconds(5))
                .register(meters);
        this.batchSizes = DistributionSummary.builder("vectorstream_batch_size").description("operations per applied batch")
                .register(meters);
        this.upserts = events(meters, "upsert");
        this.deletes = events(meters, "delete");
        this.invalid = events(meters, "invalid");
        this.freshness = Timer.builder("vectorstream_freshness")
                .description("From a record's timestamp (its producer's clock) to the moment it is searchable, per record")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(10))
                .register(meters);
    }

    private static Counter events(MeterRegistry meters, String result) {
        return Counter.builder("vectorstream_events")
                .description("Events taken from the input topic, by result (upsert, delete, invalid: dead-lettered); its rate is the ingest rate")
                .tag("result", result).register(meters);
    }

    /** {@code n} records of {@code partition} with these timestamps became searchable at {@code nowMillis}. */
    void applied(int partition, long[] timestamps, int n, long nowMillis) {
        long newest = Long.MIN_VALUE;
        for (int i = 0; i < n; i++) {
            long ts = timestamps[i];
            if (ts <= 0) continue; // no timestamp
            freshness.record(Math.max(0, nowMillis - ts), TimeUnit.MILLISECONDS);
            newest = Math.max(newest, ts);
        }
        if (newest != Long.MIN_VALUE) newestApplied.merge(partition, newest, Math::max);
    }

    /**
     * Publishes consumer lag per partition ({@code partitions} of them) from {@code records}: records written and not
     * yet searchable here, NaN for a partition this instance does not own.
     */
    public void bindConsumerLag(int partitions, java.util.function.IntToDoubleFunction records) {
        for (int p = 0; p < partitions; p++) {
            int partition = p;
            Gauge.builder("vectorstream_consumer_lag_records", () -> records.applyAsDouble(partition))
                    .description("Records written to the partition and not yet searchable here (NaN: not owned here)")
                    .tag("partition", Integer.toString(p)).register(meters);
            Gauge.builder("vectorstream_consumer_lag_seconds", () -> lagSeconds(records.applyAsDouble(partition), partition))
                    .description("Age of the partition's newest searchable record while records wait (0 when caught up)")
                    .tag("partition", Integer.toString(p)).register(meters);
        }
    }

    private double lagSeconds(double lag, int partition) {
        if (Double.isNaN(lag)) return Double.NaN;
        if (lag <= 0) return 0;
        Long newest = newestApplied.get(partition);
        return newest == null ? Double.NaN : Math.max(0, System.currentTimeMillis() - newest) / 1000.0;
    }
}
