package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kill -9 of a forked server JVM at random moments of ingestion (with compactions triggered by hot size and
 * tombstones running meanwhile), restarts on the same data directory: afterwards the index holds exactly the
 * topic's live set (no loss, no duplicate, no resurrected delete), checked by exact search, by id and by count.
 */
class KillNineEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 8;
    private static final String TOPIC = "crash";

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Map<String, float[]> live = new LinkedHashMap<>();
    private final List<String> deleted = new ArrayList<>();
    private final Map<Integer, Long> end = new HashMap<>();
    private int port;
    private int next;

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void theIndexEqualsTheTopicAfterKillsDuringIngestionAndCompaction() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            Random r = new Random(Long.getLong("vectorstream.kill.seed", System.nanoTime()));
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.LINGER_MS_CONFIG, 2))) {
                Process server = start(bootstrap, 0);
                for (int round = 1; round <= 3; round++) {
                    int killAfter = 3 + r.nextInt(8);
                    for (int chunk = 0; chunk < 12; chunk++) {
                        produceChunk(producer, r);
                        Thread.sleep(r.nextInt(150)); // let the server ingest (and compact) meanwhile
                        if (chunk == killAfter) {
                            server.destroyForcibly(); // SIGKILL
                            server.waitFor(30, TimeUnit.SECONDS);
                        }
                    }
                    server = start(bootstrap, round);
                }
                produceChunk(producer, r);
                try {
                    awaitCovered();
                    verify(r);
                } finally {
                    server.destroy();
                    server.waitFor(30, TimeUnit.SECONDS);
                    summarizeLogs();
                }
            }
        }
    }

    /** What the server runs did (for the test output): restores from snapshots, rebuilds from the store, compactions. */
    private void summarizeLogs() throws java.io.IOException {
        for (int run = 0; run <= 3; run++) {
            Path log = dataDir.resolve("server-" + run + ".log");
            if (!java.nio.file.Files.exists(log)) continue;
            List<String> lines = java.nio.file.Files.readAllLines(log);
            long restored = lines.stream().filter(l -> l.contains("restored") && l.contains("change-log")).count();
            long fromStore = lines.stream().filter(l -> l.contains("rebuilt the index from the store")).count();
            long compacted = lines.stream().filter(l -> l.contains("compacted (")).count();
            long skipped = lines.stream().filter(l -> l.contains("skipping snapshot")).count();
            System.out.printf("kill-9 run %d: %d shard(s) restored from snapshot + change log, %d rebuilt from the store, "
                    + "%d compaction(s), %d snapshot file(s) skipped%n", run, restored, fromStore, compacted, skipped);
        }
    }

    private Process start(String bootstrap, int run) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "io.vectorstream.app.Main", "serve", "--bootstrap-servers", bootstrap, "--topic", TOPIC,
                "--partitions", "2", "--replication-factor", "1", "--dim", String.valueOf(DIM),
                "--data-dir", dataDir.resolve("server").toString(), "--http-host", "127.0.0.1",
                "--http-port", String.valueOf(port), "--application-id", "kill-e2e", "--train-threshold", "300",
                "--batch-max-records", "100", "--compaction-min-vectors", "1000", "--compaction-hot-ratio", "0.3",
                "--compaction-tombstone-ratio", "0.1", "--search-threads", "1",
                "--streams-property", "consumer.session.timeout.ms=6000",
                "--streams-property", "consumer.heartbeat.interval.ms=1000"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dataDir.resolve("server-" + run + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new AssertionError("server exited with " + p.exitValue() + "; see " + dataDir.resolve("server-" + run + ".log"));
            try {
                HttpResponse<String> status = http.send(get("/v1/status"), HttpResponse.BodyHandlers.ofString());
                if (status.statusCode() == 200 && JSON.readTree(status.body()).path("partitions").size() == 2) return p;
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new AssertionError("server did not start");
    }

    /** 400 operations: inserts, replacements and deletes. */
    private void produceChunk(KafkaProducer<String, String> producer, Random r) throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            int kind = next < 2000 ? 0 : r.nextInt(5);
            if (kind <= 2) {
                String id = "k-" + next++;
                float[] v = vector(r);
                live.put(id, v);
                deleted.remove(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, json(v))));
            } else if (kind == 3) {
                String id = "k-" + r.nextInt(next);
                float[] v = vector(r);
                live.put(id, v);
                deleted.remove(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, json(v))));
            } else {
                String id = "k-" + r.nextInt(next);
                if (live.remove(id) != null) deleted.add(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, null)));
            }
        }
        for (Future<RecordMetadata> f : sent) {
            RecordMetadata m = f.get();
            end.merge(m.partition(), m.offset() + 1, Math::max);
        }
    }

    private void awaitCovered() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        ObjectNode min = JSON.createObjectNode();
        end.forEach((p, o) -> min.put(String.valueOf(p), o));
        ObjectNode req = searchBody(new float[DIM], 1, false);
        req.set("min_offsets", min);
        String body = req.toString();
        while (System.nanoTime() < deadline) {
            try {
                if (http.send(post(body), HttpResponse.BodyHandlers.ofString()).statusCode() == 200) return;
            } catch (java.io.IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the restarted server did not reach " + end);
    }

    private void verify(Random r) throws Exception {
        JsonNode status = JSON.readTree(http.send(get("/v1/status"), HttpResponse.BodyHandlers.ofString()).body());
        assertThat(status.path("totals").path("live").asInt()).as("live count (no loss, no duplicates)").isEqualTo(live.size());
        for (int q = 0; q < 15; q++) {
            float[] query = vector(r);
            assertThat(ids(search(query, 10))).isEqualTo(bruteForce(query, 10));
        }
        List<String> ids = new ArrayList<>(live.keySet());
        for (int i = 0; i < 30; i++) { // by id: each live vector finds itself
            String id = ids.get(r.nextInt(ids.size()));
            assertThat(ids(search(live.get(id), 1))).containsExactly(id);
            assertThat(http.send(get("/v1/vectors/" + id), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        }
        for (int i = 0; i < Math.min(30, deleted.size()); i++) {
            String id = deleted.get(r.nextInt(deleted.size()));
            assertThat(http.send(get("/v1/vectors/" + id), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
        }
    }

    private JsonNode search(float[] q, int k) throws Exception {
        HttpResponse<String> resp = http.send(post(searchBody(q, k, true).toString()), HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
        return JSON.readTree(resp.body());
    }

    private static ObjectNode searchBody(float[] v, int k, boolean exact) {
        ObjectNode body = JSON.createObjectNode();
        var arr = body.putArray("vector");
        for (float f : v) arr.add(f);
        return body.put("k", k).put("exact", exact);
    }

    private HttpRequest get(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).GET().build();
    }

    private HttpRequest post(String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/search")).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static float[] vector(Random r) {
        float[] v = new float[DIM];
        int c = r.nextInt(DIM);
        for (int d = 0; d < DIM; d++) v[d] = (d == c ? 4f : 0f) + (float) r.nextGaussian();
        return v;
    }

    private static String json(float[] v) {
        StringBuilder sb = new StringBuilder("{\"vector\":[");
        for (int d = 0; d < v.length; d++) sb.append(d == 0 ? "" : ",").append(v[d]);
        return sb.append("]}").toString();
    }

    private List<String> bruteForce(float[] q, int k) {
        return ExactReference.topK(live, q, k);
    }

    private static List<String> ids(JsonNode response) {
        return ExactReference.ids(response);
    }
}
