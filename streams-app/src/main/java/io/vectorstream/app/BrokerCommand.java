package io.vectorstream.app;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code vectorstream broker}: a real single-node Kafka broker (KRaft) and nothing else, until stopped — for trying
 * things out with several servers and real clients (kcat, librdkafka), and for the system benchmark.
 */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Run a single-node Kafka broker (KRaft) in this process until stopped (Ctrl-C).")
final class BrokerCommand implements Callable<Integer> {

    @Option(names = "--port", defaultValue = "9092", description = "Client port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data-dir", description = "Where the broker keeps its logs; wiped at start (default: a temporary directory).")
    Path dataDir;

    @Option(names = "--topic", paramLabel = "NAME[:PARTITIONS]",
            description = "Create this topic at start (repeatable), with PARTITIONS partitions (default 1).")
    List<String> topics = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        List<NewTopic> create = new ArrayList<>();
        for (String t : topics) {
            String[] parts = t.split(":", 2);
            if (parts[0].isBlank()) throw new IllegalArgumentException("--topic needs a name: " + t);
            int partitions;
            try {
                partitions = parts.length == 2 ? Integer.parseInt(parts[1]) : 1;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--topic " + t + ": partitions must be a number");
            }
            if (partitions < 1) throw new IllegalArgumentException("--topic " + t + ": partitions must be >= 1");
            create.add(new NewTopic(parts[0], Optional.of(partitions), Optional.empty()));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(port, dataDir)) {
            if (!create.isEmpty()) {
                try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
                    admin.createTopics(create).all().get(30, TimeUnit.SECONDS);
                }
            }
            Runtime.getRuntime().addShutdownHook(new Thread(stopped::countDown, "broker-stop"));
            System.out.println("Kafka broker ready on " + kafka.bootstrapServers()
                    + (create.isEmpty() ? "" : " with topics " + topics) + " (Ctrl-C stops it)");
            System.out.flush();
            stopped.await();
        }
        return 0;
    }
}
