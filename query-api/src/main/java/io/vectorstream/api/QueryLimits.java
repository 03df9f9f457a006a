package io.vectorstream.api;

/**
 * Bounds on the work of one request, so that no request — however large — holds a worker for long or answers late.
 *
 * @param warmUp           warm the query path up before reporting ready ({@link QueryWarmUp})
 * @param defaultTimeoutMs a request's deadline when it does not send {@code timeout_ms}
 * @param maxTimeoutMs     the longest {@code timeout_ms} honoured (a longer one is cut to it)
 * @param maxScanVectors   the most vectors one request may have scored, summed over its queries and shards (every
 *                         live vector for an exact query, the probed share for an approximate one); past it, 400
 * @param maxResults       the most hits one request may ask for (the sum of its queries' {@code k}); past it, 400
 */
public record QueryLimits(boolean warmUp, long defaultTimeoutMs, long maxTimeoutMs, long maxScanVectors, int maxResults) {
    public QueryLimits {
        if (defaultTimeoutMs < 1) throw new IllegalArgumentException("the default timeout must be >= 1 ms, was " + defaultTimeoutMs);
        if (maxTimeoutMs < defaultTimeoutMs) {
            throw new IllegalArgumentException("the maximum timeout (" + maxTimeoutMs + " ms) is below the default (" + defaultTimeoutMs + " ms)");
        }
        if (maxScanVectors < 1) throw new IllegalArgumentException("the scan limit must be >= 1, was " + maxScanVectors);
        if (maxResults < 1) throw new IllegalArgumentException("the result limit must be >= 1, was " + maxResults);
    }

    /** 10 s by default and 60 s at most; 100 million vectors scored (~1–2 s of one core at d = 128); 100,000 hits. */
    public static QueryLimits defaults() {
        return new QueryLimits(true, 10_000, 60_000, 100_000_000L, 100_000);
    }

    /** These limits, without the warm-up (the API's own tests, tools). */
    public QueryLimits withoutWarmUp() {
        return new QueryLimits(false, defaultTimeoutMs, maxTimeoutMs, maxScanVectors, maxResults);
    }

    /** The deadline of a request that asked for {@code timeoutMs} (null: the default), cut to the maximum. */
    long timeoutMillis(Integer timeoutMs) {
        return timeoutMs == null ? defaultTimeoutMs : Math.min(timeoutMs, maxTimeoutMs);
    }
}
