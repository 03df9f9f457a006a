package io.vectorstream.app;

import io.vectorstream.index.BaseSegment;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.FlatVectorStore;
import io.vectorstream.index.ivf.IvfPqIndex;
import io.vectorstream.kernels.VectorKernels;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Runs the ingest and search paths once on a throwaway shard of the configured dimension and metric: training, batch
 * assignment, appends, searches of the hot index and of an IVF-PQ base, so that they are compiled code when the
 * first partitions and queries arrive (in a fresh JVM the first k-means ran interpreted for 1–8.6 s at 10,000
 * vectors on 2 cores, against ~0.1–0.4 s once compiled). It runs on its own thread while Kafka Streams starts (which
 * mostly waits on the group coordinator); the server reports ready only after it.
 */
final class WarmUp {
    private static final Logger LOG = LoggerFactory.getLogger(WarmUp.class);

    private WarmUp() {
    }

    /** @param pqM the bytes per vector compaction will use (so the warmed ADC loop is the one that runs) */
    static void run(IndexConfig config, VectorKernels kernels, int pqM) {
        long start = System.nanoTime();
        int dim = config.dim();
        IndexConfig small = config.withTrainThreshold(2_000).withNlist(32);
        Shard shard = new Shard(-1, small, kernels);
        Random r = new Random(1);
        long offset = 0;
        for (int round = 0; round < 6; round++) {
            List<IndexOp> ops = new ArrayList<>(1_000);
            for (int i = 0; i < 1_000; i++) ops.add(new IndexOp.Upsert("w" + (offset + i), vector(r, dim), null));
            offset += ops.size();
            shard.apply(ops, offset);
        }
        for (int q = 0; q < 300; q++) shard.snapshot().search(vector(r, dim), 10, config.defaultNprobe(), q % 10 == 0);
        // A base, as compaction builds it, and searches through it: restored shards at scale are mostly base, and
        // its search loop (probe, ADC tables and scan, re-rank) is what the first queries after a restart run.
        ShardSnapshot from = shard.beginCompaction();
        ShardSnapshot.LiveData live = from.live();
        IvfPqIndex.Trained trained = IvfPqIndex.train(kernels, config.metric(), live.vectors(), live.size(), dim,
                new IvfPqIndex.Params(32, pqM, 2, 16, 2, 16, 1L)); // a rough base is enough: the search loop is the point
        FlatVectorStore store = new FlatVectorStore(live.vectors(), dim);
        IvfPqIndex index = IvfPqIndex.build(kernels, trained, live.vectors(), live.size(), null, store);
        long now = System.currentTimeMillis();
        shard.offerBase(new BaseSegment(1, from.nextOffset(), index, store, live.ids(), live.metadata(), 0, now, 0, "warm-up"), from);
        shard.maintain();
        for (int q = 0; q < 1_000; q++) shard.snapshot().search(vector(r, dim), 10, config.defaultNprobe(), false);
        shard.close();
        LOG.info("warmed up the ingest and search paths in {} ms", (System.nanoTime() - start) / 1_000_000);
    }

    private static float[] vector(Random r, int dim) {
        float[] v = new float[dim];
        for (int d = 0; d < dim; d++) v[d] = (float) r.nextGaussian();
        return v;
    }
}
