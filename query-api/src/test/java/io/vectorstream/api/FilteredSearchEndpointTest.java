package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

import static io.vectorstream.api.ApiFixture.json;
import static io.vectorstream.api.ApiFixture.vectorJson;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code "filter"} in search and batch over real HTTP: answers, the plan per shard, 400s that name the path. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FilteredSearchEndpointTest {
    private ApiFixture api;

    @BeforeAll
    void start() {
        api = new ApiFixture(Metric.L2);
    }

    @AfterAll
    void stop() {
        api.close();
    }

    /** Brute force over the stored vectors whose metadata satisfies {@code keep}. */
    private List<String> bruteForce(float[] q, int k, Predicate<JsonNode> keep) throws Exception {
        record Scored(String id, double d) { }
        List<Scored> all = new ArrayList<>();
        for (StoredVector v : api.stored.values()) {
            JsonNode meta = v.metadataJson() == null ? null : ApiFixture.JSON.readTree(v.metadataJson());
            if (meta == null || !keep.test(meta)) continue;
            double d = 0;
            for (int i = 0; i < q.length; i++) d += (q[i] - v.vector()[i]) * (double) (q[i] - v.vector()[i]);
            all.add(new Scored(v.id(), d));
        }
        all.sort((a, b) -> Double.compare(a.d(), b.d()));
        return all.stream().limit(k).map(Scored::id).toList();
    }

    private static List<String> ids(JsonNode results) {
        List<String> ids = new ArrayList<>();
        results.forEach(r -> ids.add(r.get("id").asText()));
        return ids;
    }

    @Test
    void filteredExactSearchEqualsFilteredBruteForceAndReportsPlans() throws Exception {
        Random random = new Random(4);
        for (int round = 0; round < 5; round++) {
            float[] q = ApiFixture.randomQuery(random);
            HttpResponse<String> r = api.post("/v1/search", "{\"vector\":" + vectorJson(q)
                    + ",\"k\":15,\"exact\":true,\"filter\":{\"n\":{\"$gte\":10,\"$lt\":200},\"tag\":{\"$ne\":\"x\"}}}");
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            JsonNode body = json(r);
            assertThat(ids(body.get("results"))).isEqualTo(bruteForce(q, 15,
                    m -> m.has("n") && m.get("n").asInt() >= 10 && m.get("n").asInt() < 200 && !"x".equals(m.path("tag").asText(null))));
            assertThat(body.get("plan").get("0").asText()).isEqualTo("exact");
            assertThat(body.get("plan").get("1").asText()).isEqualTo("exact");
        }
        // approximate: whichever plan each shard chose, every hit matches and there are min(k, matching) of them
        float[] q = ApiFixture.randomQuery(random);
        JsonNode body = json(api.post("/v1/search", "{\"vector\":" + vectorJson(q)
                + ",\"k\":10,\"include_metadata\":true,\"filter\":{\"tag\":\"x\"}}"));
        assertThat(body.get("results")).hasSize(10);
        for (JsonNode hit : body.get("results")) assertThat(hit.get("metadata").get("tag").asText()).isEqualTo("x");
        assertThat(body.get("plan").get("0").asText()).isIn("exact-matches", "ivf-filtered");
        JsonNode few = json(api.post("/v1/search", "{\"vector\":" + vectorJson(q) + ",\"k\":10,\"filter\":{\"odd\":true}}"));
        assertThat(ids(few.get("results"))).containsExactly("with space");
        assertThat(api.get("/metrics").body()).contains("vectorstream_filtered_shard_searches_total{plan=\"exact\"}");
    }

    @Test
    void batchQueriesCarryTheirOwnFilters() throws Exception {
        float[] q = ApiFixture.randomQuery(new Random(9));
        String v = vectorJson(q);
        JsonNode body = json(api.post("/v1/search/batch", "{\"queries\":[{\"vector\":" + v + ",\"k\":5,\"exact\":true,"
                + "\"filter\":{\"n\":{\"$in\":[1,2,3]}}},{\"vector\":" + v + ",\"k\":5}]}"));
        assertThat(ids(body.get("results").get(0).get("results")))
                .isEqualTo(bruteForce(q, 5, m -> m.has("n") && List.of(1, 2, 3).contains(m.get("n").asInt())));
        assertThat(body.get("results").get(0).has("plan")).isTrue();
        assertThat(body.get("results").get(1).has("plan")).as("an unfiltered query has no plan").isFalse();
    }

    @Test
    void malformedFiltersAre400sNamingThePath() {
        String v = vectorJson(new float[ApiFixture.DIM]);
        assertBad("{\"vector\":" + v + ",\"filter\":{\"year\":{\"$between\":[1,2]}}}", "filter.year.$between");
        assertBad("{\"vector\":" + v + ",\"filter\":{\"$or\":{\"a\":1}}}", "filter.$or");
        assertBad("{\"vector\":" + v + ",\"filter\":[1]}", "filter");
        assertBad("{\"vector\":" + v + ",\"filter\":{\"n\":{\"$gt\":true}}}", "filter.n.$gt");
        assertBad("{\"queries\":[{\"vector\":" + v + ",\"filter\":{\"$and\":[{\"a\":{\"$in\":3}}]}}]}",
                "queries[0].filter.$and[0].a.$in", "/v1/search/batch");
    }

    private void assertBad(String body, String path) {
        assertBad(body, path, "/v1/search");
    }

    private void assertBad(String body, String path, String route) {
        HttpResponse<String> r = api.post(route, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
        JsonNode error = json(r).get("error");
        assertThat(error.get("code").asText()).isEqualTo("invalid_filter");
        assertThat(error.get("message").asText()).startsWith(path + ":");
    }
}
