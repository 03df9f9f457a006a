package io.vectorstream.compaction;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Lowers the CPU priority (Linux nice value) of the calling thread, so that background builds take only
 * CPU that searches and ingestion leave idle; RocksDB does the same for its compaction threads. Java has
 * no API for it: on Linux each thread has its own nice value, set here with {@code renice} on the
 * thread's id (read from {@code /proc/thread-self}). Raising a nice value needs no privilege. Where this
 * does not work (another OS, no {@code renice}) the thread keeps its priority and one warning says so.
 */
public final class BackgroundPriority {
    private static final Logger LOG = LoggerFactory.getLogger(BackgroundPriority.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private BackgroundPriority() {
    }

    /** Sets the calling thread's nice value to {@code nice} (0 = leave it); true if it now has that value. */
    public static boolean lowerCurrentThread(int nice) {
        if (nice <= 0) return false;
        try {
            long tid = currentThreadId();
            Process p = new ProcessBuilder("renice", Integer.toString(nice), "-p", Long.toString(tid))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("renice did not finish");
            }
            if (p.exitValue() != 0) throw new IllegalStateException("renice exited with " + p.exitValue());
            if ("1".equals(System.getenv("VS_EXP_IDLE"))) {
                Process c = new ProcessBuilder("chrt", "--idle", "-p", "0", Long.toString(tid)).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                c.waitFor(10, TimeUnit.SECONDS);
            }
            int now = niceOf(tid);
            if (now != nice) throw new IllegalStateException("nice is " + now + " after renice");
            return true;
        } catch (Exception e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            if (WARNED.compareAndSet(false, true)) {
                LOG.warn("cannot lower the CPU priority of background build threads ({}); they run at normal priority", e.toString());
            }
            return false;
        }
    }

    /** The kernel's id of the calling thread: {@code /proc/thread-self} links to {@code <pid>/task/<tid>}. */
    static long currentThreadId() throws java.io.IOException {
        Path link = Files.readSymbolicLink(Path.of("/proc/thread-self"));
        return Long.parseLong(link.getFileName().toString());
    }

    /** Field 19 of {@code /proc/self/task/<tid>/stat} (after the parenthesised command name). */
    static int niceOf(long tid) throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(fields[16]); // fields[0] is field 3 (state)
    }
}
