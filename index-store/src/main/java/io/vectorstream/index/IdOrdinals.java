package io.vectorstream.index;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Id → ordinal, for the hot index's live entries and a base's: open addressing with linear probing (load at most
 * 1/2). Each slot packs the id's {@link String#hashCode()} and its ordinal into one {@code long}, beside an array of
 * the ids themselves. A probe reads the packed slot first and touches the id (a pointer into the heap: another cache
 * miss, and its bytes a third) only when the hashes agree; an empty slot ends a miss without reading an id at all.
 * A backfill asks for every upserted id that is not there (to remove an older version), so the miss is the common
 * case; growing and the backward-shift deletion read the stored hashes, not the strings. About 24 bytes per id
 * against ~52 for a {@code HashMap<String, Integer>} (a node and a boxed ordinal per entry, which a 1M backfill
 * allocated a million times over and rehashed as the map doubled: 5 % of a stream thread).
 * Not thread-safe: one writer, like its owners.
 */
public final class IdOrdinals {
    /** An empty slot: ordinals are ≥ 0, so no occupied slot has all 32 low bits set. */
    private static final long EMPTY = -1L;

    private String[] keys;
    private long[] slots; // hash << 32 | ordinal, or EMPTY
    private int size;
    private int mask;

    public IdOrdinals() {
        this(16);
    }

    /** Room for {@code expected} ids before the first growth. */
    public IdOrdinals(int expected) {
        int capacity = Integer.highestOneBit(Math.max(8, expected) * 2 - 1) << 1;
        keys = new String[capacity];
        slots = new long[capacity];
        Arrays.fill(slots, EMPTY);
        mask = capacity - 1;
    }

    public int size() {
        return size;
    }

    /** The ordinal of {@code id}, or -1. */
    public int get(String id) {
        int i = find(id);
        return i < 0 ? -1 : (int) slots[i];
    }

    public boolean containsKey(String id) {
        return find(id) >= 0;
    }

    /** Maps {@code id} to {@code ordinal} (≥ 0), replacing any previous ordinal. */
    public void put(String id, int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("ordinal " + ordinal);
        if (2 * (size + 1) > slots.length) grow();
        int h = id.hashCode();
        for (int i = home(h); ; i = (i + 1) & mask) {
            long s = slots[i];
            if (s == EMPTY) {
                keys[i] = id;
                slots[i] = pack(h, ordinal);
                size++;
                return;
            }
            if (hashOf(s) == h && keys[i].equals(id)) {
                slots[i] = pack(h, ordinal);
                return;
            }
        }
    }

    /** Removes {@code id}; returns its ordinal, or -1 if it was absent. */
    public int remove(String id) {
        int i = find(id);
        if (i < 0) return -1;
        int removed = (int) slots[i];
        // backward-shift deletion: move later entries of the probe run into the gap, so no tombstones are needed
        for (int gap = i, j = (i + 1) & mask; ; j = (j + 1) & mask) {
            long s = slots[j];
            if (s == EMPTY) {
                keys[gap] = null;
                slots[gap] = EMPTY;
                break;
            }
            int home = home(hashOf(s));
            // the entry at j may fill the gap unless its home lies cyclically in (gap, j]
            if (gap <= j ? (home <= gap || home > j) : (home <= gap && home > j)) {
                keys[gap] = keys[j];
                slots[gap] = s;
                gap = j;
            }
        }
        size--;
        return removed;
    }

    public void clear() {
        Arrays.fill(keys, null);
        Arrays.fill(slots, EMPTY);
        size = 0;
    }

    /** Calls {@code action} with every id, in no particular order. */
    public void forEachId(Consumer<String> action) {
        for (String k : keys) if (k != null) action.accept(k);
    }

    /** The slot holding {@code id}, or -1. */
    private int find(String id) {
        int h = id.hashCode();
        for (int i = home(h); ; i = (i + 1) & mask) {
            long s = slots[i];
            if (s == EMPTY) return -1;
            if (hashOf(s) == h && keys[i].equals(id)) return i;
        }
    }

    private int home(int hash) {
        int h = hash * 0x9E3779B9; // Fibonacci hashing: the high bits mix every bit of the hash
        return (h ^ (h >>> 16)) & mask;
    }

    private static long pack(int hash, int ordinal) {
        return (long) hash << 32 | (ordinal & 0xFFFF_FFFFL);
    }

    private static int hashOf(long slot) {
        return (int) (slot >>> 32);
    }

    private void grow() {
        String[] oldKeys = keys;
        long[] oldSlots = slots;
        keys = new String[oldKeys.length * 2];
        slots = new long[oldKeys.length * 2];
        Arrays.fill(slots, EMPTY);
        mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            long s = oldSlots[i];
            if (s == EMPTY) continue;
            int j = home(hashOf(s));
            while (slots[j] != EMPTY) j = (j + 1) & mask;
            keys[j] = oldKeys[i];
            slots[j] = s;
        }
    }
}
