package io.vectorstream.compaction;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Lowers the CPU priority of the calling thread, so that background builds take only CPU that searches
 * and ingestion leave idle; RocksDB does the same for its compaction threads. Two Linux levers, both per
 * thread and both allowed without privilege: the nice value ({@code renice}), and the {@code SCHED_IDLE}
 * policy ({@code chrt --idle}), under which the thread runs only when no normal thread wants the CPU and a
 * waking search preempts it at once (a nice-19 thread may still finish its time slice first, which showed
 * as 1-2 ms of extra p99). Java has no API for either, so both run on the thread's kernel id (read from
 * {@code /proc/thread-self}). Where this does not work (another OS, no {@code renice}/{@code chrt}) the
 * thread keeps its priority and one warning says so.
 */
public final class BackgroundPriority {
    private static final Logger LOG = LoggerFactory.getLogger(BackgroundPriority.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private BackgroundPriority() {
    }

    /**
     * A fork-join pool of {@code threads} daemon workers named {@code name-N}, each lowered ({@link #lowerCurrentThread})
     * when it starts. Work submitted to it runs its parallel streams in it too, so their workers are lowered as well
     * (the common pool's are not).
     */
    public static java.util.concurrent.ForkJoinPool forkJoinPool(String name, int threads, int nice, boolean idle) {
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        return new java.util.concurrent.ForkJoinPool(threads, pool -> {
            java.util.concurrent.ForkJoinWorkerThread t = new java.util.concurrent.ForkJoinWorkerThread(pool) {
                @Override
                protected void onStart() {
                    super.onStart();
                    lowerCurrentThread(nice, idle);
                }
            };
            t.setName(name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** Linux's number for the SCHED_IDLE policy (field 41 of a task's stat). */
    static final int SCHED_IDLE = 5;

    /**
     * Sets the calling thread's nice value to {@code nice} (0 = leave it) and, when {@code idle}, its
     * scheduling policy to SCHED_IDLE; true if it now has what was asked (false if nothing was asked).
     */
    public static boolean lowerCurrentThread(int nice, boolean idle) {
        if (nice <= 0 && !idle) return false;
        try {
            long tid = currentThreadId();
            if (nice > 0) {
                run("renice", Integer.toString(nice), "-p", Long.toString(tid));
                int now = niceOf(tid);
                if (now != nice) throw new IllegalStateException("nice is " + now + " after renice");
            }
            if (idle) {
                run("chrt", "--idle", "-p", "0", Long.toString(tid));
                int policy = policyOf(tid);
                if (policy != SCHED_IDLE) throw new IllegalStateException("scheduling policy is " + policy + " after chrt --idle");
            }
            return true;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            if (WARNED.compareAndSet(false, true)) {
                LOG.warn("cannot lower the CPU priority of background build threads ({}); they run at normal priority", e.toString());
            }
            return false;
        }
    }

    private static void run(String... command) throws java.io.IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(command[0] + " did not finish");
        }
        if (p.exitValue() != 0) throw new IllegalStateException(command[0] + " exited with " + p.exitValue());
    }

    /** The kernel's id of the calling thread: {@code /proc/thread-self} links to {@code <pid>/task/<tid>}. */
    static long currentThreadId() throws java.io.IOException {
        Path link = Files.readSymbolicLink(Path.of("/proc/thread-self"));
        return Long.parseLong(link.getFileName().toString());
    }

    /** The nice value: field 19 of {@code /proc/self/task/<tid>/stat}. */
    static int niceOf(long tid) throws java.io.IOException {
        return Integer.parseInt(statFields(tid)[16]);
    }

    /** The scheduling policy: field 41 of {@code /proc/self/task/<tid>/stat} (0 normal, 5 SCHED_IDLE). */
    static int policyOf(long tid) throws java.io.IOException {
        return Integer.parseInt(statFields(tid)[38]);
    }

    /** The stat fields from field 3 on (after the parenthesised command name, which may hold spaces). */
    private static String[] statFields(long tid) throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    }
}
