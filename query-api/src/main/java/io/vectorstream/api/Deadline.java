package io.vectorstream.api;

/**
 * When a request must be answered by. Checked between units of work (before a queued request starts, between the
 * queries of a batch, around waits); the event loop's timer answers 503 at the deadline whatever the worker is
 * doing, so a client never waits past it. The same checks stop work nobody waits for any more: a request already
 * answered (by that timer) or whose client closed the connection (an operator's walk-through: after a load of large
 * batches stopped, the work queued for the gone clients kept the server answering 503 for ~15 s).
 */
final class Deadline {
    private final long startNanos;
    private volatile long atNanos;
    private final java.util.function.BooleanSupplier abandoned;

    Deadline(long startNanos, long timeoutMillis) {
        this(startNanos, timeoutMillis, () -> false);
    }

    /** @param abandoned true once nobody waits for the answer (answered already, or the client went away) */
    Deadline(long startNanos, long timeoutMillis, java.util.function.BooleanSupplier abandoned) {
        this.startNanos = startNanos;
        this.atNanos = startNanos + timeoutMillis * 1_000_000L;
        this.abandoned = abandoned;
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

    /**
     * @throws ApiError 503 {@code deadline_exceeded} (with Retry-After) once the deadline has passed, or
     *                  {@code abandoned} (never delivered: nobody waits for it) once the request was given up
     */
    void check(String during) {
        if (passed()) throw exceeded(during);
        if (abandoned.getAsBoolean()) {
            throw new ApiError(503, "abandoned", "the request was answered or its client went away " + during + "; its work stopped", 1);
        }
    }

    ApiError exceeded(String during) {
        return new ApiError(503, "deadline_exceeded", "the request's deadline of " + timeoutMillis() + " ms passed "
                + during + " (send a larger \"timeout_ms\", or less work)", 1);
    }
}
