package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.vectorstream.api.BadRequestTest.assertError;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ServerLifecycleTest {

    @Test
    void defaultsAreAsDocumented() {
        QueryApiConfig defaults = QueryApiConfig.defaults();
        assertThat(defaults.host()).isEqualTo("0.0.0.0");
        assertThat(defaults.port()).isEqualTo(8080);
        assertThat(defaults.maxBodyBytes()).isEqualTo(4L * 1024 * 1024);
        assertThat(defaults.searchThreads()).isEqualTo(Math.max(2, Runtime.getRuntime().availableProcessors()));
        assertThat(defaults.adminToken()).isNull();
    }

    @Test
    void aTakenPortFailsClearlyAndLeavesNothingRunning() {
        try (ApiFixture api = new ApiFixture(Metric.L2)) {
            ShardRegistry registry = new ShardRegistry(IndexConfig.of(4, Metric.L2), Kernels.cpu());
            QueryServer second = new QueryServer(new QueryApiConfig("127.0.0.1", api.port, 1024, 1, null),
                    new IndexSearcher(registry), registry, id -> Optional.empty(), () -> true,
                    new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
            assertThatThrownBy(second::start)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("127.0.0.1:" + api.port)
                    .hasMessageContaining("in use");
            second.close();
            second.close();
            assertThat(api.get("/health/live").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void startTwiceIsRefused() {
        try (ApiFixture api = new ApiFixture(Metric.L2)) {
            assertThatThrownBy(api.server::start).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> api.server.addAdminRoutes(r -> { })).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void anUnexpectedExceptionIs500AndTheServerKeepsServing() {
        VectorLookup failing = id -> {
            if (id.equals("boom")) throw new IllegalStateException("store is on fire");
            return Optional.empty();
        };
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 64, 2, r -> { }, failing)) {
            assertError(api.get("/v1/vectors/boom"), 500, "internal_error", "store is on fire");
            assertThat(api.get("/v1/vectors/p0-1").statusCode()).isEqualTo(200);
            assertError(api.get("/v1/vectors/boom"), 500, "internal_error", "store is on fire");
            assertThat(api.get("/v1/status").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void lookupsRunOnTheWorkerPoolNotAnEventLoop() {
        List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());
        VectorLookup recording = id -> {
            threads.add(Thread.currentThread().getName());
            return Optional.empty();
        };
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 64, 2, r -> { }, recording)) {
            for (int i = 0; i < 5; i++) assertThat(api.get("/v1/vectors/missing-" + i).statusCode()).isEqualTo(404);
        }
        assertThat(threads).hasSize(5).allSatisfy(name -> assertThat(name).startsWith("vs-query-worker-"));
    }

    @Test
    void adminRoutesNeedTheBearerToken() {
        try (ApiFixture api = new ApiFixture(Metric.L2, "s3cret", 64, 2,
                r -> r.post("/echo").handler(ctx -> ctx.response().putHeader("Content-Type", "application/json").end("{\"ok\":true}")),
                id -> Optional.empty())) {
            assertError(api.get("/v1/admin/echo"), 401, "unauthorized", "Bearer");
            assertError(api.get("/v1/admin/echo", "Bearer wrong"), 401, "unauthorized", "not valid");
            assertError(api.get("/v1/admin/echo", "Basic czNjcmV0"), 401, "unauthorized", "not valid");
            assertError(api.get("/v1/admin/nothing", "Bearer s3cret"), 404, "not_found", "/v1/admin/nothing");
            assertError(api.get("/v1/admin/nothing", "bearer  s3cret"), 404, "not_found", "/v1/admin/nothing"); // any case
            assertError(api.get("/v1/admin/echo", "Bearer s3cret2"), 401, "unauthorized", "not valid");
            assertError(api.get("/v1/admin/echo", "Bearers3cret"), 401, "unauthorized", "not valid");

            HttpResponse<String> ok = api.send(java.net.http.HttpRequest.newBuilder(api.uri("/v1/admin/echo"))
                    .header("Authorization", "Bearer s3cret")
                    .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.body()).isEqualTo("{\"ok\":true}");
            assertThat(api.get("/v1/status").statusCode()).isEqualTo(200); // only /v1/admin is guarded
        }
    }

    @Test
    void adminRoutesAreOpenWithoutAToken() {
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 64, 2,
                r -> r.get("/ping").handler(ctx -> ctx.response().end("pong")), id -> Optional.empty())) {
            assertThat(api.get("/v1/admin/ping").body()).isEqualTo("pong");
        }
    }

    @Test
    void aSaturatedWorkerPoolAnswers503InsteadOfQueueing() throws Exception {
        BlockingLookup blocking = new BlockingLookup();
        try (ApiFixture api = new ApiFixture(Metric.L2, null, 1, 1, r -> { }, blocking)) {
            CompletableFuture<HttpResponse<String>> first = api.getAsync("/v1/vectors/block");
            assertThat(blocking.entered.await(30, TimeUnit.SECONDS)).as("the first request reached the worker").isTrue();

            // One worker, busy; a queue of one. Of 20 more requests at most one can wait: the rest are refused.
            List<CompletableFuture<HttpResponse<String>>> more = new ArrayList<>();
            for (int i = 0; i < 20; i++) more.add(api.getAsync("/v1/vectors/x" + i));
            int refused = 0;
            List<CompletableFuture<HttpResponse<String>>> pending = new ArrayList<>(more);
            while (refused < 19) {
                CompletableFuture.anyOf(pending.toArray(CompletableFuture[]::new)).join();
                for (var it = pending.iterator(); it.hasNext(); ) {
                    var f = it.next();
                    if (f.isDone()) {
                        assertError(f.join(), 503, "overloaded", "capacity");
                        assertThat(f.join().headers().firstValue("Retry-After")).as("overload says when to retry").hasValue("1");
                        refused++;
                        it.remove();
                    }
                }
            }
            blocking.release.countDown();
            assertThat(first.get().statusCode()).isEqualTo(404);
            for (var f : pending) assertThat(f.get().statusCode()).isEqualTo(404);
            assertThat(api.get("/metrics").body()).contains("vectorstream_http_rejected_total");
        } finally {
            blocking.release.countDown();
        }
    }
}
