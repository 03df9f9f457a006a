package io.vectorstream.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vectorstream.index.ShardSnapshot;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code vectorstream demo}: an embedded broker, the server, a producer of synthetic clustered
 * embeddings, a few example queries with their recall against exact search; then it keeps serving
 * and prints ready-to-paste curl and kcat lines.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Try Vectorstream: embedded Kafka + server + synthetic data + example queries, then keep serving.")
final class DemoCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ServeOptions options;

    @Mixin
    MaintenanceOptions maintenance;

    @Spec
    CommandSpec spec;

    @Option(names = "--count", defaultValue = "20000", description = "Synthetic vectors to produce (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--clusters", defaultValue = "40", description = "Clusters in the synthetic data (default: ${DEFAULT-VALUE}).")
    int clusters;

    @Option(names = "--queries", defaultValue = "5", description = "Example queries to run (default: ${DEFAULT-VALUE}).")
    int queries;

    @Option(names = "--exit", description = "Stop after the example queries instead of serving on.")
    boolean exitAfter;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        if (count < 1) throw new IllegalArgumentException("--count must be at least 1, was " + count);
        if (queries < 0) throw new IllegalArgumentException("--queries must be at least 0, was " + queries);
        // the demo's own defaults, where neither the command line nor the environment nor --config gave a value
        if (!given("--dim")) options.dim = 64;
        if (!given("--embedded-kafka") && !given("--bootstrap-servers")) options.embeddedKafkaPort = 9092;
        if (!given("--train-threshold")) options.trainThreshold = 2000;
        if (!given("--data-dir")) options.dataDir = Files.createTempDirectory("vectorstream-demo");
        ServerSettings settings = options.toSettings();

        out.println("== Vectorstream demo ==");
        VectorstreamServer server = VectorstreamServer.start(settings, maintenance.toSettings());
        String base = "http://localhost:" + server.httpPort();
        int dim = settings.index().dim();

        out.printf("Producing %,d synthetic %d-d embeddings (%d clusters) to topic '%s' on %s …%n",
                count, dim, clusters, settings.topic(), server.bootstrapServers());
        ClusteredVectors data = new ClusteredVectors(dim, clusters, 7L);
        long t0 = System.nanoTime();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, server.bootstrapServers(),
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class))) {
            for (int i = 0; i < count; i++) {
                int c = data.nextCluster();
                ObjectNode event = JSON.createObjectNode();
                var arr = event.putArray("vector");
                for (float f : data.next(c)) arr.add(f);
                event.putObject("metadata").put("cluster", c).put("n", i);
                producer.send(new ProducerRecord<>(settings.topic(), "doc-" + i, JSON.writeValueAsString(event)));
            }
            producer.send(new ProducerRecord<>(settings.topic(), "bad-1", "{\"vector\":[1,2]}")); // lands in the DLQ
        }
        out.printf("Produced in %.1f s.%n", (System.nanoTime() - t0) / 1e9);
        waitForLive(server, count);
        double seconds = (System.nanoTime() - t0) / 1e9;
        out.printf("All %,d searchable after %.1f s (%,.0f upserts/s end to end).%n", count, seconds, count / seconds);
        for (ShardSnapshot s : server.registry().snapshots()) {
            out.printf("  partition %d: %,d vectors, %s, %d lists%n", s.partition(), s.liveCount(), s.kind().wireName(), s.listCount());
        }

        HttpClient http = HttpClient.newHttpClient();
        awaitReady(http, base); // the warm-up (JIT, loopback searches) runs beside ingestion: queries wait for it, as a client should
        out.printf("%nExample queries (k=10, default nprobe %d) and their recall against exact search:%n", settings.index().defaultNprobe());
        double recallSum = 0;
        for (int q = 0; q < queries; q++) {
            float[] query = data.next(data.nextCluster());
            JsonNode approx = search(http, base, query, false);
            JsonNode exact = search(http, base, query, true);
            double recall = recall(approx, exact);
            recallSum += recall;
            out.printf("  query %d: top hit %s (score %.3f), %.2f ms, recall@10 %.2f%n", q + 1,
                    approx.path("results").path(0).path("id").asText(), approx.path("results").path(0).path("score").asDouble(),
                    approx.path("took_ms").asDouble(), recall);
        }
        if (queries > 0) out.printf("  mean recall@10: %.3f%n", recallSum / queries);

        if (exitAfter) { // no "try it" lines: they would point at a server that is gone
            server.close();
            out.println("Stopped (--exit). Without --exit the demo keeps serving and prints commands to try against it.");
            return 0;
        }
        printTryIt(out, base, server.bootstrapServers(), settings.topic(), dim);
        out.println("Serving until Ctrl-C.");
        ServeCommand.awaitShutdown(server);
        return 0;
    }

    /** Given on the command line, in the environment or in the --config file. */
    private boolean given(String option) {
        if (spec.commandLine().getParseResult().hasMatchedOption(option)) return true;
        return spec.commandLine().getDefaultValueProvider() instanceof SettingsDefaults d && d.supplies(spec.findOption(option));
    }

    /** Waits until {@code GET /health/ready} answers 200 (at most a minute; the queries then run anyway). */
    private static void awaitReady(HttpClient http, String base) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        HttpRequest ready = HttpRequest.newBuilder(URI.create(base + "/health/ready")).timeout(java.time.Duration.ofSeconds(5)).build();
        while (System.nanoTime() < deadline) {
            try {
                if (http.send(ready, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
            } catch (java.io.IOException e) {
                // not listening yet
            }
            Thread.sleep(50);
        }
    }

    private static void waitForLive(VectorstreamServer server, int expected) throws InterruptedException {
        long deadline = System.nanoTime() + 300_000_000_000L;
        while (System.nanoTime() < deadline) {
            int live = server.registry().snapshots().stream().mapToInt(ShardSnapshot::liveCount).sum();
            if (live >= expected) return;
            Thread.sleep(20);
        }
        throw new IllegalStateException("vectors did not become searchable within 5 minutes");
    }

    private static JsonNode search(HttpClient http, String base, float[] query, boolean exact) throws Exception {
        ObjectNode body = JSON.createObjectNode();
        var arr = body.putArray("vector");
        for (float f : query) arr.add(f);
        body.put("k", 10).put("exact", exact);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("search answered " + r.statusCode() + ": " + r.body());
        return JSON.readTree(r.body());
    }

    private static double recall(JsonNode approx, JsonNode exact) {
        Set<String> truth = new HashSet<>();
        exact.path("results").forEach(h -> truth.add(h.path("id").asText()));
        if (truth.isEmpty()) return 1.0;
        int hit = 0;
        for (JsonNode h : approx.path("results")) if (truth.contains(h.path("id").asText())) hit++;
        return hit / (double) truth.size();
    }

    private static void printTryIt(PrintStream out, String base, String bootstrap, String topic, int dim) {
        StringBuilder v = new StringBuilder();
        for (int i = 0; i < dim; i++) v.append(i == 0 ? "" : ",").append(i % 2 == 0 ? "0.1" : "-0.2");
        out.println();
        out.println("Try it (paste into another terminal):");
        out.printf("  curl -s %s/v1/status%n", base);
        out.printf("  curl -s %s/v1/vectors/doc-42%n", base);
        out.printf("  curl -s -XPOST %s/v1/search -H 'content-type: application/json' -d '{\"vector\":[%s],\"k\":5,\"include_metadata\":true}'%n", base, v);
        out.printf("  echo 'my-doc|{\"vector\":[%s],\"metadata\":{\"title\":\"hello\"}}' | kcat -P -b %s -t %s -K'|' -X partitioner=murmur2_random%n", v, bootstrap, topic);
        out.printf("  kcat -P -b %s -t %s -K'|' -Z -X partitioner=murmur2_random <<< 'my-doc|'   # a tombstone: deletes my-doc%n", bootstrap, topic);
        out.printf("  kcat -C -b %s -t %s.dlq -e -f 'key=%%k reason=%%h\\n'   # dead letters and why%n", bootstrap, topic);
        out.printf("  curl -s %s/metrics | grep vectorstream_%n", base);
        out.println();
    }
}
