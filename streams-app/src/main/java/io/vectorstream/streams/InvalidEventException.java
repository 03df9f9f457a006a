package io.vectorstream.streams;

/**
 * Thrown by {@link IngestProcessor} for an event that is not a valid upsert or delete, so that Kafka Streams'
 * processing-exception handling (KIP-1034) hands it to {@link DeadLetterHandler}. Carries
 * {@link EventDecoder}'s stable code and reason; no stack trace (it is an outcome, not a bug).
 */
final class InvalidEventException extends RuntimeException {
    private final String code;

    InvalidEventException(String code, String reason) {
        super(reason, null, false, false);
        this.code = code;
    }

    String code() {
        return code;
    }

    String reason() {
        return getMessage();
    }
}
