package io.vectorstream.kernels;

import java.util.Arrays;

/**
 * Keeps the {@code k} smallest distances seen so far, with their integer ids, in a bounded max-heap:
 * one comparison against the current worst rejects most candidates. Not thread-safe; reusable via
 * {@link #reset}.
 */
public final class TopK {
    /** The largest k any search supports. */
    public static final int MAX_K = 1000;

    private final int capacity;
    private final float[] distances;
    private final int[] ids;
    private int size;

    public TopK(int k) {
        if (k < 1) throw new IllegalArgumentException("k must be >= 1, was " + k);
        this.capacity = k;
        this.distances = new float[k];
        this.ids = new int[k];
    }

    public int k() {
        return capacity;
    }

    public int size() {
        return size;
    }

    public void reset() {
        size = 0;
    }

    /** The distance a candidate must beat to enter, or +infinity while the heap is not full. */
    public float threshold() {
        return size < capacity ? Float.POSITIVE_INFINITY : distances[0];
    }

    /** Offers a candidate; returns true if it was kept. */
    public boolean offer(int id, float distance) {
        if (size < capacity) {
            int i = size++;
            distances[i] = distance;
            ids[i] = id;
            siftUp(i);
            return true;
        }
        if (!(distance < distances[0])) return false;
        distances[0] = distance;
        ids[0] = id;
        siftDown(0);
        return true;
    }

    /** Offers {@code n} candidates whose distances are {@code dist[distOff..]} and ids {@code idOf[idOff..]}. */
    public void offerAll(float[] dist, int distOff, int[] idOf, int idOff, int n) {
        float worst = threshold();
        for (int i = 0; i < n; i++) {
            float d = dist[distOff + i];
            if (d < worst) {
                offer(idOf[idOff + i], d);
                worst = threshold();
            }
        }
    }

    /**
     * Drains into {@code outIds}/{@code outDistances} best first; returns the count.
     * The heap is empty afterwards.
     */
    public int drainSorted(int[] outIds, float[] outDistances) {
        int n = size;
        for (int i = n - 1; i >= 0; i--) {
            outIds[i] = ids[0];
            outDistances[i] = distances[0];
            size--;
            if (size > 0) {
                distances[0] = distances[size];
                ids[0] = ids[size];
                siftDown(0);
            }
        }
        return n;
    }

    /** The kept ids, best first (a convenience for tests and small results). */
    public int[] sortedIds() {
        int[] outIds = new int[size];
        drainSorted(outIds, new float[size]);
        return outIds;
    }

    private void siftUp(int i) {
        float d = distances[i];
        int id = ids[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (distances[parent] >= d) break;
            distances[i] = distances[parent];
            ids[i] = ids[parent];
            i = parent;
        }
        distances[i] = d;
        ids[i] = id;
    }

    private void siftDown(int i) {
        float d = distances[i];
        int id = ids[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && distances[right] > distances[child]) child = right;
            if (distances[child] <= d) break;
            distances[i] = distances[child];
            ids[i] = ids[child];
            i = child;
        }
        distances[i] = d;
        ids[i] = id;
    }

    @Override
    public String toString() {
        return "TopK{k=" + capacity + ", size=" + size + ", ids=" + Arrays.toString(Arrays.copyOf(ids, size)) + "}";
    }
}
