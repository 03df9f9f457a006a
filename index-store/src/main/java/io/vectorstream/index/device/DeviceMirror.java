package io.vectorstream.index.device;

import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.kernels.cuda.DeviceOutOfMemoryException;
import io.vectorstream.kernels.cuda.CudaDevice;
import io.vectorstream.index.ivf.IvfFlatIndex;
import io.vectorstream.kernels.Metric;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A copy of one shard's live vectors in {@link CudaIvfLists} on a CUDA device, so that the shard's
 * searches run there. The CPU {@link IvfFlatIndex} stays the source of truth: the mirror only ever
 * receives what the writer already applied, and can be dropped at any time (the shard then searches
 * on the CPU, which is always correct).
 *
 * <p><b>Shape.</b> Device ids are the shard's ordinals, so a device hit maps back to id and metadata
 * through the snapshot's ordinal tables. An exact (untrained) shard is mirrored as one list with a
 * single zero centroid, so a device search of it is exhaustive. When the writer (re)trains (new
 * centroids, renumbered ordinals) the device lists are rebuilt from the new snapshot; otherwise each
 * batch is applied as the delta the hot index hands over ({@link IvfFlatIndex.AppliedBatch}: the ordinals it
 * removed, the ordinals it added with their stored vectors), in one call and without working anything out again.
 *
 * <p><b>Consistency.</b> The shard publishes a snapshot only after its mirror has applied the batch.
 * {@link #state} is a sequence lock over the device lists: {@code 2v} when they hold exactly snapshot
 * version {@code v}, odd while a batch is being applied, negative once the mirror is gone. A device
 * search is used only when the state is {@code 2v} for the snapshot it was called with, both before
 * it is queued and after its answer came back; otherwise (an older snapshot, a batch in flight, an
 * error, k &gt; 256, more than 256 lists to probe) the caller scans that snapshot on the CPU. So a query
 * never sees half a batch, and never waits for the writer.
 *
 * <p><b>Out of memory.</b> A placement the budget refuses, or a {@link DeviceOutOfMemoryException}
 * (or any device error) while applying, moves the shard to the CPU for good with one warning; the
 * batch itself is never failed.
 */
public final class DeviceMirror implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceMirror.class);
    private static final int UPLOAD_CHUNK = 4096;
    private static final long SEARCH_TIMEOUT_SECONDS = 30;

    private record Active(CudaDevice device, CudaIvfLists lists, QueryBatcher batcher) {
        void close() {
            try {
                batcher.close();
            } finally {
                lists.close();
            }
        }
    }

    private final DeviceBackend backend;
    private final int partition;
    private final IndexConfig config;
    private final String key;
    private final AtomicLong deviceSearches = new AtomicLong();
    private final AtomicLong cpuFallbacks = new AtomicLong();

    private volatile Active active;
    private volatile long state = -1;
    private volatile long deviceBytes;
    private volatile String device = "cpu";
    private volatile String cpuReason = "not placed yet";
    private boolean failed; // on the CPU for good (writer side)
    private boolean placed;
    private long reserved;
    private float[] centroids; // the snapshot centroids the device lists were built from (null: exact)

    DeviceMirror(DeviceBackend backend, int partition, IndexConfig config, String key) {
        this.backend = backend;
        this.partition = partition;
        this.config = config;
        this.key = key;
    }

    /** "cpu" or "cuda:N". */
    public String device() {
        return device;
    }

    public long deviceBytes() {
        return deviceBytes;
    }

    /** Why the shard is on the CPU (when it is). */
    public String cpuReason() {
        return cpuReason;
    }

    public long deviceSearches() {
        return deviceSearches.get();
    }

    public long cpuFallbacks() {
        return cpuFallbacks.get();
    }

    // ---- the writer's side ----

    /**
     * After the writer applied a batch and cut {@code next}, before {@code next} is published: repeats on the device
     * what the hot index did ({@code applied}: the ordinals it removed, those it added with their stored vectors), or
     * rebuilds the device lists from {@code next} when {@code applied} is null, the lists are not there yet, or the
     * centroids changed. Nothing of the writer's work is done again here.
     */
    public synchronized void after(ShardSnapshot next, IvfFlatIndex.AppliedBatch applied) {
        if (failed) return;
        state = 2 * next.version() - 1;
        try {
            float[] c = centroidsOf(next);
            if (applied == null || active == null || c != centroids) {
                rebuild(next);
            } else if (ensureBudget(next.hotCount(), active.lists().nlist())) {
                applyDelta(applied);
            }
            Active a = active;
            if (a != null && !failed) {
                deviceBytes = a.lists().deviceBytes();
                state = 2 * next.version();
            }
        } catch (DeviceOutOfMemoryException e) {
            toCpu(e.getMessage());
        } catch (RuntimeException e) {
            toCpu("device error: " + e);
        }
    }

    private void applyDelta(IvfFlatIndex.AppliedBatch b) {
        CudaIvfLists lists = active.lists();
        if (b.removedCount() > 0) lists.remove(b.removed(), b.removedCount());
        int dim = config.dim();
        for (int from = 0; from < b.addedCount(); from += UPLOAD_CHUNK) {
            int n = Math.min(UPLOAD_CHUNK, b.addedCount() - from);
            int[] ids = from == 0 && n == b.added().length ? b.added() : Arrays.copyOfRange(b.added(), from, from + n);
            float[] rows = Arrays.copyOfRange(b.addedVectors(), from * dim, (from + n) * dim);
            lists.add(ids, rows, n);
        }
    }

    /** Fresh device lists for {@code next}'s centroids (one zero centroid while exact), filled from it. */
    private void rebuild(ShardSnapshot next) {
        float[] c = centroidsOf(next);
        int dim = config.dim();
        int nlist = c == null ? 1 : next.hot().listCount();
        long need = reservationFor(next.hotCount(), nlist);
        if (!placed) {
            DevicePlacement.Placement p = backend.placement().place(key, need);
            if (p.onCpu()) {
                toCpu(p.reason());
                return;
            }
            placed = true;
            reserved = need;
            device = "cuda:" + p.device();
        } else if (need > reserved) {
            if (!backend.placement().grow(key, need)) {
                toCpu("needs " + need + " bytes, more than its device's budget has left");
                return;
            }
            reserved = need;
        }
        CudaDevice d = backend.device(Integer.parseInt(device.substring("cuda:".length())));
        Active old = active;
        active = null;
        if (old != null) old.close();
        CudaIvfLists lists = CudaIvfLists.create(d, config.metric(), dim, c == null ? new float[dim] : c, nlist);
        try {
            int[] ids = new int[UPLOAD_CHUNK];
            float[] vectors = new float[UPLOAD_CHUNK * dim];
            int[] n = {0};
            next.hot().forEachVector((ordinal, data, offset) -> {
                ids[n[0]] = ordinal;
                System.arraycopy(data, offset, vectors, n[0] * dim, dim);
                if (++n[0] == UPLOAD_CHUNK) {
                    lists.add(ids, vectors, n[0]);
                    n[0] = 0;
                }
            });
            if (n[0] > 0) lists.add(ids, vectors, n[0]);
            active = new Active(d, lists, new QueryBatcher(lists, DeviceBackend.MAX_QUERY_BATCH, DeviceBackend.MAX_QUERY_WAIT));
        } catch (RuntimeException e) {
            lists.close();
            throw e;
        }
        centroids = c;
    }

    private boolean ensureBudget(int live, int nlist) {
        if (CudaIvfLists.estimateBytes(live, config.dim(), nlist) <= reserved) return true;
        long need = reservationFor(live, nlist);
        if (backend.placement().grow(key, need)) {
            reserved = need;
            return true;
        }
        toCpu("grew to " + live + " vectors, more than its device's budget has left");
        return false;
    }

    /** A reservation with room to grow by a quarter before asking the placement again. */
    private long reservationFor(int live, int nlist) {
        return CudaIvfLists.estimateBytes(live + live / 4 + 256L, config.dim(), nlist);
    }

    private void toCpu(String reason) {
        boolean wasPlaced = placed;
        failed = true;
        state = -1;
        closeActive();
        backend.placement().moveToCpu(key, reason);
        cpuReason = reason;
        deviceBytes = 0;
        String from = device;
        device = "cpu";
        if (wasPlaced) LOG.warn("partition {}: moved from {} to the CPU: {}", partition, from, reason);
        else LOG.warn("partition {}: stays on the CPU: {}", partition, reason);
    }

    private void closeActive() {
        Active a = active;
        active = null;
        if (a == null) return;
        try {
            a.close();
        } catch (RuntimeException e) {
            LOG.warn("partition {}: freeing device lists: {}", partition, e.toString());
        }
    }

    // ---- the readers' side ----

    /**
     * The device's answer for {@code snapshot}, or null when the device cannot answer for exactly
     * that snapshot (the caller then scans it on the CPU).
     */
    public List<SearchHit> search(ShardSnapshot snapshot, float[] query, int k, int nprobe, boolean exact) {
        long s = state;
        Active a = active;
        if (s != 2 * snapshot.version() || a == null) return fallback();
        int nlist = a.lists().nlist();
        int probes = exact ? nlist : Math.min(Math.max(1, nprobe), nlist);
        if (k > CudaIvfLists.MAX_K || probes > CudaIvfLists.MAX_NPROBE) return fallback();
        QueryBatcher.Hits hits;
        try {
            hits = a.batcher().search(query, k, probes).get(SEARCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fallback();
        } catch (Exception e) {
            return fallback();
        }
        if (state != s) return fallback(); // the writer touched the lists meanwhile
        Metric metric = config.metric();
        List<SearchHit> out = new ArrayList<>(k);
        int[] ids = hits.ids();
        float[] distances = hits.distances();
        for (int i = 0; i < ids.length && ids[i] >= 0; i++) {
            int o = ids[i];
            out.add(new SearchHit(snapshot.hot().idAt(o), distances[i], metric.toScore(distances[i]), snapshot.hot().metadataAt(o), partition));
        }
        deviceSearches.incrementAndGet();
        return out;
    }

    private List<SearchHit> fallback() {
        cpuFallbacks.incrementAndGet();
        return null;
    }

    /** Frees the device lists and the reservation. */
    @Override
    public synchronized void close() {
        failed = true;
        state = -1;
        closeActive();
        backend.placement().release(key);
        deviceBytes = 0;
        device = "cpu";
        cpuReason = "closed";
        backend.forget(this);
    }

    /** The hot layer's coarse centroids ({@code listCount x dim}, shared: never modified), or null while exact. */
    private static float[] centroidsOf(ShardSnapshot snapshot) {
        var quantizer = snapshot.hot().quantizer();
        return quantizer == null ? null : quantizer.centroidsShared();
    }
}
