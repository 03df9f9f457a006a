package io.vectorstream.api;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

import java.util.Locale;

/**
 * A route handler that refuses a body declared as something other than JSON with 415 {@code unsupported_media_type}
 * (put it after the body handler: Vert.x wants that first). {@code curl -d} without a header sends
 * {@code application/x-www-form-urlencoded}, and a body taken as JSON anyway hides the client's mistake.
 * No {@code Content-Type} at all is taken as JSON. Used by the search routes and the admin rebuild route.
 */
public final class JsonBodyRequired implements Handler<RoutingContext> {
    public static final JsonBodyRequired INSTANCE = new JsonBodyRequired();

    private JsonBodyRequired() {
    }

    @Override
    public void handle(RoutingContext ctx) {
        String type = ctx.request().getHeader("Content-Type");
        if (type == null || isJson(type)) {
            ctx.next();
            return;
        }
        ctx.fail(new ApiError(415, "unsupported_media_type", "the body is declared as '" + type
                + "': send it as JSON, with Content-Type: application/json"));
    }

    /** {@code application/json} or any {@code application/…+json}, parameters ignored. */
    static boolean isJson(String contentType) {
        int semi = contentType.indexOf(';');
        String media = (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
        return media.equals("application/json") || (media.startsWith("application/") && media.endsWith("+json"));
    }
}
