package io.vectorstream.api;

import io.vectorstream.index.Shard;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The API's meters. In Prometheus they appear as {@code vectorstream_http_requests_seconds_*}
 * (tags route, method, status), {@code vectorstream_search_queries_total} (tag kind: single|batch),
 * {@code vectorstream_search_seconds_*} (index time per search request) and
 * {@code vectorstream_http_rejected_total} (every 503: saturated worker pool, deadlines, unavailable partitions) and
 * {@code vectorstream_http_deadline_exceeded_total} (tag route).
 */
final class ApiMetrics {
    static final String HTTP_REQUESTS = "vectorstream.http.requests";
    static final String SEARCH_QUERIES = "vectorstream.search.queries";
    static final String SEARCH_TIME = "vectorstream.search";
    static final String REJECTED = "vectorstream.http.rejected";

    private final MeterRegistry registry;
    private final Counter singleQueries;
    private final Counter batchQueries;
    private final Timer singleTime;
    private final Timer batchTime;
    private final Counter rejected;

    ApiMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.singleQueries = queries("single");
        this.batchQueries = queries("batch");
        this.singleTime = searchTimer("single");
        this.batchTime = searchTimer("batch");
        this.rejected = Counter.builder(REJECTED)
                .description("Requests refused because the worker pool was saturated")
                .register(registry);
        // present from the start at 0, so that a dashboard's rate() and an alert see a series before the first event
        staleAnswers(0);
        for (String route : java.util.List.of("/v1/search", "/v1/search/batch")) deadlineExceededCounter(route);
    }

    void request(String route, String method, int status, long nanos) {
        Timer.builder(HTTP_REQUESTS)
                .description("HTTP requests by route, method and status")
                .tags("route", route, "method", method, "status", Integer.toString(status))
                .publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1).dividedBy(10))
                .maximumExpectedValue(Duration.ofSeconds(10))
                .register(registry)
                .record(nanos, TimeUnit.NANOSECONDS);
        if (status == 503) rejected.increment();
    }

    /** One shard's answer to a filtered query: which plan ran, and how many matches it estimated. */
    void filtered(io.vectorstream.index.ShardSnapshot.FilteredAnswer answer) {
        Counter.builder("vectorstream_filtered_shard_searches")
                .description("Shard searches of filtered queries, by the plan the shard chose")
                .tag("plan", answer.plan().wireName())
                .register(registry).increment();
        io.micrometer.core.instrument.DistributionSummary.builder("vectorstream_filter_estimated_matches")
                .description("Vectors a shard estimated its filter to match, per filtered shard search")
                .register(registry).record(answer.estimatedMatches());
    }

    /** A search asked {@code instances} other instances, of which {@code failed} did not answer. */
    void fannedOut(int instances, int failed) {
        Counter.builder("vectorstream_fan_out_requests").description("Searches sent to other instances")
                .tag("result", "sent").register(registry).increment(instances);
        if (failed > 0) {
            Counter.builder("vectorstream_fan_out_requests").description("Searches sent to other instances")
                    .tag("result", "failed").register(registry).increment(failed);
        }
    }

    /** A search was sent again ({@code calls} times: owners asked, and this instance) for partitions still unanswered. */
    void retried(int calls) {
        if (calls > 0) {
            Counter.builder("vectorstream_fan_out_requests").description("Searches sent to other instances")
                    .tag("result", "retried").register(registry).increment(calls);
        }
    }

    /** {@code partitions} partitions of a search were answered by standby copies ({@code allow_stale}). */
    void staleAnswers(int partitions) {
        Counter c = Counter.builder("vectorstream_stale_partition_answers").description(
                "Partitions of searches answered by a standby copy because their owner could not answer (allow_stale)")
                .register(registry);
        if (partitions > 0) c.increment(partitions);
    }

    /** A request answered 503 {@code deadline_exceeded} by its timer (its work was not done in time). */
    void deadlineExceeded(String route) {
        deadlineExceededCounter(route).increment();
    }

    private Counter deadlineExceededCounter(String route) {
        return Counter.builder("vectorstream_http_deadline_exceeded")
                .description("Requests answered 503 deadline_exceeded because their work outlasted their deadline")
                .tag("route", route).register(registry);
    }

    void searched(boolean batch, int queries, long nanos) {
        (batch ? batchQueries : singleQueries).increment(queries);
        (batch ? batchTime : singleTime).record(nanos, TimeUnit.NANOSECONDS);
    }

    private Counter queries(String kind) {
        return Counter.builder(SEARCH_QUERIES)
                .description("Queries searched (a batch counts each of its queries)")
                .tag("kind", kind)
                .register(registry);
    }

    private Timer searchTimer(String kind) {
        return Timer.builder(SEARCH_TIME)
                .description("Time spent searching the index per request")
                .tag("kind", kind)
                .register(registry);
    }
}
