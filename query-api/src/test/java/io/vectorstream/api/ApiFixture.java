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
import io.vertx.ext.web.Router;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A real QueryServer on a free port over a real two-partition index, and an HTTP client for it.
 * Partition 0 gets {@link #P0_SIZE} vectors in two batches (trained: ivf-flat), partition 1 gets
 * {@link #P1_SIZE} in one batch (below the training threshold: exact).
 */
final class ApiFixture implements AutoCloseable {
    static final int DIM = 8;
    static final int TRAIN_THRESHOLD = 100;
    static final int P0_SIZE = 240;
    static final int P1_SIZE = 60;
    static final long P0_NEXT_OFFSET = 1_000;
    static final long P1_NEXT_OFFSET = 77;
    static final long MAX_BODY = 256 * 1024; // above RequestParser.PEEK_LIMIT: large bodies take their own path
    static final ObjectMapper JSON = new ObjectMapper();

    final Metric metric;
    final ShardRegistry registry;
    final Map<String, StoredVector> stored = new LinkedHashMap<>();
    final AtomicBoolean ready = new AtomicBoolean(false);
    final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    final QueryServer server;
    final int port;
    final HttpClient http = HttpClient.newHttpClient();

    ApiFixture(Metric metric) {
        this(metric, null, WorkerPool.defaultQueueCapacity(2), 2, r -> { }, id -> Optional.empty());
    }

    /**
     * @param extraLookup consulted for ids that are not stored (lets tests make the lookup throw or block)
     */
    ApiFixture(Metric metric, String adminToken, int queueCapacity, int threads, Consumer<Router> adminRoutes,
               VectorLookup extraLookup) {
        this(metric, adminToken, queueCapacity, threads, adminRoutes, extraLookup, ServingSettings.defaults().withoutWarmUp());
    }

    ApiFixture(Metric metric, String adminToken, int queueCapacity, int threads, Consumer<Router> adminRoutes,
               VectorLookup extraLookup, ServingSettings limits) {
        this.metric = metric;
        this.registry = new ShardRegistry(IndexConfig.of(DIM, metric).withTrainThreshold(TRAIN_THRESHOLD), Kernels.cpu());
        Random random = new Random(7);
        List<IndexOp> p0 = new ArrayList<>();
        for (int i = 0; i < P0_SIZE; i++) p0.add(upsert("p0-" + i, random, i % 3 == 0 ? "{\"n\":" + i + ",\"tag\":\"x\"}" : null));
        List<IndexOp> p1 = new ArrayList<>();
        for (int i = 0; i < P1_SIZE; i++) p1.add(upsert("p1-" + i, random, "{\"n\":" + i + "}"));
        p1.add(upsert("with space", random, "{\"odd\":true}"));
        p1.add(upsert("a/b", random, null));
        var shard0 = registry.open(0);
        shard0.apply(p0.subList(0, P0_SIZE / 2), P0_NEXT_OFFSET / 2);
        shard0.apply(p0.subList(P0_SIZE / 2, P0_SIZE), P0_NEXT_OFFSET);
        registry.open(1).apply(p1, P1_NEXT_OFFSET);

        VectorLookup lookup = id -> {
            StoredVector v = stored.get(id);
            return v != null ? Optional.of(v) : extraLookup.find(id);
        };
        QueryApiConfig config = new QueryApiConfig("127.0.0.1", 0, MAX_BODY, threads, adminToken);
        this.server = new QueryServer(config, new IndexSearcher(registry), registry, lookup, ready::get, metrics, queueCapacity);
        server.addAdminRoutes(adminRoutes);
        server.serving(limits);
        this.port = server.start();
    }

    private IndexOp upsert(String id, Random random, String metadata) {
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = (float) random.nextGaussian();
        stored.put(id, new StoredVector(id, v, metadata));
        return new IndexOp.Upsert(id, v, metadata);
    }

    /** Ids of the {@code k} nearest stored vectors by brute force, best first. */
    List<String> bruteForce(float[] query, int k) {
        record Scored(String id, double distance) { }
        float[] q = metric == Metric.COSINE ? unit(query) : query;
        List<Scored> all = new ArrayList<>();
        for (StoredVector v : stored.values()) {
            float[] x = metric == Metric.COSINE ? unit(v.vector()) : v.vector();
            double d = 0;
            for (int i = 0; i < DIM; i++) {
                d += metric == Metric.L2 ? (q[i] - x[i]) * (double) (q[i] - x[i]) : -(double) q[i] * x[i];
            }
            all.add(new Scored(v.id(), d));
        }
        all.sort((a, b) -> Double.compare(a.distance(), b.distance()));
        return all.stream().limit(k).map(Scored::id).toList();
    }

    /** The user-facing score of {@code id} for {@code query}. */
    double score(float[] query, String id) {
        float[] x = stored.get(id).vector();
        float[] q = metric == Metric.COSINE ? unit(query) : query;
        float[] y = metric == Metric.COSINE ? unit(x) : x;
        double s = 0;
        for (int i = 0; i < DIM; i++) s += metric == Metric.L2 ? (q[i] - y[i]) * (double) (q[i] - y[i]) : (double) q[i] * y[i];
        return s;
    }

    static float[] unit(float[] v) {
        double n = 0;
        for (float x : v) n += x * (double) x;
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) out[i] = (float) (out[i] / Math.sqrt(n));
        return out;
    }

    static float[] randomQuery(Random random) {
        float[] q = new float[DIM];
        for (int d = 0; d < DIM; d++) q[d] = (float) random.nextGaussian();
        return q;
    }

    static String vectorJson(float[] v) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < v.length; i++) sb.append(i == 0 ? "" : ",").append(v[i]);
        return sb.append(']').toString();
    }

    URI uri(String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + port + pathAndQuery);
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).GET().build());
    }

    HttpResponse<String> get(String path, String authorization) {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", authorization).GET().build());
    }

    HttpResponse<String> post(String path, String body) {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AssertionError("HTTP " + request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    CompletableFuture<HttpResponse<String>> getAsync(String path) {
        return http.sendAsync(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (HTTP " + response.statusCode() + "): " + response.body(), e);
        }
    }

    @Override
    public void close() {
        server.close();
        http.close();
    }
}
