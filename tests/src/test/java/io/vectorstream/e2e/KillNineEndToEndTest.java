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
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Kill -9 of a forked server JVM, restarted on the same data directory each time:
 * <ol>
 *   <li>during ingestion, once every shard has checkpointed a snapshot (waited for, so the restart must take the
 *       snapshot + change-log path, which is asserted from {@code /v1/status});</li>
 *   <li>while a rebuild is running (an operator rebuild, killed once its job reports it running);</li>
 *   <li>at a random moment of ingestion.</li>
 * </ol>
 * Afterwards the index holds exactly the topic's live set (no loss, no duplicate, no resurrected delete), checked by
 * exact search, by id and by count. Throughout — before each kill and while the server recovers — a client polls a
 * dozen ids that are updated again and again (each version numbered in its metadata) and deleted now and then: it
 * must never see an older version of an id after a newer one, nor an id again after seeing it deleted. Run under
 * at-least-once and under exactly-once v2.
 */
class KillNineEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 8;
    private static final String TOPIC = "crash";
    private static final int TRACKED = 12;

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Map<String, float[]> live = new LinkedHashMap<>();
    private final List<String> deleted = new ArrayList<>();
    private final Map<Integer, Long> end = new HashMap<>();
    private final AtomicLong seq = new AtomicLong();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final AtomicLong observations = new AtomicLong();
    private final AtomicLong observationsWhileRecovering = new AtomicLong();
    private volatile boolean recovering;
    private String guarantee;
    private int port;
    private int next;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"at_least_once", "exactly_once_v2"})
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void theIndexEqualsTheTopicAndNeverMovesBackAcrossKills(String guarantee) throws Exception {
        this.guarantee = guarantee;
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            Random r = new Random(Long.getLong("vectorstream.kill.seed", System.nanoTime()));
            AtomicBoolean polling = new AtomicBoolean(true);
            Thread poller = new Thread(() -> poll(polling), "version-poller");
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.LINGER_MS_CONFIG, 2))) {
                Process server = start(bootstrap, 0);
                poller.start();

                // 1. during ingestion, after every shard checkpointed a snapshot
                while (!allCheckpointed()) {
                    produceChunk(producer, r);
                    Thread.sleep(50);
                }
                for (int chunk = 0; chunk < 3; chunk++) produceChunk(producer, r); // after the snapshot: in the change log
                List<Future<RecordMetadata>> inFlight = produceAsync(producer, r);
                kill(server);
                await(inFlight);
                server = start(bootstrap, 1);
                assertRestoredFrom("snapshot-and-log");

                // 2. while a rebuild runs
                produceChunk(producer, r);
                awaitCovered();
                boolean killedDuringRebuild = false;
                for (int attempt = 0; attempt < 20 && !killedDuringRebuild; attempt++) {
                    produceChunk(producer, r);
                    killedDuringRebuild = killWhileRebuilding(server);
                }
                assertThat(killedDuringRebuild).as("killed while a rebuild was running").isTrue();
                server = start(bootstrap, 2);
                assertRestoredFrom("snapshot-and-log");

                // 3. at a random moment of ingestion
                int killAfter = r.nextInt(6);
                for (int chunk = 0; chunk < 6; chunk++) {
                    produceChunk(producer, r);
                    if (chunk == killAfter) kill(server);
                }
                server = start(bootstrap, 3);

                produceChunk(producer, r);
                try {
                    awaitCovered();
                    Thread.sleep(300); // the poller sees the final state too
                    polling.set(false);
                    poller.join(10_000);
                    verify(r);
                    assertThat(violations).as("a reader saw an id move back or a deleted id come back").isEmpty();
                    assertThat(observations.get()).as("the poller read versions").isGreaterThan(100);
                    assertThat(observationsWhileRecovering.get()).as("the poller read during recovery").isPositive();
                } finally {
                    polling.set(false);
                    server.destroy();
                    server.waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    // ---- the reader: versions of the tracked ids only move forward ----

    private void poll(AtomicBoolean polling) {
        Map<String, Long> minNext = new ConcurrentHashMap<>(); // a 200 must show at least this version
        Map<String, Long> lastSeen = new ConcurrentHashMap<>();
        while (polling.get()) {
            for (int i = 0; i < TRACKED && polling.get(); i++) {
                String id = "hot-" + i;
                HttpResponse<String> resp;
                try {
                    // a short deadline: an id in a partition still restoring answers 503 at once instead of waiting
                    // for it, so the poller keeps reading the partitions that are back
                    resp = http.send(get("/v1/vectors/" + id + "?timeout_ms=200"), HttpResponse.BodyHandlers.ofString());
                } catch (Exception down) {
                    continue; // the server is down or starting
                }
                if (resp.statusCode() == 200) {
                    long version;
                    try {
                        version = JSON.readTree(JSON.readTree(resp.body()).path("metadata").asText("{}")).path("seq").asLong(-1);
                        if (version < 0) version = JSON.readTree(resp.body()).path("metadata").path("seq").asLong(-1);
                    } catch (Exception e) {
                        violations.add(id + ": unreadable answer " + resp.body());
                        continue;
                    }
                    long min = minNext.getOrDefault(id, 0L);
                    if (version < min) {
                        violations.add(id + ": saw version " + version + " after " + (min - 1) + (lastSeen.containsKey(id)
                                && lastSeen.get(id) < min - 1 ? " was deleted" : "") + (recovering ? " (recovering)" : ""));
                    }
                    minNext.put(id, Math.max(min, version));
                    lastSeen.put(id, version);
                } else if (resp.statusCode() == 404) {
                    Long seen = lastSeen.get(id);
                    if (seen != null) minNext.merge(id, seen + 1, Math::max); // deleted after `seen`: only newer may come
                } else {
                    continue; // 503 while partitions restore
                }
                observations.incrementAndGet();
                if (recovering) observationsWhileRecovering.incrementAndGet();
            }
        }
    }

    // ---- server life ----

    private Process start(String bootstrap, int run) throws Exception {
        recovering = run > 0;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                "io.vectorstream.app.Main", "serve", "--bootstrap-servers", bootstrap, "--topic", TOPIC,
                "--partitions", "2", "--replication-factor", "1", "--dim", String.valueOf(DIM),
                "--data-dir", dataDir.resolve("server").toString(), "--http-host", "127.0.0.1",
                "--http-port", String.valueOf(port), "--application-id", "kill-e2e", "--train-threshold", "300",
                "--batch-max-records", "100", "--compaction-min-vectors", "1000", "--compaction-hot-ratio", "0.3",
                "--compaction-tombstone-ratio", "0.1", "--search-threads", "1", "--processing-guarantee", guarantee,
                "--streams-property", "consumer.session.timeout.ms=6000",
                "--streams-property", "consumer.heartbeat.interval.ms=1000"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dataDir.resolve("server-" + guarantee + "-" + run + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new AssertionError("server exited with " + p.exitValue() + "; see " + dataDir);
            try {
                JsonNode status = status();
                if (status != null && status.path("partitions").size() == 2) {
                    // Recovery lasts until the restarted server has caught up with everything produced before it
                    // started: the window in which a rolled-back index would show (the poller reads throughout).
                    if (run > 0) awaitCovered();
                    recovering = false;
                    return p;
                }
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new AssertionError("server did not start");
    }

    private void kill(Process server) throws InterruptedException {
        recovering = true;
        server.destroyForcibly(); // SIGKILL
        server.waitFor(30, TimeUnit.SECONDS);
    }

    private JsonNode status() throws Exception {
        HttpResponse<String> status = http.send(get("/v1/status"), HttpResponse.BodyHandlers.ofString());
        return status.statusCode() == 200 ? JSON.readTree(status.body()) : null;
    }

    private boolean allCheckpointed() throws Exception {
        JsonNode status = status();
        if (status == null || status.path("partitions").size() < 2) return false;
        for (JsonNode p : status.path("partitions")) if (p.path("storage").path("checkpoint_offset").asLong(-1) < 0) return false;
        return true;
    }

    private void assertRestoredFrom(String path) throws Exception {
        JsonNode status = status();
        assertThat(status).isNotNull();
        for (JsonNode p : status.path("partitions")) {
            assertThat(p.path("storage").path("restored_from").asText()).as("partition %s restored from", p.path("partition"))
                    .isEqualTo(path);
        }
    }

    /** Asks for a rebuild and kills the server once its job reports running; false when it finished first. */
    private boolean killWhileRebuilding(Process server) throws Exception {
        HttpResponse<String> queued = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/admin/rebuild"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(queued.statusCode()).as(queued.body()).isEqualTo(202);
        String job = JSON.readTree(queued.body()).path("job").asText();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            JsonNode state = JSON.readTree(http.send(get("/v1/admin/rebuild/" + job), HttpResponse.BodyHandlers.ofString()).body());
            String s = state.path("state").asText();
            if ("running".equals(s) && !"persist".equals(state.path("phase").asText())) {
                kill(server);
                return true;
            }
            if ("done".equals(s) || "failed".equals(s)) return false;
            Thread.sleep(2);
        }
        return false;
    }

    // ---- the writer ----

    /** 400 operations: inserts, replacements and deletes, and a new version (or a delete) of every tracked id. */
    private void produceChunk(KafkaProducer<String, String> producer, Random r) throws Exception {
        await(produceAsync(producer, r));
    }

    private List<Future<RecordMetadata>> produceAsync(KafkaProducer<String, String> producer, Random r) {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            int kind = next < 2000 ? 0 : r.nextInt(5);
            String id;
            if (kind <= 2) {
                id = "k-" + next++;
            } else {
                id = "k-" + r.nextInt(next);
            }
            sent.add(kind == 4 ? delete(producer, id) : upsert(producer, id, vector(r)));
        }
        for (int i = 0; i < TRACKED; i++) {
            String id = "hot-" + i;
            sent.add(r.nextInt(6) == 0 ? delete(producer, id) : upsert(producer, id, vector(r)));
        }
        return sent;
    }

    private Future<RecordMetadata> upsert(KafkaProducer<String, String> producer, String id, float[] v) {
        live.put(id, v);
        deleted.remove(id);
        return producer.send(new ProducerRecord<>(TOPIC, id, json(v, seq.incrementAndGet())));
    }

    private Future<RecordMetadata> delete(KafkaProducer<String, String> producer, String id) {
        seq.incrementAndGet();
        if (live.remove(id) != null) deleted.add(id);
        return producer.send(new ProducerRecord<>(TOPIC, id, null));
    }

    private void await(List<Future<RecordMetadata>> sent) throws Exception {
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
        throw new AssertionError("the server did not reach " + end);
    }

    // ---- the final check ----

    private void verify(Random r) throws Exception {
        JsonNode status = status();
        assertThat(status.path("totals").path("live").asInt()).as("live count (no loss, no duplicates)").isEqualTo(live.size());
        for (int q = 0; q < 15; q++) {
            float[] query = vector(r);
            assertThat(ids(search(query, 10))).isEqualTo(ExactReference.topK(live, query, 10));
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

    private static String json(float[] v, long seq) {
        StringBuilder sb = new StringBuilder("{\"vector\":[");
        for (int d = 0; d < v.length; d++) sb.append(d == 0 ? "" : ",").append(v[d]);
        return sb.append("],\"metadata\":{\"seq\":").append(seq).append("}}").toString();
    }

    private static List<String> ids(JsonNode response) {
        return ExactReference.ids(response);
    }
}
