package io.vectorstream.index.filter;

import java.util.Arrays;
import java.util.BitSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The metadata index of the hot index, grown by its writer as ordinals are added and read by queries at the same
 * time without a lock. Per path: an {@link OrdinalList} per string or boolean value and one of where the path is
 * present (ordinals ascend, so a reader takes the prefix below its snapshot's ordinal count, see
 * {@link OrdinalList}); numbers (equality and ranges alike, so that a unique number per vector costs no list) go
 * into sorted runs that are merged as they grow (each batch adds one; two neighbours merge once the newer is at least
 * half the older, so there are O(log n) runs and each number is copied O(log n) times). Runs are immutable and the
 * array of them is replaced whole, so a reader sees a consistent set.
 *
 * <p>Ordinals of removed vectors stay in the postings; the caller masks them out with its liveness check.
 */
public final class GrowingMetadataIndex extends MetadataIndex {
    private final ConcurrentHashMap<String, Path> paths = new ConcurrentHashMap<>();

    private static final class Path {
        final ConcurrentHashMap<Object, OrdinalList> byValue = new ConcurrentHashMap<>();
        final OrdinalList present = new OrdinalList();
        volatile NumberRun[] runs = new NumberRun[0];
        // numbers added since the last endBatch (the writer's)
        double[] pendingValues = new double[0];
        int[] pendingOrdinals = new int[0];
        int pending;

        void addNumber(double v, int ordinal) {
            if (pending > 0 && pendingOrdinals[pending - 1] == ordinal && pendingValues[pending - 1] == v) return; // [7, 7]
            if (pending == pendingValues.length) {
                int capacity = Math.max(16, pending * 2);
                pendingValues = Arrays.copyOf(pendingValues, capacity);
                pendingOrdinals = Arrays.copyOf(pendingOrdinals, capacity);
            }
            pendingValues[pending] = v;
            pendingOrdinals[pending++] = ordinal;
        }

        void flush() {
            if (pending == 0) return;
            NumberRun run = NumberRun.sorted(Arrays.copyOf(pendingValues, pending), Arrays.copyOf(pendingOrdinals, pending));
            pending = 0;
            if (pendingValues.length > 4096) { // a backfill's large batch: do not keep its buffers
                pendingValues = new double[0];
                pendingOrdinals = new int[0];
            }
            NumberRun[] next = Arrays.copyOf(runs, runs.length + 1);
            next[next.length - 1] = run;
            int n = next.length;
            while (n >= 2 && next[n - 1].size() * 2 >= next[n - 2].size()) {
                next[n - 2] = next[n - 2].merge(next[n - 1]);
                n--;
            }
            runs = n == next.length ? next : Arrays.copyOf(next, n);
        }
    }

    /** Indexes {@code doc} as ordinal {@code ordinal}, larger than any added before. Writer only. */
    public void add(int ordinal, MetadataDoc doc) {
        String[] docPaths = doc.paths();
        for (int i = 0; i < docPaths.length; i++) {
            Path p = paths.computeIfAbsent(docPaths[i], k -> new Path());
            p.present.add(ordinal);
            for (Object v : doc.valuesAt(i)) {
                if (v instanceof Double d) p.addNumber(d, ordinal);
                else p.byValue.computeIfAbsent(v, k -> new OrdinalList()).add(ordinal);
            }
        }
    }

    /** Makes every number added so far visible to range queries: call before publishing. Writer only. */
    public void endBatch() {
        for (Path p : paths.values()) p.flush();
    }

    @Override
    protected void equal(String path, Object value, BitSet bits, int bound) {
        Path p = paths.get(path);
        if (p == null) return;
        if (value instanceof Double d) {
            for (NumberRun run : p.runs) {
                int[] span = NumberRun.equalSpan(run.values(), d);
                int[] ordinals = run.ordinals();
                for (int i = span[0]; i < span[1]; i++) if (ordinals[i] < bound) bits.set(ordinals[i]);
            }
            return;
        }
        OrdinalList list = p.byValue.get(value);
        if (list != null) list.addTo(bits, bound);
    }

    @Override
    protected void range(String path, Filter.Comparison op, Object bound, BitSet bits, int ordinalBound) {
        Path p = paths.get(path);
        if (p == null) return;
        if (bound instanceof Double d) {
            for (NumberRun run : p.runs) {
                int[] span = NumberRun.span(run.values(), op, d);
                int[] ordinals = run.ordinals();
                for (int i = span[0]; i < span[1]; i++) if (ordinals[i] < ordinalBound) bits.set(ordinals[i]);
            }
        } else {
            p.byValue.forEach((v, list) -> {
                if (satisfies(v, op, bound)) list.addTo(bits, ordinalBound);
            });
        }
    }

    @Override
    protected long equalCount(String path, Object value) {
        Path p = paths.get(path);
        if (p != null && value instanceof Double d) {
            long n = 0;
            for (NumberRun run : p.runs) {
                int[] span = NumberRun.equalSpan(run.values(), d);
                n += span[1] - span[0];
            }
            return n;
        }
        OrdinalList list = p == null ? null : p.byValue.get(value);
        return list == null ? 0 : list.size();
    }

    @Override
    protected long rangeCount(String path, Filter.Comparison op, Object bound) {
        Path p = paths.get(path);
        if (p == null) return 0;
        long n = 0;
        if (bound instanceof Double d) {
            for (NumberRun run : p.runs) {
                int[] span = NumberRun.span(run.values(), op, d);
                n += span[1] - span[0];
            }
        } else {
            for (var e : p.byValue.entrySet()) if (satisfies(e.getKey(), op, bound)) n += e.getValue().size();
        }
        return n;
    }

    @Override
    protected long presentCount(String path) {
        Path p = paths.get(path);
        return p == null ? 0 : p.present.size();
    }

    @Override
    protected void present(String path, BitSet bits, int bound) {
        Path p = paths.get(path);
        if (p != null) p.present.addTo(bits, bound);
    }
}
