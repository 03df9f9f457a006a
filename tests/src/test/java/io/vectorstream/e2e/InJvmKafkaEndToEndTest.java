package io.vectorstream.e2e;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** The walking-skeleton scenario against a real KRaft broker started in this JVM: runs everywhere, CI included. */
class InJvmKafkaEndToEndTest {

    @TempDir
    Path dataDir;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void eventsOnARealTopicBecomeSearchableOverHttp() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            new WalkingSkeletonScenario(cluster.bootstrapServers(), dataDir).run();
        }
    }
}
