package io.vectorstream.index;

import java.util.Arrays;

/**
 * The base ordinals that are no longer live (deleted, or replaced by a newer version in the hot index).
 * Immutable: the writer makes a new set per batch ({@link #with}), so a snapshot's set never changes.
 */
public final class Tombstones {
    public static final Tombstones NONE = new Tombstones(new long[0], 0);

    private final long[] words;
    private final int count;

    private Tombstones(long[] words, int count) {
        this.words = words;
        this.count = count;
    }

    public boolean contains(int ordinal) {
        int w = ordinal >>> 6;
        return w < words.length && (words[w] & (1L << ordinal)) != 0;
    }

    /** How many ordinals are dead. */
    public int count() {
        return count;
    }

    /** The dead ordinals, ascending. */
    public int[] toArray() {
        int[] out = new int[count];
        int n = 0;
        for (int w = 0; w < words.length; w++) {
            long bits = words[w];
            while (bits != 0) {
                out[n++] = (w << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
            }
        }
        return out;
    }

    /** A new set with {@code ordinals[0..n)} added too (this one is unchanged). */
    public Tombstones with(int[] ordinals, int n) {
        if (n == 0) return this;
        int max = 0;
        for (int i = 0; i < n; i++) max = Math.max(max, ordinals[i]);
        long[] copy = Arrays.copyOf(words, Math.max(words.length, (max >>> 6) + 1));
        int c = count;
        for (int i = 0; i < n; i++) {
            int o = ordinals[i];
            long bit = 1L << o;
            if ((copy[o >>> 6] & bit) == 0) {
                copy[o >>> 6] |= bit;
                c++;
            }
        }
        return new Tombstones(copy, c);
    }
}
