package io.vectorstream.index.filter;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Both metadata indexes select exactly the ordinals whose documents {@link Filter#matches} accepts, for random
 * documents (strings, numbers, booleans, arrays, nested objects, nulls, missing fields) and random filters using
 * every operator; the growing index also for a prefix bound, across batches.
 */
class MetadataIndexTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Random random = new Random(3);

    private String scalar() {
        return switch (random.nextInt(4)) {
            case 0 -> "\"s" + random.nextInt(6) + "\"";
            case 1 -> String.valueOf(random.nextInt(10) - 3);
            case 2 -> String.valueOf(random.nextInt(10) / 4.0);
            default -> String.valueOf(random.nextBoolean());
        };
    }

    private String value() {
        return switch (random.nextInt(6)) {
            case 0 -> "[" + scalar() + "," + scalar() + "]";
            case 1 -> "null";
            case 2 -> "{\"x\":" + scalar() + "}";
            default -> scalar();
        };
    }

    private String doc() {
        StringBuilder b = new StringBuilder("{");
        String[] fields = {"a", "n", "b", "o"};
        boolean first = true;
        for (String f : fields) {
            if (random.nextInt(4) == 0) continue; // missing
            if (!first) b.append(',');
            first = false;
            b.append('"').append(f).append("\":").append(value());
        }
        return b.append('}').toString();
    }

    private String condition(int depth) {
        String path = new String[]{"a", "n", "b", "o", "o.x", "zz"}[random.nextInt(6)];
        String c = switch (random.nextInt(depth > 2 ? 10 : 12)) {
            case 0 -> scalar();
            case 1 -> "{\"$ne\":" + scalar() + "}";
            case 2 -> "{\"$gt\":" + (random.nextBoolean() ? random.nextInt(6) - 2 : "\"s" + random.nextInt(6) + "\"") + "}";
            case 3 -> "{\"$gte\":" + (random.nextInt(8) / 4.0) + ",\"$lt\":" + (2 + random.nextInt(4)) + "}";
            case 4 -> "{\"$lte\":\"s" + random.nextInt(6) + "\"}";
            case 5 -> "{\"$in\":[" + scalar() + "," + scalar() + "]}";
            case 6 -> "{\"$nin\":[" + scalar() + "]}";
            case 7 -> "{\"$exists\":" + random.nextBoolean() + "}";
            case 8 -> "{\"$not\":{\"$in\":[" + scalar() + "]}}";
            case 9 -> "{\"$eq\":" + scalar() + "}";
            case 10 -> null;
            default -> null;
        };
        if (c == null) { // logic
            String op = new String[]{"$and", "$or"}[random.nextInt(2)];
            if (random.nextInt(3) == 0) return "\"$not\":{" + condition(depth + 1) + "}";
            return "\"" + op + "\":[{" + condition(depth + 1) + "},{" + condition(depth + 1) + "}]";
        }
        return "\"" + path + "\":" + c;
    }

    @Test
    void indexesSelectExactlyWhatTheFilterMatches() throws Exception {
        int n = 3000;
        MetadataDoc[] docs = new MetadataDoc[n];
        GrowingMetadataIndex growing = new GrowingMetadataIndex();
        for (int o = 0; o < n; o++) {
            docs[o] = MetadataDoc.parse(random.nextInt(20) == 0 ? null : doc());
            growing.add(o, docs[o]);
            if (o % 97 == 0) growing.endBatch(); // runs of many sizes, merged as they grow
        }
        growing.endBatch();
        FrozenMetadataIndex frozen = FrozenMetadataIndex.build(docs, n);
        int nonTrivial = 0;
        for (int i = 0; i < 400; i++) {
            String json = "{" + condition(0) + (random.nextBoolean() ? "," + condition(1) : "") + "}";
            Filter filter = FilterParser.parse(JSON.readTree(json), "filter");
            int bound = random.nextBoolean() ? n : random.nextInt(n);
            BitSet expected = new BitSet();
            for (int o = 0; o < bound; o++) if (filter.matches(docs[o])) expected.set(o);
            if (!expected.isEmpty() && expected.cardinality() < bound) nonTrivial++;
            assertThat(growing.select(filter, bound)).as("growing, %s below %d", json, bound).isEqualTo(expected);
            if (bound == n) assertThat(frozen.select(filter, n)).as("frozen, %s", json).isEqualTo(expected);
        }
        assertThat(nonTrivial).as("filters that select some but not all").isGreaterThan(200);
        // the estimate (postings' sizes only) is exact for one equality or presence, and never out of [0, n]
        for (String json : new String[]{"{\"a\": \"s1\"}", "{\"n\": 1}", "{\"o.x\": {\"$exists\": true}}", "{\"b\": true}"}) {
            Filter f = FilterParser.parse(JSON.readTree(json), "filter");
            long exact = 0;
            for (int o = 0; o < n; o++) if (f.matches(docs[o])) exact++;
            assertThat(frozen.estimate(f, n)).as(json).isEqualTo(exact);
            assertThat(growing.estimate(f, n)).as(json).isEqualTo(exact);
        }
    }
}
