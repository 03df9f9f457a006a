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
    private final boolean directionOnly; // cosine: a vector is a direction, and an all-zero one has none

    RequestParser(int dim, int maxK, int maxBatch) {
        this(dim, maxK, maxBatch, false);
    }

    /** @param directionOnly the metric compares directions (cosine): an all-zero query vector is refused */
    RequestParser(int dim, int maxK, int maxBatch, boolean directionOnly) {
        this.dim = dim;
        this.maxK = maxK;
        this.maxBatch = maxBatch;
        this.directionOnly = directionOnly;
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
     * (see {@link #peekTimeoutMs(byte[], byte[])}). Cheap: a byte search, and a parse only on a hit.
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

    /**
     * The top-level {@code timeout_ms} of a body larger than {@link #PEEK_LIMIT}, from its first and last
     * {@code PEEK_LIMIT} bytes only ({@code head}, {@code tail}): a large body is a large array (a batch's queries),
     * and its other top-level fields come before it or after it. Without this a batch's deadline was the server's
     * default until a worker parsed it, so under load a batch that asked for 3 s was answered 503 after it had waited
     * 4-6 s for a worker. A byte scan of at most twice {@code PEEK_LIMIT} on the event loop (tens of microseconds);
     * null when not found there or not a positive int (the full parse then decides).
     */
    static Integer peekTimeoutMs(byte[] head, byte[] tail) {
        Integer found = scanHead(head);
        return found != null ? found : scanTail(tail);
    }

    /** Forward: the value of the first {@code "timeout_ms"} key at depth 1 in {@code head} (a prefix of the body). */
    private static Integer scanHead(byte[] b) {
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < b.length; i++) {
            byte c = b[i];
            if (inString) {
                if (c == '\\') i++;
                else if (c == '"') inString = false;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                depth--;
            } else if (c == '"') {
                if (depth == 1 && startsWith(b, i, TIMEOUT_KEY)) {
                    Integer v = valueAfterKey(b, i + TIMEOUT_KEY.length);
                    if (v != null) return v;
                }
                inString = true;
            }
        }
        return null;
    }

    /**
     * Backward: the value of the last {@code "timeout_ms"} key in {@code tail} (a suffix of the body, which ends
     * outside any string) that sits at depth 1, i.e. with only the body's closing brace unmatched after it.
     */
    private static Integer scanTail(byte[] b) {
        int at = lastIndexOf(b, TIMEOUT_KEY);
        if (at < 0) return null;
        int depth = 0;
        boolean inString = false;
        for (int i = b.length - 1; i >= at + TIMEOUT_KEY.length; i--) {
            byte c = b[i];
            if (c == '"' && !escaped(b, i)) inString = !inString;
            else if (!inString && (c == '}' || c == ']')) depth++;
            else if (!inString && (c == '{' || c == '[')) depth--;
        }
        if (inString || depth != 1 || escaped(b, at)) return null;
        return valueAfterKey(b, at + TIMEOUT_KEY.length);
    }

    /** True when the byte at {@code i} is preceded by an odd number of backslashes. */
    private static boolean escaped(byte[] b, int i) {
        int n = 0;
        for (int j = i - 1; j >= 0 && b[j] == '\\'; j--) n++;
        return (n & 1) == 1;
    }

    /** After a key: whitespace, a colon, whitespace, then a positive int not followed by a fraction or exponent. */
    private static Integer valueAfterKey(byte[] b, int i) {
        while (i < b.length && isBlank(b[i])) i++;
        if (i >= b.length || b[i] != ':') return null;
        i++;
        while (i < b.length && isBlank(b[i])) i++;
        long v = 0;
        int digits = 0;
        for (; i < b.length && b[i] >= '0' && b[i] <= '9' && digits < 10; i++, digits++) v = v * 10 + (b[i] - '0');
        if (digits == 0 || i >= b.length || v <= 0 || v > Integer.MAX_VALUE) return null;
        byte next = b[i];
        return isBlank(next) || next == ',' || next == '}' ? (int) v : null;
    }

    private static boolean isBlank(byte c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }

    private static boolean startsWith(byte[] b, int at, byte[] prefix) {
        if (at + prefix.length > b.length) return false;
        for (int j = 0; j < prefix.length; j++) if (b[at + j] != prefix[j]) return false;
        return true;
    }

    private static int lastIndexOf(byte[] haystack, byte[] needle) {
        for (int i = haystack.length - needle.length; i >= 0; i--) if (startsWith(haystack, i, needle)) return i;
        return -1;
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
        if (directionOnly && io.vectorstream.index.VectorMath.isZero(out)) {
            throw ApiError.badRequest("zero_vector", name + " is all zeros: under the cosine metric a vector is a direction,"
                    + " and this one has none");
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
