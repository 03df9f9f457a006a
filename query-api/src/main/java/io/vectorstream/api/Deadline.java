package io.vectorstream.api;

/**
 * When a request must be answered by. Checked between units of work (before a queued request starts, between the
 * queries of a batch, around waits); the event loop's timer answers 503 at the deadline whatever the worker is
 * doing, so a client never waits past it.
 */
final class Deadline {
    private final long startNanos;
    private volatile long atNanos;

    Deadline(long startNanos, long timeoutMillis) {
        this.startNanos = startNanos;
        this.atNanos = startNanos + timeoutMillis * 1_000_000L;
    }

    /** Moves the deadline to {@code timeoutMillis} after the request arrived. */
    void reset(long timeoutMillis) {
        atNanos = startNanos + timeoutMillis * 1_000_000L;
    }

    long remainingMillis() {
        return Math.max(0, (atNanos - System.nanoTime()) / 1_000_000L);
    }

    boolean passed() {
        return System.nanoTime() - atNanos >= 0;
    }

    long timeoutMillis() {
        return (atNanos - startNanos) / 1_000_000L;
    }

    /** @throws ApiError 503 {@code deadline_exceeded} (with Retry-After) once the deadline has passed */
    void check(String during) {
        if (passed()) throw exceeded(during);
    }

    ApiError exceeded(String during) {
        return new ApiError(503, "deadline_exceeded", "the request's deadline of " + timeoutMillis() + " ms passed "
                + during + " (send a larger \"timeout_ms\", or less work)", 1);
    }
}
