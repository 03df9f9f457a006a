package io.vectorstream.index.durable;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SnapshotFileTest {
    private static final int DIM = 8;
    private final IndexConfig config = new IndexConfig(DIM, Metric.L2, 0, 300, 4, 42L);

    @TempDir
    Path dir;

    /** A shard with a base (built here as compaction would), tombstones and a hot index. */
    private Shard layeredShard() {
        Shard shard = new Shard(0, config, Kernels.cpu());
        Random r = new Random(1);
        List<IndexOp> ops = new ArrayList<>();
        for (int i = 0; i < 1500; i++) ops.add(new IndexOp.Upsert("v" + i, randomVector(r), i % 3 == 0 ? "{\"i\":" + i + "}" : null));
        shard.apply(ops, 1500);
        ShardSnapshot from = shard.beginCompaction();
        ShardSnapshot.LiveData live = from.live();
        IvfPqIndex.Trained t = IvfPqIndex.train(Kernels.cpu(), Metric.L2, live.vectors(), live.size(), DIM, IvfPqIndex.Params.of(20, 4));
        FlatVectorStore store = new FlatVectorStore(live.vectors(), DIM);
        IvfPqIndex index = IvfPqIndex.build(Kernels.cpu(), t, live.vectors(), live.size(), null, store);
        shard.offerBase(new BaseSegment(1, 1500, index, store, live.ids(), live.metadata(), 1.0, 123L, 45L, "operator"), from);
        List<IndexOp> more = new ArrayList<>();
        for (int i = 0; i < 100; i++) more.add(new IndexOp.Delete("v" + i));
        for (int i = 100; i < 150; i++) more.add(new IndexOp.Upsert("v" + i, randomVector(r), null));
        for (int i = 1500; i < 1600; i++) more.add(new IndexOp.Upsert("v" + i, randomVector(r), "{\"new\":true}"));
        shard.apply(more, 1750);
        return shard;
    }

    private static float[] randomVector(Random r) {
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = (float) r.nextGaussian();
        return v;
    }

    /** Every vector of {@code back} is in the same list with the same PQ codes as in {@code saved}. */
    private static void assertSameListsAndCodes(BaseSegment saved, BaseSegment back) {
        int n = saved.size(), m = saved.index().trained().pq().m();
        int[] savedLists = new int[n], backLists = new int[n];
        byte[] savedCodes = new byte[n * m], backCodes = new byte[n * m];
        saved.index().exportCodes(savedLists, savedCodes);
        back.index().exportCodes(backLists, backCodes);
        assertThat(backLists).isEqualTo(savedLists);
        assertThat(backCodes).isEqualTo(savedCodes);
        assertThat(java.util.Arrays.stream(savedLists).distinct().count()).as("vectors spread over lists").isGreaterThan(1);
    }

    @Test
    void roundTripRestoresTheSameAnswers() throws Exception {
        Shard shard = layeredShard();
        ShardSnapshot saved = shard.snapshot();
        assertThat(saved.base()).isNotNull();
        assertThat(saved.tombstones().count()).isEqualTo(150);
        Path file = SnapshotFile.write(dir, saved);
        SnapshotFile.Loaded loaded = SnapshotFile.read(file, config, Kernels.cpu());
        assertThat(loaded.nextOffset()).isEqualTo(1750);
        Shard restored = new Shard(0, config, Kernels.cpu());
        ShardSnapshot back = restored.restore(loaded.base(), loaded.tombstones(), loaded.hot(), loaded.version(), loaded.nextOffset());
        assertThat(back.liveCount()).isEqualTo(saved.liveCount());
        assertThat(back.nextOffset()).isEqualTo(1750);
        assertThat(back.base().trigger()).isEqualTo("operator");
        // the base's lists and PQ codes come back as stored (format 2), not re-encoded
        assertSameListsAndCodes(saved.base(), back.base());
        Random r = new Random(2);
        for (int q = 0; q < 20; q++) {
            float[] query = randomVector(r);
            List<SearchHit> want = saved.search(query, 10, 4, true), got = back.search(query, 10, 4, true);
            assertThat(got).extracting(SearchHit::id).isEqualTo(want.stream().map(SearchHit::id).toList());
            for (int i = 0; i < want.size(); i++) { // the saved hot index scans residuals, the restored one vectors: ulps
                assertThat(got.get(i).distance()).isCloseTo(want.get(i).distance(), org.assertj.core.data.Percentage.withPercentage(1e-4));
            }
            // The hot index's centroids are not saved (it inherited them from before the base): a restored hot index
            // this small is exact again, so its approximate answers can only be better than the saved ones.
            assertThat(back.search(query, 10, 4, false)).hasSize(10);
        }
        assertThat(restored.contains("v5")).isFalse();
        assertThat(restored.contains("v120")).isTrue();
        assertThat(restored.contains("v1550")).isTrue();
    }

    /** A format-1 file (no codes: written before format 2) still loads, re-encoded to the same lists and codes. */
    @Test
    void aFormatOneFileLoadsByReEncoding() throws Exception {
        Shard shard = layeredShard();
        ShardSnapshot saved = shard.snapshot();
        Path file = SnapshotFile.write(dir, saved, 1);
        assertThat(java.nio.file.Files.size(file)).as("no codes in format 1")
                .isLessThan(java.nio.file.Files.size(SnapshotFile.write(dir.resolve("v2"), saved)));
        SnapshotFile.Loaded loaded = SnapshotFile.read(file, config, Kernels.cpu());
        assertSameListsAndCodes(saved.base(), loaded.base());
        Shard restored = new Shard(0, config, Kernels.cpu());
        ShardSnapshot back = restored.restore(loaded.base(), loaded.tombstones(), loaded.hot(), loaded.version(), loaded.nextOffset());
        Random r = new Random(3);
        for (int q = 0; q < 10; q++) {
            float[] query = randomVector(r);
            assertThat(back.search(query, 10, 4, true)).extracting(SearchHit::id)
                    .isEqualTo(saved.search(query, 10, 4, true).stream().map(SearchHit::id).toList());
        }
    }

    @Test
    void aFlippedByteOrATruncatedFileIsSkippedForAnOlderIntactOne() throws Exception {
        Shard shard = layeredShard();
        Path older = SnapshotFile.write(dir, shard.snapshot());
        byte[] olderBytes = Files.readAllBytes(older);
        shard.apply(List.of(new IndexOp.Upsert("late", new float[DIM], null)), 1800);
        Path newer = SnapshotFile.write(dir, shard.snapshot());
        assertThat(SnapshotFile.list(dir)).containsExactly(newer); // only the newest is kept
        Files.write(older, olderBytes); // as if an older one were still there
        assertThat(SnapshotFile.list(dir)).containsExactly(newer, older);

        byte[] bytes = Files.readAllBytes(newer);
        bytes[bytes.length / 2] ^= 0x40;
        Files.write(newer, bytes);
        assertThatThrownBy(() -> SnapshotFile.read(newer, config, Kernels.cpu()))
                .isInstanceOf(SnapshotFile.CorruptSnapshotException.class).hasMessageContaining("checksum");
        assertThat(SnapshotFile.loadNewest(dir, config, Kernels.cpu()).orElseThrow().nextOffset()).isEqualTo(1750);

        bytes[bytes.length / 2] ^= 0x40; // intact again, then cut short
        Files.write(newer, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        assertThatThrownBy(() -> SnapshotFile.read(newer, config, Kernels.cpu())).isInstanceOf(SnapshotFile.CorruptSnapshotException.class);
        Files.write(newer, new byte[0], StandardOpenOption.TRUNCATE_EXISTING);
        assertThat(SnapshotFile.loadNewest(dir, config, Kernels.cpu()).orElseThrow().nextOffset()).isEqualTo(1750);

        Files.write(older, new byte[]{1, 2, 3}, StandardOpenOption.TRUNCATE_EXISTING);
        assertThat(SnapshotFile.loadNewest(dir, config, Kernels.cpu())).isEmpty();
    }

    @Test
    void aSnapshotForAnotherDimensionIsRefused() throws Exception {
        Path file = SnapshotFile.write(dir, layeredShard().snapshot());
        assertThatThrownBy(() -> SnapshotFile.read(file, new IndexConfig(DIM * 2, Metric.L2, 0, 300, 4, 42L), Kernels.cpu()))
                .isInstanceOf(SnapshotFile.CorruptSnapshotException.class).hasMessageContaining("dim");
    }
}
