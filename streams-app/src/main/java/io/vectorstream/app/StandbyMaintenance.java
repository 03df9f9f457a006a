package io.vectorstream.app;

import io.vectorstream.index.durable.DurableShards;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Maintains the shards that no processor maintains — standby copies and shards still restoring — every
 * {@link #PERIOD_MS} ms ({@link DurableShards#maintainUnattended}): installs a base their compaction finished, or a
 * hot index's background training. Kafka Streams feeds such a shard only when records arrive, so on a quiet topic a
 * finished compaction of a standby copy used to wait at its swap indefinitely, with every rebuild of the instance,
 * an operator's included, queued behind it. Cheap: a check per shard when there is nothing to install.
 */
final class StandbyMaintenance implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StandbyMaintenance.class);
    static final long PERIOD_MS = 100;

    private final ScheduledExecutorService timer;

    StandbyMaintenance(DurableShards durables) {
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "vectorstream-standby-maintenance");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                durables.maintainUnattended();
            } catch (RuntimeException e) { // a failed installation is logged; the next tick tries again
                LOG.warn("maintaining a standby shard failed: {}", e.toString());
            }
        }, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
