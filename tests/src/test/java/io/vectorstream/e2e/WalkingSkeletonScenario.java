package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vectorstream.app.ServerSettings;
import io.vectorstream.app.VectorstreamServer;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.DeadLetterHeaders;
import io.vectorstream.streams.TopologySettings;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The walking-skeleton scenario, against whichever real broker it is given: plain KafkaProducer
 * upserts, replacements, tombstones and bad events; then, over real HTTP, exact results equal a
 * brute-force reference over the live set, default-nprobe recall@10 >= 0.9, deleted ids are never
 * returned, a replaced vector is found at its new place, and each bad event is in the DLQ with its
 * reason. Finally the server is restarted on the same data directory and must serve the same set.
 */
final class WalkingSkeletonScenario {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 24;
    private static final int COUNT = 3000;
    private static final String TOPIC = "embeddings";

    private final String bootstrap;
    private final Path dataDir;
    private final HttpClient http = HttpClient.newHttpClient();
    private final Random random = new Random(1234);
    /** The live set as the test believes it to be: id -> vector. */
    private final Map<String, float[]> live = new LinkedHashMap<>();

    /** {@code --device} for the server, and what /v1/status must then say of every partition ("cpu" or "cuda"). */
    private final String device;
    private final String expectedBackend;

    WalkingSkeletonScenario(String bootstrap, Path dataDir) {
        // --device auto: the CPU wherever no CUDA driver is found (CI), CUDA where one is
        this(bootstrap, dataDir, "auto", io.vectorstream.kernels.cuda.CudaDriver.probe().available() ? "cuda" : "cpu");
    }

    WalkingSkeletonScenario(String bootstrap, Path dataDir, String device, String expectedBackend) {
        this.bootstrap = bootstrap;
        this.dataDir = dataDir;
        this.device = device;
        this.expectedBackend = expectedBackend;
    }

    private ServerSettings settings() {
        IndexConfig index = new IndexConfig(DIM, Metric.L2, 0, 400, 8, 42L); // trains IVF lists well before COUNT
        return new ServerSettings(bootstrap, null, TOPIC, 2, (short) 1, "e2e-" + Math.abs(dataDir.hashCode()), dataDir,
                1, "127.0.0.1", 0, 16 << 20, 2, null, index,
                new TopologySettings(TOPIC, DIM, 1 << 20, 500)).withDevice(device);
    }

    void run() throws Exception {
        Map<Integer, Long> endOffsets;
        try (VectorstreamServer server = VectorstreamServer.start(settings())) {
            String base = "http://127.0.0.1:" + server.httpPort();
            endOffsets = produceEverything();
            awaitCovered(base, endOffsets);

            assertExactEqualsBruteForce(base);
            assertDefaultRecall(base);
            assertFilteredEqualsBruteForce(base);
            assertDeletedNeverReturned(base);
            assertReplacedFoundAtNewPlace(base);
            assertGetById(base);
            assertDeadLetters();
            assertOperatorMetrics(base);
            assertThat(get(base, "/health/live").statusCode()).isEqualTo(200);
            assertBackend(base, true);
        }
        // A restart on the same data directory serves exactly the same live set.
        try (VectorstreamServer server = VectorstreamServer.start(settings())) {
            String base = "http://127.0.0.1:" + server.httpPort();
            awaitCovered(base, endOffsets);
            assertExactEqualsBruteForce(base);
            assertFilteredEqualsBruteForce(base);
            assertDeletedNeverReturned(base);
            assertBackend(base, true);
        }
    }

    /** /v1/status says where every partition searched: all on "cpu", or all on "cuda:N" with searches answered there. */
    private void assertBackend(String base, boolean searched) throws Exception {
        JsonNode status = JSON.readTree(get(base, "/v1/status").body());
        assertThat(status.path("backend").path("kind").asText()).as("backend in %s", status).isEqualTo(expectedBackend);
        assertThat(status.path("backend").path("reason").asText()).isNotBlank();
        assertThat(status.path("partitions").size()).isEqualTo(2);
        for (JsonNode p : status.path("partitions")) {
            if (expectedBackend.equals("cpu")) {
                assertThat(p.path("device").asText()).isEqualTo("cpu");
                assertThat(p.path("device_bytes").asLong()).isZero();
            } else {
                assertThat(p.path("device").asText()).as("partition on a device: %s", p).startsWith("cuda:");
                assertThat(p.path("device_bytes").asLong()).isPositive();
                if (searched) assertThat(p.path("device_searches").asLong()).as("device answered searches: %s", p).isPositive();
            }
        }
        if (expectedBackend.equals("cuda")) {
            assertThat(status.path("backend").path("devices").size()).isPositive();
            long used = 0;
            for (JsonNode d : status.path("backend").path("devices")) {
                assertThat(d.path("total_bytes").asLong()).isPositive();
                used += d.path("used_bytes").asLong();
            }
            assertThat(used).isPositive();
        }
    }

    // ---- producing ----

    private final List<String> deleted = new ArrayList<>();
    private final List<String> replaced = new ArrayList<>();
    /** The metadata field {@code n} of each live id that has one (replacements carry no metadata). */
    private final Map<String, Integer> liveN = new HashMap<>();
    private final Map<String, String> badEventCodes = new LinkedHashMap<>();

    private Map<Integer, Long> produceEverything() throws Exception {
        Map<Integer, Long> end = new HashMap<>();
        float[][] centres = new float[12][DIM];
        for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = (float) random.nextGaussian() * 3;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.LINGER_MS_CONFIG, 5))) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < COUNT; i++) {
                float[] v = near(centres[random.nextInt(centres.length)]);
                String id = "doc-" + i;
                live.put(id, v);
                liveN.put(id, i);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, upsertJson(v, "{\"n\":" + i + "}"))));
            }
            for (int i = 0; i < 150; i++) { // replacements, far from where they were
                String id = "doc-" + (i * 7);
                float[] v = near(centres[(i * 5) % centres.length]);
                for (int d = 0; d < DIM; d++) v[d] += 8f;
                live.put(id, v);
                liveN.remove(id);
                replaced.add(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, upsertJson(v, null))));
            }
            for (int i = 0; i < 150; i++) { // tombstones, plus one for an id that never existed
                String id = "doc-" + (i * 11 + 3);
                liveN.remove(id);
                if (live.remove(id) != null) deleted.add(id);
                replaced.remove(id);
                sent.add(producer.send(new ProducerRecord<>(TOPIC, id, null)));
            }
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "no-such-id", null)));
            badEventCodes.put("bad-json", "unparseable");
            badEventCodes.put("bad-dim", "wrong_dimension");
            badEventCodes.put("bad-inf", "non_finite");
            badEventCodes.put("bad-field", "unknown_field");
            badEventCodes.put("bad-novector", "missing_vector");
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "bad-json", "{\"vector\": [1, 2")));
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "bad-dim", "{\"vector\":[1,2,3]}")));
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "bad-inf", upsertJson(new float[DIM], null).replaceFirst("0\\.0", "1e400"))));
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "bad-field", "{\"extra\":true,\"vector\":[]}")));
            sent.add(producer.send(new ProducerRecord<>(TOPIC, "bad-novector", "{\"metadata\":{\"a\":1}}")));
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = f.get();
                end.merge(m.partition(), m.offset() + 1, Math::max);
            }
        }
        return end;
    }

    private float[] near(float[] centre) {
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = centre[d] + (float) random.nextGaussian();
        return v;
    }

    private static String upsertJson(float[] v, String metadata) throws Exception {
        ObjectNode n = JSON.createObjectNode();
        var arr = n.putArray("vector");
        for (float f : v) arr.add(f);
        if (metadata != null) n.set("metadata", JSON.readTree(metadata));
        return JSON.writeValueAsString(n);
    }

    /** Waits until /v1/status shows every partition's applied offset at the produced end. */
    private void awaitCovered(String base, Map<Integer, Long> end) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        JsonNode status = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = get(base, "/v1/status");
            if (r.statusCode() == 200) {
                status = JSON.readTree(r.body());
                Map<Integer, Long> applied = new HashMap<>();
                for (JsonNode p : status.path("partitions")) applied.put(p.path("partition").asInt(), p.path("applied_offset").asLong());
                boolean all = end.entrySet().stream().allMatch(e -> applied.getOrDefault(e.getKey(), -1L) >= e.getValue());
                if (all) return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("ingestion did not reach " + end + " within 120 s; last status " + status);
    }

    // ---- assertions over HTTP ----

    private void assertExactEqualsBruteForce(String base) throws Exception {
        for (int q = 0; q < 20; q++) {
            float[] query = near(live.values().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow());
            List<String> expected = bruteForce(query, 10);
            JsonNode r = search(base, query, 10, true);
            assertThat(ids(r)).as("exact search equals brute force over the live set").isEqualTo(expected);
            JsonNode first = r.path("results").path(0);
            assertThat(first.path("score").floatValue())
                    .isCloseTo(l2(query, live.get(expected.get(0))), org.assertj.core.data.Percentage.withPercentage(0.1));
            assertThat(r.path("snapshot").path("offsets").size()).isEqualTo(2);
        }
    }

    private void assertDefaultRecall(String base) throws Exception {
        int queries = 60, hits = 0;
        for (int q = 0; q < queries; q++) {
            float[] query = near(live.values().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow());
            Set<String> truth = new HashSet<>(bruteForce(query, 10));
            for (String id : ids(search(base, query, 10, false))) if (truth.contains(id)) hits++;
        }
        double recall = hits / (queries * 10.0);
        System.out.printf("e2e: default-nprobe recall@10 = %.3f over %d queries%n", recall, queries);
        assertThat(recall).isGreaterThanOrEqualTo(0.9);
    }

    /**
     * Filtered searches: a 10 % range and a handful of ids by {@code $in}. Exact answers equal brute force over the
     * matching live set; approximate ones hold only matches, min(k, matching) of them, at recall@10 >= 0.9; each
     * partition says which plan it ran.
     */
    private void assertFilteredEqualsBruteForce(String base) throws Exception {
        int bound = COUNT / 10;
        List<Integer> few = List.of(5, 17, 29, 41, 53, 65, 77, 89);
        Map<String, java.util.function.IntPredicate> filters = Map.of(
                "{\"n\":{\"$lt\":" + bound + "}}", n -> n < bound,
                "{\"n\":{\"$in\":" + few + "}}", few::contains);
        double found = 0, wanted = 0;
        for (var f : filters.entrySet()) {
            java.util.function.IntPredicate keep = f.getValue();
            Map<String, float[]> matching = new HashMap<>();
            liveN.forEach((id, n) -> {
                if (keep.test(n)) matching.put(id, live.get(id));
            });
            for (int i = 0; i < 10; i++) {
                float[] query = near(live.values().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow());
                List<String> truth = ExactReference.topK(matching, query, 10);
                JsonNode exact = search(base, query, 10, true, f.getKey());
                assertThat(ids(exact)).as("filtered exact search %s equals brute force", f.getKey()).isEqualTo(truth);
                assertThat(exact.path("plan").size()).as("a plan per partition: %s", exact).isEqualTo(2);
                JsonNode approx = search(base, query, 10, false, f.getKey());
                List<String> got = ids(approx);
                assertThat(got).hasSize(Math.min(10, matching.size()));
                assertThat(matching.keySet()).as("only matching vectors").containsAll(got);
                for (String id : truth) if (got.contains(id)) found++;
                wanted += truth.size();
            }
        }
        assertThat(found / wanted).as("filtered recall@10").isGreaterThanOrEqualTo(0.9);
    }

    private void assertDeletedNeverReturned(String base) throws Exception {
        assertThat(deleted).hasSizeGreaterThan(100);
        Set<String> gone = new HashSet<>(deleted);
        for (int i = 0; i < 40; i++) {
            // Query right where a deleted vector would have been (the nearest live vectors around it).
            float[] query = near(live.values().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow());
            for (String id : ids(search(base, query, 100, true))) assertThat(gone).doesNotContain(id);
            for (String id : ids(search(base, query, 100, false))) assertThat(gone).doesNotContain(id);
        }
        assertThat(get(base, "/v1/vectors/" + deleted.get(0)).statusCode()).isEqualTo(404);
    }

    private void assertReplacedFoundAtNewPlace(String base) throws Exception {
        assertThat(replaced).isNotEmpty();
        for (String id : replaced.subList(0, Math.min(20, replaced.size()))) {
            JsonNode r = search(base, live.get(id), 1, false);
            assertThat(ids(r)).as("replaced %s is found at its new vector", id).containsExactly(id);
            assertThat(r.path("results").path(0).path("score").floatValue()).isLessThan(1e-3f);
        }
    }

    private void assertGetById(String base) throws Exception {
        String id = "doc-1";
        HttpResponse<String> r = get(base, "/v1/vectors/" + URLEncoder.encode(id, StandardCharsets.UTF_8));
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.path("id").asText()).isEqualTo(id);
        assertThat(body.path("metadata").path("n").asInt()).isEqualTo(1);
        float[] expected = live.get(id);
        for (int d = 0; d < DIM; d++) assertThat(body.path("vector").path(d).floatValue()).isEqualTo(expected[d]);
    }

    private void assertDeadLetters() {
        Map<String, String> found = new HashMap<>();
        Map<String, String> reasons = new HashMap<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "e2e-dlq-reader-" + System.nanoTime(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class))) {
            consumer.subscribe(List.of(TOPIC + ".dlq"));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (found.size() < badEventCodes.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    found.put(r.key(), new String(r.headers().lastHeader(DeadLetterHeaders.ERROR_CODE).value(), StandardCharsets.UTF_8));
                    reasons.put(r.key(), new String(r.headers().lastHeader(DeadLetterHeaders.ERROR_REASON).value(), StandardCharsets.UTF_8));
                }
            }
        }
        assertThat(found).isEqualTo(badEventCodes);
        assertThat(reasons.get("bad-dim")).contains("expected " + DIM);
    }

    /**
     * /metrics has what an operator needs (issue 13): freshness observed for every applied record, consumer lag per
     * partition (caught up: 0 records, 0 s), dead letters by code, and the live recall estimate fed by the searches above.
     */
    private void assertOperatorMetrics(String base) throws Exception {
        long applied = live.size(); // at least this many records became searchable (replacements and deletes add more)
        String metrics = "";
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            metrics = get(base, "/metrics").body();
            if (metrics.contains("vectorstream_recall_estimate{partition=\"all\"}") && metric(metrics, "vectorstream_consumer_lag_records{partition=\"0\"}") == 0) break;
            for (float[] v : live.values().stream().limit(50).toList()) search(base, v, 10, false);
            Thread.sleep(200);
        }
        assertThat(metric(metrics, "vectorstream_freshness_seconds_count")).isGreaterThanOrEqualTo(applied);
        assertThat(metric(metrics, "vectorstream_freshness_seconds_bucket{le=\"+Inf\"}")).isGreaterThanOrEqualTo(applied);
        for (int p = 0; p < 2; p++) {
            assertThat(metric(metrics, "vectorstream_consumer_lag_records{partition=\"" + p + "\"}")).as("caught up: partition %d", p).isEqualTo(0);
            assertThat(metric(metrics, "vectorstream_consumer_lag_seconds{partition=\"" + p + "\"}")).isEqualTo(0);
        }
        for (String code : new java.util.TreeSet<>(badEventCodes.values())) {
            assertThat(metrics).contains("vectorstream_dead_letters_total{code=\"" + code + "\"}");
        }
        assertThat(metrics).as("described").contains("# HELP vectorstream_events_total Events taken from the input topic")
                .contains("# HELP vectorstream_dead_letters_total Bad events sent to the dead-letter topic");
        double recall = metric(metrics, "vectorstream_recall_estimate{partition=\"all\"}");
        assertThat(recall).as("the live recall estimate of default searches").isBetween(0.8, 1.0);
    }

    /** The value of the series {@code series} (its name and labels exactly as exposed) in a Prometheus text scrape. */
    private static double metric(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) return Double.parseDouble(line.substring(series.length() + 1).trim());
        }
        throw new AssertionError("no series " + series + " in /metrics");
    }

    // ---- helpers ----

    private List<String> bruteForce(float[] query, int k) {
        return live.entrySet().stream()
                .sorted(Comparator.comparingDouble(e -> l2(query, e.getValue())))
                .limit(k).map(Map.Entry::getKey).toList();
    }

    private static float l2(float[] a, float[] b) {
        float s = 0;
        for (int i = 0; i < a.length; i++) {
            float d = a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    private JsonNode search(String base, float[] query, int k, boolean exact) throws Exception {
        return search(base, query, k, exact, null);
    }

    private JsonNode search(String base, float[] query, int k, boolean exact, String filter) throws Exception {
        ObjectNode body = JSON.createObjectNode();
        var arr = body.putArray("vector");
        for (float f : query) arr.add(f);
        body.put("k", k).put("exact", exact);
        if (filter != null) body.set("filter", JSON.readTree(filter));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("search answered %s", r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    private static List<String> ids(JsonNode response) {
        List<String> out = new ArrayList<>();
        response.path("results").forEach(h -> out.add(h.path("id").asText()));
        return out;
    }

    private HttpResponse<String> get(String base, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
