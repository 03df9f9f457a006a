package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

import static io.vectorstream.api.ApiFixture.json;
import static io.vectorstream.api.ApiFixture.vectorJson;
import static org.assertj.core.api.Assertions.assertThat;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReadEndpointsTest {
    private ApiFixture api;

    @BeforeAll
    void start() {
        api = new ApiFixture(Metric.L2);
    }

    @AfterAll
    void stop() {
        api.close();
    }

    private static String path(String id) {
        return "/v1/vectors/" + URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
    }

    @Test
    void getByIdReturnsTheStoredVectorAndMetadata() {
        StoredVector stored = api.stored.get("p1-3");
        HttpResponse<String> response = api.get(path("p1-3"));
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode body = json(response);
        assertThat(body.get("id").asText()).isEqualTo("p1-3");
        assertThat(body.get("vector")).hasSize(ApiFixture.DIM);
        for (int i = 0; i < ApiFixture.DIM; i++) {
            assertThat(body.get("vector").get(i).floatValue()).isEqualTo(stored.vector()[i]);
        }
        assertThat(body.get("metadata").get("n").asInt()).isEqualTo(3);
    }

    @Test
    void getByIdTakesAnOptionalTimeout() {
        assertThat(api.get(path("p1-3") + "?timeout_ms=500").statusCode()).isEqualTo(200);
        HttpResponse<String> zero = api.get(path("p1-3") + "?timeout_ms=0");
        assertThat(zero.statusCode()).isEqualTo(400);
        assertThat(json(zero).path("error").path("code").asText()).isEqualTo("out_of_range");
        HttpResponse<String> word = api.get(path("p1-3") + "?timeout_ms=soon");
        assertThat(word.statusCode()).isEqualTo(400);
        assertThat(json(word).path("error").path("message").asText()).contains("timeout_ms", "soon");
    }

    @Test
    void getByIdDecodesSpacesAndSlashes() {
        JsonNode spaced = json(api.get(path("with space")));
        assertThat(spaced.get("id").asText()).isEqualTo("with space");
        assertThat(spaced.get("metadata").get("odd").asBoolean()).isTrue();

        HttpResponse<String> slashed = api.get(path("a/b"));
        assertThat(slashed.statusCode()).as(slashed.body()).isEqualTo(200);
        assertThat(json(slashed).get("id").asText()).isEqualTo("a/b");
        assertThat(json(slashed).get("metadata").isNull()).isTrue();
    }

    @Test
    void unknownIdIs404WithErrorBody() {
        HttpResponse<String> response = api.get(path("nope"));
        assertThat(response.statusCode()).isEqualTo(404);
        JsonNode error = json(response).get("error");
        assertThat(error.get("code").asText()).isEqualTo("not_found");
        assertThat(error.get("message").asText()).contains("nope");
    }

    @Test
    void statusDescribesEveryPartition() {
        HttpResponse<String> response = api.get("/v1/status");
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode body = json(response);
        assertThat(body.get("dim").asInt()).isEqualTo(ApiFixture.DIM);
        assertThat(body.get("metric").asText()).isEqualTo("l2");
        assertThat(body.get("kernels").asText()).isEqualTo(Kernels.cpu().name());
        JsonNode partitions = body.get("partitions");
        assertThat(partitions).hasSize(2);

        JsonNode p0 = partitions.get(0);
        assertThat(p0.get("partition").asInt()).isZero();
        assertThat(p0.get("live").asInt()).isEqualTo(ApiFixture.P0_SIZE);
        assertThat(p0.get("applied_offset").asLong()).isEqualTo(ApiFixture.P0_NEXT_OFFSET);
        assertThat(p0.get("version").asLong()).isEqualTo(2);
        assertThat(p0.get("index_kind").asText()).isEqualTo("ivf-flat");
        assertThat(p0.get("lists").asInt()).isGreaterThan(1);
        assertThat(p0.get("largest_list").asInt()).isBetween(1, ApiFixture.P0_SIZE);
        assertThat(p0.get("published_at_ms").asLong()).isPositive();

        JsonNode p1 = partitions.get(1);
        assertThat(p1.get("partition").asInt()).isEqualTo(1);
        assertThat(p1.get("live").asInt()).isEqualTo(ApiFixture.P1_SIZE + 2);
        assertThat(p1.get("applied_offset").asLong()).isEqualTo(ApiFixture.P1_NEXT_OFFSET);
        assertThat(p1.get("index_kind").asText()).isEqualTo("exact");
        assertThat(p1.get("lists").asInt()).isEqualTo(1);
        assertThat(p1.get("largest_list").asInt()).isEqualTo(ApiFixture.P1_SIZE + 2);

        assertThat(body.get("totals").get("partitions").asInt()).isEqualTo(2);
        assertThat(body.get("totals").get("live").asInt()).isEqualTo(ApiFixture.P0_SIZE + ApiFixture.P1_SIZE + 2);
    }

    @Test
    void livenessAndReadiness() {
        HttpResponse<String> live = api.get("/health/live");
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(json(live).get("status").asText()).isEqualTo("up");

        api.ready.set(false);
        HttpResponse<String> notReady = api.get("/health/ready");
        assertThat(notReady.statusCode()).isEqualTo(503);
        assertThat(json(notReady).get("status").asText()).isEqualTo("not-ready");

        api.ready.set(true);
        HttpResponse<String> ready = api.get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(json(ready).get("status").asText()).isEqualTo("ready");
    }

    @Test
    void metricsExposeRequestAndSearchMeters() {
        api.post("/v1/search", "{\"vector\":" + vectorJson(new float[ApiFixture.DIM]) + "}");
        api.post("/v1/search/batch", "{\"queries\":[{\"vector\":" + vectorJson(new float[ApiFixture.DIM]) + "}]}");
        api.post("/v1/search", "{}");
        api.get("/v1/status");

        HttpResponse<String> response = api.get("/metrics");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElse(""))
                .startsWith("text/plain").contains("version=0.0.4");
        assertThat(response.body())
                .contains("vectorstream_http_requests_seconds_count{method=\"POST\",route=\"/v1/search\",status=\"200\"}")
                .contains("vectorstream_http_requests_seconds_count{method=\"POST\",route=\"/v1/search\",status=\"400\"}")
                .contains("route=\"/v1/search/batch\"")
                .contains("route=\"/v1/status\"")
                .contains("vectorstream_search_queries_total{kind=\"single\"}")
                .contains("vectorstream_search_queries_total{kind=\"batch\"}")
                .contains("vectorstream_search_seconds_count");
    }
}
