package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Three forked server processes with one application id over a 6-partition topic on one in-JVM broker: every
 * instance answers for the whole topic (exact answers equal brute force over the whole live set, and name all six
 * partitions); after kill -9 of one, no 200 answer lacks a partition without saying so (503
 * {@code partitions_unavailable}, or 200 with {@code snapshot.missing} when partial answers are allowed), complete
 * exact answers come back at the survivors (the time is printed), and writes made after the kill are visible there.
 * Then, under a steady query load, the killed instance restarts and takes shards back, and all three restart one
 * after another: no query fails (the servers retry a moving partition at its new owner within the deadline).
 */
class ScaleOutEndToEndTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DIM = 8, PARTITIONS = 6;
    private static final String TOPIC = "scale";

    @TempDir
    Path dataDir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void everyInstanceAnswersForTheWholeTopicAndSurvivesTheLossOfOne() throws Exception {
        try (KafkaClusterTestKit cluster = InJvmKafka.start();
             TopicWriter writer = new TopicWriter(cluster.bootstrapServers(), TOPIC, DIM)) {
            String bootstrap = cluster.bootstrapServers();
            int[] ports = {freePort(), freePort(), freePort()};
            List<Process> servers = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) servers.add(start(bootstrap, i, ports[i]));
                Random r = new Random(5);
                writer.churn(r, 3000, 300);
                for (int port : ports) awaitComplete(port, writer, 90);

                for (int port : ports) assertExactOverTheWholeTopic(port, writer, r, 8);
                assertClusterStatus(ports, writer.end, writer.live.size());
                assertRebuildAtANonOwner(ports);

                // kill -9 the instance that holds the most active shards: they are unavailable until Kafka Streams
                // moves them (a late joiner may hold only standby copies at first)
                int victim = 0, most = -1;
                for (int i = 0; i < 3; i++) {
                    int held = localPartitions(ports[i]).size();
                    if (held > most) {
                        most = held;
                        victim = i;
                    }
                }
                assertThat(most).as("some instance holds active shards").isPositive();
                servers.get(victim).destroyForcibly();
                servers.get(victim).waitFor(30, TimeUnit.SECONDS);
                int[] survivors = new int[2];
                for (int i = 0, j = 0; i < 3; i++) if (i != victim) survivors[j++] = ports[i];
                long killed = System.nanoTime();
                int partialAnswers = 0, unavailableAnswers = 0, completeAnswers = 0, staleAnswers = 0;
                long recoveredAfterMs = -1;
                float[] q = writer.vector(r);
                while (System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(90)) {
                    // a short deadline: the server retries the lost partitions at their new owners within it, then says
                    // what it lacks (with the default 10 s deadline a search would mostly wait out the failover)
                    HttpResponse<String> resp = http.send(post(survivors[0], "/v1/search",
                            body(q, false, false, null).replaceFirst("^\\{", "{\"timeout_ms\":800,")), HttpResponse.BodyHandlers.ofString());
                    if (resp.statusCode() == 503) {
                        assertThat(json(resp).path("error").path("code").asText()).as(resp.body())
                                .isIn("partitions_unavailable", "overloaded", "deadline_exceeded");
                        unavailableAnswers++;
                        HttpResponse<String> partial = search(survivors[0], q, false, true);
                        assertThat(partial.statusCode()).as(partial.body()).isEqualTo(200);
                        JsonNode snapshot = json(partial).path("snapshot");
                        assertThat(snapshot.path("offsets").size() + snapshot.path("missing").size())
                                .as("a partial answer names what it lacks: %s", snapshot).isEqualTo(PARTITIONS);
                        if (snapshot.path("missing").size() > 0) partialAnswers++;
                        // the same search allowing standby copies: complete and exact (the copies are current, and
                        // min_offsets asks for every write), the copies' partitions listed as stale
                        HttpResponse<String> fromCopies = http.send(post(survivors[0], "/v1/search",
                                body(q, true, false, writer).replaceFirst("^\\{", "{\"allow_stale\":true,\"timeout_ms\":3000,")),
                                HttpResponse.BodyHandlers.ofString());
                        if (fromCopies.statusCode() == 200) {
                            JsonNode copied = json(fromCopies);
                            assertThat(copied.path("snapshot").path("offsets").size()).as("allow_stale: %s", fromCopies.body())
                                    .isEqualTo(PARTITIONS);
                            if (copied.path("snapshot").path("stale").size() > 0) {
                                staleAnswers++;
                                assertSameNeighbours(copied, writer, q);
                            }
                        } else {
                            assertThat(fromCopies.statusCode()).as(fromCopies.body()).isEqualTo(503);
                        }
                    } else {
                        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
                        assertThat(json(resp).path("snapshot").path("offsets").size())
                                .as("a 200 without allow_partial covers every partition: %s", resp.body()).isEqualTo(PARTITIONS);
                        completeAnswers++;
                        if (completeAnswers >= 3 && unavailableAnswers > 0) {
                            recoveredAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
                            break;
                        }
                    }
                    Thread.sleep(50);
                }
                System.out.printf("scale-out (standby replicas %s): after kill -9 of one of three instances, %d answers"
                                + " were 503 (partial with allow_partial: %d), complete again after %d ms%n",
                        System.getProperty("vectorstream.scaleout.standbys", "1"), unavailableAnswers, partialAnswers,
                        recoveredAfterMs);
                System.out.printf("scale-out: %d of those 503s were answered completely and exactly from standby copies"
                        + " with allow_stale%n", staleAnswers);
                assertThat(unavailableAnswers).as("the loss was reported, never answered silently").isPositive();
                if (!"0".equals(System.getProperty("vectorstream.scaleout.standbys", "1"))) {
                    assertThat(staleAnswers).as("with standbys, allow_stale answered from the copies while the owner was gone")
                            .isPositive();
                }
                assertThat(recoveredAfterMs).as("complete answers again at the survivors").isPositive();

                writer.churn(r, 300, 50); // writes after the kill: visible at every survivor
                for (int port : survivors) {
                    awaitComplete(port, writer, 60);
                    assertExactOverTheWholeTopic(port, writer, r, 5);
                }

                // Under a steady query load at the instances that are up (default deadline: the server retries a
                // partition at its new owner while it moves), the killed instance comes back and takes shards back,
                // then all three restart one after another: no query fails.
                QueryLoad load = new QueryLoad(writer, survivors);
                try {
                    servers.set(victim, start(bootstrap, victim, ports[victim]));
                    awaitComplete(ports[victim], writer, 90);
                    awaitLocalPartitions(ports[victim], 60);
                    load.up(ports[victim]);
                    for (int i = 0; i < 3; i++) {
                        load.down(ports[i]);
                        servers.get(i).destroy(); // SIGTERM: a clean stop leaves the group
                        assertThat(servers.get(i).waitFor(60, TimeUnit.SECONDS)).as("instance %d stopped", i).isTrue();
                        servers.set(i, start(bootstrap, i, ports[i]));
                        awaitComplete(ports[i], writer, 90);
                        load.up(ports[i]);
                    }
                    Thread.sleep(2_000); // the last restart's rebalance settles under the load
                } finally {
                    load.stop();
                }
                System.out.printf("scale-out: restart of the killed instance and a rolling restart of all three under load:"
                        + " %d queries, %d failed%n", load.queries.get(), load.failures.size());
                assertThat(load.failures).as("queries that failed during the restarts").isEmpty();
                assertThat(load.queries.get()).as("the load kept running").isGreaterThan(50);
                for (int port : ports) assertExactOverTheWholeTopic(port, writer, r, 3);
                assertEachServesWhatItOwns(ports);
            } finally {
                for (Process p : servers) {
                    p.destroy();
                    p.waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    /** {@code body}'s hits are the exact top 10 of the whole live set for {@code q} (a float-rounding tie may swap two). */
    private static void assertSameNeighbours(JsonNode body, TopicWriter writer, float[] q) {
        List<String> ids = ExactReference.ids(body);
        List<String> want = ExactReference.topK(writer.live, q, 10);
        assertThat(ids).as("%s", body).hasSameSizeAs(want);
        for (int j = 0; j < ids.size(); j++) {
            assertThat(writer.live).containsKey(ids.get(j));
            assertThat(ExactReference.l2(writer.live.get(ids.get(j)), q))
                    .isCloseTo(ExactReference.l2(writer.live.get(want.get(j)), q), org.assertj.core.data.Offset.offset(1e-3));
        }
    }

    private void assertExactOverTheWholeTopic(int port, TopicWriter writer, Random r, int queries) throws Exception {
        Set<Integer> partitions = new HashSet<>();
        for (int i = 0; i < queries; i++) {
            float[] q = writer.vector(r);
            HttpResponse<String> resp = search(port, q, true, false);
            assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
            JsonNode body = json(resp);
            assertThat(body.path("snapshot").path("offsets").size()).as("every partition answered at :%d", port).isEqualTo(PARTITIONS);
            assertSameNeighbours(body, writer, q);
            body.path("results").forEach(h -> partitions.add(h.path("partition").asInt()));
        }
        // each instance owns about two of the six partitions: hits from the others came through the fan-out
        assertThat(partitions).as("partitions the hits at :%d came from", port).hasSizeGreaterThan(2);
        assertGetByIdOverTheWholeTopic(port, writer, r);
    }

    /**
     * Get-by-id at any instance finds an id wherever it lives (about two thirds of them at other instances), and
     * answers 404 for a deleted id only after every partition was searched.
     */
    private void assertGetByIdOverTheWholeTopic(int port, TopicWriter writer, Random r) throws Exception {
        List<String> ids = new ArrayList<>(writer.live.keySet());
        for (int i = 0; i < 12; i++) {
            String id = ids.get(r.nextInt(ids.size()));
            HttpResponse<String> got = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/vectors/" + id))
                    .timeout(Duration.ofSeconds(15)).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(got.statusCode()).as("GET %s at :%d: %s", id, port, got.body()).isEqualTo(200);
            JsonNode vector = json(got).path("vector");
            float[] want = writer.live.get(id);
            assertThat(vector.size()).as(got.body()).isEqualTo(want.length);
            for (int d = 0; d < want.length; d++) {
                assertThat((float) vector.get(d).asDouble()).as("%s[%d] at :%d", id, d, port).isEqualTo(want[d]);
            }
        }
        String deleted = null;
        for (int i = 0; deleted == null && i < 3000; i++) if (!writer.live.containsKey("doc-" + i)) deleted = "doc-" + i;
        assertThat(deleted).as("the churn deleted some id").isNotNull();
        HttpResponse<String> gone = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/vectors/" + deleted))
                .timeout(Duration.ofSeconds(15)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(gone.statusCode()).as("GET deleted %s at :%d: %s", deleted, port, gone.body()).isEqualTo(404);
    }

    /** {@code /v1/status} shows the whole topic's owners and standbys; {@code ?local=true} this instance only. */
    private void assertClusterStatus(int[] ports, java.util.Map<Integer, Long> writerEnd, int liveInTheTopic) throws Exception {
        Set<String> urls = new HashSet<>();
        for (int port : ports) urls.add("http://127.0.0.1:" + port);
        JsonNode status = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[0] + "/v1/status"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString()).body());
        JsonNode partitions = status.path("cluster").path("partitions");
        assertThat(partitions.size()).as("cluster view: %s", status.path("cluster")).isEqualTo(PARTITIONS);
        int withStandby = 0;
        for (JsonNode p : partitions) {
            assertThat(urls).as("owner of %s", p).contains(p.path("owner").asText());
            if (p.path("standbys").size() > 0) withStandby++;
            // progress as the owner reports it: everything written is applied, nothing waits
            assertThat(p.path("applied_offset").asLong()).as("applied offset of %s", p)
                    .isEqualTo(writerEnd.getOrDefault(p.path("partition").asInt(), 0L));
            assertThat(p.path("lag_records").isNumber()).as("lag of %s", p).isTrue();
            assertThat(p.path("lag_records").asLong()).as("lag of %s", p).isZero();
        }
        assertThat(status.path("cluster").has("unreachable")).as("every owner answered: %s", status.path("cluster")).isFalse();
        JsonNode totals = status.path("cluster").path("totals");
        assertThat(totals.path("reported").asInt()).as("cluster totals: %s", totals).isEqualTo(PARTITIONS);
        assertThat(totals.path("live").asLong()).as("the whole topic's live vectors, summed from the owners").isEqualTo(liveInTheTopic);
        assertThat(status.path("totals").path("live").asLong()).as("this instance's own").isLessThan(liveInTheTopic);
        if (!"0".equals(System.getProperty("vectorstream.scaleout.standbys", "1"))) {
            assertThat(withStandby).as("standby copies kept elsewhere: %s", partitions).isPositive();
        }
        JsonNode local = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[0] + "/v1/status?local=true"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString()).body());
        assertThat(local.has("cluster")).as("?local=true is this instance only").isFalse();
    }

    /**
     * A rebuild asked of an instance for a partition another instance owns runs at the owner: one job id at the
     * instance asked ({@code cj-N}), whose progress it gathers from the owner until done.
     */
    private void assertRebuildAtANonOwner(int[] ports) throws Exception {
        Set<Integer> mine = new HashSet<>();
        for (JsonNode p : JSON.readTree(get(ports[0], "/v1/status?local=true").body()).path("partitions")) mine.add(p.path("partition").asInt());
        int partition = 0;
        while (mine.contains(partition)) partition++;
        assertThat(partition).as("instance 0 does not own every partition").isLessThan(PARTITIONS);
        HttpResponse<String> started = http.send(post(ports[0], "/v1/admin/rebuild", "{\"partitions\":[" + partition + "]}"),
                HttpResponse.BodyHandlers.ofString());
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        String job = json(started).path("job").asText();
        assertThat(job).startsWith("cj-");
        JsonNode progress = json(started);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!progress.path("state").asText().equals("done")) {
            assertThat(progress.path("state").asText()).as(progress.toString()).isIn("queued", "running");
            if (System.nanoTime() > deadline) throw new AssertionError("the rebuild did not finish: " + progress);
            Thread.sleep(200);
            progress = json(get(ports[0], "/v1/admin/rebuild/" + job));
        }
        assertThat(progress.path("shards")).hasSize(1);
        JsonNode shard = progress.path("shards").path(0);
        assertThat(shard.path("partition").asInt()).isEqualTo(partition);
        assertThat(shard.path("owner").asText()).as("ran at the owner").startsWith("http://127.0.0.1:").isNotEqualTo("http://127.0.0.1:" + ports[0]);
        assertThat(shard.path("outcome").asText()).as(progress.toString()).isNotEmpty();
        String owner = shard.path("owner").asText();
        String ownerJob = progress.path("parts").path(0).path("job").asText();
        HttpResponse<String> atOwner = http.send(HttpRequest.newBuilder(URI.create(owner + "/v1/admin/rebuild/" + ownerJob))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(json(atOwner).path("state").asText()).as("the owner's own job").isEqualTo("done");
    }

    private HttpResponse<String> get(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Searches in a loop, round-robin over the instances marked up, recording every answer that is not a complete 200. */
    private final class QueryLoad {
        final java.util.concurrent.atomic.AtomicInteger queries = new java.util.concurrent.atomic.AtomicInteger();
        final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        private final Set<Integer> up = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        private final Thread thread;

        QueryLoad(TopicWriter writer, int[] ports) {
            for (int port : ports) up.add(port);
            Random qr = new Random(77);
            thread = new Thread(() -> {
                int turn = 0;
                while (!stop.get()) {
                    List<Integer> targets = new ArrayList<>(up);
                    if (targets.isEmpty()) continue;
                    int port = targets.get(turn++ % targets.size());
                    try {
                        HttpResponse<String> resp = search(port, writer.vector(qr), false, false);
                        int answered = resp.statusCode() == 200 ? json(resp).path("snapshot").path("offsets").size() : -1;
                        if (answered != PARTITIONS) failures.add(":" + port + " " + resp.statusCode() + " " + resp.body());
                    } catch (Exception e) {
                        if (up.contains(port)) failures.add(":" + port + " " + e);
                    }
                    queries.incrementAndGet();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "scale-out-query-load");
            thread.start();
        }

        void up(int port) {
            up.add(port);
        }

        /** Marks {@code port} down before it is stopped (a load balancer's job; its in-flight query may still finish). */
        void down(int port) throws InterruptedException {
            up.remove(port);
            Thread.sleep(100);
        }

        void stop() throws InterruptedException {
            stop.set(true);
            thread.join(30_000);
        }
    }

    /**
     * After the moves, each instance serves exactly the partitions Kafka Streams assigns it: an instance whose active
     * task moved away (and may keep the store as a standby copy) no longer answers for it as its own.
     */
    private void assertEachServesWhatItOwns(int[] ports) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String last = "";
        while (true) {
            JsonNode cluster = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[0] + "/v1/status"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString()).body()).path("cluster");
            java.util.Map<String, Set<Integer>> owned = new java.util.HashMap<>();
            for (JsonNode p : cluster.path("partitions")) {
                owned.computeIfAbsent(p.path("owner").asText(), o -> new java.util.TreeSet<>()).add(p.path("partition").asInt());
            }
            boolean agree = cluster.path("partitions").size() == PARTITIONS;
            StringBuilder seen = new StringBuilder("owners " + owned);
            for (int port : ports) {
                Set<Integer> local = localPartitions(port);
                seen.append("; :").append(port).append(" serves ").append(local);
                if (!local.equals(owned.getOrDefault("http://127.0.0.1:" + port, Set.of()))) agree = false;
            }
            if (agree) return;
            last = seen.toString();
            if (System.nanoTime() > deadline) throw new AssertionError("instances serve partitions they do not own: " + last);
            Thread.sleep(500);
        }
    }

    private void awaitLocalPartitions(int port, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (localPartitions(port).isEmpty()) {
            if (System.nanoTime() > deadline) throw new AssertionError("instance :" + port + " took no shard back");
            Thread.sleep(200);
        }
    }

    /** The partitions the instance at {@code port} holds active and searchable ({@code /v1/status?local=true}). */
    private Set<Integer> localPartitions(int port) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/status?local=true"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        Set<Integer> partitions = new java.util.TreeSet<>();
        JSON.readTree(r.body()).path("partitions").forEach(p -> partitions.add(p.path("partition").asInt()));
        return partitions;
    }

    /** Waits until a search at {@code port} covers everything written (read-your-writes through any instance). */
    private void awaitComplete(int port, TopicWriter writer, int seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        String last = "";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> resp = http.send(post(port, "/v1/search", body(new float[DIM], false, false, writer)),
                        HttpResponse.BodyHandlers.ofString());
                if (resp.statusCode() == 200) return;
                last = resp.body();
            } catch (java.io.IOException e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        throw new AssertionError("instance :" + port + " did not cover " + writer.end + ": " + last);
    }

    private HttpResponse<String> search(int port, float[] q, boolean exact, boolean allowPartial) throws Exception {
        return http.send(post(port, "/v1/search", body(q, exact, allowPartial, null)), HttpResponse.BodyHandlers.ofString());
    }

    private static String body(float[] q, boolean exact, boolean allowPartial, TopicWriter minOffsetsOf) throws Exception {
        var node = JSON.createObjectNode();
        var arr = node.putArray("vector");
        for (float f : q) arr.add(f);
        node.put("k", 10).put("exact", exact);
        if (allowPartial) node.put("allow_partial", true);
        if (minOffsetsOf != null) {
            var m = node.putObject("min_offsets");
            minOffsetsOf.end.forEach((p, o) -> m.put(String.valueOf(p), o));
        }
        return JSON.writeValueAsString(node);
    }

    private static HttpRequest post(int port, String path, String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    private Process start(String bootstrap, int i, int port) throws Exception {
        return ForkedServer.start(dataDir, i, port, List.of("--bootstrap-servers", bootstrap, "--topic", TOPIC,
                "--partitions", String.valueOf(PARTITIONS), "--replication-factor", "1", "--dim", String.valueOf(DIM),
                "--application-id", "scale-e2e", "--train-threshold", "300", "--search-threads", "1", "--stream-threads", "1",
                "--standby-replicas", System.getProperty("vectorstream.scaleout.standbys", "1"))); // the default session timeout
    }

    private static int freePort() throws Exception {
        return ForkedServer.freePort();
    }
}
