package io.vectorstream.streams;

/** Header names on dead-letter records; the original key, value and headers are kept as they were. */
public final class DeadLetterHeaders {
    /** A stable code such as {@code wrong_dimension} or {@code unparseable}. */
    public static final String ERROR_CODE = "vectorstream.error.code";
    /** A sentence saying what is wrong. */
    public static final String ERROR_REASON = "vectorstream.error.reason";
    public static final String SOURCE_TOPIC = "vectorstream.source.topic";
    public static final String SOURCE_PARTITION = "vectorstream.source.partition";
    public static final String SOURCE_OFFSET = "vectorstream.source.offset";

    private DeadLetterHeaders() {
    }
}
