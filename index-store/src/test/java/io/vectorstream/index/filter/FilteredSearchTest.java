package io.vectorstream.index.filter;

import io.vectorstream.index.TestBases;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexOp;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.ivf.IvfFlatSnapshot;
import io.vectorstream.index.ivf.IvfPqIndex;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vectorstream.index.durable.DurableShard;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Filtered search checked against a brute-force filtered reference over the live set, at known selectivities
 * (50 % to 0.05 %), through upserts, replacements that change metadata, deletes, compaction (base + hot) and a
 * restart. Exact plans must equal the reference; the IVF plan must reach recall@10 >= 0.95; every answer has
 * min(k, matching) hits.
 */
class FilteredSearchTest {
    private static final int DIM = 16, K = 10;
    private static final ObjectMapper JSON = new ObjectMapper();
    private final IndexConfig config = new IndexConfig(DIM, Metric.L2, 0, 1000, 8, 42L);
    private final Random random = new Random(11);
    private final float[][] centres = new float[24][DIM];
    private final Map<String, IndexOp.Upsert> live = new LinkedHashMap<>();
    private final Map<String, MetadataDoc> docs = new java.util.HashMap<>();
    private final Set<ShardSnapshot.Plan> plansSeen = EnumSet.noneOf(ShardSnapshot.Plan.class);
    private long offset;

    @TempDir
    Path dir;

    /** Selectivities 50 %, 5 %, 0.5 %, 0.05 % (of the initial 8000), and mixed operators. */
    private static final List<String> FILTERS = List.of(
            "{\"half\": true}",
            "{\"c20\": 0}",
            "{\"c200\": {\"$in\": [7]}}",
            "{\"n\": {\"$gte\": 100, \"$lt\": 104}}",
            "{\"$or\": [{\"c20\": 3}, {\"tags\": \"t5\"}], \"half\": {\"$ne\": true}}",
            "{\"lang\": {\"$nin\": [\"en\", \"de\"]}, \"n\": {\"$exists\": true}}",
            "{\"tags\": {\"$in\": [\"t1\", \"t2\"]}, \"$not\": {\"lang\": \"fr\"}}");

    private IndexOp.Upsert upsert(String id, int n, int flavour) {
        float[] c = centres[random.nextInt(centres.length)];
        float[] v = new float[DIM];
        for (int d = 0; d < DIM; d++) v[d] = c[d] + (float) random.nextGaussian() * 0.3f;
        String lang = new String[]{"en", "de", "fr"}[(n + flavour) % 3];
        String meta = "{\"n\":" + n + ",\"half\":" + ((n + flavour) % 2 == 0) + ",\"c20\":" + ((n + flavour) % 20)
                + ",\"c200\":" + ((n + flavour) % 200) + ",\"lang\":\"" + lang + "\",\"tags\":[\"t" + (n % 10) + "\",\"t"
                + ((n / 10 + flavour) % 10) + "\"]}";
        return new IndexOp.Upsert(id, v, meta);
    }

    private void apply(DurableShard d, List<IndexOp> ops) {
        long[] offsets = new long[ops.size()];
        for (int i = 0; i < ops.size(); i++) offsets[i] = offset++;
        d.apply(ops, offsets, offset - 1);
        for (IndexOp op : ops) {
            if (op instanceof IndexOp.Upsert u) {
                live.put(u.id(), u);
                docs.put(u.id(), MetadataDoc.parse(u.metadataJson()));
            } else {
                live.remove(op.id());
            }
        }
    }

    private void load(DurableShard d, int from, int to, int flavour) {
        List<IndexOp> batch = new ArrayList<>();
        for (int n = from; n < to; n++) {
            batch.add(upsert("v" + n, n, flavour));
            if (batch.size() == 500) {
                apply(d, batch);
                batch = new ArrayList<>();
            }
        }
        if (!batch.isEmpty()) apply(d, batch);
    }

    /** The k nearest live vectors that match, by brute force. */
    private List<String> reference(float[] q, Filter filter) {
        List<Map.Entry<String, Float>> scored = new ArrayList<>();
        for (IndexOp.Upsert u : live.values()) {
            if (!filter.matches(docs.get(u.id()))) continue;
            float s = 0;
            for (int d = 0; d < DIM; d++) s += (q[d] - u.vector()[d]) * (q[d] - u.vector()[d]);
            scored.add(Map.entry(u.id(), s));
        }
        scored.sort(Map.Entry.comparingByValue());
        return scored.stream().limit(K).map(Map.Entry::getKey).toList();
    }

    private long matching(Filter filter) {
        return live.values().stream().filter(u -> filter.matches(docs.get(u.id()))).count();
    }

    private void check(Shard shard, String stage) throws Exception {
        ShardSnapshot s = shard.snapshot();
        for (String json : FILTERS) {
            Filter filter = FilterParser.parse(JSON.readTree(json), "filter");
            long matching = matching(filter);
            double found = 0, wanted = 0;
            for (int i = 0; i < 20; i++) {
                float[] q = live.values().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow().vector().clone();
                q[0] += 0.1f;
                List<String> ref = reference(q, filter);
                ShardSnapshot.FilteredAnswer a = s.search(q, K, config.defaultNprobe(), false, filter);
                plansSeen.add(a.plan());
                List<String> got = a.hits().stream().map(SearchHit::id).toList();
                assertThat(got).as(stage + " " + json + ": never fewer than min(k, matching)").hasSize((int) Math.min(K, matching));
                for (SearchHit h : a.hits()) {
                    assertThat(filter.matches(docs.get(h.id()))).as(stage + " " + json + " " + h.id()).isTrue();
                }
                if (a.plan() == ShardSnapshot.Plan.EXACT_MATCHES) assertThat(got).as(stage + " " + json).isEqualTo(ref);
                Set<String> hit = new HashSet<>(got);
                for (String id : ref) if (hit.contains(id)) found++;
                wanted += ref.size();
                ShardSnapshot.FilteredAnswer exact = s.search(q, K, config.defaultNprobe(), true, filter);
                assertThat(exact.plan()).isEqualTo(ShardSnapshot.Plan.EXACT);
                assertThat(exact.hits().stream().map(SearchHit::id).toList()).as(stage + " exact " + json).isEqualTo(ref);
            }
            if (wanted > 0) assertThat(found / wanted).as(stage + " recall@10 of " + json).isGreaterThanOrEqualTo(0.95);
        }
    }

    private void compact(Shard shard) {
        TestBases.compact(shard, 64, 8);
    }

    @Test
    void filteredAnswersMatchBruteForceThroughChangesCompactionAndRestart() throws Exception {
        for (float[] c : centres) for (int d = 0; d < DIM; d++) c[d] = (float) random.nextGaussian() * 3;
        try (DurableShard d = DurableShard.open(dir, new Shard(0, config, Kernels.cpu()))) {
            load(d, 0, 8000, 0);
            assertThat(d.shard().snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.IVF_FLAT);
            check(d.shard(), "hot only");

            load(d, 0, 1500, 1); // replacements: new vectors, metadata changed
            List<IndexOp> deletes = new ArrayList<>();
            for (int n = 1500; n < 2500; n += 3) deletes.add(new IndexOp.Delete("v" + n));
            apply(d, deletes);
            check(d.shard(), "after replacements and deletes");

            compact(d.shard());
            check(d.shard(), "base only");
            load(d, 2000, 3000, 2); // replaces base entries from the hot index (tombstones)
            load(d, 8000, 9000, 0); // new ids in the hot index
            check(d.shard(), "base + hot");
            d.checkpoint(d.shard().snapshot());
        }
        try (DurableShard d = DurableShard.open(dir, new Shard(0, config, Kernels.cpu()))) {
            assertThat(d.restorePath()).isEqualTo(DurableShard.RestorePath.SNAPSHOT_AND_LOG);
            assertThat(d.shard().snapshot().liveCount()).isEqualTo(live.size());
            check(d.shard(), "after a restart");
        }
        assertThat(plansSeen).as("both plans were taken").contains(ShardSnapshot.Plan.EXACT_MATCHES, ShardSnapshot.Plan.IVF_FILTERED);
    }

    @Test
    void anUntrainedShardScoresMatchesExactly() throws Exception {
        try (DurableShard d = DurableShard.open(dir, new Shard(0, config, Kernels.cpu()))) {
            for (float[] c : centres) for (int dd = 0; dd < DIM; dd++) c[dd] = (float) random.nextGaussian() * 3;
            load(d, 0, 600, 0);
            assertThat(d.shard().snapshot().kind()).isEqualTo(IvfFlatSnapshot.Kind.EXACT);
            Filter filter = FilterParser.parse(JSON.readTree("{\"c20\": {\"$lte\": 1}}"), "filter");
            float[] q = live.values().iterator().next().vector();
            ShardSnapshot.FilteredAnswer a = d.shard().snapshot().search(q, K, 8, false, filter);
            assertThat(a.hits().stream().map(SearchHit::id).toList()).isEqualTo(reference(q, filter));
            assertThat(a.estimatedMatches()).isEqualTo(matching(filter));
        }
    }
}
