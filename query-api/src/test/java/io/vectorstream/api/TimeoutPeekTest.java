package io.vectorstream.api;

import io.vertx.core.buffer.Buffer;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A request's {@code timeout_ms} is known before it waits for a worker, for small bodies and for large ones (a batch
 * whose queries fill megabytes), wherever the key sits at the top level, and never taken from inside a query.
 */
class TimeoutPeekTest {

    /** A batch body of about {@code kib} KiB of queries, with {@code before} and {@code after} the queries array. */
    private static Buffer batch(String before, String after, int kib) {
        StringBuilder b = new StringBuilder("{").append(before).append("\"queries\":[");
        int i = 0;
        while (b.length() < kib * 1024) {
            if (i++ > 0) b.append(',');
            b.append("{\"vector\":[0.125,-1.5,3.25e-3,7],\"k\":10,\"filter\":{\"note\":\"a \\\"quoted\\\" {[ note\"}}");
        }
        return Buffer.buffer(b.append("]").append(after).append("}").toString());
    }

    @Test
    void aLargeBatchsTimeoutIsFoundBeforeOrAfterItsQueries() {
        assertThat(ApiRouter.peekTimeoutMs(batch("\"timeout_ms\":3000,", "", 600))).isEqualTo(3000);
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\" : 2500 ", 600))).isEqualTo(2500);
        assertThat(ApiRouter.peekTimeoutMs(batch("\"local\":true,", ",\"allow_partial\":true,\"timeout_ms\":40", 2048)))
                .isEqualTo(40);
    }

    @Test
    void aTimeoutInsideAQueryOrAStringIsNotTheRequests() {
        // a key of that name inside the last query's filter, and inside a string value: neither is at the top level
        Buffer nested = Buffer.buffer(batch("", "", 300).toString().replaceFirst("]}$",
                ",{\"vector\":[1,2,3,4],\"filter\":{\"timeout_ms\":5}}]}"));
        assertThat(nested.length()).isGreaterThan(RequestParser.PEEK_LIMIT);
        assertThat(ApiRouter.peekTimeoutMs(nested)).isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("\"note\":\"\\\"timeout_ms\\\":7\",", ",\"x\":\"\\\"timeout_ms\\\":8\"", 300)))
                .isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("", "", 300))).as("absent").isNull();
    }

    @Test
    void anythingButAPositiveIntIsLeftToTheFullParse() {
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\":2.5", 300))).isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\":-3", 300))).isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\":\"100\"", 300))).isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\":99999999999", 300))).isNull();
        assertThat(ApiRouter.peekTimeoutMs(batch("", ",\"timeout_ms\":1e3", 300))).isNull();
    }

    @Test
    void aSmallBodyIsParsedAsBefore() {
        assertThat(ApiRouter.peekTimeoutMs(Buffer.buffer("{\"vector\":[1,2],\"timeout_ms\":120}"))).isEqualTo(120);
        assertThat(ApiRouter.peekTimeoutMs(Buffer.buffer("{\"vector\":[1,2],\"filter\":{\"timeout_ms\":1}}"))).isNull();
        assertThat(ApiRouter.peekTimeoutMs(null)).isNull();
    }
}
