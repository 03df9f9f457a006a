package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vectorstream.app.Main;
import io.vectorstream.app.MaintenanceSettings;
import io.vectorstream.app.ServerSettings;
import io.vectorstream.app.VectorstreamServer;
import io.vectorstream.compaction.CompactionPolicy;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.TopologySettings;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Against a real broker: read-your-writes ({@code min_offsets}: covered, 503 behind, 400 malformed), and an
 * operator rebuild (the {@code vectorstream rebuild} command and the admin API, behind a bearer token) under
 * concurrent queries and ingestion: every query succeeds, and afterwards the shards have an IVF-PQ base and
 * exact search equals brute force over the topic's live set.
 */
class CompactionEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 16;
    private static final String TOPIC = "churn";
    private static final String TOKEN = "s3cret";

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newHttpClient();
    private final Map<String, float[]> live = new ConcurrentHashMap<>();
    private final Map<Integer, Long> end = new ConcurrentHashMap<>();

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void readYourWritesAndAnOperatorRebuildUnderLoad() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            ServerSettings settings = new ServerSettings(bootstrap, null, TOPIC, 2, (short) 1, "compaction-e2e", dataDir,
                    1, "127.0.0.1", 0, 16 << 20, 2, TOKEN, new IndexConfig(DIM, Metric.L2, 0, 400, 8, 42L),
                    new TopologySettings(TOPIC, DIM, 1 << 20, 200));
            MaintenanceSettings maintenance = new MaintenanceSettings(CompactionPolicy.manual(1000), Duration.ofMillis(400));
            try (VectorstreamServer server = VectorstreamServer.start(settings, maintenance);
                 KafkaProducer<String, String> producer = producer(bootstrap)) {
                String base = "http://127.0.0.1:" + server.httpPort();
                Random r = new Random(7);
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < 3000; i++) sent.add(upsert(producer, "doc-" + i, vector(r)));
                awaitSent(sent);
                awaitCovered(base);

                readYourWrites(base, producer);

                HttpResponse<String> unauthorized = post(base + "/v1/admin/rebuild", "{}", null);
                assertThat(unauthorized.statusCode()).isEqualTo(401);
                assertThat(post(base + "/v1/admin/rebuild", "{\"partitions\":[\"x\"]}", TOKEN).statusCode()).isEqualTo(400);
                HttpResponse<String> unknown = post(base + "/v1/admin/rebuild", "{\"partitions\":[99]}", TOKEN);
                assertThat(unknown.statusCode()).isEqualTo(404);
                assertThat(unknown.body()).as("said as it is").contains("unknown_partition").contains("not partitions of the topic");
                HttpResponse<String> none = post(base + "/v1/admin/rebuild", "{\"partitions\":[]}", TOKEN);
                assertThat(none.statusCode()).as("an empty list is not 'all'").isEqualTo(400);
                assertThat(none.body()).contains("leave it out to rebuild every partition");
                HttpResponse<String> form = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/admin/rebuild"))
                        .header("content-type", "application/x-www-form-urlencoded").header("Authorization", "Bearer " + TOKEN)
                        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(form.statusCode()).as("curl -d without a JSON header, as for search").isEqualTo(415);
                assertThat(form.body()).contains("unsupported_media_type").contains("Content-Type: application/json");

                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger queries = new AtomicInteger(), failed = new AtomicInteger();
                Thread reader = new Thread(() -> {
                    Random qr = new Random(8);
                    while (!stop.get()) {
                        try {
                            HttpResponse<String> resp = post(base + "/v1/search", searchBody(vector(qr), 10, qr.nextBoolean(), null), null);
                            if (resp.statusCode() != 200) failed.incrementAndGet();
                        } catch (Exception e) {
                            failed.incrementAndGet();
                        }
                        queries.incrementAndGet();
                    }
                });
                Thread writer = new Thread(() -> {
                    Random wr = new Random(9);
                    int next = 3000;
                    try {
                        while (!stop.get()) {
                            List<Future<RecordMetadata>> batch = new ArrayList<>();
                            for (int j = 0; j < 50; j++) {
                                if (wr.nextInt(4) == 0) {
                                    String id = "doc-" + wr.nextInt(next);
                                    live.remove(id);
                                    batch.add(producer.send(new ProducerRecord<>(TOPIC, id, null)));
                                } else {
                                    batch.add(upsert(producer, "doc-" + next++, vector(wr)));
                                }
                            }
                            awaitSent(batch);
                            Thread.sleep(10); // ~5,000 events/s: steady ingestion that leaves the 2-core box some idle CPU,
                                              // which is all a rebuild gets (it runs under SCHED_IDLE)
                        }
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                reader.start();
                writer.start();

                int exit = Main.run(new String[]{"rebuild", "--url", base, "--token", TOKEN, "--poll-ms", "50"});
                assertThat(exit).isZero();
                HttpResponse<String> one = post(base + "/v1/admin/rebuild", "{\"partitions\":[1]}", TOKEN);
                assertThat(one.statusCode()).isEqualTo(202);
                String job = JSON.readTree(one.body()).path("job").asText();
                JsonNode progress = awaitJob(base, job);
                assertThat(progress.path("shards")).hasSize(1);
                assertThat(progress.path("shards").path(0).path("partition").asInt()).isEqualTo(1);

                stop.set(true);
                reader.join();
                writer.join();
                assertThat(queries.get()).isPositive();
                assertThat(failed.get()).as("failed queries during the rebuild").isZero();

                awaitCovered(base);
                JsonNode status = JSON.readTree(get(base + "/v1/status").body());
                for (JsonNode p : status.path("partitions")) {
                    assertThat(p.path("base").isObject()).as("partition %s has a base: %s", p.path("partition"), p).isTrue();
                    assertThat(p.path("last_compaction").path("trigger").asText()).isEqualTo("operator");
                    assertThat(p.has("hot_size") && p.has("tombstones")).isTrue();
                }
                assertThat(status.path("totals").path("live").asInt()).isEqualTo(live.size());
                String metrics = get(base + "/metrics").body();
                assertThat(metrics).as("compaction runs and durations are metered")
                        .containsPattern("vectorstream_compaction_runs_total\\{outcome=\"built\",trigger=\"operator\",?\\} [1-9]")
                        .contains("vectorstream_compaction_seconds_count{trigger=\"operator\"")
                        .contains("vectorstream_device_memory_bytes 0.0");
                Random qr = new Random(10);
                for (int q = 0; q < 15; q++) {
                    float[] query = vector(qr);
                    HttpResponse<String> resp = post(base + "/v1/search", searchBody(query, 10, true, null), null);
                    assertThat(resp.statusCode()).isEqualTo(200);
                    assertThat(ids(JSON.readTree(resp.body()))).isEqualTo(bruteForce(query, 10));
                }
            }
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void restartLoadsTheNewestIntactSnapshotAndReplaysTheChangeLog() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            ServerSettings settings = new ServerSettings(bootstrap, null, TOPIC, 2, (short) 1, "restart-e2e", dataDir,
                    1, "127.0.0.1", 0, 16 << 20, 2, null, new IndexConfig(DIM, Metric.L2, 0, 400, 8, 42L),
                    new TopologySettings(TOPIC, DIM, 1 << 20, 200));
            MaintenanceSettings maintenance = new MaintenanceSettings(CompactionPolicy.manual(1000), Duration.ofSeconds(2));
            Random r = new Random(11);
            try (KafkaProducer<String, String> producer = producer(bootstrap)) {
                try (VectorstreamServer server = VectorstreamServer.start(settings, maintenance)) {
                    String base = "http://127.0.0.1:" + server.httpPort();
                    churn(producer, r, 0, 3000, 0);
                    awaitCovered(base);
                    awaitJob(base, JSON.readTree(post(base + "/v1/admin/rebuild", "{}", null).body()).path("job").asText());
                    churn(producer, r, 3000, 300, 200); // after snapshot 1: in the change log only
                    awaitCovered(base);
                    awaitJob(base, JSON.readTree(post(base + "/v1/admin/rebuild", "{}", null).body()).path("job").asText());
                    churn(producer, r, 3300, 300, 200); // after snapshot 2
                    awaitCovered(base);
                    assertExactEqualsBruteForce(base, r);
                }
                // restart: both partitions come back from snapshot 2 + change log, with their base (no retraining)
                try (VectorstreamServer server = VectorstreamServer.start(settings, maintenance)) {
                    String base = "http://127.0.0.1:" + server.httpPort();
                    awaitCovered(base);
                    JsonNode status = JSON.readTree(get(base + "/v1/status").body());
                    for (JsonNode p : status.path("partitions")) {
                        assertThat(p.path("base").path("version").asInt()).as("%s", p).isEqualTo(2);
                        assertThat(p.path("storage").path("restored_from").asText()).as("%s", p).isEqualTo("snapshot-and-log");
                        // restored once: Kafka Streams' start-up pass over the state directory reads the offset only
                        assertThat(p.path("storage").path("opens").asInt()).as("%s", p).isEqualTo(1);
                    }
                    assertExactEqualsBruteForce(base, r);
                    churn(producer, r, 3600, 100, 50);
                    awaitCovered(base);
                }
                // corrupt every partition's snapshot: the change log was trimmed up to it, so the store cannot stand in
                // for it; it is cleared and Kafka Streams replays the whole topic into it (the input is the log of record)
                for (int p = 0; p < 2; p++) {
                    Path storeDir = dataDir.resolve("streams").resolve("restart-e2e").resolve("0_" + p).resolve("shard-store");
                    List<Path> snaps = io.vectorstream.index.durable.SnapshotFile.list(storeDir.resolve("snapshots"));
                    assertThat(snaps).as("one snapshot kept per shard").hasSize(1);
                    byte[] bytes = java.nio.file.Files.readAllBytes(snaps.getFirst());
                    bytes[bytes.length / 3] ^= 0x10;
                    java.nio.file.Files.write(snaps.getFirst(), bytes);
                }
                try (VectorstreamServer server = VectorstreamServer.start(settings, maintenance)) {
                    String base = "http://127.0.0.1:" + server.httpPort();
                    awaitCovered(base);
                    JsonNode status = JSON.readTree(get(base + "/v1/status").body());
                    for (JsonNode p : status.path("partitions")) {
                        assertThat(p.path("storage").path("restored_from").asText()).as("%s", p).isEqualTo("replay-topic");
                        assertThat(p.path("base").isNull()).as("rebuilt from the topic, hot only until compacted: %s", p).isTrue();
                    }
                    assertExactEqualsBruteForce(base, r);
                    assertThat(status.path("totals").path("live").asInt()).isEqualTo(live.size());
                }
            }
        }
    }

    /** {@code inserts} new ids from {@code first}, then {@code deletes} random deletes/replacements of existing ones. */
    private void churn(KafkaProducer<String, String> producer, Random r, int first, int inserts, int changes) throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = first; i < first + inserts; i++) sent.add(upsert(producer, "doc-" + i, vector(r)));
        for (int i = 0; i < changes; i++) {
            String id = "doc-" + r.nextInt(first + inserts);
            if (r.nextBoolean()) {
                live.remove(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, null)));
            } else {
                sent.add(upsert(producer, id, vector(r)));
            }
        }
        awaitSent(sent);
    }

    private void assertExactEqualsBruteForce(String base, Random r) throws Exception {
        for (int q = 0; q < 10; q++) {
            float[] query = vector(r);
            HttpResponse<String> resp = post(base + "/v1/search", searchBody(query, 10, true, null), null);
            assertThat(resp.statusCode()).isEqualTo(200);
            assertThat(ids(JSON.readTree(resp.body()))).isEqualTo(bruteForce(query, 10));
        }
    }

    private void readYourWrites(String base, KafkaProducer<String, String> producer) throws Exception {
        float[] v = new float[DIM];
        java.util.Arrays.fill(v, 50f);
        RecordMetadata m = upsert(producer, "ryw-1", v).get();
        String body = searchBody(v, 1, true, Map.of(String.valueOf(m.partition()), m.offset() + 1));
        HttpResponse<String> covered = post(base + "/v1/search", body, null);
        assertThat(covered.statusCode()).as(covered.body()).isEqualTo(200);
        JsonNode answer = JSON.readTree(covered.body());
        assertThat(ids(answer)).containsExactly("ryw-1");

        HttpResponse<String> behind = post(base + "/v1/search", searchBody(v, 1, false, Map.of("0", 1_000_000_000L)), null);
        assertThat(behind.statusCode()).isEqualTo(503);
        JsonNode error = JSON.readTree(behind.body()).path("error");
        assertThat(error.path("code").asText()).isEqualTo("behind");
        assertThat(error.path("message").asText()).contains("0 (at ").contains("need 1000000000");

        assertThat(post(base + "/v1/search", searchBody(v, 1, false, Map.of("0", -1L)), null).statusCode()).isEqualTo(400);
        assertThat(post(base + "/v1/search", searchBody(v, 1, false, Map.of("zero", 1L)), null).statusCode()).isEqualTo(400);
    }

    private JsonNode awaitJob(String base, String job) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/v1/admin/rebuild/" + job))
                    .header("Authorization", "Bearer " + TOKEN).GET().build(); // ignored where no token is set
            JsonNode n = JSON.readTree(http.send(req, HttpResponse.BodyHandlers.ofString()).body());
            String state = n.path("state").asText();
            assertThat(state).isIn("queued", "running", "done");
            assertThat(n.path("percent").asInt()).isBetween(0, 100);
            if (state.equals("done")) return n;
            Thread.sleep(50);
        }
        throw new AssertionError("job " + job + " did not finish");
    }

    private static float[] vector(Random r) {
        float[] v = new float[DIM];
        int c = r.nextInt(DIM);
        for (int d = 0; d < DIM; d++) v[d] = (d == c ? 5f : 0f) + (float) r.nextGaussian();
        return v;
    }

    private Future<RecordMetadata> upsert(KafkaProducer<String, String> producer, String id, float[] v) {
        live.put(id, v);
        StringBuilder sb = new StringBuilder("{\"vector\":[");
        for (int d = 0; d < v.length; d++) sb.append(d == 0 ? "" : ",").append(v[d]);
        return producer.send(new ProducerRecord<>(TOPIC, id, sb.append("]}").toString()));
    }

    private void awaitSent(List<Future<RecordMetadata>> sent) throws Exception {
        for (Future<RecordMetadata> f : sent) {
            RecordMetadata m = f.get();
            end.merge(m.partition(), m.offset() + 1, Math::max);
        }
    }

    private static KafkaProducer<String, String> producer(String bootstrap) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.LINGER_MS_CONFIG, 2));
    }

    /** Waits, with read-your-writes itself, until every partition covers what was produced. */
    private void awaitCovered(String base) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        Map<String, Long> min = new HashMap<>();
        end.forEach((p, o) -> min.put(String.valueOf(p), o));
        while (System.nanoTime() < deadline) {
            if (post(base + "/v1/search", searchBody(new float[DIM], 1, false, min), null).statusCode() == 200) return;
        }
        throw new AssertionError("partitions did not reach " + end);
    }

    private static String searchBody(float[] v, int k, boolean exact, Map<String, Long> minOffsets) throws Exception {
        ObjectNode body = JSON.createObjectNode();
        var arr = body.putArray("vector");
        for (float f : v) arr.add(f);
        body.put("k", k).put("exact", exact);
        if (minOffsets != null) {
            ObjectNode m = body.putObject("min_offsets");
            minOffsets.forEach(m::put);
        }
        return JSON.writeValueAsString(body);
    }

    private HttpResponse<String> post(String url, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (token != null) b.header("Authorization", "Bearer " + token);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String url) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private List<String> bruteForce(float[] q, int k) {
        return ExactReference.topK(live, q, k);
    }

    private static List<String> ids(JsonNode response) {
        return ExactReference.ids(response);
    }
}
