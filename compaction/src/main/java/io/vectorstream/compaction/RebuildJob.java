package io.vectorstream.compaction;

import java.util.List;

/**
 * One rebuild request (the operator's, or a trigger's) over one or more shards, with its progress.
 * Read by anyone at any time; each shard's part is written only by the compaction thread running it.
 */
public final class RebuildJob {

    public enum State {
        QUEUED, RUNNING, DONE, FAILED;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One shard's part of a job. */
    public static final class ShardPart implements Compactor.Progress {
        private final int partition;
        private volatile State state = State.QUEUED;
        private volatile String phase = "queued";
        private volatile int percent;
        private volatile String outcome;
        private volatile String error;

        ShardPart(int partition) {
            this.partition = partition;
        }

        @Override
        public void phase(String phase, int percent) {
            this.phase = phase;
            this.percent = percent;
        }

        void start() {
            state = State.RUNNING;
        }

        void done(String outcome) {
            this.outcome = outcome;
            this.percent = 100;
            this.phase = "done";
            this.state = State.DONE;
        }

        void failed(String error) {
            this.error = error;
            this.state = State.FAILED;
        }

        public int partition() { return partition; }

        public State state() { return state; }

        public String phase() { return phase; }

        public int percent() { return percent; }

        /** built | skipped-too-small | dropped-base, once done. */
        public String outcome() { return outcome; }

        public String error() { return error; }
    }

    private final String id;
    private final String trigger;
    private final long createdAtMillis;
    private final List<ShardPart> shards;

    RebuildJob(String id, String trigger, List<ShardPart> shards) {
        this.id = id;
        this.trigger = trigger;
        this.createdAtMillis = System.currentTimeMillis();
        this.shards = List.copyOf(shards);
    }

    public String id() { return id; }

    public String trigger() { return trigger; }

    public long createdAtMillis() { return createdAtMillis; }

    public List<ShardPart> shards() { return shards; }

    /** Failed if any part failed; done when all are; queued while none has started; running otherwise. */
    public State state() {
        boolean allDone = true, anyStarted = false;
        for (ShardPart p : shards) {
            if (p.state() == State.FAILED) return State.FAILED;
            if (p.state() != State.DONE) allDone = false;
            if (p.state() != State.QUEUED) anyStarted = true;
        }
        if (allDone) return State.DONE;
        return anyStarted ? State.RUNNING : State.QUEUED;
    }

    /** The mean of the parts' percentages (100 for a job with no shard). */
    public int percent() {
        if (shards.isEmpty()) return 100;
        int sum = 0;
        for (ShardPart p : shards) sum += p.percent();
        return sum / shards.size();
    }

    /** The phase of the first part still running, else of the first queued one, else "done"/"failed". */
    public String phase() {
        for (ShardPart p : shards) if (p.state() == State.RUNNING) return p.phase();
        State s = state();
        return s == State.QUEUED ? "queued" : s == State.FAILED ? "failed" : s == State.DONE ? "done" : "queued";
    }
}
