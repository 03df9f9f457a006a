package io.vectorstream.api;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Lets a request through to {@code /v1/admin/*} only with {@code Authorization: Bearer <token>} (compared in constant
 * time). With no token configured, only loopback clients pass (an operator on the machine), unless the server was
 * started with {@code --admin-open}: a server bound to 0.0.0.0 must not take rebuild orders from the network by default.
 */
final class AdminGuard implements Handler<RoutingContext> {
    private final byte[] expected;
    private final boolean open;

    AdminGuard(String token) {
        this(token, false);
    }

    AdminGuard(String token, boolean open) {
        this.expected = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
        this.open = open;
    }

    /** Whether a client at {@code remoteHost} may use the admin routes without a token. */
    boolean admitsWithoutToken(String remoteHost) {
        if (open) return true;
        try {
            return remoteHost != null && java.net.InetAddress.getByName(remoteHost).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    @Override
    public void handle(RoutingContext ctx) {
        if (expected == null) {
            var remote = ctx.request().remoteAddress();
            if (admitsWithoutToken(remote == null ? null : remote.hostAddress())) {
                ctx.next();
            } else {
                ctx.fail(new ApiError(403, "forbidden", "admin routes accept only loopback clients when the server has no"
                        + " --admin-token (this request came from " + (remote == null ? "an unknown address" : remote.hostAddress())
                        + "); start it with --admin-token, or --admin-open to allow any client"));
            }
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        if (bearerMatches(header)) {
            ctx.next();
            return;
        }
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        ctx.fail(new ApiError(401, "unauthorized", header == null
                ? "admin routes need an Authorization: Bearer <token> header"
                : "the admin bearer token is not valid"));
    }

    /** {@code Authorization: Bearer <token>} with the expected token; the scheme's case does not matter (RFC 7235). */
    boolean bearerMatches(String header) {
        if (header == null) return false;
        String h = header.trim();
        int space = h.indexOf(' ');
        if (space < 0 || !h.substring(0, space).equalsIgnoreCase("Bearer")) return false;
        return MessageDigest.isEqual(expected, h.substring(space + 1).trim().getBytes(StandardCharsets.UTF_8));
    }
}
