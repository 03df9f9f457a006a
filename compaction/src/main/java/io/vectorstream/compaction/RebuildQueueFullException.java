package io.vectorstream.compaction;

/** A rebuild request refused because {@link CompactionService#MAX_PENDING_JOBS} operator jobs are queued or running. */
public final class RebuildQueueFullException extends RuntimeException {
    public RebuildQueueFullException(long pending) {
        super(pending + " rebuild jobs are already queued or running (at most " + CompactionService.MAX_PENDING_JOBS
                + "): retry when one has finished", null, false, false);
    }
}
