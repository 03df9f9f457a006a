package io.vectorstream.api;

/**
 * Settings of the HTTP API.
 *
 * @param host          interface to bind
 * @param port          port to bind; 0 picks a free one (see {@link QueryServer#start()})
 * @param maxBodyBytes  largest accepted request body; larger ones get 413
 * @param searchThreads threads of the bounded worker pool that parses, searches and renders
 * @param adminToken    bearer token required by {@code /v1/admin/*}, or null: then only loopback clients may use them
 * @param adminOpen     with no token, let any client use {@code /v1/admin/*} (a deliberate opt-out)
 */
public record QueryApiConfig(String host, int port, long maxBodyBytes, int searchThreads, String adminToken,
                             boolean adminOpen) {

    /** Admin routes for loopback clients only when there is no token. */
    public QueryApiConfig(String host, int port, long maxBodyBytes, int searchThreads, String adminToken) {
        this(host, port, maxBodyBytes, searchThreads, adminToken, false);
    }

    public QueryApiConfig {
        if (host == null || host.isBlank()) throw new IllegalArgumentException("host is required");
        if (port < 0 || port > 65_535) throw new IllegalArgumentException("port must be in 0..65535, was " + port);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("maxBodyBytes must be >= 1, was " + maxBodyBytes);
        if (searchThreads < 1) throw new IllegalArgumentException("searchThreads must be >= 1, was " + searchThreads);
    }

    public static QueryApiConfig defaults() {
        return new QueryApiConfig("0.0.0.0", 8080, 4L * 1024 * 1024,
                Math.max(2, Runtime.getRuntime().availableProcessors()), null);
    }
}
