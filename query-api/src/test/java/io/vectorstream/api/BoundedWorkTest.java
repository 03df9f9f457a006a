package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.vectorstream.api.ApiFixture.json;
import static io.vectorstream.api.ApiFixture.randomQuery;
import static io.vectorstream.api.ApiFixture.vectorJson;
import static io.vectorstream.api.BadRequestTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bounded work per request (issue 13): deadlines answered by the server whatever its workers do, cost bounds refused
 * before any search with a 400 naming the limit, and the server serving normally after each.
 */
class BoundedWorkTest {
    private static final Random RANDOM = new Random(3);

    private static String search(String extra) {
        return "{\"vector\":" + vectorJson(randomQuery(RANDOM)) + (extra.contains("\"k\"") ? "" : ",\"k\":3") + extra + "}";
    }

    private static String batch(int queries, String each, String extra) {
        StringBuilder b = new StringBuilder("{\"queries\":[");
        for (int i = 0; i < queries; i++) b.append(i == 0 ? "" : ",").append(search(each));
        return b.append("]").append(extra).append("}").toString();
    }

    private static void assertStillServing(ApiFixture api) {
        HttpResponse<String> ok = api.post("/v1/search", search(""));
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
        assertThat(json(ok).get("results").size()).isEqualTo(3);
    }

    @Test
    void aRequestWhoseDeadlinePassesWhileItWaitsIsAnswered503WithRetryAfter() throws Exception {
        BlockingLookup blocker = new BlockingLookup();
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 8, 1, r -> { }, blocker)) {
            assertThat(api.get("/metrics").body()).as("the series exist before the first event")
                    .contains("vectorstream_http_deadline_exceeded_total{route=\"/v1/search/batch\"} 0.0")
                    .contains("vectorstream_stale_partition_answers_total 0.0");
            CompletableFuture<HttpResponse<String>> blocked = api.getAsync("/v1/vectors/block");
            assertThat(blocker.entered.await(30, TimeUnit.SECONDS)).as("the only worker is busy").isTrue();

            // The worker cannot take it before its 300 ms pass: the event loop's timer answers for it.
            HttpResponse<String> late = api.post("/v1/search", search(",\"timeout_ms\":300"));
            assertError(late, 503, "deadline_exceeded", "300 ms");
            assertThat(late.headers().firstValue("Retry-After")).hasValue("1");
            HttpResponse<String> lateBatch = api.post("/v1/search/batch", batch(3, "", ",\"timeout_ms\":200"));
            assertError(lateBatch, 503, "deadline_exceeded", "200 ms");

            blocker.release.countDown();
            assertThat(blocked.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(404);
            assertStillServing(api);
            assertThat(api.get("/metrics").body()).contains("vectorstream_http_deadline_exceeded_total{route=\"/v1/search\"}");
        } finally {
            blocker.release.countDown();
        }
    }

    /**
     * A batch too large to read on the event loop (its queries fill more than {@link RequestParser#PEEK_LIMIT}) keeps
     * its own deadline while it waits for a worker: it was the server's default until a worker parsed it, so under load
     * a batch that asked for 300 ms got its 503 only when a worker freed up.
     */
    @Test
    void aLargeBatchsOwnDeadlineHoldsWhileItWaits() throws Exception {
        BlockingLookup blocker = new BlockingLookup();
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 8, 1, r -> { }, blocker)) {
            CompletableFuture<HttpResponse<String>> blocked = api.getAsync("/v1/vectors/block");
            assertThat(blocker.entered.await(30, TimeUnit.SECONDS)).as("the only worker is busy").isTrue();
            String large = batch(900, "", ",\"timeout_ms\":300");
            assertThat(large.length()).isGreaterThan(RequestParser.PEEK_LIMIT);
            HttpResponse<String> late = api.post("/v1/search/batch", large); // answered while the worker is still blocked
            assertError(late, 503, "deadline_exceeded", "300 ms");
            assertThat(blocked).as("the worker was busy throughout").isNotDone();
            blocker.release.countDown();
            assertThat(blocked.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(404);
            assertStillServing(api);
        } finally {
            blocker.release.countDown();
        }
    }

    /** A request whose client went away while it waited for a worker is dropped: no search runs for nobody. */
    @Test
    void aRequestWhoseClientWentAwayIsNotSearched() throws Exception {
        BlockingLookup blocker = new BlockingLookup();
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 8, 1, r -> { }, blocker)) {
            CompletableFuture<HttpResponse<String>> blocked = api.getAsync("/v1/vectors/block");
            assertThat(blocker.entered.await(30, TimeUnit.SECONDS)).as("the only worker is busy").isTrue();
            double before = searchedQueries(api);
            String body = batch(5, ",\"exact\":true", "");
            try (java.net.Socket client = new java.net.Socket("127.0.0.1", api.port)) {
                client.getOutputStream().write(("POST /v1/search/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        + "Content-Length: " + body.length() + "\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                client.getOutputStream().flush();
                Thread.sleep(300); // the server has read it and queued it behind the blocked worker
            } // the client goes away
            Thread.sleep(300); // the server sees the connection closed
            blocker.release.countDown();
            assertThat(blocked.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(404);
            assertStillServing(api); // queued after the abandoned batch: once it answers, the batch was taken and dropped
            assertThat(searchedQueries(api) - before).as("queries searched: only the check's own").isEqualTo(1.0);
        } finally {
            blocker.release.countDown();
        }
    }

    /** The sum of {@code vectorstream_search_queries_total} over its kinds, from {@code /metrics}. */
    private static double searchedQueries(ApiFixture api) {
        double sum = 0;
        for (String line : api.get("/metrics").body().split("\n")) {
            if (line.startsWith("vectorstream_search_queries_total{")) sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return sum;
    }

    @Test
    void aTimeoutWithinTheDeadlineAnswersNormally() {
        try (ApiFixture api = new ApiFixture(Metric.L2)) {
            HttpResponse<String> r = api.post("/v1/search", search(",\"timeout_ms\":5000"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            HttpResponse<String> b = api.post("/v1/search/batch", batch(4, ",\"exact\":true", ",\"timeout_ms\":5000"));
            assertThat(b.statusCode()).as(b.body()).isEqualTo(200);
            assertThat(json(b).get("results").size()).isEqualTo(4);
        }
    }

    @Test
    void malformedTimeoutsAre400() {
        try (ApiFixture api = new ApiFixture(Metric.L2)) {
            assertError(api.post("/v1/search", search(",\"timeout_ms\":0")), 400, "out_of_range", "timeout_ms");
            assertError(api.post("/v1/search", search(",\"timeout_ms\":\"soon\"")), 400, "wrong_type", "timeout_ms");
            assertError(api.post("/v1/search/batch", batch(1, "", ",\"timeout_ms\":-5")), 400, "out_of_range", "timeout_ms");
        }
    }

    @Test
    void requestsPastTheCostBoundsAreRefusedBeforeAnySearch() {
        // 302 vectors in all: an exact query scores 302; the limit admits three exact queries, not four.
        ServingSettings limits = new ServingSettings(false, 10_000, 60_000, 1_000, 40);
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 64, 2, r -> { }, id -> Optional.empty(), limits)) {
            HttpResponse<String> three = api.post("/v1/search/batch", batch(3, ",\"exact\":true", ""));
            assertThat(three.statusCode()).as(three.body()).isEqualTo(200);

            HttpResponse<String> four = api.post("/v1/search/batch", batch(4, ",\"exact\":true", ""));
            assertError(four, 400, "too_costly", "over this server's limit of 1,000");
            assertThat(json(four).get("error").get("message").asText()).contains("4 queries, 4 of them exact");

            String k30 = ",\"k\":30";
            HttpResponse<String> results = api.post("/v1/search/batch", "{\"queries\":[" + search(k30) + "," + search(k30) + "]}");
            assertError(results, 400, "too_many_results", "60 hits");

            JsonNode stats = json(api.get("/v1/status"));
            assertThat(stats.get("partitions").size()).isEqualTo(2);
            assertStillServing(api);
        }
    }
}
