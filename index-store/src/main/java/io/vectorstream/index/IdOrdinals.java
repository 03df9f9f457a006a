package io.vectorstream.index;

import java.util.function.Consumer;

/**
 * Id → ordinal, for the hot index's live entries and a base's: open addressing with linear probing over a key array
 * and an int array (load at most 1/2). About 16 bytes per id against ~52 for a {@code HashMap<String, Integer>} (a
 * node and a boxed ordinal per entry, which a 1M backfill allocated a million times over and rehashed as the map
 * doubled: 5 % of a stream thread). Ids keep their cached {@link String#hashCode()}, so growing rehashes no string.
 * Not thread-safe: one writer, like its owners.
 */
public final class IdOrdinals {
    private String[] keys;
    private int[] values;
    private int size;
    private int mask;

    public IdOrdinals() {
        this(16);
    }

    /** Room for {@code expected} ids before the first growth. */
    public IdOrdinals(int expected) {
        int capacity = Integer.highestOneBit(Math.max(8, expected) * 2 - 1) << 1;
        keys = new String[capacity];
        values = new int[capacity];
        mask = capacity - 1;
    }

    public int size() {
        return size;
    }

    /** The ordinal of {@code id}, or -1. */
    public int get(String id) {
        for (int i = slot(id); ; i = (i + 1) & mask) {
            String k = keys[i];
            if (k == null) return -1;
            if (k.equals(id)) return values[i];
        }
    }

    public boolean containsKey(String id) {
        return get(id) >= 0;
    }

    /** Maps {@code id} to {@code ordinal} (≥ 0), replacing any previous ordinal. */
    public void put(String id, int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("ordinal " + ordinal);
        if (2 * (size + 1) > keys.length) grow();
        for (int i = slot(id); ; i = (i + 1) & mask) {
            String k = keys[i];
            if (k == null) {
                keys[i] = id;
                values[i] = ordinal;
                size++;
                return;
            }
            if (k.equals(id)) {
                values[i] = ordinal;
                return;
            }
        }
    }

    /** Removes {@code id}; returns its ordinal, or -1 if it was absent. */
    public int remove(String id) {
        int i = slot(id);
        for (; ; i = (i + 1) & mask) {
            String k = keys[i];
            if (k == null) return -1;
            if (k.equals(id)) break;
        }
        int removed = values[i];
        // backward-shift deletion: move later entries of the probe run into the gap, so no tombstones are needed
        for (int gap = i, j = (i + 1) & mask; ; j = (j + 1) & mask) {
            String k = keys[j];
            if (k == null) {
                keys[gap] = null;
                break;
            }
            int home = slot(k);
            // k may fill the gap unless its home lies cyclically in (gap, j]
            if (gap <= j ? (home <= gap || home > j) : (home <= gap && home > j)) {
                keys[gap] = k;
                values[gap] = values[j];
                gap = j;
            }
        }
        size--;
        return removed;
    }

    public void clear() {
        java.util.Arrays.fill(keys, null);
        size = 0;
    }

    /** Calls {@code action} with every id, in no particular order. */
    public void forEachId(Consumer<String> action) {
        for (String k : keys) if (k != null) action.accept(k);
    }

    private int slot(String id) {
        int h = id.hashCode() * 0x9E3779B9; // Fibonacci hashing: the high bits mix every bit of the hash
        return (h ^ (h >>> 16)) & mask;
    }

    private void grow() {
        String[] oldKeys = keys;
        int[] oldValues = values;
        keys = new String[oldKeys.length * 2];
        values = new int[oldKeys.length * 2];
        mask = keys.length - 1;
        for (int i = 0; i < oldKeys.length; i++) {
            String k = oldKeys[i];
            if (k == null) continue;
            int s = slot(k);
            while (keys[s] != null) s = (s + 1) & mask;
            keys[s] = k;
            values[s] = oldValues[i];
        }
    }
}
