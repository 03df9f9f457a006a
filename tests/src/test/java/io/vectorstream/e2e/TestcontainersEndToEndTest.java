package io.vectorstream.e2e;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The same scenario against Kafka in a container (the official apache/kafka image, KRaft). Only this
 * variant needs Docker; without it the test is skipped and says why.
 */
class TestcontainersEndToEndTest {

    @TempDir
    Path dataDir;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void sameScenarioAgainstKafkaInAContainer() throws Exception {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (Throwable e) {
            docker = false;
        }
        if (!docker) {
            String reason = "SKIPPED TestcontainersEndToEndTest: no Docker engine is reachable here; "
                    + "the same scenario ran against the in-JVM KRaft broker (InJvmKafkaEndToEndTest)";
            System.out.println(reason);
            Assumptions.abort(reason);
        }
        try (KafkaContainer kafka = new KafkaContainer("apache/kafka:4.3.1")) {
            kafka.start();
            new WalkingSkeletonScenario(kafka.getBootstrapServers(), dataDir).run();
        }
    }
}
