package io.vectorstream.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vectorstream.api.ClusterView;
import io.vectorstream.compaction.CompactionService;
import io.vectorstream.compaction.RebuildJob;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A rebuild asked of any instance for partitions other instances own: each owner queues a job for its partitions
 * (asked over HTTP with the caller's credentials, marked {@code "local": true} so it never forwards again), and this
 * instance keeps one job id ({@code cj-N}) for the whole, whose progress it gathers from the owners when asked.
 * Ownership is Kafka Streams' (through {@link ClusterView}); nothing here moves or replicates a shard.
 */
final class ClusterRebuilds {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int KEPT = 256;
    private static final long CALL_TIMEOUT_MS = 10_000;

    /** One owner's share of a cluster job: {@code baseUrl} null for this instance. */
    record Part(String baseUrl, String jobId, List<Integer> partitions) {
    }

    /** What a start answered: the HTTP status and body. */
    record Answer(int status, ObjectNode body) {
    }

    private final ClusterView cluster;
    private final CompactionService service;
    private final AtomicLong seq = new AtomicLong();
    private final Map<String, List<Part>> jobs = java.util.Collections.synchronizedMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, List<Part>> eldest) {
            return size() > KEPT;
        }
    });
    private volatile WebClient client;

    ClusterRebuilds(ClusterView cluster, CompactionService service) {
        this.cluster = cluster;
        this.service = service;
    }

    /**
     * True when rebuilding {@code partitions} (null: every partition of the topic) needs another instance, or names a
     * partition the topic does not have ({@link #start} then says so: "not owned by this instance" would mislead).
     */
    boolean spansInstances(List<Integer> partitions) {
        Map<Integer, ClusterView.Owner> owners = cluster.owners();
        for (int p : partitions == null ? owners.keySet() : partitions) {
            ClusterView.Owner owner = owners.get(p);
            if (owner == null ? !owners.isEmpty() : !(owner instanceof ClusterView.Owner.Local)) return true;
        }
        return false;
    }

    /** Queues the rebuild at every owner; 202 with the cluster job, 503 when a partition has no owner now. */
    Future<Answer> start(Vertx vertx, List<Integer> partitions, String authorization) {
        Map<Integer, ClusterView.Owner> owners = cluster.owners();
        List<Integer> wanted = partitions == null ? new ArrayList<>(owners.keySet()) : partitions;
        List<Integer> here = new ArrayList<>();
        Map<String, List<Integer>> remote = new TreeMap<>();
        List<String> nowhere = new ArrayList<>();
        List<Integer> unknown = new ArrayList<>();
        for (int p : wanted) {
            switch (owners.get(p)) {
                case null -> unknown.add(p);
                case ClusterView.Owner.Local l -> here.add(p);
                case ClusterView.Owner.Remote r -> remote.computeIfAbsent(r.baseUrl(), u -> new ArrayList<>()).add(p);
                case ClusterView.Owner.Unavailable u -> nowhere.add(p + " (" + u.reason() + ")");
            }
        }
        if (!unknown.isEmpty()) {
            return Future.succeededFuture(new Answer(404, RebuildRoutes.error("unknown_partition",
                    "partitions " + unknown + " are not partitions of the topic (it has " + owners.size() + ")")));
        }
        if (!nowhere.isEmpty()) {
            return Future.succeededFuture(new Answer(503, RebuildRoutes.error("partitions_unavailable",
                    "no instance can rebuild partitions " + String.join(", ", nowhere) + " now: retry shortly")));
        }
        List<Future<Part>> calls = new ArrayList<>();
        if (!here.isEmpty()) calls.add(Future.succeededFuture(new Part(null, service.request(here).job().id(), here)));
        remote.forEach((url, ps) -> calls.add(post(vertx, url, ps, authorization)));
        return Future.join(calls).transform(done -> {
            List<Part> parts = new ArrayList<>();
            List<String> failed = new ArrayList<>();
            for (Future<Part> call : calls) {
                if (call.succeeded()) parts.add(call.result());
                else failed.add(call.cause().getMessage());
            }
            if (!failed.isEmpty()) {
                String started = parts.isEmpty() ? "nothing was queued" : "queued meanwhile: " + describe(parts);
                return Future.succeededFuture(new Answer(502, RebuildRoutes.error("rebuild_failed_at_owner",
                        String.join("; ", failed) + " (" + started + ")")));
            }
            String id = "cj-" + seq.incrementAndGet();
            jobs.put(id, List.copyOf(parts));
            return progress(vertx, id, authorization).map(body -> new Answer(202, body));
        });
    }

    /** The cluster job's progress gathered from its owners, or null when {@code id} is not a cluster job of this instance. */
    Future<ObjectNode> progress(Vertx vertx, String id, String authorization) {
        List<Part> parts = jobs.get(id);
        if (parts == null) return Future.succeededFuture(null);
        List<Future<JsonNode>> views = new ArrayList<>();
        for (Part part : parts) {
            if (part.baseUrl() == null) {
                views.add(Future.succeededFuture(service.job(part.jobId()).map(j -> (JsonNode) RebuildRoutes.render(j))
                        .orElseGet(() -> unknown(part))));
            } else {
                views.add(client(vertx).getAbs(part.baseUrl() + "/v1/admin/rebuild/" + part.jobId()).timeout(CALL_TIMEOUT_MS)
                        .putHeader("Authorization", authorization == null ? "" : authorization).send()
                        .map(r -> r.statusCode() == 200 ? parse(r) : unknown(part))
                        .otherwise(e -> unreachable(part, e)));
            }
        }
        return Future.join(views).transform(done -> {
            ObjectNode o = JSON.createObjectNode();
            o.put("job", id);
            o.put("trigger", "operator");
            ArrayNode shards = JSON.createArrayNode();
            ArrayNode owners = JSON.createArrayNode();
            boolean anyFailed = false, allDone = true, anyStarted = false;
            int percent = 0, n = 0;
            String phase = null;
            for (int i = 0; i < parts.size(); i++) {
                Part part = parts.get(i);
                JsonNode view = views.get(i).result();
                owners.addObject().put("owner", part.baseUrl() == null ? "here" : part.baseUrl()).put("job", part.jobId());
                for (JsonNode shard : view.path("shards")) {
                    ObjectNode s = shard.deepCopy();
                    s.put("owner", part.baseUrl() == null ? "here" : part.baseUrl());
                    shards.add(s);
                    String state = s.path("state").asText();
                    anyFailed |= state.equals("failed");
                    allDone &= state.equals("done");
                    anyStarted |= !state.equals("queued");
                    if (state.equals("running") && phase == null) phase = s.path("phase").asText();
                    percent += s.path("percent").asInt();
                    n++;
                }
            }
            String state = anyFailed ? "failed" : allDone ? "done" : anyStarted ? "running" : "queued";
            o.put("state", state);
            o.put("phase", phase != null ? phase : state);
            o.put("percent", n == 0 ? 0 : percent / n);
            o.set("shards", shards);
            o.set("parts", owners);
            return Future.succeededFuture(o);
        });
    }

    private Future<Part> post(Vertx vertx, String url, List<Integer> partitions, String authorization) {
        ObjectNode body = JSON.createObjectNode();
        partitions.forEach(body.putArray("partitions")::add);
        body.put("local", true);
        return client(vertx).postAbs(url + "/v1/admin/rebuild").timeout(CALL_TIMEOUT_MS)
                .putHeader("Content-Type", "application/json")
                .putHeader("Authorization", authorization == null ? "" : authorization)
                .sendBuffer(Buffer.buffer(body.toString()))
                .transform(done -> {
                    if (done.failed()) return Future.failedFuture(url + ": " + done.cause().getMessage());
                    HttpResponse<Buffer> r = done.result();
                    if (r.statusCode() != 200 && r.statusCode() != 202) {
                        return Future.failedFuture(url + " answered " + r.statusCode() + ": " + r.bodyAsString());
                    }
                    return Future.succeededFuture(new Part(url, parse(r).path("job").asText(), partitions));
                });
    }

    private WebClient client(Vertx vertx) {
        WebClient c = client;
        if (c == null) {
            synchronized (this) {
                if (client == null) client = WebClient.create(vertx, new WebClientOptions().setUserAgent("vectorstream-rebuild"));
                c = client;
            }
        }
        return c;
    }

    private static JsonNode parse(HttpResponse<Buffer> r) {
        try {
            return JSON.readTree(r.bodyAsString());
        } catch (Exception e) {
            return JSON.createObjectNode();
        }
    }

    /** A part whose owner no longer knows its job (it restarted meanwhile): failed, saying so. */
    private static JsonNode unknown(Part part) {
        ObjectNode o = (ObjectNode) placeholder(part, "failed");
        o.path("shards").forEach(s -> ((ObjectNode) s).put("error", "its owner no longer knows job " + part.jobId() + " (restarted?)"));
        return o;
    }

    private static JsonNode unreachable(Part part, Throwable e) {
        return placeholder(part, "unreachable");
    }

    private static JsonNode placeholder(Part part, String state) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode shards = o.putArray("shards");
        for (int p : part.partitions()) shards.addObject().put("partition", p).put("state", state).put("phase", state).put("percent", 0);
        return o;
    }

    private static String describe(List<Part> parts) {
        List<String> out = new ArrayList<>();
        for (Part p : parts) out.add("partitions " + p.partitions() + " as job " + p.jobId() + (p.baseUrl() == null ? " here" : " at " + p.baseUrl()));
        return String.join(", ", out);
    }

}
