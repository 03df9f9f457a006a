package io.vectorstream.index.device;

import io.vectorstream.kernels.cuda.DeviceOutOfMemoryException;
import io.vectorstream.kernels.cuda.PinnedBuffer;
import io.vectorstream.kernels.cuda.StagingBuffer;
import io.vectorstream.kernels.cuda.DeviceBuffer;
import io.vectorstream.kernels.cuda.CudaDevice;
import io.vectorstream.kernels.cuda.CudaKernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.vectorstream.kernels.Metric;

/**
 * Device-resident IVF-Flat inverted lists: batched add (upsert), remove and search, all on one
 * {@link CudaDevice}. Each list is its own pair of device buffers (vectors, int ids) reached through
 * a device table of pointers; a list grows geometrically (capacity doubles), so it is reallocated
 * O(log n) times over its life, never per batch. Vectors are stored interleaved, 32 slots to a group and
 * dimension-major inside it ({@code ivf.cu}), so capacities are multiples of 32.
 *
 * <p>A search is three launches: the coarse probe (one warp per query), the scan (one block per (query,
 * probed list) pair, each of its warps keeping the k best of its share of the list in a warp queue) and the
 * merge of each query's nprobe * warps * k candidates (one warp per query). They queue on the device's stream between an asynchronous upload of the
 * queries and asynchronous downloads of the results, both through reused page-locked staging, and the host waits
 * once per batch.
 *
 * <p>Removal writes a tombstone (id -1) that the scan kernel skips; later adds reuse those slots,
 * and once a list's holes pass {@code max(16, 25% of its length)} the device compacts it by moving
 * live entries from its tail into its holes. The host keeps only a mirror of ids and slots (not the
 * vectors), which is what the shard's snapshots are written from anyway: the vectors themselves stay
 * in host memory in the CPU index's format, so this object is an accelerator, never the source of
 * truth.
 *
 * <p>Thread-safe by confinement: every method runs on the device's thread. Ids are the shard's
 * non-negative int ordinals. Vectors for {@link Metric#COSINE} must already be normalised.
 */
public final class CudaIvfLists implements AutoCloseable {
    public static final int MAX_K = 256;
    public static final int MAX_NPROBE = 256;
    private static final int BLOCK = 128;
    /** Slots per interleaved group: one warp's worth of vectors. */
    private static final int GROUP = 32;
    private static final int MAX_GRID = 65_535;
    private static final int METRIC_L2 = 0;
    private static final int METRIC_IP = 1;

    /** Results best first per query: {@code ids[q * k + r]}, padded with id -1 and +inf. */
    public record SearchResult(int nq, int k, float[] distances, int[] ids) {
    }

    private final CudaDevice device;
    private final Metric metric;
    private final int dim;
    private final int nlist;
    private final DeviceBuffer centroids;
    private final DeviceBuffer tableData;
    private final DeviceBuffer tableIds;
    private final DeviceBuffer lengths;
    private final DeviceBuffer[] dataBuf;
    private final DeviceBuffer[] idsBuf;
    private final long[] dataPtr;
    private final long[] idsPtr;
    private final int[] len;
    private final int[] cap;
    private final int[][] hostIds;
    private final int[][] holes;
    private final int[] holeCount;
    private final Map<Integer, Long> where = new HashMap<>(); // id -> list << 32 | slot
    private final StagingBuffer sVectors;
    private final StagingBuffer sInts;
    private final StagingBuffer sLists;
    private final StagingBuffer sSlots;
    private final StagingBuffer sProbeDist;
    private final StagingBuffer sProbeList;
    private final StagingBuffer sOutDist;
    private final StagingBuffer sOutIds;
    private final StagingBuffer sPartial;
    private final PinnedBuffer pinnedQueries;
    private final PinnedBuffer pinnedResults;
    private boolean tablesDirty = true;
    private boolean lengthsDirty = true;
    private long compactions;
    private boolean closed;

    private CudaIvfLists(CudaDevice device, Metric metric, int dim, float[] centroidData, int nlist) {
        if (dim < 1 || dim > 4096) throw new IllegalArgumentException("dim must be in [1, 4096], was " + dim);
        if (nlist < 1 || centroidData.length < (long) nlist * dim) throw new IllegalArgumentException("need nlist * dim centroid values");
        this.device = device;
        this.metric = metric;
        this.dim = dim;
        this.nlist = nlist;
        this.dataBuf = new DeviceBuffer[nlist];
        this.idsBuf = new DeviceBuffer[nlist];
        this.dataPtr = new long[nlist];
        this.idsPtr = new long[nlist];
        this.len = new int[nlist];
        this.cap = new int[nlist];
        this.hostIds = new int[nlist][];
        this.holes = new int[nlist][];
        this.holeCount = new int[nlist];
        this.sVectors = new StagingBuffer(device);
        this.sInts = new StagingBuffer(device);
        this.sLists = new StagingBuffer(device);
        this.sSlots = new StagingBuffer(device);
        this.sProbeDist = new StagingBuffer(device);
        this.sProbeList = new StagingBuffer(device);
        this.sOutDist = new StagingBuffer(device);
        this.sOutIds = new StagingBuffer(device);
        this.sPartial = new StagingBuffer(device);
        this.pinnedQueries = new PinnedBuffer(device);
        this.pinnedResults = new PinnedBuffer(device);
        List<DeviceBuffer> made = new ArrayList<>();
        try {
            centroids = keep(made, device.alloc((long) nlist * dim * Float.BYTES));
            centroids.upload(centroidData, 0, nlist * dim);
            tableData = keep(made, device.alloc((long) nlist * Long.BYTES));
            tableIds = keep(made, device.alloc((long) nlist * Long.BYTES));
            lengths = keep(made, device.alloc((long) nlist * Integer.BYTES));
        } catch (RuntimeException e) {
            made.forEach(DeviceBuffer::close);
            throw e;
        }
        for (int l = 0; l < nlist; l++) {
            hostIds[l] = new int[0];
            holes[l] = new int[0];
        }
    }

    private static DeviceBuffer keep(List<DeviceBuffer> made, DeviceBuffer b) {
        made.add(b);
        return b;
    }

    /** Empty lists on {@code device} for the given coarse centroids ({@code nlist x dim}, row-major). */
    public static CudaIvfLists create(CudaDevice device, Metric metric, int dim, float[] centroids, int nlist) {
        return device.call(() -> new CudaIvfLists(device, metric, dim, centroids.clone(), nlist));
    }

    /** Device bytes for {@code vectors} vectors (with capacity doubling's slack), for placement. */
    public static long estimateBytes(long vectors, int dim, int nlist) {
        long perVector = (long) dim * Float.BYTES + Integer.BYTES;
        return vectors * perVector * 3 / 2 + (long) nlist * (dim * Float.BYTES + 20L) + (1L << 20);
    }

    public CudaDevice device() {
        return device;
    }

    public int dim() {
        return dim;
    }

    public int nlist() {
        return nlist;
    }

    /** Live (not removed) vectors. */
    public int size() {
        return device.call(where::size);
    }

    /** Tombstoned slots not yet reused or compacted away. */
    public int holes() {
        return device.call(() -> Arrays.stream(holeCount).sum());
    }

    public long compactions() {
        return device.call(() -> compactions);
    }

    /** Device bytes held by this object (lists, tables, staging). */
    public long deviceBytes() {
        return device.call(() -> {
            long b = centroids.bytes() + tableData.bytes() + tableIds.bytes() + lengths.bytes();
            for (int l = 0; l < nlist; l++) if (dataBuf[l] != null) b += dataBuf[l].bytes() + idsBuf[l].bytes();
            for (StagingBuffer s : staging()) b += s.bytes();
            return b;
        });
    }

    /**
     * Adds or replaces {@code n} vectors ({@code vectors[i * dim ..]}, ids {@code ids[i]}); within a
     * batch the last occurrence of an id wins. On {@link DeviceOutOfMemoryException} nothing changed.
     */
    public void add(int[] ids, float[] vectors, int n) {
        device.call(() -> {
            addOnDevice(ids, vectors, n);
            return null;
        });
    }

    /** Removes the given ids (unknown ids are ignored); returns how many were removed. */
    public int remove(int[] ids, int n) {
        return device.call(() -> removeOnDevice(ids, n));
    }

    /** Compacts every list that has holes, whatever the threshold. */
    public void compact() {
        device.call(() -> {
            List<Integer> all = new ArrayList<>();
            for (int l = 0; l < nlist; l++) if (holeCount[l] > 0) all.add(l);
            compactLists(all);
            return null;
        });
    }

    /** The {@code k} nearest live vectors to each of {@code nq} queries, scanning {@code nprobe} lists each. */
    public SearchResult search(float[] queries, int nq, int k, int nprobe) {
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("k must be in [1, " + MAX_K + "] on the GPU, was " + k);
        if (nprobe < 1 || nprobe > MAX_NPROBE) throw new IllegalArgumentException("nprobe must be in [1, " + MAX_NPROBE + "], was " + nprobe);
        if (nq < 1 || queries.length < (long) nq * dim) throw new IllegalArgumentException("need nq * dim query values");
        return device.call(() -> searchOnDevice(queries, nq, k, Math.min(nprobe, nlist)));
    }

    // ---- device thread only --------------------------------------------------------------------------

    private void addOnDevice(int[] idsIn, float[] vectorsIn, int nIn) {
        if (nIn == 0) return;
        // the last occurrence of an id in the batch wins
        Map<Integer, Integer> last = new LinkedHashMap<>();
        for (int i = 0; i < nIn; i++) {
            if (idsIn[i] < 0) throw new IllegalArgumentException("ids must be >= 0, was " + idsIn[i]);
            last.remove(idsIn[i]);
            last.put(idsIn[i], i);
        }
        final int n = last.size();
        int[] ids = new int[n];
        float[] vectors;
        if (n == nIn) {
            System.arraycopy(idsIn, 0, ids, 0, n);
            vectors = vectorsIn;
        } else {
            vectors = new float[n * dim];
            int j = 0;
            for (Map.Entry<Integer, Integer> e : last.entrySet()) {
                ids[j] = e.getKey();
                System.arraycopy(vectorsIn, e.getValue() * dim, vectors, j * dim, dim);
                j++;
            }
        }
        // 1. stage and assign each vector to its nearest centroid on the device
        DeviceBuffer vec = sVectors.atLeast((long) n * dim * Float.BYTES);
        vec.upload(vectors, 0, n * dim);
        DeviceBuffer idBuf = sInts.atLeast((long) n * Integer.BYTES);
        idBuf.upload(ids, 0, n);
        int[] assign = coarse(vec, n, 1);
        // 2. plan slots (reuse holes first) and the growth that needs
        int[] slots = new int[n];
        int[] newLen = len.clone();
        int[] holesLeft = holeCount.clone();
        for (int i = 0; i < n; i++) {
            int l = assign[i];
            slots[i] = holesLeft[l] > 0 ? holes[l][--holesLeft[l]] : newLen[l]++;
        }
        // 3. allocate everything that grows before changing anything, so OOM leaves us intact
        DeviceBuffer[] grownData = new DeviceBuffer[nlist];
        DeviceBuffer[] grownIds = new DeviceBuffer[nlist];
        int[] grownCap = new int[nlist];
        try {
            for (int l = 0; l < nlist; l++) {
                if (newLen[l] <= cap[l]) continue;
                int c = groups(Math.max(newLen[l], Math.max(GROUP, cap[l] * 2))) * GROUP;
                grownCap[l] = c;
                grownData[l] = device.alloc((long) c * dim * Float.BYTES);
                grownIds[l] = device.alloc((long) c * Integer.BYTES);
            }
            sLists.atLeast((long) n * Integer.BYTES);
            sSlots.atLeast((long) n * Integer.BYTES);
        } catch (RuntimeException e) {
            for (int l = 0; l < nlist; l++) {
                if (grownData[l] != null) grownData[l].close();
                if (grownIds[l] != null) grownIds[l].close();
            }
            throw e;
        }
        // 4. commit growth: copy each grown list on the device, then swap it into the table
        for (int l = 0; l < nlist; l++) {
            if (grownData[l] == null) continue;
            if (dataBuf[l] != null) {
                grownData[l].copyFrom(dataBuf[l], (long) groups(len[l]) * GROUP * dim * Float.BYTES); // whole groups keep their layout
                grownIds[l].copyFrom(idsBuf[l], (long) len[l] * Integer.BYTES);
                dataBuf[l].close();
                idsBuf[l].close();
            }
            dataBuf[l] = grownData[l];
            idsBuf[l] = grownIds[l];
            dataPtr[l] = grownData[l].address();
            idsPtr[l] = grownIds[l].address();
            cap[l] = grownCap[l];
            hostIds[l] = Arrays.copyOf(hostIds[l], grownCap[l]);
            tablesDirty = true;
        }
        syncTables();
        // 5. an upsert tombstones the id's previous slot
        int[] replaced = new int[n];
        int nReplaced = 0;
        for (int id : ids) if (where.containsKey(id)) replaced[nReplaced++] = id;
        int[] before = holeCount.clone();
        if (nReplaced > 0) removeOnDevice(replaced, nReplaced, false);
        for (int l = 0; l < nlist; l++) {
            // holes [holesLeft, before) were consumed by this batch; slide the new ones down over them
            int added = holeCount[l] - before[l];
            if (added > 0) System.arraycopy(holes[l], before[l], holes[l], holesLeft[l], added);
            holesLeft[l] += added;
        }
        // 6. copy the batch into its slots
        DeviceBuffer lists = sLists.atLeast((long) n * Integer.BYTES);
        DeviceBuffer slotBuf = sSlots.atLeast((long) n * Integer.BYTES);
        lists.upload(assign, 0, n);
        slotBuf.upload(slots, 0, n);
        device.launch("vs_ivf_append", Math.min(n, MAX_GRID), 1, blockFor(dim), 1,
                vec, idBuf, lists, slotBuf, n, dim, tableData, tableIds);
        for (int i = 0; i < n; i++) {
            int l = assign[i];
            hostIds[l][slots[i]] = ids[i];
            where.put(ids[i], ((long) l << 32) | slots[i]);
        }
        for (int l = 0; l < nlist; l++) {
            if (newLen[l] != len[l] || holesLeft[l] != holeCount[l]) lengthsDirty = true;
            len[l] = newLen[l];
            holeCount[l] = holesLeft[l];
        }
        syncTables();
    }

    private int removeOnDevice(int[] ids, int n) {
        return removeOnDevice(ids, n, true);
    }

    private int removeOnDevice(int[] ids, int n, boolean compactAfter) {
        int[] lists = new int[n];
        int[] slots = new int[n];
        int m = 0;
        for (int i = 0; i < n; i++) {
            Long w = where.remove(ids[i]);
            if (w == null) continue;
            lists[m] = (int) (w >>> 32);
            slots[m] = (int) (long) w;
            m++;
        }
        if (m == 0) return 0;
        DeviceBuffer lb = sLists.atLeast((long) m * Integer.BYTES);
        DeviceBuffer sb = sSlots.atLeast((long) m * Integer.BYTES);
        lb.upload(lists, 0, m);
        sb.upload(slots, 0, m);
        device.launch("vs_ivf_remove", (m + BLOCK - 1) / BLOCK, 1, BLOCK, 1, lb, sb, m, tableIds);
        List<Integer> touched = new ArrayList<>();
        for (int i = 0; i < m; i++) {
            int l = lists[i];
            hostIds[l][slots[i]] = -1;
            if (holeCount[l] == holes[l].length) holes[l] = Arrays.copyOf(holes[l], Math.max(8, holes[l].length * 2));
            holes[l][holeCount[l]++] = slots[i];
            if (!touched.contains(l)) touched.add(l);
        }
        if (compactAfter) {
            touched.removeIf(l -> holeCount[l] <= Math.max(16, len[l] / 4));
            compactLists(touched);
        }
        return m;
    }

    /** Moves live entries from each list's tail into its holes, then shortens the list. */
    private void compactLists(List<Integer> which) {
        if (which.isEmpty()) return;
        int total = 0;
        for (int l : which) total += holeCount[l];
        int[] mList = new int[total];
        int[] mSrc = new int[total];
        int[] mDst = new int[total];
        int m = 0;
        for (int l : which) {
            int newLen = len[l] - holeCount[l];
            int[] h = Arrays.copyOf(holes[l], holeCount[l]);
            Arrays.sort(h);
            int src = len[l] - 1;
            for (int dst : h) {
                if (dst >= newLen) break;
                while (hostIds[l][src] < 0) src--;
                mList[m] = l;
                mSrc[m] = src;
                mDst[m] = dst;
                m++;
                src--;
            }
        }
        if (m > 0) {
            DeviceBuffer lb = sLists.atLeast((long) m * Integer.BYTES);
            DeviceBuffer sb = sSlots.atLeast((long) m * Integer.BYTES);
            DeviceBuffer db = sInts.atLeast((long) m * Integer.BYTES);
            lb.upload(mList, 0, m);
            sb.upload(mSrc, 0, m);
            db.upload(mDst, 0, m);
            device.launch("vs_ivf_move", Math.min(m, MAX_GRID), 1, blockFor(dim), 1, lb, sb, db, m, dim, tableData, tableIds);
        }
        for (int i = 0; i < m; i++) {
            int l = mList[i];
            int id = hostIds[l][mSrc[i]];
            hostIds[l][mDst[i]] = id;
            hostIds[l][mSrc[i]] = -1;
            where.put(id, ((long) l << 32) | mDst[i]);
        }
        for (int l : which) {
            len[l] -= holeCount[l];
            holeCount[l] = 0;
        }
        lengthsDirty = true;
        compactions++;
        syncTables();
    }

    private SearchResult searchOnDevice(float[] queries, int nq, int k, int nprobe) {
        syncTables();
        long queryBytes = (long) nq * dim * Float.BYTES;
        pinnedQueries.reserve(queryBytes).floats().put(queries, 0, nq * dim);
        DeviceBuffer q = sVectors.atLeast(queryBytes);
        q.uploadAsync(pinnedQueries, queryBytes);
        coarseOnDevice(q, nq, nprobe);
        long resultBytes = (long) nq * k * Float.BYTES; // distances, then as many bytes of ids
        DeviceBuffer outD = sOutDist.atLeast(resultBytes);
        DeviceBuffer outI = sOutIds.atLeast(resultBytes);
        long candidates = (long) nprobe * CudaKernels.WARPS_PER_BLOCK * k; // per query
        DeviceBuffer partial = sPartial.atLeast(nq * candidates * Long.BYTES);
        int queue = CudaKernels.warpQueueFor(k);
        device.launchAsync("vs_ivf_scan_k" + queue, Math.multiplyExact(nq, nprobe), 1, CudaKernels.WARP_BLOCK_THREADS, 1,
                q, nq, dim, metricCode(), sProbeList.atLeast(0), nprobe, tableData, tableIds, lengths, k, partial);
        device.launchAsync("vs_ivf_merge_k" + queue, CudaKernels.blocksForWarps(nq), 1, CudaKernels.WARP_BLOCK_THREADS, 1,
                partial, nq, Math.toIntExact(candidates), k, outD, outI);
        pinnedResults.reserve(2 * resultBytes);
        outD.downloadAsync(pinnedResults, 0, resultBytes);
        outI.downloadAsync(pinnedResults, resultBytes, resultBytes);
        device.synchronize(); // the batch's one wait
        float[] d = new float[nq * k];
        int[] ids = new int[nq * k];
        pinnedResults.floats(0).get(d);
        pinnedResults.ints(resultBytes).get(ids);
        return new SearchResult(nq, k, d, ids);
    }

    /** The nearest list of each staged vector (k-means assignment, nprobe = 1), downloaded. */
    private int[] coarse(DeviceBuffer staged, int n, int nprobe) {
        coarseOnDevice(staged, n, nprobe);
        device.synchronize();
        int[] out = new int[n * nprobe];
        sProbeList.atLeast(0).download(out, 0, n * nprobe);
        return out;
    }

    private void coarseOnDevice(DeviceBuffer staged, int n, int nprobe) {
        DeviceBuffer pd = sProbeDist.atLeast((long) n * nprobe * Float.BYTES);
        DeviceBuffer pl = sProbeList.atLeast((long) n * nprobe * Integer.BYTES);
        device.launchAsync("vs_coarse_k" + CudaKernels.warpQueueFor(nprobe), CudaKernels.blocksForWarps(n), 1, CudaKernels.WARP_BLOCK_THREADS, 1,
                staged, n, dim, metricCode(), centroids, nlist, nprobe, pd, pl);
    }

    private void syncTables() {
        if (tablesDirty) {
            tableData.upload(dataPtr, 0, nlist);
            tableIds.upload(idsPtr, 0, nlist);
            tablesDirty = false;
        }
        if (lengthsDirty) {
            lengths.upload(len, 0, nlist);
            lengthsDirty = false;
        }
    }

    private int metricCode() {
        return metric.usesDot() ? METRIC_IP : METRIC_L2;
    }

    /** Whole 32-slot groups needed for {@code slots} slots. */
    private static int groups(int slots) {
        return (slots + GROUP - 1) / GROUP;
    }

    private static int blockFor(int dim) {
        return Math.min(BLOCK, (dim + 31) / 32 * 32);
    }

    private List<StagingBuffer> staging() {
        return List.of(sVectors, sInts, sLists, sSlots, sProbeDist, sProbeList, sOutDist, sOutIds, sPartial);
    }

    /** Frees every device allocation this object made. */
    @Override
    public void close() {
        device.call(() -> {
            if (closed) return null;
            closed = true;
            for (int l = 0; l < nlist; l++) {
                if (dataBuf[l] != null) dataBuf[l].close();
                if (idsBuf[l] != null) idsBuf[l].close();
                dataBuf[l] = null;
                idsBuf[l] = null;
            }
            for (StagingBuffer s : staging()) s.close();
            pinnedQueries.close();
            pinnedResults.close();
            centroids.close();
            tableData.close();
            tableIds.close();
            lengths.close();
            return null;
        });
    }
}
