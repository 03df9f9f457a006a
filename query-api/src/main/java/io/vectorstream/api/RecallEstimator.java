package io.vectorstream.api;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.VectorMath;
import io.vectorstream.index.filter.Filter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A live recall estimate: a sampled fraction of the approximate queries this instance answers is searched again
 * exactly, in the background, on the very snapshots that answered (immutable, so writes since then do not skew it),
 * and recall@k — the share of the exact top-k that the approximate search found — is published per shard and
 * overall as the mean of the last {@link #WINDOW} samples ({@code vectorstream_recall_estimate{partition}}, with
 * {@code partition="all"} for the instance's merged answers).
 *
 * <p>The query path only draws a random number and offers to a small queue (never blocks; a full queue drops the
 * sample). One daemon thread at the lowest priority does the exact scans, at most {@code maxPerSecond} samples a
 * second; it sleeps in the queue when nothing is sampled.
 */
final class RecallEstimator implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RecallEstimator.class);
    static final int WINDOW = 256;
    static final String METRIC = "vectorstream_recall_estimate";

    private record Sample(float[] query, int k, int nprobe, Filter filter, SearchResult served) {
    }

    private final IndexConfig config;
    private final double rate;
    private final double maxPerSecond;
    private final MeterRegistry meters;
    private final BlockingQueue<Sample> queue = new ArrayBlockingQueue<>(16);
    private final Map<String, Window> windows = new ConcurrentHashMap<>();
    private final Counter samples;
    private final Thread thread;
    private volatile boolean closed;

    /**
     * @param rate         the fraction of approximate queries sampled (0: off)
     * @param maxPerSecond the most samples searched again per second (each is an exact scan of every local shard)
     */
    RecallEstimator(IndexConfig config, double rate, double maxPerSecond, MeterRegistry meters) {
        if (rate < 0 || rate > 1) throw new IllegalArgumentException("the recall sample rate must be in 0..1, was " + rate);
        if (maxPerSecond <= 0) throw new IllegalArgumentException("samples per second must be > 0, was " + maxPerSecond);
        this.config = config;
        this.rate = rate;
        this.maxPerSecond = maxPerSecond;
        this.meters = meters;
        this.samples = Counter.builder("vectorstream_recall_samples").description("Queries searched again exactly for the recall estimate")
                .register(meters);
        this.thread = new Thread(this::run, "vs-recall-estimate");
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
        if (rate > 0) thread.start();
    }

    /** Maybe samples an answered approximate query (a user's vector as sent; cheap, never blocks). */
    void offer(float[] query, int k, Integer nprobe, boolean exact, Filter filter, SearchResult served) {
        if (rate == 0 || exact || ThreadLocalRandom.current().nextDouble() >= rate) return;
        int probes = nprobe != null ? nprobe : config.defaultNprobe();
        queue.offer(new Sample(query, k, probes, filter, served));
    }

    /** Samples waiting to be searched again (for tests). */
    int pending() {
        return queue.size();
    }

    /** The current estimate for {@code partition} (or "all"), NaN before any sample. For tests and status. */
    double estimate(String partition) {
        Window w = windows.get(partition);
        return w == null ? Double.NaN : w.mean();
    }

    private void run() {
        long minGapNanos = (long) (1e9 / maxPerSecond);
        long last = System.nanoTime() - minGapNanos;
        while (!closed) {
            try {
                Sample s = queue.take();
                long wait = last + minGapNanos - System.nanoTime();
                if (wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                last = System.nanoTime();
                measure(s);
                samples.increment();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("a recall sample failed: {}", e.toString());
            }
        }
    }

    private void measure(Sample s) {
        float[] q = config.metric().normalizes() ? VectorMath.normalized(s.query()) : s.query();
        List<SearchHit> exactAll = new ArrayList<>();
        for (ShardSnapshot snapshot : s.served().snapshots()) {
            List<SearchHit> exact = search(snapshot, q, s.k(), s.nprobe(), true, s.filter());
            List<SearchHit> approx = search(snapshot, q, s.k(), s.nprobe(), false, s.filter());
            record(Integer.toString(snapshot.partition()), recall(approx, exact));
            exactAll.addAll(exact);
        }
        exactAll.sort(Comparator.comparingDouble(SearchHit::distance));
        List<SearchHit> exactTop = exactAll.subList(0, Math.min(s.k(), exactAll.size()));
        record("all", recall(s.served().hits(), exactTop));
    }

    private static List<SearchHit> search(ShardSnapshot snapshot, float[] q, int k, int nprobe, boolean exact, Filter filter) {
        return filter == null ? snapshot.search(q, k, nprobe, exact) : snapshot.search(q, k, nprobe, exact, filter).hits();
    }

    /** The share of the exact answer's ids that the approximate answer has (1 when the exact one is empty). */
    static double recall(List<SearchHit> approximate, List<SearchHit> exact) {
        if (exact.isEmpty()) return 1.0;
        Set<String> found = new HashSet<>();
        for (SearchHit h : approximate) found.add(h.partition() + "/" + h.id());
        int hits = 0;
        for (SearchHit h : exact) if (found.contains(h.partition() + "/" + h.id())) hits++;
        return hits / (double) exact.size();
    }

    private void record(String partition, double recall) {
        windows.computeIfAbsent(partition, p -> {
            Window w = new Window();
            Gauge.builder(METRIC, w, Window::mean)
                    .description("Recall@k of sampled approximate queries against an exact search of the same snapshot (mean of the last "
                            + WINDOW + " samples)")
                    .tag("partition", p).register(meters);
            return w;
        }).add(recall);
    }

    /** The last {@link #WINDOW} recalls of one shard (written by the estimator thread, read by scrapes). */
    private static final class Window {
        private final double[] values = new double[WINDOW];
        private int count, next;

        synchronized void add(double v) {
            values[next] = v;
            next = (next + 1) % WINDOW;
            count = Math.min(count + 1, WINDOW);
        }

        synchronized double mean() {
            if (count == 0) return Double.NaN;
            double sum = 0;
            for (int i = 0; i < count; i++) sum += values[i];
            return sum / count;
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
