package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vectorstream.app.ServerSettings;
import io.vectorstream.app.VectorstreamServer;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.TopologySettings;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's kcat lines, run with the real kcat (librdkafka) against ids that Kafka's Java producer wrote to a
 * 4-partition topic: its updates and deletes reach the partition that holds each id (the README's
 * {@code partitioner=murmur2_random}), so an update replaces the vector and a delete removes it — no id is held
 * twice (and the server, told 3 partitions, takes the existing topic's 4, for its dead-letter topic too). Without that setting librdkafka hashes keys differently, which an operator's walk-through found: a delete
 * that did nothing and an update that made a second copy.
 */
class KcatEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 4;
    private static final String TOPIC = "kcat";

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theReadmesKcatUpdatesAndDeletesReachTheIdsPartition() throws Exception {
        Assumptions.assumeTrue(kcatInstalled(), () -> {
            System.out.println("KcatEndToEndTest skipped: kcat is not installed (.ci/run installs it)");
            return "kcat is not installed";
        });
        try (KafkaClusterTestKit cluster = InJvmKafka.start();
             TopicWriter writer = new TopicWriter(cluster.bootstrapServers(), TOPIC, DIM)) {
            String bootstrap = cluster.bootstrapServers();
            try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                    java.util.Map.of("bootstrap.servers", bootstrap))) { // the operator made the topic, with 4 partitions
                admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(TOPIC, 4, (short) 1))).all().get();
            }
            ServerSettings settings = new ServerSettings(bootstrap, null, TOPIC, 3, (short) 1, "kcat-e2e", dataDir, 1,
                    "127.0.0.1", 0, 16 << 20, 1, null, new IndexConfig(DIM, Metric.L2, 0, 400, 8, 42L),
                    new TopologySettings(TOPIC, DIM, 1 << 20, 500));
            try (VectorstreamServer server = VectorstreamServer.start(settings)) {
                String base = "http://127.0.0.1:" + server.httpPort();
                try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
                        java.util.Map.of("bootstrap.servers", bootstrap))) {
                    assertThat(admin.describeTopics(List.of(TOPIC + ".dlq")).allTopicNames().get().get(TOPIC + ".dlq")
                            .partitions()).as("the dead-letter topic has the input topic's partitions, not --partitions'")
                            .hasSize(4);
                }
                writer.churn(new Random(11), 200, 0); // the Java producer: murmur2
                List<String> ids = new ArrayList<>(writer.live.keySet());
                java.util.Collections.sort(ids);
                List<String> deleted = ids.subList(0, 20), updated = ids.subList(20, 40);

                StringBuilder lines = new StringBuilder();
                for (String id : deleted) lines.append(id).append("|\n");
                kcat(bootstrap, lines.toString(), "-Z"); // the README's delete
                lines.setLength(0);
                for (int i = 0; i < updated.size(); i++) {
                    lines.append(updated.get(i)).append("|{\"vector\":[").append(i + 100).append(",0,0,0]}\n");
                }
                kcat(bootstrap, lines.toString()); // the README's upsert

                String sentinel = "kcat-sentinel";
                kcat(bootstrap, sentinel + "|{\"vector\":[-9,-9,-9,-9]}\n");
                awaitFound(base, sentinel, 60); // kcat's records are applied (one partition's, at least)
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                for (String id : deleted) {
                    while (status(base, id) != 404) {
                        if (System.nanoTime() > deadline) throw new AssertionError(id + " was not deleted by kcat's tombstone");
                        Thread.sleep(100);
                    }
                }
                for (int i = 0; i < updated.size(); i++) {
                    String id = updated.get(i);
                    float[] q = {i + 100, 0, 0, 0};
                    while (!search(base, q).path(0).path("id").asText().equals(id)) {
                        if (System.nanoTime() > deadline) throw new AssertionError(id + " was not updated: " + search(base, q));
                        Thread.sleep(100);
                    }
                    // the vector it replaced is gone: a record in another partition would have left it there
                    for (JsonNode h : search(base, writer.live.get(id))) {
                        assertThat(h.path("id").asText()).as("%s's old vector is still held", id).isNotEqualTo(id);
                    }
                }
            }
        }
    }

    private static boolean kcatInstalled() {
        try {
            Process p = new ProcessBuilder("kcat", "-V").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** Runs the README's producer line: {@code kcat -P -b … -t … -K'|' -X partitioner=murmur2_random [extra]}. */
    private static void kcat(String bootstrap, String input, String... extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-K|", "-X", "partitioner=murmur2_random"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().write(input.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("kcat finished").isTrue();
        assertThat(p.exitValue()).as("kcat: %s", out).isZero();
    }

    private int status(String base, String id) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/vectors/" + id)).timeout(Duration.ofSeconds(10)).GET().build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private void awaitFound(String base, String id, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (status(base, id) != 200) {
            if (System.nanoTime() > deadline) throw new AssertionError(id + " never became searchable");
            Thread.sleep(100);
        }
    }

    /** The exact top 10 for {@code q}. */
    private JsonNode search(String base, float[] q) throws Exception {
        var node = JSON.createObjectNode();
        var v = node.putArray("vector");
        for (float f : q) v.add(f);
        node.put("k", 10).put("exact", true);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search")).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(node))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body()).path("results");
    }
}
