package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A real HTTP client of one server, with the checks the e2e tests make against a {@link TopicWriter}'s live set. */
final class SearchClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String base;

    SearchClient(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    HttpResponse<String> search(float[] q, int k, boolean exact, Map<Integer, Long> minOffsets) throws Exception {
        ObjectNode body = JSON.createObjectNode();
        var arr = body.putArray("vector");
        for (float f : q) arr.add(f);
        body.put("k", k).put("exact", exact);
        if (minOffsets != null) {
            ObjectNode m = body.putObject("min_offsets");
            minOffsets.forEach((p, o) -> m.put(String.valueOf(p), o));
        }
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search")).timeout(Duration.ofSeconds(10))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    JsonNode status() throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/status")).timeout(Duration.ofSeconds(10))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    /** Waits (read-your-writes itself) until every partition covers what {@code writer} wrote. */
    void awaitCovered(TopicWriter writer, long timeoutSeconds) throws Exception {
        awaitCovered(writer.end, writer.vector(new Random(0)).length, timeoutSeconds);
    }

    /** Waits until each partition of {@code end} covers its offset. */
    void awaitCovered(Map<Integer, Long> end, int dim, long timeoutSeconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (System.nanoTime() < deadline) {
            try {
                if (search(new float[dim], 1, false, end).statusCode() == 200) return;
            } catch (java.io.IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the server did not reach " + end + "; status " + status());
    }

    /** Exact search equals brute force over the live set, and the live count matches. */
    void assertAnswersAsTheTopic(TopicWriter writer, Random r, int queries) throws Exception {
        assertThat(status().path("totals").path("live").asInt()).as("live count").isEqualTo(writer.live.size());
        for (int q = 0; q < queries; q++) {
            float[] query = writer.vector(r);
            HttpResponse<String> resp = search(query, 10, true, null);
            assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
            List<String> ids = ExactReference.ids(JSON.readTree(resp.body()));
            List<String> want = ExactReference.topK(writer.live, query, 10);
            assertThat(ids).hasSameSizeAs(want);
            for (int i = 0; i < ids.size(); i++) { // the same neighbours; two at a float-rounding tie may swap places
                assertThat(writer.live).containsKey(ids.get(i));
                double got = ExactReference.l2(writer.live.get(ids.get(i)), query), ref = ExactReference.l2(writer.live.get(want.get(i)), query);
                assertThat(got).as("rank %d: %s vs %s", i, ids, want).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-4 * (1 + ref)));
            }
        }
    }
}
