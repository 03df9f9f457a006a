package io.vectorstream.api;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Lets a request through to {@code /v1/admin/*} only with {@code Authorization: Bearer <token>};
 * with no token configured every request passes. Compares in constant time.
 */
final class AdminGuard implements Handler<RoutingContext> {
    private final byte[] expected;

    AdminGuard(String token) {
        this.expected = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void handle(RoutingContext ctx) {
        if (expected == null) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        if (header != null && MessageDigest.isEqual(expected, header.trim().getBytes(StandardCharsets.UTF_8))) {
            ctx.next();
            return;
        }
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        ctx.fail(new ApiError(401, "unauthorized", header == null
                ? "admin routes need an Authorization: Bearer <token> header"
                : "the admin bearer token is not valid"));
    }
}
