package io.vectorstream.api;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.BiFunction;

/**
 * The operator's status page at {@code GET /} (and {@code /index.html}): one self-contained HTML file (inline CSS and
 * JavaScript, nothing fetched from elsewhere) that polls {@code /v1/status}, {@code /metrics} and
 * {@code /v1/admin/rebuild} from the browser. The file is read from the class path once, when the router is built;
 * a request only writes those bytes, so the event loop never touches the disk.
 */
final class StatusPage implements Handler<RoutingContext> {
    static final String RESOURCE = "status.html";
    static final List<String> PATHS = List.of("/", "/index.html");
    static final String HTML = "text/html; charset=utf-8";
    /** Inline script and style only, and requests to this server only. */
    static final String CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            + "img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private final byte[] page;

    StatusPage() {
        this(load());
    }

    StatusPage(byte[] page) {
        this.page = page;
    }

    /**
     * Registers the page's routes; {@code endpoint} creates a route for a method and path (the router's own, so that
     * the page's requests are timed like every other route).
     */
    static void register(BiFunction<HttpMethod, String, Route> endpoint) {
        StatusPage page = new StatusPage();
        for (String path : PATHS) endpoint.apply(HttpMethod.GET, path).handler(page);
    }

    static byte[] load() {
        try (InputStream in = StatusPage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) throw new IllegalStateException("the status page resource " + RESOURCE + " is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the status page resource " + RESOURCE, e);
        }
    }

    @Override
    public void handle(RoutingContext ctx) {
        ctx.response().setStatusCode(200)
                .putHeader("Content-Type", HTML)
                .putHeader("Cache-Control", "no-cache")
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Content-Security-Policy", CSP)
                .end(Buffer.buffer(page));
    }
}
