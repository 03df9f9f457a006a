package io.vectorstream.api;

import io.vectorstream.index.IndexSearcher;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The bounded pool that runs the API's CPU-bound work (parsing large bodies, searching, rendering)
 * off the event loops. When every thread is busy and the queue is full a task is refused at once
 * with a 503 {@link ApiError}, instead of queueing without limit.
 */
final class WorkerPool implements AutoCloseable {
    private final ThreadPoolExecutor executor;

    WorkerPool(int threads, int queueCapacity) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, was " + threads);
        if (queueCapacity < 1) throw new IllegalArgumentException("queueCapacity must be >= 1, was " + queueCapacity);
        this.executor = new ThreadPoolExecutor(threads, threads, 0L, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueCapacity), daemonThreads("vs-query-worker-"), new ThreadPoolExecutor.AbortPolicy());
    }

    /** A queue long enough to absorb bursts, short enough that waiting in it stays brief. */
    static int defaultQueueCapacity(int threads) {
        return Math.max(64, threads * 32);
    }

    /**
     * Runs {@code task} on the pool; the returned future completes on {@code context} (the calling
     * event loop). Fails with a 503 {@link ApiError} when the pool is saturated.
     */
    <T> Future<T> submit(Context context, Callable<T> task) {
        Promise<T> promise = Promise.promise();
        try {
            executor.execute(() -> {
                T value;
                try {
                    value = task.call();
                } catch (Throwable e) {
                    context.runOnContext(v -> promise.fail(e));
                    return;
                }
                context.runOnContext(v -> promise.complete(value));
            });
        } catch (RejectedExecutionException e) {
            promise.fail(new ApiError(503, "overloaded",
                    executor.isShutdown() ? "the server is shutting down" : "the server is at capacity: retry shortly", 1));
        }
        return promise.future();
    }

    /**
     * Threads that search the other shards of a query while its worker searches one (see
     * {@link IndexSearcher#shardPool}): a hand-off queue, so a search is taken only by an idle thread and otherwise
     * refused at once (the worker then searches that shard itself).
     */
    static ThreadPoolExecutor shardSearchThreads(int threads) {
        return new ThreadPoolExecutor(threads, threads, 0L, TimeUnit.MILLISECONDS, new java.util.concurrent.SynchronousQueue<>(),
                daemonThreads("vs-shard-search-"), new ThreadPoolExecutor.AbortPolicy());
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) executor.shutdownNow();
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
