package io.vectorstream.api;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;

import io.vectorstream.index.filter.Filter;
import io.vectorstream.index.filter.FilterParser;
import io.vectorstream.index.filter.InvalidFilterException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses and validates search request bodies with a streaming parser (no intermediate tree, so a
 * large vector costs one float array). Every problem becomes a 400 {@link ApiError} whose message
 * names the field and what is wrong with it. CPU-bound: call it from the worker pool.
 */
final class RequestParser {
    static final String FIELDS = "vector, k, nprobe, exact, include_metadata, min_offsets, filter, allow_partial, allow_stale, local, timeout_ms";

    private static final JsonFactory JSON = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER) // a search body is mostly its vector's numbers (as EventDecoder)
            .build();
    /** Reads a filter's subtree (filters are small; the vector stays streamed). */
    private static final com.fasterxml.jackson.databind.ObjectMapper TREES = new com.fasterxml.jackson.databind.ObjectMapper(JSON);

    private final int dim;
    private final int maxK;
    private final int maxBatch;

    RequestParser(int dim, int maxK, int maxBatch) {
        this.dim = dim;
        this.maxK = maxK;
        this.maxBatch = maxBatch;
    }

    int maxBatch() {
        return maxBatch;
    }

    /** Bodies up to this size are looked at on the event loop for their {@code timeout_ms} ({@link #peekTimeoutMs}). */
    static final int PEEK_LIMIT = 64 * 1024;
    private static final byte[] TIMEOUT_KEY = "\"timeout_ms\"".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /**
     * The top-level {@code timeout_ms} of a small body, read before the request waits for a worker so that its
     * deadline holds while it waits; null when absent, malformed (the full parse reports it) or the body is large
     * (its deadline is then the default until a worker parses it). Cheap: a byte search, and a parse only on a hit.
     */
    static Integer peekTimeoutMs(byte[] body) {
        if (body == null || body.length > PEEK_LIMIT || indexOf(body, TIMEOUT_KEY) < 0) return null;
        try (JsonParser p = JSON.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return null;
            for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                JsonToken value = p.nextToken();
                if ("timeout_ms".equals(p.currentName())) {
                    return value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT
                            && p.getIntValue() > 0 ? p.getIntValue() : null;
                }
                p.skipChildren();
            }
            return null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** The body of {@code POST /v1/search}. */
    SearchRequest parseSearch(byte[] body) {
        try (JsonParser p = open(body)) {
            expectRootObject(p);
            SearchRequest request = readSearch(p, "");
            expectEnd(p);
            return request;
        } catch (StreamReadException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw ApiError.badRequest("malformed_json", "request body could not be read: " + e.getMessage());
        }
    }

    /** The body of {@code POST /v1/search/batch}: {@code {"queries":[<search bodies>]}}. */
    /**
     * A batch and its batch-wide fields ({@code allow_partial}, {@code allow_stale}, {@code local}, {@code timeout_ms}:
     * see {@link SearchRequest}).
     */
    record Batch(List<SearchRequest> queries, boolean allowPartial, boolean allowStale, boolean local, Integer timeoutMs) {
    }

    Batch parseBatch(byte[] body) {
        try (JsonParser p = open(body)) {
            expectRootObject(p);
            List<SearchRequest> queries = null;
            boolean allowPartial = false, allowStale = false, local = false;
            Integer timeoutMs = null;
            for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                switch (field) {
                    case "timeout_ms" -> {
                        if (value != JsonToken.VALUE_NULL) timeoutMs = readInt(p, value, field, 1, Integer.MAX_VALUE);
                    }
                    case "queries" -> {
                        if (value != JsonToken.START_ARRAY) throw wrongType("queries", "an array of search objects", p);
                        queries = readQueries(p);
                    }
                    case "allow_partial" -> allowPartial = readBoolean(p, value, field);
                    case "allow_stale" -> allowStale = readBoolean(p, value, field);
                    case "local" -> local = readBoolean(p, value, field);
                    default -> throw ApiError.badRequest("unknown_field",
                            "unknown field '" + field + "': expected queries, allow_partial, allow_stale, local, timeout_ms");
                }
            }
            expectEnd(p);
            if (queries == null) throw ApiError.badRequest("missing_field", "queries is required");
            if (queries.isEmpty()) throw ApiError.badRequest("empty_batch", "queries is empty: send at least one query");
            return new Batch(queries, allowPartial, allowStale, local, timeoutMs);
        } catch (StreamReadException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw ApiError.badRequest("malformed_json", "request body could not be read: " + e.getMessage());
        }
    }

    private List<SearchRequest> readQueries(JsonParser p) throws IOException {
        List<SearchRequest> queries = new ArrayList<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            String where = "queries[" + queries.size() + "]";
            if (queries.size() == maxBatch) {
                throw ApiError.badRequest("batch_too_large", "queries has more than " + maxBatch + " entries");
            }
            if (t != JsonToken.START_OBJECT) {
                throw ApiError.badRequest("not_an_object", where + " must be a JSON object, got " + describe(t));
            }
            queries.add(readSearch(p, where + "."));
        }
        return queries;
    }

    /** Reads one search object; the parser is on its START_OBJECT and is left on its END_OBJECT. */
    private SearchRequest readSearch(JsonParser p, String prefix) throws IOException {
        float[] vector = null;
        int k = SearchRequest.DEFAULT_K;
        Integer nprobe = null;
        boolean exact = false;
        boolean includeMetadata = false;
        java.util.Map<Integer, Long> minOffsets = java.util.Map.of();
        Filter filter = null;
        boolean allowPartial = false, allowStale = false, local = false;
        Integer timeoutMs = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String field = p.currentName();
            JsonToken value = p.nextToken();
            String name = prefix + field;
            switch (field) {
                case "timeout_ms" -> {
                    if (value != JsonToken.VALUE_NULL) timeoutMs = readInt(p, value, name, 1, Integer.MAX_VALUE);
                }
                case "vector" -> vector = readVector(p, value, name);
                case "k" -> {
                    if (value != JsonToken.VALUE_NULL) k = readInt(p, value, name, 1, maxK);
                }
                case "nprobe" -> {
                    if (value != JsonToken.VALUE_NULL) nprobe = readInt(p, value, name, 1, Integer.MAX_VALUE);
                }
                case "exact" -> exact = readBoolean(p, value, name);
                case "include_metadata" -> includeMetadata = readBoolean(p, value, name);
                case "min_offsets" -> {
                    if (value != JsonToken.VALUE_NULL) minOffsets = readMinOffsets(p, value, name);
                }
                case "filter" -> {
                    if (value != JsonToken.VALUE_NULL) filter = readFilter(p, name);
                }
                case "allow_partial" -> allowPartial = readBoolean(p, value, name);
                case "allow_stale" -> allowStale = readBoolean(p, value, name);
                case "local" -> local = readBoolean(p, value, name);
                default -> throw ApiError.badRequest("unknown_field",
                        "unknown field '" + name + "': expected " + FIELDS);
            }
        }
        if (vector == null) throw ApiError.badRequest("missing_field", prefix + "vector is required");
        return new SearchRequest(vector, k, nprobe, exact, includeMetadata, minOffsets, filter, allowPartial, allowStale, local,
                timeoutMs);
    }

    /** A Mongo-style metadata filter; a malformed one is a 400 naming the offending path. */
    private static Filter readFilter(JsonParser p, String name) throws IOException {
        com.fasterxml.jackson.databind.JsonNode tree = TREES.readTree(p);
        try {
            Filter f = FilterParser.parse(tree, name);
            return f instanceof Filter.All ? null : f;
        } catch (InvalidFilterException e) {
            throw ApiError.badRequest("invalid_filter", e.getMessage());
        }
    }

    /** {@code {"<partition>": <next offset>, ...}}: partitions and offsets are non-negative integers. */
    private static java.util.Map<Integer, Long> readMinOffsets(JsonParser p, JsonToken value, String name) throws IOException {
        if (value != JsonToken.START_OBJECT) throw wrongType(name, "an object of partition to offset", p);
        java.util.Map<Integer, Long> out = new java.util.TreeMap<>();
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            String key = p.currentName();
            JsonToken v = p.nextToken();
            int partition;
            try {
                partition = Integer.parseInt(key);
            } catch (NumberFormatException e) {
                partition = -1;
            }
            if (partition < 0 || !key.equals(Integer.toString(partition))) {
                throw ApiError.badRequest("invalid_value", name + " keys must be partition numbers (non-negative integers), got '"
                        + abbreviate(key) + "'");
            }
            if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                throw ApiError.badRequest("invalid_value", name + "." + key + " must be a non-negative integer offset, got "
                        + (v == JsonToken.VALUE_NUMBER_INT ? abbreviate(p.getText()) : describe(v)));
            }
            out.put(partition, p.getLongValue());
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    private float[] readVector(JsonParser p, JsonToken value, String name) throws IOException {
        if (value != JsonToken.START_ARRAY) throw wrongType(name, "an array of numbers", p);
        float[] out = new float[dim];
        int n = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
            if (t != JsonToken.VALUE_NUMBER_INT && t != JsonToken.VALUE_NUMBER_FLOAT) {
                throw ApiError.badRequest("wrong_type",
                        name + "[" + n + "] must be a number, got " + describe(t) + ": " + name + " must be an array of numbers");
            }
            float f = (float) p.getDoubleValue();
            if (!Float.isFinite(f)) {
                throw ApiError.badRequest("non_finite", name + "[" + n + "] is " + abbreviate(p.getText())
                        + ", which is not a finite 32-bit float: values must be finite numbers");
            }
            if (n < dim) out[n] = f;
            n++;
        }
        if (n != dim) {
            throw ApiError.badRequest("wrong_dimension",
                    name + " has " + n + " dimensions, expected " + dim);
        }
        return out;
    }

    private static int readInt(JsonParser p, JsonToken value, String name, int min, int max) throws IOException {
        String range = max == Integer.MAX_VALUE ? ">= " + min : "in " + min + ".." + max;
        if (value != JsonToken.VALUE_NUMBER_INT) throw wrongType(name, "an integer " + range, p);
        if (p.getNumberType() != JsonParser.NumberType.INT) {
            throw ApiError.badRequest("out_of_range", name + " must be " + range + ", was " + abbreviate(p.getText()));
        }
        int v = p.getIntValue();
        if (v < min || v > max) throw ApiError.badRequest("out_of_range", name + " must be " + range + ", was " + v);
        return v;
    }

    private static boolean readBoolean(JsonParser p, JsonToken value, String name) throws IOException {
        return switch (value) {
            case VALUE_TRUE -> true;
            case VALUE_FALSE, VALUE_NULL -> false;
            default -> throw wrongType(name, "a boolean (true or false)", p);
        };
    }

    private static JsonParser open(byte[] body) throws IOException {
        if (body == null || isBlank(body)) throw ApiError.badRequest("malformed_json", "request body is empty: expected a JSON object");
        return JSON.createParser(body);
    }

    private static void expectRootObject(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        if (t != JsonToken.START_OBJECT) {
            throw ApiError.badRequest("not_an_object", "request body must be a JSON object, got " + describe(t));
        }
    }

    private static void expectEnd(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        if (t != null) {
            throw ApiError.badRequest("malformed_json", "unexpected " + describe(t)
                    + " after the JSON object at line " + p.currentLocation().getLineNr()
                    + ", column " + p.currentLocation().getColumnNr());
        }
    }

    private static ApiError wrongType(String name, String expected, JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        String shown = switch (t) {
            case VALUE_STRING -> " \"" + abbreviate(p.getText()) + "\"";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> " " + abbreviate(p.getText());
            default -> "";
        };
        return ApiError.badRequest("wrong_type", name + " must be " + expected + ", got " + describe(t) + shown);
    }

    private static ApiError malformed(StreamReadException e) {
        var loc = e.getLocation();
        String where = loc == null ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
        String detail = e.getOriginalMessage();
        int nl = detail == null ? -1 : detail.indexOf('\n');
        if (nl >= 0) detail = detail.substring(0, nl);
        return ApiError.badRequest("malformed_json", "request body is not valid JSON" + where + ": " + detail);
    }

    static String describe(JsonToken t) {
        if (t == null) return "nothing";
        return switch (t) {
            case START_OBJECT, END_OBJECT -> "an object";
            case START_ARRAY, END_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> t.name().toLowerCase();
        };
    }

    private static String abbreviate(String text) {
        return text.length() <= 40 ? text : text.substring(0, 37) + "...";
    }

    private static boolean isBlank(byte[] body) {
        for (byte b : body) if (b != ' ' && b != '\n' && b != '\r' && b != '\t') return false;
        return true;
    }
}
