package io.vectorstream.streams;

/**
 * Sent to the batcher in place of a dead-lettered event, so that the offsets a snapshot covers
 * advance past it: a producer waiting for offset o sees it covered even if o was a bad event.
 */
enum SkippedEvent {
    INSTANCE
}
