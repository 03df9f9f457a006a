package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two forked server processes over a 2-partition topic with one standby copy each: every shard, active or standby,
 * grows past the compaction threshold and builds a base; then the topic goes quiet. Each instance's compactions,
 * its standby copy's included, finish (a standby's base is installed by the server's maintenance timer, with no
 * record arriving: before, it waited at phase {@code swap} for the next record, and every rebuild of that instance
 * queued behind it), and an operator rebuild requested afterwards runs to the end.
 */
class StandbyCompactionEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 8, PARTITIONS = 2;
    private static final String TOPIC = "standby";

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aStandbyCopysCompactionFinishesOnAQuietTopicAndBlocksNoRebuild() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start();
             TopicWriter writer = new TopicWriter(cluster.bootstrapServers(), TOPIC, DIM)) {
            int[] ports = {freePort(), freePort()};
            List<Process> servers = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) servers.add(start(cluster.bootstrapServers(), i, ports[i]));
                writer.churn(new Random(3), 2_800, 0); // ~1,400 per partition: past the 1,000 a base needs
                for (int port : ports) awaitCovered(port, writer, 120);

                for (int port : ports) {
                    Set<Integer> owned = localPartitions(port);
                    assertThat(owned).as("each instance owns one partition").hasSize(1);
                    Map<Integer, String> done = awaitCompactionsSettled(port, 120);
                    int standby = owned.contains(0) ? 1 : 0;
                    assertThat(done).as(":%d compacted its own shard and its standby copy, on a quiet topic", port)
                            .containsEntry(owned.iterator().next(), "done").containsEntry(standby, "done");
                }

                // an operator rebuild at each owner runs to the end: nothing is stuck ahead of it
                for (int port : ports) {
                    int partition = localPartitions(port).iterator().next();
                    HttpResponse<String> started = http.send(post(port, "/v1/admin/rebuild", "{\"partitions\":[" + partition + "]}"),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
                    String job = JSON.readTree(started.body()).path("job").asText();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    String state;
                    while (!(state = JSON.readTree(get(port, "/v1/admin/rebuild/" + job).body()).path("state").asText()).equals("done")) {
                        assertThat(state).isIn("queued", "running");
                        if (System.nanoTime() > deadline) throw new AssertionError(":" + port + " rebuild " + job + " did not finish");
                        Thread.sleep(200);
                    }
                }
            } finally {
                for (Process p : servers) {
                    p.destroy();
                    p.waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    /**
     * Waits until the instance has no compaction queued or running and returns, per partition, the state of its
     * newest compaction job.
     */
    private Map<Integer, String> awaitCompactionsSettled(int port, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "";
        while (true) {
            JsonNode jobs = JSON.readTree(get(port, "/v1/admin/rebuild").body()).path("jobs");
            Map<Integer, String> newest = new TreeMap<>();
            boolean busy = false;
            for (JsonNode job : jobs) { // newest first
                for (JsonNode part : job.path("shards")) {
                    newest.putIfAbsent(part.path("partition").asInt(), part.path("state").asText());
                    if (!part.path("state").asText().equals("done") && !part.path("state").asText().equals("failed")) busy = true;
                }
            }
            if (!busy && newest.size() == PARTITIONS) return newest;
            last = jobs.toString();
            if (System.nanoTime() > deadline) throw new AssertionError(":" + port + " compactions did not settle: " + last);
            Thread.sleep(500);
        }
    }

    /** Waits until a search at {@code port} covers everything written (read-your-writes). */
    private void awaitCovered(int port, TopicWriter writer, int seconds) throws Exception {
        var node = JSON.createObjectNode();
        var v = node.putArray("vector");
        for (int d = 0; d < DIM; d++) v.add(0f);
        var m = node.putObject("min_offsets");
        writer.end.forEach((p, o) -> m.put(String.valueOf(p), o));
        String body = JSON.writeValueAsString(node);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> resp = http.send(post(port, "/v1/search", body), HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() == 200) return;
                last = resp.body();
            } catch (java.io.IOException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("instance :" + port + " did not cover " + writer.end + ": " + last);
    }

    private Set<Integer> localPartitions(int port) throws Exception {
        Set<Integer> partitions = new TreeSet<>();
        JSON.readTree(get(port, "/v1/status?local=true").body()).path("partitions").forEach(p -> partitions.add(p.path("partition").asInt()));
        return partitions;
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest post(int port, String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private Process start(String bootstrap, int i, int port) throws Exception {
        return ForkedServer.start(dataDir, i, port, List.of("--bootstrap-servers", bootstrap, "--topic", TOPIC,
                "--partitions", String.valueOf(PARTITIONS), "--replication-factor", "1", "--dim", String.valueOf(DIM),
                "--application-id", "standby-e2e", "--train-threshold", "300", "--compaction-min-vectors", "1000",
                "--search-threads", "1", "--stream-threads", "1", "--standby-replicas", "1", "--no-warm-up"));
    }

    private static int freePort() throws Exception {
        return ForkedServer.freePort();
    }
}
