package io.vectorstream.e2e;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The walking-skeleton scenario with {@code --device cuda}, against the emulated CUDA driver (the
 * {@code cuda-emulated} surefire execution puts it first on LD_LIBRARY_PATH): every shard must be on
 * a {@code cuda:N} device per /v1/status and searches must be answered there.
 */
@Tag("cuda-emulated")
class InJvmKafkaCudaEndToEndTest {

    @TempDir
    Path dataDir;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void eventsBecomeSearchableOnTheDevice() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            new WalkingSkeletonScenario(cluster.bootstrapServers(), dataDir, "cuda", "cuda").run();
        }
    }
}
