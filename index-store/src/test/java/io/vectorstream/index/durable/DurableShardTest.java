package io.vectorstream.index.durable;

import io.vectorstream.index.TestBases;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** One test per recovery case of the durable shard: nothing, log only, snapshot + log, snapshot only, torn tails. */
class DurableShardTest {
    private static final int DIM = 8;
    private final IndexConfig config = new IndexConfig(DIM, Metric.L2, 0, 300, 4, 42L);
    private final Random random = new Random(7);
    /** What the index must hold: the last upsert of every id not deleted since. */
    private final Map<String, float[]> expected = new HashMap<>();

    @TempDir
    Path dir;

    private Shard newShard() {
        return new Shard(0, config, Kernels.cpu());
    }

    /** Applies {@code n} operations at offsets from {@code first} (every 7th offset a dead letter, no op). */
    private long applyOps(DurableShard d, long first, int n) {
        List<IndexOp> ops = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        long offset = first;
        for (int i = 0; i < n; i++, offset++) {
            if (offset % 7 == 3) continue; // a dead letter: the offset is covered, nothing is logged
            String id = "v" + random.nextInt(400);
            IndexOp op;
            if (random.nextInt(5) == 0) {
                op = new IndexOp.Delete(id);
                expected.remove(id);
            } else {
                float[] v = new float[DIM];
                for (int j = 0; j < DIM; j++) v[j] = (float) random.nextGaussian();
                op = new IndexOp.Upsert(id, v, "{\"o\":" + offset + "}");
                expected.put(id, v);
            }
            ops.add(op);
            offsets.add(offset);
        }
        d.apply(ops, offsets.stream().mapToLong(Long::longValue).toArray(), offset - 1);
        return offset;
    }

    private void assertHoldsExpected(Shard shard) {
        ShardSnapshot s = shard.snapshot();
        assertThat(s.liveCount()).isEqualTo(expected.size());
        expected.forEach((id, v) -> {
            ShardSnapshot.Found f = s.find(id);
            assertThat(f).as(id).isNotNull();
            assertThat(f.vector()).as(id).containsExactly(v);
            List<SearchHit> hits = s.search(v, 1, 4, true);
            assertThat(hits.getFirst().distance()).isZero();
        });
    }

    /** Builds a base from the current snapshot as compaction does and installs it. */
    private void compact(Shard shard) {
        TestBases.compact(shard, 8, 4);
    }

    @Test
    void nothingStoredOpensEmpty() throws Exception {
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.EMPTY);
            assertThat(d.committedOffset()).isNull();
            assertThat(d.shard().snapshot().liveCount()).isZero();
        }
    }

    @Test
    void logOnlyRestoresToTheAppliedOffset() throws Exception {
        long next;
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            next = applyOps(d, 0, 500);
            next = applyOps(d, next, 500);
            assertThat(d.appliedOffset()).isEqualTo(next - 1);
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.LOG_ONLY);
            assertThat(d.committedOffset()).isEqualTo(next - 1);
            assertThat(d.shard().snapshot().nextOffset()).isEqualTo(next);
            assertHoldsExpected(d.shard());
            long stale = next - 5;
            assertThatThrownBy(() -> d.apply(List.of(), new long[0], stale))
                    .as("an offset already applied is refused: the index never moves back")
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void snapshotPlusLogRestoresWithoutRetrainingAndTrimsTheLog() throws Exception {
        long next;
        long logBytesBefore;
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            next = applyOps(d, 0, 1500);
            compact(d.shard());
            logBytesBefore = d.diskBytes();
            Path file = d.checkpoint(d.shard().snapshot());
            assertThat(file).exists();
            assertThat(d.logFrom()).isEqualTo(next);
            next = applyOps(d, next, 300); // after the snapshot: only in the log
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.SNAPSHOT_AND_LOG);
            assertThat(d.shard().snapshot().base()).as("the base came back from the snapshot").isNotNull();
            assertThat(d.shard().snapshot().nextOffset()).isEqualTo(next);
            assertHoldsExpected(d.shard());
            assertThat(logBytesBefore).isPositive();
        }
    }

    @Test
    void snapshotOnlyWhenNothingCameAfterIt() throws Exception {
        long next;
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            next = applyOps(d, 0, 800);
            d.checkpoint(d.shard().snapshot());
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.SNAPSHOT_AND_LOG);
            assertThat(d.appliedOffset()).isEqualTo(next - 1);
            assertHoldsExpected(d.shard());
        }
    }

    @Test
    void aCorruptSnapshotAfterTheLogWasTrimmedMeansReplayingTheTopic() throws Exception {
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            long next = applyOps(d, 0, 800);
            d.checkpoint(d.shard().snapshot());
            applyOps(d, next, 100);
        }
        Path snap = SnapshotFile.list(dir.resolve("snapshots")).getFirst();
        byte[] bytes = Files.readAllBytes(snap);
        Files.write(snap, java.util.Arrays.copyOf(bytes, bytes.length - 40)); // a torn snapshot
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.REPLAY_TOPIC);
            assertThat(d.committedOffset()).as("Kafka Streams restores from the beginning").isNull();
            assertThat(d.shard().snapshot().liveCount()).isZero();
            assertThat(SnapshotFile.list(d.snapshotDir())).isEmpty();
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).as("reopened before the replay applied anything: still replaying")
                    .isEqualTo(DurableShard.RestorePath.REPLAY_TOPIC);
            expected.clear(); // the replay starts from nothing (here with other operations than the topic's)
            applyOps(d, 0, 900);
            d.checkpoint(d.shard().snapshot());
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.SNAPSHOT_AND_LOG);
            assertHoldsExpected(d.shard());
        }
    }

    @Test
    void aTornLogTailRestoresAWholeEarlierBatchNeverHalfOfOne() throws Exception {
        // Copy the store's files while it is open and writing, as a kill -9 would leave them, then cut the newest
        // write-ahead log short: RocksDB recovers to the last whole write batch, whose applied offset matches it.
        Path crashed = dir.resolve("crashed");
        List<Long> batchEnds = new ArrayList<>();
        Map<Long, Map<String, float[]>> expectedAt = new HashMap<>();
        try (DurableShard d = DurableShard.open(dir.resolve("live"), newShard())) {
            long next = 0;
            for (int b = 0; b < 6; b++) {
                next = applyOps(d, next, 50);
                batchEnds.add(next - 1);
                expectedAt.put(next - 1, new HashMap<>(expected));
            }
            copyTree(dir.resolve("live"), crashed);
        }
        Path wal;
        try (var files = Files.list(crashed.resolve("log"))) {
            wal = files.filter(p -> p.getFileName().toString().endsWith(".log")).max(java.util.Comparator.comparing(Path::toString)).orElseThrow();
        }
        long size = Files.size(wal);
        assertThat(size).isPositive();
        try (var ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(size - 300); // in the middle of the last batch's record
        }
        try (DurableShard d = DurableShard.open(crashed, newShard())) {
            long applied = d.appliedOffset();
            assertThat(batchEnds).as("recovered to the end of a whole batch").contains(applied);
            assertThat(applied).isLessThan(batchEnds.getLast());
            expected.clear();
            expected.putAll(expectedAt.get(applied));
            assertHoldsExpected(d.shard());
        }
    }

    /**
     * A standby copy (no processor attends it) installs the base its compaction built at the next maintenance tick,
     * with no record arriving; an attended shard is left to its processor; a closed one is not touched.
     */
    @Test
    void anUnattendedShardIsMaintainedByTheTimerAndAnAttendedOneIsNot() throws Exception {
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            applyOps(d, 0, 1500);
            d.attend(true);
            var installed = io.vectorstream.index.TestBases.offer(d.shard(), 8, 4);
            assertThat(d.maintainUnattended()).as("an attended shard is its processor's to maintain").isFalse();
            assertThat(installed).isNotDone();
            assertThat(d.shard().snapshot().base()).isNull();

            d.attend(false); // the task was recycled into a standby: nothing feeds it while the topic is quiet
            assertThat(d.maintainUnattended()).isTrue();
            assertThat(installed).as("the swap happened without a record").isCompleted();
            assertThat(d.shard().snapshot().base()).isNotNull();
            assertHoldsExpected(d.shard());
            long next = applyOps(d, 1500, 200); // and it takes batches as before
            assertThat(d.appliedOffset()).isEqualTo(next - 1);
            assertHoldsExpected(d.shard());
        }
        DurableShard closed = DurableShard.open(dir, newShard());
        closed.close();
        assertThat(closed.maintainUnattended()).as("closed: not maintained").isFalse();
    }

    @Test
    void resetForgetsEverything() throws Exception {
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            applyOps(d, 0, 300);
            d.checkpoint(d.shard().snapshot());
            d.reset();
            assertThat(d.committedOffset()).isNull();
            assertThat(d.shard().snapshot().liveCount()).isZero();
        }
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.EMPTY);
        }
    }

    /** Peeking (Kafka Streams' start-up pass) says what a full open would, in each case, and restores nothing. */
    @Test
    void peekingTheCommittedOffsetAgreesWithOpening() throws Exception {
        assertThat(DurableShard.peekCommittedOffset(dir)).as("nothing stored").isNull();
        long next;
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(DurableShard.peekCommittedOffset(dir)).as("opened, nothing applied").isNull();
            next = applyOps(d, 0, 700);
        }
        assertThat(DurableShard.peekCommittedOffset(dir)).as("log only").isEqualTo(next - 1);
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            d.checkpoint(d.shard().snapshot());
            next = applyOps(d, next, 200);
            assertThat(DurableShard.peekCommittedOffset(dir)).as("while open: the log read beside its writer").isEqualTo(next - 1);
        }
        Long peeked = DurableShard.peekCommittedOffset(dir);
        try (DurableShard d = DurableShard.open(dir, newShard())) {
            assertThat(peeked).as("snapshot and log").isEqualTo(d.committedOffset()).isEqualTo(next - 1);
        }
    }

    @Test
    void opCodecRoundTrips() {
        IndexOp up = new IndexOp.Upsert("id-é", new float[]{1.5f, -2f, Float.MIN_VALUE}, "{\"x\":\"ü\"}");
        IndexOp.Upsert back = (IndexOp.Upsert) OpCodec.decode(OpCodec.encode(up));
        assertThat(back.id()).isEqualTo("id-é");
        assertThat(back.vector()).containsExactly(1.5f, -2f, Float.MIN_VALUE);
        assertThat(back.metadataJson()).isEqualTo("{\"x\":\"ü\"}");
        assertThat(((IndexOp.Upsert) OpCodec.decode(OpCodec.encode(new IndexOp.Upsert("a", new float[]{0}, null)))).metadataJson()).isNull();
        assertThat(OpCodec.decode(OpCodec.encode(new IndexOp.Delete("gone")))).isEqualTo(new IndexOp.Delete("gone"));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else if (!p.getFileName().toString().equals("LOCK")) {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
