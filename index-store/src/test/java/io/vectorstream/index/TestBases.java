package io.vectorstream.index;

import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.Kernels;

import static org.assertj.core.api.Assertions.assertThat;

/** Installs a base the way compaction does, for tests of the layers above it. */
public final class TestBases {
    private TestBases() {
    }

    /** Builds an IVF-PQ base ({@code nlist} lists, {@code m} bytes) from the shard's current snapshot and installs it. */
    public static void compact(Shard shard, int nlist, int m) {
        offer(shard, nlist, m);
        shard.maintain();
        assertThat(shard.snapshot().base()).isNotNull();
    }

    /**
     * Builds an IVF-PQ base as {@link #compact} does and hands it to the shard, without installing it: that is the
     * writer's part (at its next apply or maintain). Returns the future the installation completes.
     */
    public static java.util.concurrent.CompletableFuture<ShardSnapshot> offer(Shard shard, int nlist, int m) {
        return offer(shard, shard.beginCompaction(), nlist, m);
    }

    /** As {@link #offer(Shard, int, int)}, for a compaction the caller began ({@link Shard#beginCompaction()}) at {@code from}. */
    public static java.util.concurrent.CompletableFuture<ShardSnapshot> offer(Shard shard, ShardSnapshot from, int nlist, int m) {
        ShardSnapshot.LiveData live = from.live();
        int dim = shard.config().dim();
        IvfPqIndex.Trained t = IvfPqIndex.train(Kernels.cpu(), shard.config().metric(), live.vectors(), live.size(), dim,
                IvfPqIndex.Params.of(nlist, m));
        FlatVectorStore store = new FlatVectorStore(live.vectors(), dim);
        IvfPqIndex index = IvfPqIndex.build(Kernels.cpu(), t, live.vectors(), live.size(), null, store);
        return shard.offerBase(new BaseSegment(1, from.nextOffset(), index, store, live.ids(), live.metadata(), 1.0, 1L, 1L, "test"), from);
    }
}
