package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.durable.DurableShards;
import io.vertx.core.AsyncResult;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The API's routes. Handlers on the event loop only read the request and hand work to the
 * {@link WorkerPool}; parsing, searching, look-ups and rendering run there. Every failure ends in
 * {@link #failure}, which answers with the JSON error body.
 */
final class ApiRouter {
    private static final Logger LOG = LoggerFactory.getLogger(ApiRouter.class);
    private static final String ROUTE_KEY = "vs.route";
    static final String JSON = "application/json";
    static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";
    static final int MAX_BATCH = 1000;

    private final QueryApiConfig config;
    private final IndexSearcher searcher;
    private final ShardRegistry registry;
    private final VectorLookup lookup;
    private final BooleanSupplier ready;
    private final PrometheusMeterRegistry prometheus;
    private final ApiMetrics metrics;
    private final WorkerPool workers;
    private final RequestParser parser;
    private final JsonRenderer renderer = new JsonRenderer();
    private ReadYourWrites readYourWrites;
    private DurableShards storage;

    ApiRouter(QueryApiConfig config, IndexSearcher searcher, ShardRegistry registry, VectorLookup lookup,
              BooleanSupplier ready, PrometheusMeterRegistry prometheus, WorkerPool workers) {
        this.config = config;
        this.searcher = searcher;
        this.registry = registry;
        this.lookup = lookup;
        this.ready = ready;
        this.prometheus = prometheus;
        this.metrics = new ApiMetrics(prometheus);
        searcher.onFilteredAnswer(metrics::filtered);
        this.workers = workers;
        this.parser = new RequestParser(registry.config().dim(), IndexSearcher.MAX_K, MAX_BATCH);
    }

    /** The shards' durable state, shown in status (null: not shown). */
    ApiRouter storage(DurableShards storage) {
        this.storage = storage;
        return this;
    }

    /** How long searches with {@code min_offsets} wait for their partitions (default 2 s). */
    ApiRouter readYourWritesTimeout(java.time.Duration timeout) {
        this.readYourWrites = new ReadYourWrites(registry, timeout);
        return this;
    }

    /**
     * @param adminRoutes registrars for routes under {@code /v1/admin} (behind the bearer-token guard);
     *                    each receives the admin sub-router, whose paths are relative to {@code /v1/admin}
     */
    Router build(Vertx vertx, List<Consumer<Router>> adminRoutes) {
        Router router = Router.router(vertx);
        router.route().handler(this::timed).failureHandler(this::failure);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());

        endpoint(router, HttpMethod.POST, "/v1/search").handler(body).handler(this::search);
        endpoint(router, HttpMethod.POST, "/v1/search/batch").handler(body).handler(this::batch);
        endpoint(router, HttpMethod.GET, "/v1/vectors/:id").handler(this::vector);
        endpoint(router, HttpMethod.GET, "/v1/status").handler(this::status);
        endpoint(router, HttpMethod.GET, "/health/live").handler(ctx -> send(ctx, 200, renderer.status("up")));
        endpoint(router, HttpMethod.GET, "/health/ready").handler(this::ready);
        endpoint(router, HttpMethod.GET, "/metrics").handler(this::scrape);

        Router admin = Router.router(vertx);
        for (Consumer<Router> registrar : adminRoutes) registrar.accept(admin);
        router.route("/v1/admin/*").handler(tag("/v1/admin")).handler(new AdminGuard(config.adminToken()));
        router.route("/v1/admin/*").subRouter(admin);

        router.errorHandler(404, ctx -> error(ctx, 404, "not_found",
                "no route for " + ctx.request().method() + " " + ctx.request().path()));
        router.errorHandler(405, ctx -> error(ctx, 405, "method_not_allowed",
                ctx.request().method() + " is not allowed on " + ctx.request().path()));
        router.errorHandler(500, this::failure);
        return router;
    }

    /** A route for {@code method path}, after a route that tags the request with it for metrics. */
    private static Route endpoint(Router router, HttpMethod method, String path) {
        router.route(method, path).handler(tag(path)); // own route: Vert.x wants a body handler first on a route
        return router.route(method, path);
    }

    private static Handler<RoutingContext> tag(String route) {
        return ctx -> {
            ctx.put(ROUTE_KEY, route);
            ctx.next();
        };
    }

    private void timed(RoutingContext ctx) {
        long start = System.nanoTime();
        ctx.addEndHandler(done -> metrics.request(ctx.get(ROUTE_KEY, "unmatched"), ctx.request().method().name(),
                ctx.response().getStatusCode(), System.nanoTime() - start));
        ctx.next();
    }

    private void search(RoutingContext ctx) {
        long start = System.nanoTime();
        Buffer body = ctx.body().buffer();
        workers.submit(ctx.vertx().getOrCreateContext(), () -> {
            SearchRequest request = parser.parseSearch(bytes(body));
            long t = System.nanoTime();
            SearchResult result = search(request);
            metrics.searched(false, 1, System.nanoTime() - t);
            return renderer.search(result, request.includeMetadata(), millisSince(start));
        }).onComplete(done -> respond(ctx, done));
    }

    private void batch(RoutingContext ctx) {
        long start = System.nanoTime();
        Buffer body = ctx.body().buffer();
        workers.submit(ctx.vertx().getOrCreateContext(), () -> {
            List<SearchRequest> requests = parser.parseBatch(bytes(body));
            long t = System.nanoTime();
            List<SearchResult> results = new ArrayList<>(requests.size());
            for (SearchRequest request : requests) results.add(search(request));
            metrics.searched(true, requests.size(), System.nanoTime() - t);
            return renderer.batch(results, requests, millisSince(start));
        }).onComplete(done -> respond(ctx, done));
    }

    private SearchResult search(SearchRequest request) {
        if (!request.minOffsets().isEmpty()) {
            if (readYourWrites == null) readYourWrites = new ReadYourWrites(registry, java.time.Duration.ofSeconds(2));
            readYourWrites.await(request.minOffsets());
        }
        SearchResult result;
        try {
            result = searcher.search(request.vector(), request.k(), request.nprobe(), request.exact(), request.filter());
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("invalid_request", e.getMessage());
        }
        if (!request.minOffsets().isEmpty() && !ReadYourWrites.covers(result.snapshots(), request.minOffsets())) {
            // a partition moved away (or was reopened behind) between the wait and the search
            throw new ApiError(503, "behind", "partitions still behind: " + String.join(", ", readYourWrites.behind(request.minOffsets())));
        }
        return result;
    }

    private void vector(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        workers.submit(ctx.vertx().getOrCreateContext(), () -> lookup.find(id)
                .map(renderer::vector)
                .orElseThrow(() -> new ApiError(404, "not_found", "no vector with id '" + id + "'"))
        ).onComplete(done -> respond(ctx, done));
    }

    private void status(RoutingContext ctx) { // on a worker: it reads the disk and may wait on the device thread
        workers.submit(ctx.vertx().getOrCreateContext(),
                () -> renderer.status(registry.config(), registry.kernels().name(), registry, storage)
        ).onComplete(done -> respond(ctx, done));
    }

    private void ready(RoutingContext ctx) {
        if (ready.getAsBoolean()) send(ctx, 200, renderer.status("ready"));
        else send(ctx, 503, renderer.status("not-ready"));
    }

    private void scrape(RoutingContext ctx) {
        ctx.vertx().executeBlocking(prometheus::scrape, false).onComplete(done -> {
            if (done.failed()) {
                ctx.fail(done.cause());
                return;
            }
            ctx.response().setStatusCode(200).putHeader("Content-Type", PROMETHEUS).end(done.result());
        });
    }

    private void respond(RoutingContext ctx, AsyncResult<Buffer> done) {
        if (done.succeeded()) send(ctx, 200, done.result());
        else ctx.fail(done.cause());
    }

    /** Answers every failure: an {@link ApiError} as itself, a bare status with its usual code, anything else as 500. */
    private void failure(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        int status = ctx.statusCode();
        if (failure instanceof ApiError e) {
            error(ctx, e.status(), e.code(), e.getMessage());
        } else if (failure == null && status == 413) {
            error(ctx, 413, "payload_too_large", "request body is larger than the limit of " + config.maxBodyBytes() + " bytes");
        } else if (failure == null && status >= 400 && status < 500) {
            error(ctx, status, status == 404 ? "not_found" : status == 405 ? "method_not_allowed" : "bad_request",
                    "the request was refused (HTTP " + status + ")");
        } else {
            LOG.error("Unexpected error on {} {}", ctx.request().method(), ctx.request().path(), failure);
            String detail = failure == null ? "HTTP " + status
                    : failure.getMessage() != null ? failure.getMessage() : failure.getClass().getSimpleName();
            error(ctx, 500, "internal_error", "unexpected error while handling the request: " + detail);
        }
    }

    private void error(RoutingContext ctx, int status, String code, String message) {
        send(ctx, status, renderer.error(code, message));
    }

    private static void send(RoutingContext ctx, int status, Buffer body) {
        HttpServerResponse response = ctx.response();
        if (response.ended() || response.closed()) return;
        if (response.headWritten()) {
            response.end();
            return;
        }
        response.setStatusCode(status).putHeader("Content-Type", JSON).end(body);
    }

    private static byte[] bytes(Buffer body) {
        return body == null ? null : body.getBytes();
    }

    private static double millisSince(long startNanos) {
        return Math.round((System.nanoTime() - startNanos) / 1_000.0) / 1_000.0;
    }
}
