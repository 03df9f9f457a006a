package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static io.vectorstream.api.ApiFixture.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.params.provider.Arguments.arguments;

/** Every bad request gets a 4xx with {@code {"error":{"code","message"}}} naming the problem. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadRequestTest {
    private static final String V = "[1,2,3,4,5,6,7,8]";
    private ApiFixture api;

    @BeforeAll
    void start() {
        api = new ApiFixture(Metric.L2);
    }

    @AfterAll
    void stop() {
        api.close();
    }

    static Stream<Arguments> badSearches() {
        return Stream.of(
                arguments("{\"vector\":" + V, "malformed_json", "not valid JSON"),
                arguments("{\"vector\":[1,2,}", "malformed_json", "line 1"),
                arguments("", "malformed_json", "empty"),
                arguments("{\"vector\":" + V + "} {}", "malformed_json", "after the JSON object"),
                arguments("{\"vector\":[NaN,2,3,4,5,6,7,8]}", "malformed_json", "NaN"),
                arguments("{\"vector\":" + V + ",\"k\":1,\"k\":2}", "malformed_json", "Duplicate field 'k'"),
                arguments("[1,2,3]", "not_an_object", "must be a JSON object, got an array"),
                arguments("\"hello\"", "not_an_object", "got a string"),
                arguments("{}", "missing_field", "vector is required"),
                arguments("{\"k\":3}", "missing_field", "vector is required"),
                arguments("{\"vector\":\"1,2,3\"}", "wrong_type", "vector must be an array of numbers, got a string"),
                arguments("{\"vector\":{}}", "wrong_type", "vector must be an array of numbers, got an object"),
                arguments("{\"vector\":[1,2,\"3\",4,5,6,7,8]}", "wrong_type", "vector[2] must be a number, got a string"),
                arguments("{\"vector\":[1,2,null,4,5,6,7,8]}", "wrong_type", "vector[2] must be a number, got null"),
                arguments("{\"vector\":[1,2,3]}", "wrong_dimension", "vector has 3 dimensions, expected 8"),
                arguments("{\"vector\":[]}", "wrong_dimension", "vector has 0 dimensions, expected 8"),
                arguments("{\"vector\":[1,2,3,4,5,6,7,8,9]}", "wrong_dimension", "vector has 9 dimensions, expected 8"),
                arguments("{\"vector\":[1,2,3,4,5,6,7,1e999]}", "non_finite", "vector[7] is 1e999"),
                arguments("{\"vector\":[1,2,3,4,5,6,7,-1e999]}", "non_finite", "vector[7] is -1e999"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":[1]}", "wrong_type", "min_offsets must be an object of partition to offset"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":{\"0\":-1}}", "invalid_value", "min_offsets.0 must be a non-negative integer offset, got -1"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":{\"0\":1.5}}", "invalid_value", "min_offsets.0 must be a non-negative integer offset"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":{\"0\":\"5\"}}", "invalid_value", "min_offsets.0 must be a non-negative integer offset, got a string"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":{\"p0\":5}}", "invalid_value", "keys must be partition numbers"),
                arguments("{\"vector\":" + V + ",\"min_offsets\":{\"01\":5}}", "invalid_value", "keys must be partition numbers"),
                arguments("{\"vector\":[1e39,2,3,4,5,6,7,8]}", "non_finite", "vector[0] is 1e39"),
                arguments("{\"vector\":" + V + ",\"k\":0}", "out_of_range", "k must be in 1..1000, was 0"),
                arguments("{\"vector\":" + V + ",\"k\":1001}", "out_of_range", "k must be in 1..1000, was 1001"),
                arguments("{\"vector\":" + V + ",\"k\":-5}", "out_of_range", "k must be in 1..1000, was -5"),
                arguments("{\"vector\":" + V + ",\"k\":99999999999999999999}", "out_of_range", "k must be in 1..1000"),
                arguments("{\"vector\":" + V + ",\"k\":\"ten\"}", "wrong_type", "k must be an integer in 1..1000, got a string \"ten\""),
                arguments("{\"vector\":" + V + ",\"k\":2.5}", "wrong_type", "k must be an integer"),
                arguments("{\"vector\":" + V + ",\"nprobe\":0}", "out_of_range", "nprobe must be >= 1, was 0"),
                arguments("{\"vector\":" + V + ",\"nprobe\":true}", "wrong_type", "nprobe must be an integer >= 1, got a boolean"),
                arguments("{\"vector\":" + V + ",\"exact\":\"yes\"}", "wrong_type", "exact must be a boolean (true or false), got a string \"yes\""),
                arguments("{\"vector\":" + V + ",\"exact\":1}", "wrong_type", "exact must be a boolean"),
                arguments("{\"vector\":" + V + ",\"include_metadata\":[]}", "wrong_type", "include_metadata must be a boolean"),
                arguments("{\"vector\":" + V + ",\"top_k\":3}", "unknown_field", "unknown field 'top_k'"));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("badSearches")
    void badSearchIs400NamingTheProblem(String body, String code, String messagePart) {
        assertError(api.post("/v1/search", body), 400, code, messagePart);
    }

    static Stream<Arguments> badBatches() {
        String ok = "{\"vector\":" + V + "}";
        String tooMany = IntStream.range(0, 1001).mapToObj(i -> "{\"vector\":[1,2,3,4,5,6,7,8]}")
                .collect(Collectors.joining(",", "{\"queries\":[", "]}"));
        return Stream.of(
                arguments("{\"queries\":[]}", "empty_batch", "queries is empty"),
                arguments("{}", "missing_field", "queries is required"),
                arguments("{\"queries\":{}}", "wrong_type", "queries must be an array of search objects, got an object"),
                arguments("{\"queries\":[" + ok + "],\"k\":3}", "unknown_field", "unknown field 'k'"),
                arguments("{\"queries\":[" + ok + ",3]}", "not_an_object", "queries[1] must be a JSON object, got a number"),
                arguments("{\"queries\":[" + ok + ",{\"vector\":[1,2]}]}", "wrong_dimension", "queries[1].vector has 2 dimensions, expected 8"),
                arguments("{\"queries\":[" + ok + ",{\"vector\":" + V + ",\"k\":\"ten\"}]}", "wrong_type", "queries[1].k must be an integer"),
                arguments("{\"queries\":[{\"vector\":" + V + ",\"kk\":1}]}", "unknown_field", "unknown field 'queries[0].kk'"),
                arguments("[" + ok + "]", "not_an_object", "request body must be a JSON object"),
                arguments(tooMany, "batch_too_large", "more than 1000"));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("badBatches")
    void badBatchIs400NamingTheProblem(String body, String code, String messagePart) {
        assertError(api.post("/v1/search/batch", body), 400, code, messagePart);
    }

    @Test
    void bodyOverTheLimitIs413() {
        float[] big = new float[(int) ApiFixture.MAX_BODY / 4];
        Arrays.fill(big, 0.123456f);
        String body = "{\"vector\":" + ApiFixture.vectorJson(big) + "}";
        assertThat(body.length()).isGreaterThan((int) ApiFixture.MAX_BODY);

        assertError(api.post("/v1/search", body), 413, "payload_too_large", String.valueOf(ApiFixture.MAX_BODY));
        assertError(api.post("/v1/search/batch", "{\"queries\":[" + body + "]}"), 413, "payload_too_large", "limit");
        assertThat(api.get("/health/live").statusCode()).isEqualTo(200);
    }

    @Test
    void chunkedBodyOverTheLimitIs413() {
        String body = "{\"vector\":[" + "0.5,".repeat((int) ApiFixture.MAX_BODY / 4) + "1]}";
        HttpRequest request = HttpRequest.newBuilder(api.uri("/v1/search"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(body.getBytes())))
                .build();
        assertError(api.send(request), 413, "payload_too_large", "limit");
    }

    @Test
    void aBodyDeclaredAsSomethingElseThanJsonIs415() {
        String ok = "{\"vector\":" + V + "}";
        for (String type : List.of("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")) {
            for (String path : List.of("/v1/search", "/v1/search/batch")) {
                String body = path.endsWith("batch") ? "{\"queries\":[" + ok + "]}" : ok;
                HttpResponse<String> r = api.send(HttpRequest.newBuilder(api.uri(path)).header("Content-Type", type)
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build());
                assertError(r, 415, "unsupported_media_type", "application/json");
            }
        }
        // JSON under its other names, and no declared type at all, are read as JSON
        for (String type : List.of("application/json; charset=utf-8", "APPLICATION/JSON", "application/vnd.api+json")) {
            assertThat(api.send(HttpRequest.newBuilder(api.uri("/v1/search")).header("Content-Type", type)
                    .POST(HttpRequest.BodyPublishers.ofString(ok)).build()).statusCode()).as(type).isEqualTo(200);
        }
        assertThat(api.send(HttpRequest.newBuilder(api.uri("/v1/search")).POST(HttpRequest.BodyPublishers.ofString(ok)).build())
                .statusCode()).as("no Content-Type").isEqualTo(200);
    }

    @Test
    void anAllZeroQueryIs400UnderCosineOnly() {
        String zeros = "{\"vector\":[0,0,0,0,0,0,0,-0.0],\"k\":3}";
        try (ApiFixture cosine = new ApiFixture(Metric.COSINE)) {
            assertError(cosine.post("/v1/search", zeros), 400, "zero_vector", "vector is all zeros");
            assertError(cosine.post("/v1/search/batch", "{\"queries\":[" + zeros + "]}"), 400, "zero_vector", "queries[0].vector");
            assertThat(cosine.post("/v1/search", "{\"vector\":[0,0,0,0,0,0,0,1],\"k\":3}").statusCode()).isEqualTo(200);
        }
        assertThat(api.post("/v1/search", zeros).statusCode()).as("L2: the origin is a query like any").isEqualTo(200);
    }

    @Test
    void unknownRouteIs404AndWrongMethodIs405() {
        assertError(api.get("/v1/nothing-here"), 404, "not_found", "/v1/nothing-here");
        assertError(api.get("/v1/search"), 405, "method_not_allowed", "GET");
        assertError(api.post("/v1/status", "{}"), 405, "method_not_allowed", "/v1/status");
    }

    @Test
    void serverKeepsAnsweringAfterErrors() {
        for (int i = 0; i < 20; i++) {
            assertThat(api.post("/v1/search", "{\"vector\":[oops").statusCode()).isEqualTo(400);
            assertThat(api.post("/v1/search", "{\"vector\":" + V + "}").statusCode()).isEqualTo(200);
        }
    }

    static void assertError(HttpResponse<String> response, int status, String code, String messagePart) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
        JsonNode error = json(response).get("error");
        assertThat(error).as(response.body()).isNotNull();
        assertThat(error.get("code").asText()).as(response.body()).isEqualTo(code);
        assertThat(error.get("message").asText()).contains(messagePart);
    }
}
