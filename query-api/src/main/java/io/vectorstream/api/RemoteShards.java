package io.vectorstream.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vectorstream.index.SearchHit;
import io.vectorstream.kernels.Metric;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.PoolOptions;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Searches at the other instances of the application: the same request body, marked by the {@link #ASKED_HEADER}
 * header (answer from your own shards only, never fan out again), posted with a pooled Vert.x web client and a
 * deadline per hop.
 * Their JSON answers are read back into {@link Answer}s (distances recovered from scores).
 */
final class RemoteShards implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final WebClient client;
    private final long deadlineMillis;
    private final Metric metric;

    RemoteShards(Vertx vertx, long deadlineMillis, Metric metric) {
        this.client = WebClient.create(vertx, new WebClientOptions().setKeepAlive(true).setConnectTimeout((int) Math.min(deadlineMillis, 2_000))
                .setUserAgent("vectorstream-fan-out"), new PoolOptions().setHttp1MaxSize(16));
        this.deadlineMillis = deadlineMillis;
        this.metric = metric;
    }

    long deadlineMillis() {
        return deadlineMillis;
    }

    /**
     * Marks a search sent by another instance of the application: answer from your own shards only and never fan out
     * again (the body goes as the client sent it, so nothing is parsed and written again on the way).
     */
    static final String ASKED_HEADER = "X-Vectorstream-Local";

    /** Whether {@code request} was sent by another instance ({@link #ASKED_HEADER}). */
    static boolean asked(io.vertx.core.http.HttpServerRequest request) {
        return request.getHeader(ASKED_HEADER) != null;
    }

    /**
     * Sent with {@link #ASKED_HEADER} by an instance that asks for standby copies ({@code allow_stale}): answer from
     * your standby copies of these partitions (comma-separated), not from your active shards.
     */
    static final String STANDBY_HEADER = "X-Vectorstream-Standby";

    /** The partitions {@code request} asks this instance's standby copies for (empty: an ordinary request). */
    static java.util.Set<Integer> standbyPartitions(io.vertx.core.http.HttpServerRequest request) {
        String value = request.getHeader(STANDBY_HEADER);
        if (value == null || value.isBlank()) return java.util.Set.of();
        java.util.Set<Integer> partitions = new java.util.TreeSet<>();
        for (String p : value.split(",")) {
            try {
                partitions.add(Integer.parseInt(p.trim()));
            } catch (NumberFormatException e) {
                throw ApiError.badRequest("invalid_header", STANDBY_HEADER + " must list partition numbers, was '" + value + "'");
            }
        }
        return partitions;
    }

    /** POSTs {@code body} to {@code baseUrl + path}; the answer's body, or a failure that says why. */
    Future<Buffer> post(String baseUrl, String path, Buffer body, long atMostMillis) {
        return post(baseUrl, path, body, atMostMillis, java.util.Set.of());
    }

    /** As {@link #post(String, String, Buffer, long)}, asking for the standby copies of {@code standbys} when not empty. */
    Future<Buffer> post(String baseUrl, String path, Buffer body, long atMostMillis, java.util.Set<Integer> standbys) {
        var request = client.postAbs(baseUrl + path).timeout(Math.max(1, Math.min(deadlineMillis, atMostMillis)))
                .putHeader("content-type", "application/json").putHeader(ASKED_HEADER, "true");
        if (!standbys.isEmpty()) {
            request.putHeader(STANDBY_HEADER, String.join(",", standbys.stream().map(String::valueOf).toList()));
        }
        return request.sendBuffer(body).transform(done -> {
                    if (done.failed()) return Future.failedFuture(baseUrl + ": " + done.cause().getMessage());
                    var r = done.result();
                    if (r.statusCode() != 200) {
                        return Future.failedFuture(baseUrl + " answered " + r.statusCode() + ": " + abbreviate(r.bodyAsString()));
                    }
                    return Future.succeededFuture(r.body());
                });
    }

    /** GETs {@code baseUrl + path} (e.g. another instance's local status) within {@code atMostMillis}; its body, or why not. */
    Future<Buffer> get(String baseUrl, String path, long atMostMillis) {
        return client.getAbs(baseUrl + path).timeout(Math.max(1, Math.min(deadlineMillis, atMostMillis))).send().transform(done -> {
            if (done.failed()) return Future.failedFuture(baseUrl + ": " + done.cause().getMessage());
            if (done.result().statusCode() != 200) return Future.failedFuture(baseUrl + " answered " + done.result().statusCode());
            return Future.succeededFuture(done.result().body());
        });
    }

    /**
     * GETs {@code baseUrl + path} as an instance asked by another ({@link #ASKED_HEADER}: answer from your own shards)
     * within {@code atMostMillis}: the response whatever its status (a 404 says which partitions were searched), or a
     * failure that says why none came.
     */
    Future<io.vertx.ext.web.client.HttpResponse<Buffer>> ask(String baseUrl, String path, long atMostMillis) {
        return client.getAbs(baseUrl + path).timeout(Math.max(1, Math.min(deadlineMillis, atMostMillis)))
                .putHeader(ASKED_HEADER, "true").send()
                .transform(done -> done.failed() ? Future.failedFuture(baseUrl + ": " + done.cause().getMessage())
                        : Future.succeededFuture(done.result()));
    }

    /** One answer per query of a remote response ({@code batch}: a batch response). Worker thread. */
    List<Answer> read(Buffer response, boolean batch) throws IOException {
        JsonNode root = JSON.readTree(response.getBytes());
        Map<Integer, Long> offsets = new TreeMap<>(), versions = new TreeMap<>();
        root.path("snapshot").path("offsets").properties().forEach(e -> offsets.put(Integer.parseInt(e.getKey()), e.getValue().asLong()));
        root.path("snapshot").path("versions").properties().forEach(e -> versions.put(Integer.parseInt(e.getKey()), e.getValue().asLong()));
        List<Answer> out = new ArrayList<>();
        if (batch) {
            for (JsonNode q : root.path("results")) out.add(answer(q, offsets, versions));
        } else {
            out.add(answer(root, offsets, versions));
        }
        return out;
    }

    private Answer answer(JsonNode node, Map<Integer, Long> offsets, Map<Integer, Long> versions) {
        List<SearchHit> hits = new ArrayList<>();
        for (JsonNode h : node.path("results")) {
            JsonNode meta = h.get("metadata");
            hits.add(Answer.remoteHit(h.path("id").asText(), (float) h.path("score").asDouble(),
                    meta == null || meta.isNull() ? null : meta.toString(), h.path("partition").asInt(-1), metric));
        }
        Map<Integer, String> plans = new TreeMap<>();
        node.path("plan").properties().forEach(e -> plans.put(Integer.parseInt(e.getKey()), e.getValue().asText()));
        return new Answer(hits, offsets, versions, plans);
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "…" : s;
    }

    @Override
    public void close() {
        client.close();
    }
}
