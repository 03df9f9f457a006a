package io.vectorstream.index.filter;

import java.util.Arrays;
import java.util.BitSet;

/**
 * A growing postings list of ascending ordinals: one writer appends, readers read concurrently without a lock.
 *
 * <p>Why a reader sees every ordinal below its bound: the writer appends ordinal o before it publishes the snapshot
 * that contains o (a volatile write), and a reader holding that snapshot read it with a volatile read before it reads
 * {@link #data}; a grown array is filled before the volatile write of its reference. What a reader may also see is
 * the writer's later work: larger ordinals (at or past its bound: ignored) or slots not yet written (zeros, which
 * break the ascending order: the scan stops there).
 */
final class OrdinalList {
    private volatile int[] data = new int[4];
    private volatile int size; // written by the writer; readers use it only as an estimate

    /** Appends {@code ordinal} (larger than every one before it; a repeat of the last is ignored). Writer only. */
    void add(int ordinal) {
        if (size > 0 && data[size - 1] == ordinal) return; // the same value twice in one document
        int[] d = data;
        if (size == d.length) data = d = Arrays.copyOf(d, size * 2);
        d[size++] = ordinal;
    }

    /** Sets the bits of the ordinals below {@code bound}. Any thread. */
    void addTo(BitSet bits, int bound) {
        int[] d = data;
        int previous = -1;
        for (int v : d) {
            if (v <= previous || v >= bound) break;
            bits.set(v);
            previous = v;
        }
    }

    /** Ordinals held (a reader may see a newer count: use it as an estimate). */
    int size() {
        return size;
    }
}
