package io.vectorstream.api;

import org.junit.jupiter.api.Test;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The warm-up against a minimal real HTTP/1.1 server on loopback that answers every request 200 and counts
 * connections and requests: it sends its whole count, on fresh connections every {@link QueryWarmUp#PER_CONNECTION}
 * requests (so that a client's first request on a new connection finds compiled code), and only then reports ready.
 */
class QueryWarmUpTest {

    @Test
    void sendsItsSearchesOverManyConnectionsThenReportsReady() throws Exception {
        AtomicInteger connections = new AtomicInteger();
        AtomicInteger requests = new AtomicInteger();
        AtomicInteger searchPaths = new AtomicInteger();
        try (ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    try (Socket s = server.accept()) {
                        connections.incrementAndGet();
                        answerAll(s, requests, searchPaths);
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();

            QueryWarmUp warmUp = new QueryWarmUp(4, () -> true);
            assertThat(warmUp.ready()).as("not ready before it ran").isFalse();
            warmUp.start(server.getLocalPort());
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!warmUp.done() && System.nanoTime() < deadline) Thread.sleep(20);

            assertThat(warmUp.ready()).isTrue();
            assertThat(requests.get()).as("every search sent and answered").isEqualTo(QueryWarmUp.SEARCHES);
            assertThat(searchPaths.get()).as("all of them searches").isEqualTo(QueryWarmUp.SEARCHES);
            assertThat(connections.get()).as("a fresh connection every %d requests", QueryWarmUp.PER_CONNECTION)
                    .isEqualTo((QueryWarmUp.SEARCHES + QueryWarmUp.PER_CONNECTION - 1) / QueryWarmUp.PER_CONNECTION);
        }
    }

    /** Reads requests (headers, then Content-Length bytes) and answers each with an empty JSON object, until EOF. */
    private static void answerAll(Socket s, AtomicInteger requests, AtomicInteger searchPaths) throws IOException {
        InputStream in = new BufferedInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        while (true) {
            StringBuilder head = new StringBuilder();
            int b, crlf = 0;
            while (crlf < 4 && (b = in.read()) >= 0) {
                head.append((char) b);
                crlf = (b == '\r' || b == '\n') ? crlf + 1 : 0;
            }
            if (crlf < 4) return; // the client closed the connection
            int length = 0;
            for (String line : head.toString().split("\r\n")) {
                if (line.regionMatches(true, 0, "content-length:", 0, 15)) length = Integer.parseInt(line.substring(15).trim());
            }
            in.skipNBytes(length);
            requests.incrementAndGet();
            if (head.toString().startsWith("POST /v1/search")) searchPaths.incrementAndGet();
            out.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
    }
}
