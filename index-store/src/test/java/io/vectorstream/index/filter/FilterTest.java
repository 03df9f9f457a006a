package io.vectorstream.index.filter;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every operator, arrays, nested paths, missing fields, type mismatches, and the errors of malformed filters. */
class FilterTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final MetadataDoc DOC = MetadataDoc.parse("""
            {"lang": "en", "year": 2021, "score": 0.5, "draft": false, "tags": ["a", "b", 7],
             "author": {"name": "Ada", "orgs": [{"id": "x"}, {"id": "y"}]}, "nothing": null, "grid": [[1, 2], [3]]}""");

    private static Filter parse(String json) {
        try {
            return FilterParser.parse(JSON.readTree(json), "filter");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean matches(String filter) {
        return parse(filter).matches(DOC);
    }

    @Test
    void bareValuesAndEq() {
        assertThat(matches("{\"lang\": \"en\"}")).isTrue();
        assertThat(matches("{\"lang\": \"de\"}")).isFalse();
        assertThat(matches("{\"year\": 2021}")).isTrue();
        assertThat(matches("{\"year\": 2021.0}")).as("numbers compare as numbers").isTrue();
        assertThat(matches("{\"year\": {\"$eq\": \"2021\"}}")).as("a string never equals a number").isFalse();
        assertThat(matches("{\"draft\": false}")).isTrue();
        assertThat(matches("{\"draft\": {\"$eq\": 0}}")).isFalse();
        assertThat(matches("{}")).isTrue();
    }

    @Test
    void neAndNinAlsoMatchAMissingField() {
        assertThat(matches("{\"lang\": {\"$ne\": \"de\"}}")).isTrue();
        assertThat(matches("{\"lang\": {\"$ne\": \"en\"}}")).isFalse();
        assertThat(matches("{\"missing\": {\"$ne\": 1}}")).isTrue();
        assertThat(matches("{\"tags\": {\"$nin\": [\"c\", 8]}}")).isTrue();
        assertThat(matches("{\"tags\": {\"$nin\": [\"b\"]}}")).isFalse();
        assertThat(matches("{\"missing\": {\"$nin\": [\"b\"]}}")).isTrue();
    }

    @Test
    void rangesOnNumbersAndStringsNeverAcrossTypes() {
        assertThat(matches("{\"year\": {\"$gte\": 2020, \"$lt\": 2025}}")).isTrue();
        assertThat(matches("{\"year\": {\"$gt\": 2021}}")).isFalse();
        assertThat(matches("{\"year\": {\"$lte\": 2021}}")).isTrue();
        assertThat(matches("{\"score\": {\"$lt\": 0.6, \"$gt\": 0.4}}")).isTrue();
        assertThat(matches("{\"lang\": {\"$gt\": \"de\"}}")).as("strings order lexicographically").isTrue();
        assertThat(matches("{\"lang\": {\"$gt\": 1}}")).as("string vs number").isFalse();
        assertThat(matches("{\"year\": {\"$gt\": \"1\"}}")).as("number vs string").isFalse();
        assertThat(matches("{\"missing\": {\"$gt\": 1}}")).isFalse();
        assertThat(matches("{\"draft\": {\"$lt\": 1}}")).as("booleans have no order").isFalse();
    }

    @Test
    void arraysMatchWhenAnyElementDoes() {
        assertThat(matches("{\"tags\": \"b\"}")).isTrue();
        assertThat(matches("{\"tags\": 7}")).isTrue();
        assertThat(matches("{\"tags\": {\"$in\": [\"z\", \"a\"]}}")).isTrue();
        assertThat(matches("{\"tags\": {\"$in\": []}}")).isFalse();
        assertThat(matches("{\"tags\": {\"$gt\": 6}}")).isTrue();
        assertThat(matches("{\"grid\": 3}")).as("nested arrays flatten").isTrue();
    }

    @Test
    void dottedPathsReachNestedObjectsAndArraysOfObjects() {
        assertThat(matches("{\"author.name\": \"Ada\"}")).isTrue();
        assertThat(matches("{\"author.orgs.id\": \"y\"}")).isTrue();
        assertThat(matches("{\"author.orgs.id\": \"z\"}")).isFalse();
        assertThat(matches("{\"author.missing\": \"z\"}")).isFalse();
    }

    @Test
    void existsAndNull() {
        assertThat(matches("{\"lang\": {\"$exists\": true}}")).isTrue();
        assertThat(matches("{\"author\": {\"$exists\": true}}")).as("an object is present").isTrue();
        assertThat(matches("{\"nothing\": {\"$exists\": true}}")).as("null is present").isTrue();
        assertThat(matches("{\"nothing\": {\"$eq\": \"null\"}}")).isFalse();
        assertThat(matches("{\"missing\": {\"$exists\": false}}")).isTrue();
        assertThat(parse("{\"lang\": \"en\"}").matches(MetadataDoc.EMPTY)).isFalse();
        assertThat(parse("{\"lang\": \"en\"}").matches(MetadataDoc.parse(null))).isFalse();
    }

    @Test
    void logic() {
        assertThat(matches("{\"$or\": [{\"lang\": \"de\"}, {\"year\": 2021}]}")).isTrue();
        assertThat(matches("{\"$or\": [{\"lang\": \"de\"}, {\"year\": 2022}]}")).isFalse();
        assertThat(matches("{\"$and\": [{\"lang\": \"en\"}, {\"year\": 2021}]}")).isTrue();
        assertThat(matches("{\"$and\": [{\"lang\": \"en\"}, {\"year\": 2022}]}")).isFalse();
        assertThat(matches("{\"$not\": {\"lang\": \"en\"}}")).isFalse();
        assertThat(matches("{\"year\": {\"$not\": {\"$gt\": 2022}}}")).isTrue();
        assertThat(matches("{\"lang\": \"en\", \"year\": 2022}")).as("keys are ANDed").isFalse();
    }

    @Test
    void malformedFiltersNameTheOffendingPath() {
        assertError("[1]", "filter", "must be a JSON object");
        assertError("{\"year\": {\"$between\": [1, 2]}}", "filter.year.$between", "unknown operator");
        assertError("{\"$nor\": []}", "filter.$nor", "unknown operator");
        assertError("{\"$or\": {\"a\": 1}}", "filter.$or", "non-empty array");
        assertError("{\"$or\": []}", "filter.$or", "non-empty array");
        assertError("{\"$or\": [{\"a\": 1}, 3]}", "filter.$or[1]", "must be a JSON object");
        assertError("{\"year\": {\"$gt\": true}}", "filter.year.$gt", "number or a string");
        assertError("{\"tags\": {\"$in\": \"a\"}}", "filter.tags.$in", "array");
        assertError("{\"tags\": {\"$in\": [\"a\", {\"b\": 1}]}}", "filter.tags.$in[1]", "string, number or boolean");
        assertError("{\"tags\": [\"a\"]}", "filter.tags", "$in");
        assertError("{\"tags\": null}", "filter.tags", "$exists");
        assertError("{\"a\": {\"$exists\": 1}}", "filter.a.$exists", "true or false");
        assertError("{\"a\": {}}", "filter.a", "empty condition");
        assertError("{\"a\": {\"b\": 1}}", "filter.a.b", "dotted path");
        assertError("{\"a..b\": 1}", "filter.a..b", "not a field path");
    }

    @Test
    void depthAndSizeAreBounded() {
        String deep = "{\"a\": 1}";
        for (int i = 0; i < FilterParser.MAX_DEPTH + 1; i++) deep = "{\"$not\": " + deep + "}";
        String d = deep;
        assertThatThrownBy(() -> parse(d)).isInstanceOf(InvalidFilterException.class).hasMessageContaining("deeper");
        StringBuilder big = new StringBuilder("{\"a\": {\"$in\": [");
        for (int i = 0; i <= FilterParser.MAX_NODES; i++) big.append(i == 0 ? "" : ",").append(i);
        big.append("]}}");
        assertThatThrownBy(() -> parse(big.toString())).isInstanceOf(InvalidFilterException.class).hasMessageContaining("more than");
    }

    private static void assertError(String filter, String path, String message) {
        assertThatThrownBy(() -> parse(filter))
                .isInstanceOfSatisfying(InvalidFilterException.class, e -> assertThat(e.path()).isEqualTo(path))
                .hasMessageContaining(message);
    }
}
