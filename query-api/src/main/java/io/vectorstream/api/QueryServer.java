package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.ShardRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The HTTP API server: owns its Vert.x instance, its bounded worker pool and the HTTP server.
 * {@link #start()} blocks until it listens; {@link #close()} releases all three.
 */
public final class QueryServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QueryServer.class);
    private static final long TIMEOUT_SECONDS = 30;

    private final QueryApiConfig config;
    private final IndexSearcher searcher;
    private final ShardRegistry registry;
    private final VectorLookup lookup;
    private final BooleanSupplier ready;
    private final PrometheusMeterRegistry metrics;
    private final int queueCapacity;
    private final List<Consumer<Router>> adminRoutes = new ArrayList<>();
    private java.time.Duration readYourWritesTimeout = java.time.Duration.ofSeconds(2);
    private ClusterView cluster; // null: searches cover this instance's shards
    private long fanOutDeadlineMillis = 2_000;
    private io.vectorstream.index.durable.DurableShards storage;
    private ServingSettings limits = ServingSettings.defaults().withoutWarmUp();

    private Vertx vertx;
    private WorkerPool workers;
    private java.util.concurrent.ThreadPoolExecutor shardSearch; // null with one search thread
    private RecallEstimator recall; // null when not sampling
    private java.util.function.IntToDoubleFunction consumerLag; // null: unknown
    private HttpServer server;
    private boolean started;

    public QueryServer(QueryApiConfig config, IndexSearcher searcher, ShardRegistry registry, VectorLookup lookup,
                       BooleanSupplier ready, PrometheusMeterRegistry metrics) {
        this(config, searcher, registry, lookup, ready, metrics, WorkerPool.defaultQueueCapacity(config.searchThreads()));
    }

    QueryServer(QueryApiConfig config, IndexSearcher searcher, ShardRegistry registry, VectorLookup lookup,
                BooleanSupplier ready, PrometheusMeterRegistry metrics, int queueCapacity) {
        this.config = Objects.requireNonNull(config, "config");
        this.searcher = Objects.requireNonNull(searcher, "searcher");
        this.registry = Objects.requireNonNull(registry, "registry");
        this.lookup = Objects.requireNonNull(lookup, "lookup");
        this.ready = Objects.requireNonNull(ready, "ready");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.queueCapacity = queueCapacity;
    }

    /**
     * How long a search with {@code min_offsets} waits for its partitions to catch up before answering 503.
     * Call before {@link #start()}.
     */
    public synchronized QueryServer readYourWritesTimeout(java.time.Duration timeout) {
        if (started) throw new IllegalStateException("set the read-your-writes timeout before start()");
        if (timeout == null || timeout.isNegative()) throw new IllegalArgumentException("timeout must be >= 0");
        this.readYourWritesTimeout = timeout;
        return this;
    }

    /**
     * Deadlines, cost bounds, the warm-up ({@link QueryWarmUp}: real searches over loopback HTTP once the shards are
     * searchable, before reporting ready) and the live recall estimate ({@link RecallEstimator}). Default:
     * {@link ServingSettings#defaults()} without the warm-up and the sampling (the API's own tests); the server passes
     * its settings. Call before {@link #start()}.
     */
    public synchronized QueryServer serving(ServingSettings limits) {
        if (started) throw new IllegalStateException("set the limits before start()");
        this.limits = Objects.requireNonNull(limits, "limits");
        return this;
    }

    /** Each partition's consumer lag in records (NaN when unknown), shown in {@code /v1/status}. Call before {@link #start()}. */
    public synchronized QueryServer consumerLag(java.util.function.IntToDoubleFunction lag) {
        if (started) throw new IllegalStateException("set the consumer lag before start()");
        this.consumerLag = lag;
        return this;
    }

    /** The shards' durable state, shown per partition in {@code /v1/status}. Call before {@link #start()}. */
    public synchronized QueryServer storage(io.vectorstream.index.durable.DurableShards storage) {
        if (started) throw new IllegalStateException("set the storage before start()");
        this.storage = storage;
        return this;
    }

    /**
     * Makes every search answer for the whole topic: partitions owned by other instances are searched there (each
     * call within {@code deadlineMillis}) and merged; partitions nobody can answer for make it 503 unless the
     * request allows a partial answer. Without it, searches cover this instance's shards. Call before {@link #start()}.
     */
    public synchronized QueryServer cluster(ClusterView view, long deadlineMillis) {
        if (started) throw new IllegalStateException("set the cluster view before start()");
        if (deadlineMillis < 1) throw new IllegalArgumentException("the fan-out deadline must be >= 1 ms");
        this.cluster = Objects.requireNonNull(view, "view");
        this.fanOutDeadlineMillis = deadlineMillis;
        return this;
    }

    /**
     * Adds routes under {@code /v1/admin} (paths relative to it, e.g. {@code r.post("/rebuild")}),
     * behind the admin bearer-token guard. Call before {@link #start()}.
     */
    public synchronized QueryServer addAdminRoutes(Consumer<Router> registrar) {
        if (started) throw new IllegalStateException("admin routes must be added before start()");
        adminRoutes.add(Objects.requireNonNull(registrar, "registrar"));
        return this;
    }

    /**
     * Starts listening and returns the bound port (the chosen one when the config says 0).
     *
     * @throws IllegalStateException when already started, or when the address cannot be bound
     *                               (e.g. the port is taken); nothing is left running then
     */
    public synchronized int start() {
        if (started) throw new IllegalStateException("QueryServer already started");
        started = true;
        vertx = Vertx.vertx();
        workers = new WorkerPool(config.searchThreads(), queueCapacity);
        if (config.searchThreads() > 1) {
            shardSearch = WorkerPool.shardSearchThreads(config.searchThreads());
            searcher.shardPool(shardSearch);
        }
        if (limits.recallSampleRate() > 0) {
            recall = new RecallEstimator(registry.config(), limits.recallSampleRate(), limits.recallSamplesPerSecond(), metrics);
        }
        QueryWarmUp warm = limits.warmUp() ? new QueryWarmUp(registry.config().dim(), ready) : null;
        Router router;
        try {
            router = new ApiRouter(config, searcher, registry, lookup, warm != null ? warm::ready : ready, metrics, workers)
                    .serving(limits, recall)
                    .consumerLag(consumerLag)
                    .readYourWritesTimeout(readYourWritesTimeout)
                    .storage(storage)
                    .cluster(cluster, fanOutDeadlineMillis)
                    .build(vertx, List.copyOf(adminRoutes));
        } catch (RuntimeException e) {
            releaseAll();
            throw e;
        }
        try {
            HttpServerOptions options = new HttpServerOptions().setHost(config.host()).setPort(config.port());
            server = await(vertx.createHttpServer(options).requestHandler(router).listen(), "listen");
        } catch (RuntimeException e) {
            String address = config.host() + ":" + config.port();
            releaseAll();
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("Query API cannot listen on " + address + ": " + cause.getMessage()
                    + (config.port() != 0 ? " (is the port already in use?)" : ""), cause);
        }
        int port = server.actualPort();
        if (warm != null) warm.start(port);
        LOG.info("Query API listening on {}:{} ({} search threads, body limit {} bytes, admin token {})",
                config.host(), port, config.searchThreads(), config.maxBodyBytes(),
                config.adminToken() != null ? "set" : config.adminOpen() ? "NOT set and --admin-open: admin routes are open to any client"
                        : "NOT set: admin routes accept loopback clients only (--admin-token, or --admin-open to allow any)");
        return port;
    }

    /** Stops the HTTP server, the worker pool and the Vert.x instance. Safe to call more than once. */
    @Override
    public synchronized void close() {
        releaseAll();
    }

    private void releaseAll() {
        if (server != null) {
            try {
                await(server.close(), "close the HTTP server");
            } catch (RuntimeException e) {
                LOG.warn("Closing the HTTP server failed", e);
            }
            server = null;
        }
        if (workers != null) {
            workers.close();
            workers = null;
        }
        if (recall != null) {
            recall.close();
            recall = null;
        }
        if (shardSearch != null) {
            searcher.shardPool(null);
            shardSearch.shutdown();
            shardSearch = null;
        }
        if (vertx != null) {
            try {
                await(vertx.close(), "close Vert.x");
            } catch (RuntimeException e) {
                LOG.warn("Closing Vert.x failed", e);
            }
            vertx = null;
        }
    }

    private static <T> T await(Future<T> future, String what) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(what + ": interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(what + " failed: " + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException(what + ": no answer within " + TIMEOUT_SECONDS + " s", e);
        }
    }
}
