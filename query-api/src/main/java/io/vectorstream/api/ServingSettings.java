package io.vectorstream.api;

/**
 * How the query API serves: bounds on the work of one request, so that no request — however large — holds a worker
 * for long or answers late, and the background work serving does (the warm-up, the live recall estimate).
 *
 * @param warmUp                 warm the query path up before reporting ready ({@link QueryWarmUp})
 * @param defaultTimeoutMs       a request's deadline when it does not send {@code timeout_ms}
 * @param maxTimeoutMs           the longest {@code timeout_ms} honoured (a longer one is cut to it)
 * @param maxScanVectors         the most vectors one request may have scored, summed over its queries and shards
 *                               (every live vector for an exact query, the probed share for an approximate one); past
 *                               it, 400
 * @param maxResults             the most hits one request may ask for (the sum of its queries' {@code k}); past it, 400
 * @param recallSampleRate       the fraction of approximate queries searched again exactly for the live recall
 *                               estimate ({@link RecallEstimator}; 0: off)
 * @param recallSamplesPerSecond the most such exact re-searches per second
 */
public record ServingSettings(boolean warmUp, long defaultTimeoutMs, long maxTimeoutMs, long maxScanVectors, int maxResults,
                              double recallSampleRate, double recallSamplesPerSecond) {
    public ServingSettings {
        if (defaultTimeoutMs < 1) throw new IllegalArgumentException("the default timeout must be >= 1 ms, was " + defaultTimeoutMs);
        if (maxTimeoutMs < defaultTimeoutMs) {
            throw new IllegalArgumentException("the maximum timeout (" + maxTimeoutMs + " ms) is below the default (" + defaultTimeoutMs + " ms)");
        }
        if (maxScanVectors < 1) throw new IllegalArgumentException("the scan limit must be >= 1, was " + maxScanVectors);
        if (maxResults < 1) throw new IllegalArgumentException("the result limit must be >= 1, was " + maxResults);
        if (!(recallSampleRate >= 0 && recallSampleRate <= 1)) {
            throw new IllegalArgumentException("the recall sample rate must be in 0..1, was " + recallSampleRate);
        }
        if (!(recallSamplesPerSecond > 0)) {
            throw new IllegalArgumentException("recall samples per second must be > 0, was " + recallSamplesPerSecond);
        }
    }

    public ServingSettings(boolean warmUp, long defaultTimeoutMs, long maxTimeoutMs, long maxScanVectors, int maxResults) {
        this(warmUp, defaultTimeoutMs, maxTimeoutMs, maxScanVectors, maxResults, 0.0, 1.0);
    }

    /**
     * 10 s by default and 60 s at most; 100 million vectors scored (~1–2 s of one core at d = 128); 100,000 hits;
     * 1 % of approximate queries sampled for the recall estimate, at most 2 a second.
     */
    public static ServingSettings defaults() {
        return new ServingSettings(true, 10_000, 60_000, 100_000_000L, 100_000, 0.01, 2.0);
    }

    /** These settings without the warm-up and the recall sampling (the API's own tests, tools). */
    public ServingSettings withoutWarmUp() {
        return new ServingSettings(false, defaultTimeoutMs, maxTimeoutMs, maxScanVectors, maxResults, 0.0, recallSamplesPerSecond);
    }

    /** These settings sampling {@code rate} of approximate queries, at most {@code perSecond}, for the recall estimate. */
    public ServingSettings withRecallSampling(double rate, double perSecond) {
        return new ServingSettings(warmUp, defaultTimeoutMs, maxTimeoutMs, maxScanVectors, maxResults, rate, perSecond);
    }

    /** The deadline of a request that asked for {@code timeoutMs} (null: the default), cut to the maximum. */
    long timeoutMillis(Integer timeoutMs) {
        return timeoutMs == null ? defaultTimeoutMs : Math.min(timeoutMs, maxTimeoutMs);
    }
}
