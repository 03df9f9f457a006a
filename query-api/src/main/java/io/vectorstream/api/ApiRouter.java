package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.durable.DurableShards;
import io.vertx.core.AsyncResult;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
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

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
    private ClusterView cluster;          // null: a single instance
    private long fanOutDeadlineMillis = 2_000;
    private RemoteShards remote;          // created with the router when there is a cluster
    private VectorFetch fetch;            // get-by-id, created with the router
    private ServingSettings limits = ServingSettings.defaults().withoutWarmUp();
    private RecallEstimator recall;       // null: no recall sampling
    private java.util.function.IntToDoubleFunction consumerLag = p -> Double.NaN; // per partition, NaN: unknown
    private static final com.fasterxml.jackson.databind.ObjectMapper STATUS_JSON = new com.fasterxml.jackson.databind.ObjectMapper();

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
        this.parser = new RequestParser(registry.config().dim(), IndexSearcher.MAX_K, MAX_BATCH, registry.config().metric().normalizes());
    }

    /** The shards' durable state, shown in status (null: not shown). */
    ApiRouter storage(DurableShards storage) {
        this.storage = storage;
        return this;
    }

    /** Deadlines and cost bounds of a request; the recall estimate samples answers to {@code recall} (null: none). */
    ApiRouter serving(ServingSettings limits, RecallEstimator recall) {
        this.limits = limits;
        this.recall = recall;
        return this;
    }

    /** Each partition's consumer lag in records (NaN when unknown), shown in status. */
    ApiRouter consumerLag(java.util.function.IntToDoubleFunction lag) {
        if (lag != null) this.consumerLag = lag;
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
        if (cluster != null) remote = new RemoteShards(vertx, fanOutDeadlineMillis, registry.config().metric());
        fetch = new VectorFetch(lookup, cluster, remote, workers, renderer, metrics);
        Router router = Router.router(vertx);
        router.route().handler(this::timed).failureHandler(this::failure);
        BodyHandler body = BodyHandler.create(false).setBodyLimit(config.maxBodyBytes());

        endpoint(router, HttpMethod.POST, "/v1/search").handler(body).handler(JsonBodyRequired.INSTANCE).handler(this::search);
        endpoint(router, HttpMethod.POST, "/v1/search/batch").handler(body).handler(JsonBodyRequired.INSTANCE).handler(this::batch);
        endpoint(router, HttpMethod.GET, "/v1/vectors/:id").handler(this::vector);
        endpoint(router, HttpMethod.GET, "/v1/status").handler(this::status);
        endpoint(router, HttpMethod.GET, "/health/live").handler(ctx -> send(ctx, 200, renderer.status("up")));
        endpoint(router, HttpMethod.GET, "/health/ready").handler(this::ready);
        endpoint(router, HttpMethod.GET, "/metrics").handler(this::scrape);
        StatusPage.register((method, path) -> endpoint(router, method, path)); // the operator's page at / (and /index.html)

        Router admin = Router.router(vertx);
        for (Consumer<Router> registrar : adminRoutes) registrar.accept(admin);
        router.route("/v1/admin/*").handler(tag("/v1/admin")).handler(new AdminGuard(config.adminToken(), config.adminOpen()));
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

    // ---- search: this instance's shards, and the other instances' (fan-out) ----

    /** Where the partitions of a search are answered: at which other instances, and which nowhere (and why). */
    private record Routing(Map<String, List<Integer>> remote, Map<Integer, String> unavailable, Set<Integer> all) {
        static final Routing LOCAL_ONLY = new Routing(Map.of(), Map.of(), Set.of());

        boolean isRemote(int partition) {
            for (List<Integer> ps : remote.values()) if (ps.contains(partition)) return true;
            return false;
        }

        /** Asked by another instance: search here only, and report on nothing else. */
        Routing asked() {
            return new Routing(remote, unavailable, Set.of());
        }
    }

    /**
     * A search under way: its local answers (one per query), the calls in flight to other instances, and once
     * gathered, their answers (by instance, and by retry: {@code url#attempt}) and failures (by instance). The body,
     * path and deadline let it be sent again to the partitions' new owners ({@link #retry}). {@code stale}: the
     * partitions asked of standby copies ({@link #stale}), null until they were.
     */
    private record Pending(List<SearchRequest> requests, List<Answer> local, Routing routing,
                           Map<String, Future<Buffer>> inflight, Map<String, List<Answer>> remote, Map<String, String> failed,
                           byte[] body, String path, Deadline deadline, int attempt, Set<Integer> stale) {
        Pending withRemote(Map<String, List<Answer>> remote, Map<String, String> failed) {
            return new Pending(requests, local, routing, inflight, remote, failed, body, path, deadline, attempt, stale);
        }

        /** The partitions answered by standby copies: asked of them, and in {@code merged}. */
        Set<Integer> staleIn(Answer merged) {
            if (stale == null) return Set.of();
            Set<Integer> answered = new java.util.TreeSet<>(stale);
            answered.retainAll(merged.offsets().keySet());
            return answered;
        }

        /** The partitions of the topic no answer has yet (empty for a single instance or an instance asked by another). */
        Set<Integer> unanswered() {
            if (routing.all().isEmpty()) return Set.of();
            Set<Integer> missing = new java.util.TreeSet<>(routing.all());
            missing.removeAll(local.getFirst().offsets().keySet());
            for (List<Answer> answers : remote.values()) if (!answers.isEmpty()) missing.removeAll(answers.getFirst().offsets().keySet());
            return missing;
        }

        /** Nothing asked elsewhere is pending and every partition answered: it can be rendered now. */
        boolean settled() {
            return inflight.isEmpty() && unanswered().isEmpty();
        }
    }

    /**
     * Sends the search to the other owners now, before this instance searches its own shards, so that the hops
     * overlap with the local search (from a worker thread: the web client runs on its own event loop).
     */
    private Map<String, Future<Buffer>> send(Routing routing, boolean asked, byte[] body, String path, Deadline deadline)
            throws IOException {
        if (asked || routing.remote().isEmpty()) return Map.of();
        Buffer forward = Buffer.buffer(body); // as sent; RemoteShards marks it asked by a header
        Map<String, Future<Buffer>> calls = new TreeMap<>();
        for (String url : routing.remote().keySet()) calls.put(url, remote.post(url, path, forward, deadline.remainingMillis()));
        return calls;
    }

    /** This instance's view of the cluster (null: a single instance, nothing to fan out to). */
    ApiRouter cluster(ClusterView cluster, long deadlineMillis) {
        this.cluster = cluster;
        this.fanOutDeadlineMillis = deadlineMillis;
        return this;
    }

    private Routing route() {
        if (cluster == null) return Routing.LOCAL_ONLY;
        Map<String, List<Integer>> remote = new TreeMap<>();
        Map<Integer, String> unavailable = new TreeMap<>();
        Map<Integer, ClusterView.Owner> owners = cluster.owners();
        owners.forEach((p, owner) -> {
            switch (owner) {
                case ClusterView.Owner.Local l -> { }
                case ClusterView.Owner.Remote r -> remote.computeIfAbsent(r.baseUrl(), u -> new ArrayList<>()).add(p);
                case ClusterView.Owner.Unavailable u -> unavailable.put(p, u.reason());
            }
        });
        return new Routing(remote, unavailable, owners.keySet());
    }

    private void search(RoutingContext ctx) {
        long start = System.nanoTime();
        Buffer body = ctx.body().buffer();
        io.vertx.core.Context vctx = ctx.vertx().getOrCreateContext();
        Deadline deadline = guard(ctx, start, body);
        boolean asked = RemoteShards.asked(ctx.request());
        workers.submit(vctx, () -> {
            deadline.check("while the request waited for a worker: the server is overloaded");
            SearchRequest parsed = parser.parseSearch(bytes(body));
            SearchRequest request = asked ? parsed.asLocal() : parsed;
            adopt(ctx, vctx, deadline, request.timeoutMs());
            bound(List.of(request));
            Set<Integer> copies = asked ? RemoteShards.standbyPartitions(ctx.request()) : Set.of();
            if (!copies.isEmpty()) { // another instance asks for this one's standby copies of some partitions
                Answer fromCopies = Answer.of(searchCopies(request, copies, deadline));
                return Step.of(new Pending(List.of(request), List.of(fromCopies), Routing.LOCAL_ONLY, Map.of(), Map.of(),
                        Map.of(), bytes(body), "/v1/search", deadline, 0, null), p -> renderSearch(p, start));
            }
            Routing full = route();
            requireKnownPartitions(full, List.of(request));
            Routing routing = request.local() ? full.asked() : full;
            Map<String, Future<Buffer>> inflight = send(routing, request.local(), bytes(body), "/v1/search", deadline);
            long t = System.nanoTime();
            Answer local = Answer.of(search(request, routing, deadline));
            metrics.searched(false, 1, System.nanoTime() - t);
            return Step.of(new Pending(List.of(request), List.of(local), routing, inflight, Map.of(), Map.of(),
                    bytes(body), "/v1/search", deadline, 0, null), p -> renderSearch(p, start));
        }).compose(step -> finish(step, vctx, false)).onComplete(done -> respond(ctx, done));
    }

    private Buffer renderSearch(Pending p, long start) {
        SearchRequest request = p.requests().getFirst();
        List<Answer> all = new ArrayList<>(List.of(p.local().getFirst()));
        p.remote().values().forEach(r -> all.add(r.getFirst()));
        Answer merged = Answer.merge(all, request.k());
        List<Integer> missing = missing(p, merged, request.allowPartial());
        checkCovered(merged, request.minOffsets());
        Set<Integer> stale = p.staleIn(merged);
        metrics.staleAnswers(stale.size());
        return renderer.search(merged, request.includeMetadata(), millisSince(start), missing, stale);
    }

    private void batch(RoutingContext ctx) {
        long start = System.nanoTime();
        Buffer body = ctx.body().buffer();
        io.vertx.core.Context vctx = ctx.vertx().getOrCreateContext();
        Deadline deadline = guard(ctx, start, body);
        boolean asked = RemoteShards.asked(ctx.request());
        workers.submit(vctx, () -> {
            deadline.check("while the request waited for a worker: the server is overloaded");
            RequestParser.Batch batch = parser.parseBatch(bytes(body));
            adopt(ctx, vctx, deadline, batch.timeoutMs());
            boolean here = batch.local() || asked; // this instance's shards only
            List<SearchRequest> requests = batch.queries().stream()
                    .map(r -> batch.allowPartial() || batch.allowStale() || here ? new SearchRequest(r.vector(), r.k(),
                            r.nprobe(), r.exact(), r.includeMetadata(), r.minOffsets(), r.filter(), batch.allowPartial() && !here,
                            batch.allowStale() && !here, here, null) : r)
                    .toList();
            bound(requests);
            Set<Integer> copies = asked ? RemoteShards.standbyPartitions(ctx.request()) : Set.of();
            if (!copies.isEmpty()) { // another instance asks for this one's standby copies of some partitions
                List<Answer> fromCopies = new ArrayList<>(requests.size());
                for (SearchRequest request : requests) fromCopies.add(Answer.of(searchCopies(request, copies, deadline)));
                return Step.of(new Pending(requests, fromCopies, Routing.LOCAL_ONLY, Map.of(), Map.of(), Map.of(), bytes(body),
                        "/v1/search/batch", deadline, 0, null), p -> renderBatch(p, start));
            }
            Routing full = route();
            requireKnownPartitions(full, requests);
            Routing routing = here ? full.asked() : full;
            Map<String, Future<Buffer>> inflight = send(routing, here, bytes(body), "/v1/search/batch", deadline);
            long t = System.nanoTime();
            List<Answer> local = new ArrayList<>(requests.size());
            for (SearchRequest request : requests) {
                deadline.check("after " + local.size() + " of the batch's " + requests.size() + " queries");
                local.add(Answer.of(search(request, routing, deadline)));
            }
            metrics.searched(true, requests.size(), System.nanoTime() - t);
            return Step.of(new Pending(requests, local, routing, inflight, Map.of(), Map.of(), bytes(body), "/v1/search/batch",
                    deadline, 0, null), p -> renderBatch(p, start));
        }).compose(step -> finish(step, vctx, true)).onComplete(done -> respond(ctx, done));
    }

    private Buffer renderBatch(Pending p, long start) {
        List<Answer> merged = new ArrayList<>(p.requests().size());
        for (int i = 0; i < p.requests().size(); i++) {
            List<Answer> all = new ArrayList<>(List.of(p.local().get(i)));
            for (List<Answer> r : p.remote().values()) if (i < r.size()) all.add(r.get(i));
            merged.add(Answer.merge(all, p.requests().get(i).k()));
            checkCovered(merged.getLast(), p.requests().get(i).minOffsets());
        }
        boolean allowPartial = p.requests().getFirst().allowPartial();
        Set<Integer> stale = p.staleIn(merged.getFirst());
        metrics.staleAnswers(stale.size());
        return renderer.batch(merged, p.requests(), millisSince(start), missing(p, merged.getFirst(), allowPartial), stale);
    }

    /**
     * Where a search stands after its local part: rendered already (nothing was asked of other instances: the
     * whole request took one hand-off to a worker and one back), or waiting for the other instances' answers.
     */
    private record Step(Buffer rendered, Pending pending, java.util.function.Function<Pending, Buffer> render) {
        static Step of(Pending p, java.util.function.Function<Pending, Buffer> render) {
            return p.settled() ? new Step(render.apply(p), null, null) : new Step(null, p, render);
        }
    }

    /** Attempts at partitions that could not be answered, and the pause before each (times the attempt, at most 500 ms). */
    static final int MAX_RETRIES = 20;
    static final long RETRY_PAUSE_MS = 100;

    /** The pause before retry {@code attempt + 1}: 100 ms times the attempt, at most 500 ms. */
    static long retryPauseMillis(int attempt) {
        return Math.min(500, RETRY_PAUSE_MS * (attempt + 1));
    }

    /**
     * The rendered answer: at once, or once the other instances answered (merged and rendered on a worker). While
     * partitions are unanswered — their owner failed, had moved them, or none is known during a rebalance — the
     * search is sent again to their current owners after a pause, as long as the request's deadline allows (a
     * search is idempotent); then it is rendered with what it has (503 or partial, as the request says).
     */
    private Future<Buffer> finish(Step step, io.vertx.core.Context vctx, boolean batch) {
        if (step.rendered() != null) return Future.succeededFuture(step.rendered());
        return gather(step.pending(), batch).compose(gathered -> {
            java.util.concurrent.Callable<Step> decide = () -> {
                Pending p = read(gathered, batch);
                return retryable(p) || wantsStale(p) ? new Step(null, p, step.render()) : new Step(step.render().apply(p), null, null);
            };
            // a single search's few hits are read and rendered where the answers arrive (tens of microseconds: a hop
            // to a worker and back cost more); batches and large answers go to a worker
            if (!batch && answeredBytes(gathered) <= INLINE_ANSWER_BYTES) {
                try {
                    return Future.succeededFuture(decide.call());
                } catch (Exception e) {
                    return Future.failedFuture(e);
                }
            }
            return workers.submit(vctx, decide);
        }).compose(next -> {
            if (next.rendered() != null) return Future.succeededFuture(next.rendered());
            if (wantsStale(next.pending())) { // the owners could not answer: ask the standby copies now, without a pause
                return workers.submit(vctx, () -> new Step(null, stale(next.pending()), next.render()))
                        .compose(again -> finish(again, vctx, batch));
            }
            long pause = retryPauseMillis(next.pending().attempt());
            Promise<Void> paused = Promise.promise();
            vctx.owner().setTimer(pause, t -> paused.complete());
            return paused.future()
                    .compose(v -> workers.submit(vctx, () -> new Step(null, retry(next.pending()), next.render())))
                    .compose(again -> finish(again, vctx, batch));
        });
    }

    /** Other instances' answers up to this size (all together) are read without a hop to a worker. */
    static final int INLINE_ANSWER_BYTES = 16 * 1024;

    private static long answeredBytes(Pending p) {
        long bytes = 0;
        for (Future<Buffer> call : p.inflight().values()) if (call.succeeded()) bytes += call.result().length();
        return bytes;
    }

    /** The request accepts standby copies, some partitions are unanswered, and the copies were not asked yet. */
    private static boolean wantsStale(Pending p) {
        return p.requests().getFirst().allowStale() && p.stale() == null && !p.unanswered().isEmpty();
    }

    /**
     * Asks the standby copies of the unanswered partitions: this instance's own copies at once (read-your-writes
     * waits on them as on an owner), and the other instances that keep one ({@link ClusterView#standbys}), each for
     * the partitions it keeps. A partition no copy answers is then retried or reported as usual.
     */
    private Pending stale(Pending p) throws IOException {
        Set<Integer> wanted = p.unanswered();
        Set<Integer> asked = new java.util.TreeSet<>();
        Map<String, List<Answer>> answers = new TreeMap<>(p.remote());
        Set<Integer> here = new java.util.TreeSet<>();
        for (int partition : wanted) if (registry.standby(partition) != null) here.add(partition);
        if (!here.isEmpty()) {
            List<Answer> local = new ArrayList<>(p.requests().size());
            for (SearchRequest request : p.requests()) local.add(Answer.of(searchCopies(request, here, p.deadline())));
            answers.put("standby-local", local);
            asked.addAll(here);
        }
        Map<String, Set<Integer>> elsewhere = new TreeMap<>();
        Map<Integer, List<String>> standbys = cluster == null ? Map.of() : cluster.standbys();
        for (int partition : wanted) {
            if (here.contains(partition)) continue;
            for (String url : standbys.getOrDefault(partition, List.of())) {
                if (p.failed().containsKey(url)) continue; // the instance that failed as owner is no better as a copy
                elsewhere.computeIfAbsent(url, u -> new java.util.TreeSet<>()).add(partition);
                asked.add(partition);
                break;
            }
        }
        Map<String, Future<Buffer>> inflight = new TreeMap<>();
        Buffer forward = elsewhere.isEmpty() ? null : Buffer.buffer(p.body());
        elsewhere.forEach((url, partitions) -> inflight.put(url + "#standby",
                remote.post(url, p.path(), forward, p.deadline().remainingMillis(), partitions)));
        return new Pending(p.requests(), p.local(), p.routing(), inflight, answers, p.failed(), p.body(), p.path(), p.deadline(),
                p.attempt(), asked);
    }

    /** Read-your-writes waits: the configured timeout, or 2 s when none was set. */
    private ReadYourWrites readYourWrites() {
        if (readYourWrites == null) readYourWrites = new ReadYourWrites(registry, java.time.Duration.ofSeconds(2));
        return readYourWrites;
    }

    /** This instance's standby copies of {@code partitions} (those it has), searched; read-your-writes waits on them. */
    private SearchResult searchCopies(SearchRequest request, Set<Integer> partitions, Deadline deadline) {
        List<io.vectorstream.index.Shard> copies = new ArrayList<>();
        for (int partition : partitions) {
            io.vectorstream.index.Shard copy = registry.standby(partition);
            if (copy != null) copies.add(copy);
        }
        for (io.vectorstream.index.Shard copy : copies) {
            Long need = request.minOffsets().get(copy.partition());
            if (need != null) readYourWrites().await(copy, need, deadline.remainingMillis());
        }
        try {
            return searcher.search(request.vector(), request.k(), request.nprobe(), request.exact(), request.filter(), copies);
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("invalid_request", e.getMessage());
        }
    }

    /** Worth another attempt: partitions unanswered, the request wants them all, and its deadline leaves time. */
    private boolean retryable(Pending p) {
        if (p.unanswered().isEmpty() || p.requests().getFirst().allowPartial() || p.attempt() >= MAX_RETRIES) return false;
        long pause = retryPauseMillis(p.attempt());
        return p.deadline().remainingMillis() > pause + 50;
    }

    /** Sends the search again for its unanswered partitions: to their owners now, or here when they moved here. */
    private Pending retry(Pending p) throws IOException {
        Set<Integer> missing = p.unanswered();
        Routing now = route();
        Map<String, List<Answer>> answers = new TreeMap<>(p.remote());
        Map<String, Future<Buffer>> inflight = new TreeMap<>();
        Set<String> owners = new java.util.TreeSet<>();
        boolean here = false;
        for (int partition : missing) {
            for (var e : now.remote().entrySet()) if (e.getValue().contains(partition)) owners.add(e.getKey());
            if (!now.isRemote(partition) && !now.unavailable().containsKey(partition) && now.all().contains(partition)) here = true;
        }
        Buffer forward = owners.isEmpty() ? null : Buffer.buffer(p.body());
        for (String url : owners) inflight.put(url + "#" + (p.attempt() + 1), remote.post(url, p.path(), forward, p.deadline().remainingMillis()));
        if (here) {
            List<Answer> local = new ArrayList<>(p.requests().size());
            for (SearchRequest request : p.requests()) local.add(Answer.of(search(request, now, p.deadline())));
            answers.put("local#" + (p.attempt() + 1), local);
        }
        metrics.retried(owners.size() + (here ? 1 : 0));
        return new Pending(p.requests(), p.local(), now, inflight, answers, p.failed(), p.body(), p.path(), p.deadline(), p.attempt() + 1,
                p.stale());
    }

    // ---- bounded work: deadlines and cost ----

    /**
     * The request's deadline (the server's default until its body says otherwise), with an event-loop timer that
     * answers 503 {@code deadline_exceeded} when it passes, whatever the worker is doing.
     */
    private Deadline guard(RoutingContext ctx, long start, Buffer body) {
        return guard(ctx, start, peekTimeoutMs(body));
    }

    /** The body's {@code timeout_ms} as far as a look on the event loop tells (see {@link RequestParser#peekTimeoutMs}). */
    static Integer peekTimeoutMs(Buffer body) {
        if (body == null) return null;
        int n = body.length(), window = RequestParser.PEEK_LIMIT;
        if (n <= window) return RequestParser.peekTimeoutMs(body.getBytes());
        return RequestParser.peekTimeoutMs(body.getBytes(0, window), body.getBytes(n - window, n)); // not the whole body
    }

    /** As above, with the request's own {@code timeout_ms} already known (null: the server's default). */
    private Deadline guard(RoutingContext ctx, long start, Integer timeoutMs) {
        long timeout = limits.timeoutMillis(timeoutMs);
        HttpServerResponse response = ctx.response();
        Deadline deadline = new Deadline(start, timeout, () -> response.ended() || response.closed());
        arm(ctx, deadline, timeout);
        return deadline;
    }

    private void arm(RoutingContext ctx, Deadline deadline, long inMillis) {
        Vertx vertx = ctx.vertx();
        long timer = vertx.setTimer(Math.max(1, inMillis), t -> expire(ctx, deadline));
        ctx.addEndHandler(done -> vertx.cancelTimer(timer));
    }

    private void expire(RoutingContext ctx, Deadline deadline) {
        if (ctx.response().ended() || ctx.response().closed()) return;
        if (!deadline.passed()) { // the request asked for a later deadline
            arm(ctx, deadline, deadline.remainingMillis() + 1);
            return;
        }
        metrics.deadlineExceeded(ctx.get(ROUTE_KEY, "unmatched"));
        error(ctx, deadline.exceeded("before the answer was ready"));
    }

    /** Takes the request's own {@code timeout_ms} (cut to the server's maximum); an earlier one re-arms the timer. */
    private void adopt(RoutingContext ctx, io.vertx.core.Context vctx, Deadline deadline, Integer timeoutMs) {
        if (timeoutMs == null) return;
        long before = deadline.timeoutMillis();
        deadline.reset(limits.timeoutMillis(timeoutMs));
        if (deadline.timeoutMillis() < before) vctx.runOnContext(v -> arm(ctx, deadline, deadline.remainingMillis() + 1));
        deadline.check("while the request waited for a worker: the server is overloaded");
    }

    /**
     * Refuses a {@code min_offsets} that names a partition the topic does not have: 400 at once, instead of waiting
     * out the read-your-writes timeout for a partition that will never be covered. Nothing to check when the topic's
     * partitions are not known (no cluster view).
     */
    private static void requireKnownPartitions(Routing routing, List<SearchRequest> requests) {
        if (routing.all().isEmpty()) return;
        for (SearchRequest r : requests) {
            if (r.minOffsets() == null) continue;
            for (int partition : r.minOffsets().keySet()) {
                if (!routing.all().contains(partition)) {
                    throw ApiError.badRequest("unknown_partition", "min_offsets names partition " + partition
                            + ", which the topic does not have (its partitions: " + new java.util.TreeSet<>(routing.all()) + ")");
                }
            }
        }
    }

    /** Refuses, before any search, a request whose work is past the server's bounds: 400 naming the limit. */
    private void bound(List<SearchRequest> requests) {
        long results = 0, scan = 0, exactQueries = 0;
        Map<Integer, Long> estimates = new java.util.HashMap<>(); // by nprobe (0: default, -1: exact)
        for (SearchRequest r : requests) {
            results += r.k();
            int key = r.exact() ? -1 : r.nprobe() == null ? 0 : r.nprobe();
            if (r.exact()) exactQueries++;
            scan += estimates.computeIfAbsent(key, x -> searcher.scanEstimate(r.nprobe(), r.exact()));
        }
        if (results > limits.maxResults()) {
            throw ApiError.badRequest("too_many_results", "the request asks for " + results + " hits in all (the sum of k"
                    + " over its queries), over this server's limit of " + limits.maxResults() + ": ask for fewer or smaller k");
        }
        if (scan > limits.maxScanVectors()) {
            throw ApiError.badRequest("too_costly", String.format(java.util.Locale.ROOT, "the request would score about %,d"
                    + " vectors (%d queries, %d of them exact over every vector), over this server's limit of %,d"
                    + " (--max-request-scan): send fewer exact queries, a smaller nprobe, or split the batch",
                    scan, requests.size(), exactQueries, limits.maxScanVectors()));
        }
    }

    /** Waits for the other instances' answers (sent by {@link #send}, in parallel, each within the deadline). */
    private Future<Pending> gather(Pending p, boolean batch) {
        if (p.inflight().isEmpty()) return Future.succeededFuture(p);
        return Future.join(new ArrayList<>(p.inflight().values())).transform(ignored -> Future.succeededFuture(p));
    }

    /** Reads the gathered answers (on a worker: a batch's answers can be large); a failed call is recorded with why. */
    private Pending read(Pending p, boolean batch) {
        if (p.inflight().isEmpty()) return p;
        Map<String, List<Answer>> answers = new TreeMap<>(p.remote());
        Map<String, String> failed = new TreeMap<>(p.failed());
        int failures = 0;
        for (var e : p.inflight().entrySet()) {
            String key = e.getKey(), url = key.contains("#") ? key.substring(0, key.indexOf('#')) : key;
            Future<Buffer> call = e.getValue();
            try {
                if (call.failed()) throw new IOException(call.cause().getMessage());
                answers.put(key, remote.read(call.result(), batch));
            } catch (IOException | RuntimeException x) {
                failures++;
                failed.put(url, call.failed() ? x.getMessage() : "unreadable answer: " + x.getMessage());
            }
        }
        metrics.fannedOut(p.inflight().size(), failures);
        return new Pending(p.requests(), p.local(), p.routing(), Map.of(), answers, failed, p.body(), p.path(), p.deadline(), p.attempt(),
                p.stale());
    }

    /**
     * The partitions of the topic that {@code merged} lacks. Empty, or (with {@code allowPartial}) the list for
     * {@code snapshot.missing}; otherwise a 503 {@code partitions_unavailable} naming each and why.
     */
    private List<Integer> missing(Pending p, Answer merged, boolean allowPartial) {
        if (p.routing().all().isEmpty()) return List.of(); // a single instance, or an instance asked by another
        Map<Integer, String> why = new TreeMap<>();
        for (int partition : p.routing().all()) {
            if (merged.offsets().containsKey(partition)) continue;
            String reason = p.routing().unavailable().get(partition);
            if (reason == null) {
                for (var e : p.routing().remote().entrySet()) {
                    if (e.getValue().contains(partition)) {
                        reason = p.failed().containsKey(e.getKey()) ? "its owner failed: " + p.failed().get(e.getKey())
                                : "its owner " + e.getKey() + " no longer has it";
                    }
                }
            }
            why.put(partition, reason != null ? reason : "moved while the search ran");
        }
        if (why.isEmpty() || allowPartial) return List.copyOf(why.keySet());
        List<String> described = new ArrayList<>();
        why.forEach((partition, reason) -> described.add(partition + " (" + reason + ")"));
        throw new ApiError(503, "partitions_unavailable", "partitions that cannot be searched now: "
                + String.join("; ", described) + ". Retry, or send \"allow_partial\": true for an answer without them");
    }

    /**
     * Read-your-writes across instances: every partition in {@code minOffsets} that the merged answer has must have
     * answered at or past its offset (each instance waited for its own; this catches a partition that moved while
     * the search ran). A partition absent from the answer is {@link #missing}'s concern.
     */
    private void checkCovered(Answer merged, Map<Integer, Long> minOffsets) {
        List<String> behind = new ArrayList<>();
        minOffsets.forEach((partition, need) -> {
            Long at = merged.offsets().get(partition);
            if (at != null && at < need) behind.add(partition + " (at " + at + ", need " + need + ")");
        });
        if (!behind.isEmpty()) throw new ApiError(503, "behind", "partitions still behind: " + String.join(", ", behind));
    }

    /**
     * This instance's shards' answer. Read-your-writes waits for every partition of {@code min_offsets} that is not
     * another instance's (those owners wait for theirs), including one still restoring here.
     */
    private SearchResult search(SearchRequest request, Routing routing, Deadline deadline) {
        Map<Integer, Long> wait = request.minOffsets();
        if (cluster != null || request.local()) {
            // asked by another instance: only what is searchable here (the asker checks the merged answer)
            Map<Integer, Long> mine = new TreeMap<>();
            wait.forEach((partition, offset) -> {
                boolean here = request.local() ? registry.shard(partition) != null : !routing.isRemote(partition)
                        // with allow_stale, a partition without an owner is read from a copy: do not wait for it here
                        && !(request.allowStale() && routing.unavailable().containsKey(partition));
                if (here) mine.put(partition, offset);
            });
            wait = mine;
        }
        if (!wait.isEmpty()) {
            readYourWrites().await(wait, deadline.remainingMillis());
        }
        SearchResult result;
        try {
            result = searcher.search(request.vector(), request.k(), request.nprobe(), request.exact(), request.filter());
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("invalid_request", e.getMessage());
        }
        if (recall != null) recall.offer(request.vector(), request.k(), request.nprobe(), request.exact(), request.filter(), result);
        if (!wait.isEmpty() && !ReadYourWrites.covers(result.snapshots(), wait)) {
            // a partition moved away (or was reopened behind) between the wait and the search
            throw new ApiError(503, "behind", "partitions still behind: " + String.join(", ", readYourWrites().behind(wait)));
        }
        return result;
    }

    private void vector(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        io.vertx.core.Context vctx = ctx.vertx().getOrCreateContext();
        if (RemoteShards.asked(ctx.request())) { // another instance asks: this instance's shards only, and which they are
            fetch.here(id, vctx).onComplete(done -> {
                if (done.failed()) {
                    ctx.fail(done.cause());
                    return;
                }
                VectorFetch.Local local = done.result();
                ctx.response().putHeader(VectorFetch.SEARCHED_HEADER, local.searchedHeader());
                if (local.rendered() != null) send(ctx, 200, local.rendered());
                else error(ctx, 404, "not_found", "no vector with id '" + id + "' in this instance's partitions " + local.searched());
            });
            return;
        }
        long start = System.nanoTime();
        Integer timeoutMs;
        try {
            timeoutMs = timeoutParam(ctx.request().getParam("timeout_ms"));
        } catch (ApiError e) {
            error(ctx, e);
            return;
        }
        fetch.whole(id, guard(ctx, start, timeoutMs), vctx).onComplete(done -> respond(ctx, done));
    }

    /** {@code ?timeout_ms=N} of a GET: null when absent; a 400 unless a positive integer. */
    static Integer timeoutParam(String value) {
        if (value == null) return null;
        int ms;
        try {
            ms = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("invalid_value", "timeout_ms must be a whole number of milliseconds, was '" + value + "'");
        }
        if (ms < 1) throw ApiError.badRequest("out_of_range", "timeout_ms must be >= 1, was " + ms);
        return ms;
    }

    private void status(RoutingContext ctx) { // rendered on a worker: it reads the disk and may wait on the device thread
        ClusterView view = "true".equals(ctx.request().getParam("local")) ? null : cluster; // ?local=true: this instance only
        io.vertx.core.Context vctx = ctx.vertx().getOrCreateContext();
        // the other owners' own status, for each partition's applied offset and lag (in parallel, within the fan-out deadline)
        Map<String, Future<Buffer>> calls = new TreeMap<>();
        if (view != null && remote != null) {
            for (ClusterView.Owner owner : view.owners().values()) {
                if (owner instanceof ClusterView.Owner.Remote r) {
                    calls.computeIfAbsent(r.baseUrl(), url -> remote.get(url, "/v1/status?local=true", fanOutDeadlineMillis));
                }
            }
        }
        Future.join(new ArrayList<>(calls.values())).transform(ignored -> workers.submit(vctx, () -> {
            Map<Integer, JsonRenderer.PartitionFigures> figures = new TreeMap<>();
            Map<String, String> unreachable = new TreeMap<>();
            calls.forEach((url, call) -> {
                if (call.failed()) {
                    unreachable.put(url, call.cause().getMessage());
                    return;
                }
                try {
                    for (var p : STATUS_JSON.readTree(call.result().getBytes()).path("partitions")) {
                        var lagNode = p.get("lag_records");
                        figures.put(p.path("partition").asInt(), new JsonRenderer.PartitionFigures(p.path("applied_offset").asLong(),
                                lagNode == null || lagNode.isNull() ? Double.NaN : lagNode.asDouble(), p.path("live").asLong(-1)));
                    }
                } catch (IOException e) {
                    unreachable.put(url, "unreadable status: " + e.getMessage());
                }
            });
            return renderer.status(registry.config(), registry.kernels().name(), registry, storage, view, consumerLag, figures, unreachable);
        })).onComplete(done -> respond(ctx, done));
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
            error(ctx, e);
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

    /** An {@link ApiError}'s answer, with {@code Retry-After} when it says when to try again. */
    private void error(RoutingContext ctx, ApiError e) {
        if (e.retryAfterSeconds() > 0 && !ctx.response().headWritten()) {
            ctx.response().putHeader("Retry-After", Integer.toString(e.retryAfterSeconds()));
        }
        send(ctx, e.status(), renderer.error(e.code(), e.getMessage()));
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
