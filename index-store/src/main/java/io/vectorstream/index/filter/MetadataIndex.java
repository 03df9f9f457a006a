package io.vectorstream.index.filter;

import java.util.BitSet;

/**
 * A layer's metadata index: which of its ordinals a {@link Filter} matches, answered from postings instead of by
 * reading each vector's metadata. Inverted postings serve equality ({@code $eq $in $ne $nin}) on strings, numbers
 * and booleans and {@code $exists}; an ordered structure serves numeric ranges. The boolean logic is here, once; the
 * layers ({@link FrozenMetadataIndex} for an immutable base, {@link GrowingMetadataIndex} for the hot index) supply
 * the postings. The result may hold ordinals that are no longer live: callers mask them out.
 */
public abstract class MetadataIndex {
    /** Selections kept per index: a filter that repeats (a tenant, a language) is selected once per snapshot. */
    static final int CACHED_SELECTIONS = 32;
    private final java.util.concurrent.ConcurrentHashMap<CacheKey, BitSet> cache = new java.util.concurrent.ConcurrentHashMap<>();

    private record CacheKey(Filter filter, int bound) {
    }

    /**
     * As {@link #select}, remembered for the same filter and bound (a bound pins a growing index's state: its
     * postings below the bound never change). The result is shared: callers must not modify it.
     */
    public final BitSet selectShared(Filter filter, int bound) {
        CacheKey key = new CacheKey(filter, bound);
        BitSet bits = cache.get(key);
        if (bits != null) return bits;
        bits = select(filter, bound);
        if (cache.size() >= CACHED_SELECTIONS) cache.clear(); // crude, and enough: stale bounds are never asked again
        cache.put(key, bits);
        return bits;
    }

    /** The ordinals in {@code [0, bound)} whose metadata {@code filter} matches. */
    public final BitSet select(Filter filter, int bound) {
        return switch (filter) {
            case Filter.All a -> all(bound);
            case Filter.Eq eq -> {
                BitSet bits = new BitSet(bound);
                equal(eq.path(), eq.value(), bits, bound);
                yield bits;
            }
            case Filter.In in -> {
                BitSet bits = new BitSet(bound);
                for (Object v : in.values()) equal(in.path(), v, bits, bound);
                yield bits;
            }
            case Filter.Range r -> {
                BitSet bits = new BitSet(bound);
                range(r.path(), r.op(), r.bound(), bits, bound);
                yield bits;
            }
            case Filter.Exists e -> {
                BitSet bits = new BitSet(bound);
                present(e.path(), bits, bound);
                if (!e.present()) bits.flip(0, bound);
                yield bits;
            }
            case Filter.Not n -> {
                BitSet bits = select(n.negated(), bound);
                bits.flip(0, bound);
                yield bits;
            }
            case Filter.And and -> {
                BitSet bits = null;
                for (Filter f : and.all()) {
                    BitSet part = select(f, bound);
                    if (bits == null) bits = part;
                    else bits.and(part);
                    if (bits.isEmpty()) break;
                }
                yield bits == null ? all(bound) : bits;
            }
            case Filter.Or or -> {
                BitSet bits = new BitSet(bound);
                for (Filter f : or.any()) bits.or(select(f, bound));
                yield bits;
            }
        };
    }

    /**
     * About how many ordinals below {@code bound} {@code filter} matches, from the postings' sizes alone (no bit is
     * set): exact for one equality, range or presence; the smaller part for AND, the sum for OR (at most bound).
     */
    public final long estimate(Filter filter, int bound) {
        long e = switch (filter) {
            case Filter.All a -> bound;
            case Filter.Eq eq -> equalCount(eq.path(), eq.value());
            case Filter.In in -> {
                long sum = 0;
                for (Object v : in.values()) sum += equalCount(in.path(), v);
                yield sum;
            }
            case Filter.Range r -> rangeCount(r.path(), r.op(), r.bound());
            case Filter.Exists x -> x.present() ? presentCount(x.path()) : bound - presentCount(x.path());
            case Filter.Not n -> bound - estimate(n.negated(), bound);
            case Filter.And and -> {
                long min = bound;
                for (Filter f : and.all()) min = Math.min(min, estimate(f, bound));
                yield min;
            }
            case Filter.Or or -> {
                long sum = 0;
                for (Filter f : or.any()) sum += estimate(f, bound);
                yield sum;
            }
        };
        return Math.max(0, Math.min(bound, e));
    }

    /** Ordinals with {@code value} at {@code path} (may count some at or past a reader's bound). */
    protected abstract long equalCount(String path, Object value);

    /** Values at {@code path} that satisfy the comparison. */
    protected abstract long rangeCount(String path, Filter.Comparison op, Object bound);

    /** Ordinals where {@code path} is present. */
    protected abstract long presentCount(String path);

    private static BitSet all(int bound) {
        BitSet bits = new BitSet(bound);
        bits.set(0, bound);
        return bits;
    }

    /** Sets the ordinals below {@code bound} with {@code value} (a String, Double or Boolean) at {@code path}. */
    protected abstract void equal(String path, Object value, BitSet bits, int bound);

    /** Sets the ordinals below {@code bound} with a value at {@code path} of the bound's type that satisfies the comparison. */
    protected abstract void range(String path, Filter.Comparison op, Object bound, BitSet bits, int ordinalBound);

    /** Sets the ordinals below {@code bound} where {@code path} is present. */
    protected abstract void present(String path, BitSet bits, int bound);

    /** Whether {@code value.compareTo(bound)} satisfies {@code op}, for values of the same type. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static boolean satisfies(Object value, Filter.Comparison op, Object bound) {
        return value.getClass() == bound.getClass() && op.holds(((Comparable) value).compareTo(bound));
    }
}
