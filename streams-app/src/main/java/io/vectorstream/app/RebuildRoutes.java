package io.vectorstream.app;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vectorstream.api.JsonBodyRequired;
import io.vectorstream.compaction.CompactionService;
import io.vectorstream.compaction.RebuildJob;
import io.vectorstream.compaction.RebuildQueueFullException;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * {@code POST /v1/admin/rebuild} ({@code {}} or {@code {"partitions":[...]}}) answers 202 with the job (with other
 * instances, for partitions they own too: one cluster job, {@link ClusterRebuilds});
 * {@code GET /v1/admin/rebuild/{job}} answers its progress, {@code GET /v1/admin/rebuild} the newest jobs (the status page's
 * list). Both handlers only parse a tiny body and read
 * or queue a job: the rebuild itself runs on the compaction executor, never on the event loop.
 */
final class RebuildRoutes implements Consumer<Router> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BODY = 64 * 1024;

    private final CompactionService service;
    private final ClusterRebuilds cluster; // null: a single instance

    RebuildRoutes(CompactionService service) {
        this(service, null);
    }

    /** @param cluster rebuilds of partitions other instances own (null: this instance's partitions only) */
    RebuildRoutes(CompactionService service, ClusterRebuilds cluster) {
        this.service = service;
        this.cluster = cluster;
    }

    @Override
    public void accept(Router admin) {
        admin.post("/rebuild").handler(BodyHandler.create(false).setBodyLimit(MAX_BODY))
                .handler(JsonBodyRequired.INSTANCE) // 415 for a body declared as anything but JSON, like the search routes
                .handler(this::start);
        admin.get("/rebuild/:job").handler(this::progress);
        admin.get("/rebuild").handler(this::list);
    }

    /** {@code GET /v1/admin/rebuild[?limit=N]}: the newest jobs (default 20, at most 256) as {@code {"jobs":[...]}}. */
    private void list(RoutingContext ctx) {
        int limit = 20;
        String asked = ctx.request().getParam("limit");
        if (asked != null) {
            try {
                limit = Integer.parseInt(asked);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > 256) {
                send(ctx, 400, error("invalid_request", "'limit' must be an integer in 1..256, was '" + asked + "'"));
                return;
            }
        }
        ObjectNode o = JSON.createObjectNode();
        ArrayNode jobs = o.putArray("jobs");
        for (RebuildJob job : service.jobs().stream().limit(limit).toList()) jobs.add(render(job));
        send(ctx, 200, o);
    }

    private void start(RoutingContext ctx) {
        List<Integer> partitions;
        String body = ctx.body().buffer() == null ? null : ctx.body().asString();
        try {
            partitions = parsePartitions(body);
        } catch (IllegalArgumentException e) {
            send(ctx, 400, error("invalid_request", e.getMessage()));
            return;
        }
        if (cluster != null && !isLocal(body) && cluster.spansInstances(partitions)) { // some partitions live elsewhere
            cluster.start(ctx.vertx(), partitions, ctx.request().getHeader("Authorization")).onComplete(done -> {
                if (done.failed()) {
                    send(ctx, 500, error("internal_error", String.valueOf(done.cause().getMessage())));
                    return;
                }
                ClusterRebuilds.Answer a = done.result();
                if (a.status() == 202) ctx.response().putHeader("Location", "/v1/admin/rebuild/" + a.body().path("job").asText());
                if (a.status() == 503) ctx.response().putHeader("Retry-After", "2");
                send(ctx, a.status(), a.body());
            });
            return;
        }
        CompactionService.Requested requested;
        try {
            requested = service.request(partitions);
        } catch (IllegalArgumentException e) {
            send(ctx, 404, error("unknown_partition", e.getMessage()));
            return;
        } catch (RebuildQueueFullException e) {
            ctx.response().putHeader("Retry-After", "5");
            send(ctx, 429, error("too_many_rebuilds", e.getMessage()));
            return;
        }
        RebuildJob job = requested.job();
        ObjectNode answer = render(job);
        if (!requested.alreadyQueued().isEmpty()) { // de-duplicated: these wait in an earlier job already
            ObjectNode already = answer.putObject("already_queued");
            requested.alreadyQueued().forEach((p, id) -> already.put(Integer.toString(p), id));
        }
        ctx.response().putHeader("Location", "/v1/admin/rebuild/" + job.id());
        send(ctx, requested.created() ? 202 : 200, answer);
    }

    private void progress(RoutingContext ctx) {
        String id = ctx.pathParam("job");
        if (cluster != null && id.startsWith("cj-")) {
            cluster.progress(ctx.vertx(), id, ctx.request().getHeader("Authorization")).onComplete(done -> {
                if (done.succeeded() && done.result() != null) send(ctx, 200, done.result());
                else send(ctx, 404, error("not_found", "no rebuild job '" + id + "'"));
            });
            return;
        }
        service.job(id).ifPresentOrElse(job -> send(ctx, 200, render(job)),
                () -> send(ctx, 404, error("not_found", "no rebuild job '" + id + "'")));
    }

    /** null for every owned shard. */
    static List<Integer> parsePartitions(String body) {
        if (body == null || body.isBlank()) return null;
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the body is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw new IllegalArgumentException("the body must be a JSON object");
        var names = root.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!name.equals("partitions") && !name.equals("local")) {
                throw new IllegalArgumentException("unknown field '" + name + "': expected partitions, local");
            }
        }
        if (root.has("local") && !root.get("local").isBoolean()) throw new IllegalArgumentException("'local' must be true or false");
        JsonNode p = root.get("partitions");
        if (p == null || p.isNull()) return null;
        if (!p.isArray()) throw new IllegalArgumentException("'partitions' must be an array of partition numbers");
        if (p.isEmpty()) {
            throw new IllegalArgumentException("'partitions' is empty: name at least one, or leave it out to rebuild every partition");
        }
        List<Integer> out = new ArrayList<>();
        for (JsonNode n : p) {
            if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0) {
                throw new IllegalArgumentException("'partitions' must hold non-negative integers, found " + n);
            }
            out.add(n.intValue());
        }
        return out;
    }

    /** {@code "local": true}: this instance's partitions only (how instances forward a rebuild to each other). */
    private static boolean isLocal(String body) {
        try {
            return body != null && !body.isBlank() && JSON.readTree(body).path("local").asBoolean(false);
        } catch (JsonProcessingException e) {
            return false;
        }
    }

    static ObjectNode render(RebuildJob job) {
        ObjectNode o = JSON.createObjectNode();
        o.put("job", job.id());
        o.put("state", job.state().wireName());
        o.put("phase", job.phase());
        o.put("percent", job.percent());
        o.put("trigger", job.trigger());
        o.put("created_at_ms", job.createdAtMillis());
        ArrayNode shards = o.putArray("shards");
        for (RebuildJob.ShardPart part : job.shards()) {
            ObjectNode s = shards.addObject();
            s.put("partition", part.partition());
            s.put("state", part.state().wireName());
            s.put("phase", part.phase());
            s.put("percent", part.percent());
            if (part.outcome() != null) s.put("outcome", part.outcome());
            if (part.error() != null) s.put("error", part.error());
        }
        return o;
    }

    /** The API's error body, {@code {"error":{"code","message"}}}. */
    static ObjectNode error(String code, String message) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode e = o.putObject("error");
        e.put("code", code);
        e.put("message", message);
        return o;
    }

    private static void send(RoutingContext ctx, int status, ObjectNode body) {
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.toString());
    }
}
