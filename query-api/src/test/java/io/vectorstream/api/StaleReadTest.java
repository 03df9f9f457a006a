package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code allow_stale} over real HTTP and real shards: partition 0 is this instance's, partition 1's owner is another
 * instance that does not answer (a closed port), and this instance keeps a standby copy of partition 1 (opened,
 * applied to, never activated). The instance-to-instance path (the standby header) runs in ScaleOutEndToEndTest.
 */
class StaleReadTest {
    private static final int DIM = 8;
    private static final int PER_PARTITION = 60;
    private static final long COPY_NEXT_OFFSET = 60;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, float[]> live = new LinkedHashMap<>();
    private final HttpClient http = HttpClient.newHttpClient();
    private PrometheusMeterRegistry metrics;
    private QueryServer server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        ShardRegistry registry = new ShardRegistry(IndexConfig.of(DIM, Metric.L2), Kernels.cpu());
        Random random = new Random(3);
        registry.open(0).apply(vectors("own-", random), 60);
        registry.openRestoring(1).apply(vectors("copy-", random), COPY_NEXT_OFFSET); // a standby copy: not searchable
        int gone;
        try (ServerSocket s = new ServerSocket(0)) {
            gone = s.getLocalPort(); // closed again: the owner of partition 1 does not answer
        }
        String owner = "http://127.0.0.1:" + gone;
        int[] self = new int[1];
        ClusterView view = new ClusterView() {
            @Override
            public Map<Integer, Owner> owners() {
                return Map.of(0, new Owner.Local(), 1, new Owner.Remote(owner));
            }

            @Override
            public Map<Integer, List<String>> standbys() {
                return Map.of(1, List.of("http://127.0.0.1:" + self[0]));
            }
        };
        metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        server = new QueryServer(new QueryApiConfig("127.0.0.1", 0, 1 << 20, 2, null), new IndexSearcher(registry), registry,
                id -> Optional.empty(), () -> true, metrics);
        server.cluster(view, 500);
        port = server.start();
        self[0] = port;
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private List<IndexOp> vectors(String prefix, Random random) {
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < PER_PARTITION; i++) {
            float[] v = new float[DIM];
            for (int d = 0; d < DIM; d++) v[d] = (float) random.nextGaussian();
            live.put(prefix + i, v);
            ops.add(new IndexOp.Upsert(prefix + i, v, null));
        }
        return ops;
    }

    private HttpResponse<String> search(String extraFields) throws Exception {
        String body = "{" + extraFields + "\"vector\":[1,0,0,0,0,0,0,0],\"k\":10,\"exact\":true,\"timeout_ms\":700}";
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/search"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private List<String> exactTop10() {
        float[] q = {1, 0, 0, 0, 0, 0, 0, 0};
        return live.entrySet().stream().sorted(Comparator.comparingDouble(e -> {
            double s = 0;
            for (int d = 0; d < DIM; d++) s += (q[d] - e.getValue()[d]) * (double) (q[d] - e.getValue()[d]);
            return s;
        })).limit(10).map(Map.Entry::getKey).toList();
    }

    @Test
    void withoutAllowStaleTheOwnersPartitionIsReportedUnavailable() throws Exception {
        HttpResponse<String> resp = search("");
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(503);
        assertThat(JSON.readTree(resp.body()).path("error").path("code").asText()).isEqualTo("partitions_unavailable");
        assertThat(resp.body()).contains("1 (");
    }

    @Test
    void allowStaleAnswersThePartitionFromTheStandbyCopyAndSaysSo() throws Exception {
        HttpResponse<String> resp = search("\"allow_stale\":true,");
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
        JsonNode body = JSON.readTree(resp.body());
        JsonNode snapshot = body.path("snapshot");
        assertThat(snapshot.path("offsets").path("1").asLong()).as("the copy's offset is reported").isEqualTo(COPY_NEXT_OFFSET);
        assertThat(snapshot.path("stale").toString()).isEqualTo("[1]");
        assertThat(snapshot.has("missing")).isFalse();
        List<String> ids = new ArrayList<>();
        body.path("results").forEach(h -> ids.add(h.path("id").asText()));
        assertThat(ids).as("exact over both partitions, the copy's included").isEqualTo(exactTop10());
        assertThat(metrics.scrape()).contains("vectorstream_stale_partition_answers_total 1.0");
    }

    /** A partition the topic does not have cannot be waited for: 400 at once, naming the topic's partitions. */
    @Test
    void minOffsetsOfAPartitionTheTopicLacksIs400() throws Exception {
        HttpResponse<String> resp = search("\"min_offsets\":{\"99\":5},");
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(400);
        JsonNode error = JSON.readTree(resp.body()).path("error");
        assertThat(error.path("code").asText()).isEqualTo("unknown_partition");
        assertThat(error.path("message").asText()).contains("partition 99").contains("[0, 1]");
        String batch = "{\"queries\":[{\"vector\":[1,0,0,0,0,0,0,0],\"k\":3,\"min_offsets\":{\"7\":1}}]}";
        HttpResponse<String> b = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/search/batch"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(batch)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(b.statusCode()).as(b.body()).isEqualTo(400);
        assertThat(b.body()).contains("unknown_partition").contains("partition 7");
    }

    @Test
    void readYourWritesHoldsOnTheCopy() throws Exception {
        HttpResponse<String> covered = search("\"allow_stale\":true,\"min_offsets\":{\"1\":" + COPY_NEXT_OFFSET + "},");
        assertThat(covered.statusCode()).as(covered.body()).isEqualTo(200);
        HttpResponse<String> ahead = search("\"allow_stale\":true,\"min_offsets\":{\"1\":" + (COPY_NEXT_OFFSET + 5) + "},");
        assertThat(ahead.statusCode()).as("the copy has not reached the offset asked for: %s", ahead.body()).isEqualTo(503);
        // the copy is waited for until the request's deadline: whichever of the wait and the deadline's timer ends first
        assertThat(JSON.readTree(ahead.body()).path("error").path("code").asText()).isIn("behind", "deadline_exceeded");
    }

    @Test
    void batchesAcceptAllowStaleToo() throws Exception {
        String body = "{\"allow_stale\":true,\"timeout_ms\":700,\"queries\":[{\"vector\":[1,0,0,0,0,0,0,0],\"k\":3,\"exact\":true},"
                + "{\"vector\":[0,1,0,0,0,0,0,0],\"k\":3,\"exact\":true}]}";
        HttpResponse<String> resp = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/search/batch"))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
        JsonNode snapshot = JSON.readTree(resp.body()).path("snapshot");
        assertThat(snapshot.path("stale").toString()).isEqualTo("[1]");
        assertThat(snapshot.path("offsets").size()).isEqualTo(2);
    }
}
