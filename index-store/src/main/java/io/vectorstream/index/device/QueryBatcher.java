package io.vectorstream.index.device;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Micro-batches concurrent single queries onto the device: the first query waits at most
 * {@code maxWait} for others (zero: the batch is whatever queued while the previous one ran), at most
 * {@code maxBatch} go in one launch, and queries with the same (k, nprobe) share it. One batch is far
 * cheaper on a GPU than the same queries one by one.
 */
public final class QueryBatcher implements AutoCloseable {

    /** One query's answer, best first (ids -1 pad when fewer than k vectors exist). */
    public record Hits(int[] ids, float[] distances) {
    }

    private record Pending(float[] query, int k, int nprobe, CompletableFuture<Hits> result) {
    }

    private final CudaIvfLists lists;
    private final int maxBatch;
    private final long maxWaitNanos;
    private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;
    private volatile long batches;

    public QueryBatcher(CudaIvfLists lists, int maxBatch, Duration maxWait) {
        if (maxBatch < 1) throw new IllegalArgumentException("maxBatch must be >= 1");
        this.lists = lists;
        this.maxBatch = maxBatch;
        this.maxWaitNanos = maxWait.toNanos();
        this.thread = new Thread(this::run, "cuda-query-batcher-" + lists.device().ordinal());
        this.thread.setDaemon(true);
        this.thread.start();
    }

    public CompletableFuture<Hits> search(float[] query, int k, int nprobe) {
        if (query.length != lists.dim()) throw new IllegalArgumentException("query has " + query.length + " values, index has dim " + lists.dim());
        CompletableFuture<Hits> f = new CompletableFuture<>();
        if (closed) {
            f.completeExceptionally(new IllegalStateException("query batcher closed"));
            return f;
        }
        queue.add(new Pending(query.clone(), k, nprobe, f));
        return f;
    }

    /** Launches so far (to check that batching happens). */
    public long batches() {
        return batches;
    }

    private void run() {
        List<Pending> batch = new ArrayList<>();
        while (!closed) {
            try {
                Pending first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) continue;
                batch.add(first);
                long deadline = System.nanoTime() + maxWaitNanos;
                while (batch.size() < maxBatch) {
                    long left = deadline - System.nanoTime();
                    Pending next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
                    if (next == null) break;
                    batch.add(next);
                }
                runBatch(batch);
            } catch (InterruptedException e) {
                break;
            } finally {
                batch.clear();
            }
        }
        Pending p;
        while ((p = queue.poll()) != null) p.result().completeExceptionally(new IllegalStateException("query batcher closed"));
    }

    private void runBatch(List<Pending> batch) {
        Map<Long, List<Pending>> groups = new LinkedHashMap<>();
        for (Pending p : batch) groups.computeIfAbsent(((long) p.k() << 32) | p.nprobe(), g -> new ArrayList<>()).add(p);
        for (List<Pending> g : groups.values()) {
            int dim = lists.dim();
            int k = g.get(0).k();
            float[] queries = new float[g.size() * dim];
            for (int i = 0; i < g.size(); i++) System.arraycopy(g.get(i).query(), 0, queries, i * dim, dim);
            try {
                CudaIvfLists.SearchResult r = lists.search(queries, g.size(), k, g.get(0).nprobe());
                batches++;
                for (int i = 0; i < g.size(); i++) {
                    g.get(i).result().complete(new Hits(Arrays.copyOfRange(r.ids(), i * k, (i + 1) * k),
                            Arrays.copyOfRange(r.distances(), i * k, (i + 1) * k)));
                }
            } catch (Throwable e) {
                for (Pending p : g) p.result().completeExceptionally(e);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
