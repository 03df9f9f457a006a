package io.vectorstream.index.filter;

import java.util.Arrays;

/** Numeric values with their ordinals, sorted by value: the ordered structure that answers a numeric range. */
record NumberRun(double[] values, int[] ordinals) {

    /** {@code values[i]} belongs to {@code ordinals[i]}; returns them sorted by value. */
    static NumberRun sorted(double[] values, int[] ordinals) {
        int n = values.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Double.compare(values[a], values[b]));
        double[] v = new double[n];
        int[] o = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = values[order[i]];
            o[i] = ordinals[order[i]];
        }
        return new NumberRun(v, o);
    }

    int size() {
        return values.length;
    }

    /** The two runs as one sorted run. */
    NumberRun merge(NumberRun other) {
        int n = size() + other.size();
        double[] v = new double[n];
        int[] o = new int[n];
        int i = 0, j = 0, w = 0;
        while (i < size() || j < other.size()) {
            if (j >= other.size() || (i < size() && values[i] <= other.values[j])) {
                v[w] = values[i];
                o[w++] = ordinals[i++];
            } else {
                v[w] = other.values[j];
                o[w++] = other.ordinals[j++];
            }
        }
        return new NumberRun(v, o);
    }

    /** {@code [from, to)}: the positions in sorted {@code values} equal to {@code value}. */
    static int[] equalSpan(double[] values, double value) {
        return new int[]{firstAtLeast(values, value), firstAbove(values, value)};
    }

    /** {@code [from, to)}: the positions in sorted {@code values} that satisfy {@code op} against {@code bound}. */
    static int[] span(double[] values, Filter.Comparison op, double bound) {
        return switch (op) {
            case GT -> new int[]{firstAbove(values, bound), values.length};
            case GTE -> new int[]{firstAtLeast(values, bound), values.length};
            case LT -> new int[]{0, firstAtLeast(values, bound)};
            case LTE -> new int[]{0, firstAbove(values, bound)};
        };
    }

    private static int firstAtLeast(double[] a, double x) {
        int lo = 0, hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static int firstAbove(double[] a, double x) {
        int lo = 0, hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
