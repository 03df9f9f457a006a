package io.vectorstream.compaction;

/** What started a compaction: the names shown in status and job progress. */
public final class CompactionTrigger {
    public static final String HOT_SIZE = "hot-size";
    public static final String TOMBSTONES = "tombstones";
    public static final String DRIFT = "drift";
    public static final String TIMER = "timer";
    public static final String OPERATOR = "operator";
    /** A shard too small for a base has applied many operations since its last snapshot: write one, trim the log. */
    public static final String LOG_SIZE = "log-size";

    private CompactionTrigger() {
    }
}
