package io.vectorstream.compaction;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class BackgroundPriorityTest {

    @Test
    void lowersTheCallingThreadOnly() throws Exception {
        boolean linux = Files.isSymbolicLink(Path.of("/proc/thread-self"));
        if (!linux) System.out.println("SKIPPED BackgroundPriorityTest: no /proc/thread-self (not Linux)");
        assumeTrue(linux, "needs Linux /proc/thread-self");
        int mine = BackgroundPriority.niceOf(BackgroundPriority.currentThreadId());
        int wanted = Math.min(19, mine + 5);
        int myPolicy = BackgroundPriority.policyOf(BackgroundPriority.currentThreadId());
        for (boolean idle : new boolean[]{false, true}) {
            AtomicBoolean lowered = new AtomicBoolean();
            AtomicInteger seenNice = new AtomicInteger(-100), seenPolicy = new AtomicInteger(-100);
            Thread t = new Thread(() -> {
                lowered.set(BackgroundPriority.lowerCurrentThread(wanted, idle));
                try {
                    seenNice.set(BackgroundPriority.niceOf(BackgroundPriority.currentThreadId()));
                    seenPolicy.set(BackgroundPriority.policyOf(BackgroundPriority.currentThreadId()));
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            });
            t.start();
            t.join();
            assertThat(lowered).as("idle %s", idle).isTrue();
            assertThat(seenNice.get()).isEqualTo(wanted);
            assertThat(seenPolicy.get()).isEqualTo(idle ? BackgroundPriority.SCHED_IDLE : myPolicy);
        }
        // the calling thread is untouched
        assertThat(BackgroundPriority.niceOf(BackgroundPriority.currentThreadId())).isEqualTo(mine);
        assertThat(BackgroundPriority.policyOf(BackgroundPriority.currentThreadId())).isEqualTo(myPolicy);
    }

    @Test
    void zeroLeavesThePriorityAlone() throws Exception {
        assertThat(BackgroundPriority.lowerCurrentThread(0, false)).isFalse();
    }
}
