package io.vectorstream.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Random;
import java.util.function.BooleanSupplier;

/**
 * Sends this server real searches over loopback HTTP once its shards are searchable and before it reports ready,
 * so that the whole query path — HTTP parsing, JSON, hand-offs, the index's search loops, rendering — is compiled
 * code when the first client query arrives (measured at 1M vectors: the first queries of a cold JVM took 265, 65
 * and 43 ms against ~1 ms later). Bounded by a number of searches and a time budget; runs on its own daemon thread.
 *
 * <p>It opens a fresh connection every {@link #PER_CONNECTION} requests: a client's first request on a new connection
 * runs the accept and pipeline set-up code, which one long-lived warm-up connection compiled only once (measured
 * after a restart: a new client's first query took 10-45 ms while the rest took ~1-2). The time budget is generous
 * for the count: on a busy machine (a restart restores and ingests beside the warm-up) 4 s sent only ~300 searches.
 * More searches do not buy more: 3,000 instead of 1,500 did not move when later queries get faster (bench/RESULTS.md),
 * and each costs the CPU that a backfill beside the warm-up needs.
 */
final class QueryWarmUp {
    private static final Logger LOG = LoggerFactory.getLogger(QueryWarmUp.class);
    static final int SEARCHES = 1_500;
    static final Duration BUDGET = Duration.ofSeconds(8);
    /** Requests per warm-up connection (see the class comment). */
    static final int PER_CONNECTION = 25;

    private final int dim;
    private final BooleanSupplier searchable;
    private volatile int port;
    private volatile boolean done;

    QueryWarmUp(int dim, BooleanSupplier searchable) {
        this.dim = dim;
        this.searchable = searchable;
    }

    /** Ready for clients: searchable, and warmed up (a warm-up that failed or ran out of time counts as done). */
    boolean ready() {
        return done && searchable.getAsBoolean();
    }

    boolean done() {
        return done;
    }

    /** Starts warming up {@code port} (this server's, once it listens) as soon as the shards are searchable. */
    void start(int port) {
        this.port = port;
        Thread t = new Thread(this::run, "vs-query-warm-up");
        t.setDaemon(true);
        t.start();
    }

    private void run() {
        try {
            while (!searchable.getAsBoolean()) Thread.sleep(50);
            long start = System.nanoTime(), deadline = start + BUDGET.toNanos();
            int sent = 0, ok = 0;
            Random random = new Random(7);
            while (sent < SEARCHES && System.nanoTime() < deadline) {
                int[] counts = warmOneConnection(random, deadline, sent);
                sent += counts[0];
                ok += counts[1];
            }
            LOG.info("warmed up the query path with {} searches over loopback HTTP in {} ms ({} answered 200)",
                    sent, (System.nanoTime() - start) / 1_000_000, ok);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warn("query warm-up stopped early: {}", e.toString());
        } finally {
            done = true;
        }
    }

    /**
     * Sends up to {@link #PER_CONNECTION} searches on one new keep-alive connection; returns {sent, answered 200}. A
     * plain socket, each request in one write (the JDK client writes headers and body apart, and Nagle's algorithm
     * against delayed ACKs made each warm-up request take ~40 ms).
     */
    private int[] warmOneConnection(Random random, long deadline, int sentBefore) throws java.io.IOException {
        int sent = 0, ok = 0;
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.setTcpNoDelay(true);
            socket.connect(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port), 2_000);
            socket.setSoTimeout(5_000);
            var out = socket.getOutputStream();
            var in = new java.io.BufferedInputStream(socket.getInputStream());
            while (sent < PER_CONNECTION && sentBefore + sent < SEARCHES && System.nanoTime() < deadline) {
                boolean asBatch = (sentBefore + sent) % 50 == 49;
                String body = asBatch ? "{\"local\":true,\"queries\":[" + query(random, false) + "," + query(random, false) + "]}"
                        : "{\"local\":true," + query(random, true).substring(1);
                byte[] json = body.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                String head = "POST " + (asBatch ? "/v1/search/batch" : "/v1/search") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        + "Content-Type: application/json\r\nContent-Length: " + json.length + "\r\n\r\n";
                byte[] request = new byte[head.length() + json.length];
                System.arraycopy(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, request, 0, head.length());
                System.arraycopy(json, 0, request, head.length(), json.length);
                out.write(request);
                out.flush();
                sent++;
                if (readResponse(in) == 200) ok++;
            }
        }
        return new int[] {sent, ok};
    }

    /** Reads one HTTP/1.1 response with a Content-Length body (what the API sends); returns its status. */
    private static int readResponse(java.io.InputStream in) throws java.io.IOException {
        StringBuilder headers = new StringBuilder();
        int b, crlf = 0;
        while (crlf < 4 && (b = in.read()) >= 0) {
            headers.append((char) b);
            crlf = (b == '\r' || b == '\n') ? crlf + 1 : 0;
        }
        String text = headers.toString();
        int status = Integer.parseInt(text.substring(9, 12));
        int length = 0;
        for (String line : text.split("\r\n")) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) length = Integer.parseInt(line.substring(15).trim());
        }
        in.skipNBytes(length); // EOFException if the body is short
        return status;
    }

    /** A random query: a filter one time in ten, and one in a hundred exact (its scan is compiled too, but costly). */
    private String query(Random random, boolean maybeExact) {
        StringBuilder b = new StringBuilder(dim * 8 + 64).append("{\"vector\":[");
        for (int d = 0; d < dim; d++) {
            if (d > 0) b.append(',');
            b.append((float) random.nextGaussian());
        }
        b.append("],\"k\":10");
        int pick = random.nextInt(100);
        if (maybeExact && pick == 0) b.append(",\"exact\":true");
        if (pick % 10 == 1) b.append(",\"filter\":{\"warm_up\":{\"$exists\":false}}");
        return b.append('}').toString();
    }
}
