package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static io.vectorstream.api.ApiFixture.json;
import static io.vectorstream.api.ApiFixture.vectorJson;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SearchEndpointTest {
    private final Map<Metric, ApiFixture> fixtures = new EnumMap<>(Metric.class);

    @BeforeAll
    void start() {
        fixtures.put(Metric.L2, new ApiFixture(Metric.L2));
        fixtures.put(Metric.COSINE, new ApiFixture(Metric.COSINE));
    }

    @AfterAll
    void stop() {
        fixtures.values().forEach(ApiFixture::close);
    }

    @ParameterizedTest
    @EnumSource(value = Metric.class, names = {"L2", "COSINE"})
    void exactSearchEqualsBruteForce(Metric metric) {
        ApiFixture api = fixtures.get(metric);
        Random random = new Random(11);
        for (int round = 0; round < 10; round++) {
            float[] q = ApiFixture.randomQuery(random);
            int k = 1 + random.nextInt(25);
            HttpResponse<String> response = api.post("/v1/search",
                    "{\"vector\":" + vectorJson(q) + ",\"k\":" + k + ",\"exact\":true}");

            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(ct -> assertThat(ct).startsWith("application/json"));
            JsonNode results = json(response).get("results");
            List<String> ids = new ArrayList<>();
            results.forEach(r -> ids.add(r.get("id").asText()));
            assertThat(ids).isEqualTo(api.bruteForce(q, k));
            for (JsonNode r : results) {
                assertThat(r.get("score").asDouble()).isCloseTo(api.score(q, r.get("id").asText()), within(1e-3));
                assertThat(r.has("metadata")).isFalse();
            }
        }
    }

    @Test
    void approximateSearchAnswersWithKResultsAndDefaultK() {
        ApiFixture api = fixtures.get(Metric.L2);
        float[] q = ApiFixture.randomQuery(new Random(3));
        JsonNode body = json(api.post("/v1/search", "{\"vector\":" + vectorJson(q) + ",\"nprobe\":2}"));
        assertThat(body.get("results")).hasSize(10);
        JsonNode withNulls = json(api.post("/v1/search",
                "{\"vector\":" + vectorJson(q) + ",\"k\":null,\"nprobe\":null,\"exact\":null,\"include_metadata\":null}"));
        assertThat(withNulls.get("results")).hasSize(10);
        assertThat(body.get("took_ms").isNumber()).isTrue();
    }

    @Test
    void includeMetadataEmbedsTheObject() throws Exception {
        ApiFixture api = fixtures.get(Metric.L2);
        float[] q = api.stored.get("p1-5").vector();
        JsonNode body = json(api.post("/v1/search",
                "{\"vector\":" + vectorJson(q) + ",\"k\":30,\"exact\":true,\"include_metadata\":true}"));
        JsonNode first = body.get("results").get(0);
        assertThat(first.get("id").asText()).isEqualTo("p1-5");
        assertThat(first.get("score").asDouble()).isCloseTo(0.0, within(1e-4));
        assertThat(first.get("metadata").isObject()).isTrue();
        assertThat(first.get("metadata").get("n").asInt()).isEqualTo(5);
        for (JsonNode r : body.get("results")) {
            String metadata = api.stored.get(r.get("id").asText()).metadataJson();
            if (metadata == null) assertThat(r.has("metadata")).as(r.toString()).isFalse();
            else assertThat(r.get("metadata")).isEqualTo(ApiFixture.JSON.readTree(metadata));
        }
    }

    @Test
    void snapshotCarriesOffsetsAndVersionsPerPartition() {
        ApiFixture api = fixtures.get(Metric.L2);
        JsonNode snapshot = json(api.post("/v1/search", "{\"vector\":" + vectorJson(new float[ApiFixture.DIM]) + "}"))
                .get("snapshot");
        assertThat(snapshot.get("offsets").get("0").asLong()).isEqualTo(ApiFixture.P0_NEXT_OFFSET);
        assertThat(snapshot.get("offsets").get("1").asLong()).isEqualTo(ApiFixture.P1_NEXT_OFFSET);
        assertThat(snapshot.get("versions").get("0").asLong()).isEqualTo(2);
        assertThat(snapshot.get("versions").get("1").asLong()).isEqualTo(1);
        assertThat(snapshot.get("offsets").size()).isEqualTo(2);
    }

    @Test
    void batchSearchAnswersEachQueryInOrder() {
        ApiFixture api = fixtures.get(Metric.COSINE);
        Random random = new Random(5);
        List<float[]> queries = new ArrayList<>();
        StringBuilder body = new StringBuilder("{\"queries\":[");
        for (int i = 0; i < 5; i++) {
            float[] q = ApiFixture.randomQuery(random);
            queries.add(q);
            body.append(i == 0 ? "" : ",").append("{\"vector\":").append(vectorJson(q))
                    .append(",\"k\":").append(3 + i).append(",\"exact\":true").append(i == 2 ? ",\"include_metadata\":true" : "").append('}');
        }
        body.append("]}");

        HttpResponse<String> response = api.post("/v1/search/batch", body.toString());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode json = json(response);
        assertThat(json.get("results")).hasSize(5);
        for (int i = 0; i < 5; i++) {
            List<String> ids = new ArrayList<>();
            json.get("results").get(i).get("results").forEach(r -> ids.add(r.get("id").asText()));
            assertThat(ids).isEqualTo(api.bruteForce(queries.get(i), 3 + i));
        }
        for (JsonNode hit : json.get("results").get(2).get("results")) {
            boolean hasMetadata = api.stored.get(hit.get("id").asText()).metadataJson() != null;
            assertThat(hit.has("metadata")).as(hit.toString()).isEqualTo(hasMetadata);
        }
        json.get("results").get(1).get("results").forEach(hit -> assertThat(hit.has("metadata")).isFalse());
        assertThat(json.get("snapshot").get("offsets").get("0").asLong()).isEqualTo(ApiFixture.P0_NEXT_OFFSET);
        assertThat(json.get("snapshot").get("versions").get("1").asLong()).isEqualTo(1);
        assertThat(json.get("took_ms").isNumber()).isTrue();
    }
}
