package io.vectorstream.index.filter;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * The metadata index of an immutable layer (a shard's base), built once from its documents: per path, sorted
 * ordinal postings per string or boolean value, the ordinals where it is present, and its numbers sorted with their
 * ordinals (which answer numeric equality as well as ranges).
 */
public final class FrozenMetadataIndex extends MetadataIndex {
    private final Map<String, Path> paths;

    private record Path(Map<Object, int[]> byValue, int[] present, double[] numbers, int[] numberOrdinals, String[] strings) {
    }

    private FrozenMetadataIndex(Map<String, Path> paths) {
        this.paths = paths;
    }

    /** The index of {@code docs[0..n)}, ordinal i being {@code docs[i]}. */
    public static FrozenMetadataIndex build(MetadataDoc[] docs, int n) {
        Map<String, Builder> builders = new HashMap<>();
        for (int o = 0; o < n; o++) {
            MetadataDoc doc = docs[o];
            String[] docPaths = doc.paths();
            for (int i = 0; i < docPaths.length; i++) {
                Builder b = builders.computeIfAbsent(docPaths[i], k -> new Builder());
                b.present.add(o);
                for (Object v : doc.valuesAt(i)) {
                    if (v instanceof Double d) b.number(d, o);
                    else b.byValue.computeIfAbsent(v, k -> new Ints()).add(o);
                }
            }
        }
        Map<String, Path> paths = new HashMap<>(builders.size() * 2);
        builders.forEach((path, b) -> paths.put(path, b.build()));
        return new FrozenMetadataIndex(paths);
    }

    @Override
    protected void equal(String path, Object value, BitSet bits, int bound) {
        Path p = paths.get(path);
        if (p == null) return;
        if (value instanceof Double d) {
            int[] span = NumberRun.equalSpan(p.numbers, d);
            set(bits, p.numberOrdinals, span[0], span[1], bound);
            return;
        }
        int[] ordinals = p.byValue.get(value);
        if (ordinals != null) set(bits, ordinals, 0, ordinals.length, bound);
    }

    @Override
    protected void range(String path, Filter.Comparison op, Object bound, BitSet bits, int ordinalBound) {
        Path p = paths.get(path);
        if (p == null) return;
        if (bound instanceof Double d) {
            int[] span = NumberRun.span(p.numbers, op, d);
            set(bits, p.numberOrdinals, span[0], span[1], ordinalBound);
        } else {
            for (String s : p.strings) {
                if (satisfies(s, op, bound)) set(bits, p.byValue.get(s), 0, p.byValue.get(s).length, ordinalBound);
            }
        }
    }

    @Override
    protected void present(String path, BitSet bits, int bound) {
        Path p = paths.get(path);
        if (p != null) set(bits, p.present, 0, p.present.length, bound);
    }

    @Override
    protected long equalCount(String path, Object value) {
        Path p = paths.get(path);
        if (p != null && value instanceof Double d) {
            int[] span = NumberRun.equalSpan(p.numbers, d);
            return span[1] - span[0];
        }
        int[] ordinals = p == null ? null : p.byValue.get(value);
        return ordinals == null ? 0 : ordinals.length;
    }

    @Override
    protected long rangeCount(String path, Filter.Comparison op, Object bound) {
        Path p = paths.get(path);
        if (p == null) return 0;
        if (bound instanceof Double d) {
            int[] span = NumberRun.span(p.numbers, op, d);
            return span[1] - span[0];
        }
        long n = 0;
        for (String s : p.strings) if (satisfies(s, op, bound)) n += p.byValue.get(s).length;
        return n;
    }

    @Override
    protected long presentCount(String path) {
        Path p = paths.get(path);
        return p == null ? 0 : p.present.length;
    }

    private static void set(BitSet bits, int[] ordinals, int from, int to, int bound) {
        for (int i = from; i < to; i++) if (ordinals[i] < bound) bits.set(ordinals[i]);
    }

    /** A growable int array for building. */
    private static final class Ints {
        int[] a = new int[4];
        int n;

        void add(int v) {
            if (n > 0 && a[n - 1] == v) return; // the same value twice in one document
            if (n == a.length) a = Arrays.copyOf(a, n * 2);
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }

    private static final class Builder {
        final Map<Object, Ints> byValue = new HashMap<>();
        final Ints present = new Ints();
        double[] numbers = new double[0];
        int[] numberOrdinals = new int[0];
        int numberCount;

        void number(double v, int ordinal) {
            if (numberCount > 0 && numberOrdinals[numberCount - 1] == ordinal && numbers[numberCount - 1] == v) return;
            if (numberCount == numbers.length) {
                numbers = Arrays.copyOf(numbers, Math.max(8, numberCount * 2));
                numberOrdinals = Arrays.copyOf(numberOrdinals, numbers.length);
            }
            numbers[numberCount] = v;
            numberOrdinals[numberCount++] = ordinal;
        }

        Path build() {
            Map<Object, int[]> values = new HashMap<>(byValue.size() * 2);
            byValue.forEach((v, ints) -> values.put(v, ints.toArray()));
            NumberRun run = NumberRun.sorted(Arrays.copyOf(numbers, numberCount), Arrays.copyOf(numberOrdinals, numberCount));
            String[] strings = values.keySet().stream().filter(String.class::isInstance).map(String.class::cast)
                    .sorted().toArray(String[]::new);
            return new Path(values, present.toArray(), run.values(), run.ordinals(), strings);
        }
    }
}
