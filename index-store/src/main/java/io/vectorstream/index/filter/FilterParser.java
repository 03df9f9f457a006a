package io.vectorstream.index.filter;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses a Mongo-style filter (as Pinecone and Chroma accept) into a {@link Filter}:
 * <pre>
 *   {"lang": "en", "year": {"$gte": 2020, "$lt": 2025}, "tags": {"$in": ["a", "b"]}, "$or": [{...}, {...}]}
 * </pre>
 * Keys of an object are ANDed; a bare value means {@code $eq}; dotted paths reach nested objects. Operators:
 * {@code $eq $ne $gt $gte $lt $lte $in $nin $exists} on a field, {@code $not} on a field or a whole filter,
 * {@code $and $or} (non-empty arrays of filters). Every problem is an {@link InvalidFilterException} naming the
 * offending path; nesting depth and size are bounded ({@link #MAX_DEPTH}, {@link #MAX_NODES}).
 */
public final class FilterParser {
    /** Deepest nesting of {@code $and/$or/$not} and field conditions. */
    public static final int MAX_DEPTH = 16;
    /** Most conditions and listed values in one filter. */
    public static final int MAX_NODES = 1024;

    private int nodes;

    private FilterParser() {
    }

    /** Parses {@code node}, the value of the request's {@code filter} field; {@code where} names it in errors. */
    public static Filter parse(JsonNode node, String where) {
        return new FilterParser().filter(node, where, 1);
    }

    private Filter filter(JsonNode node, String path, int depth) {
        if (node == null || !node.isObject()) {
            throw new InvalidFilterException(path, "a filter must be a JSON object, got " + describe(node));
        }
        checkDepth(path, depth);
        List<Filter> all = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey();
            String at = path + "." + key;
            count(at);
            switch (key) {
                case "$and", "$or" -> {
                    JsonNode list = e.getValue();
                    if (!list.isArray() || list.isEmpty()) {
                        throw new InvalidFilterException(at, key + " must be a non-empty array of filters, got " + describe(list));
                    }
                    List<Filter> parts = new ArrayList<>(list.size());
                    for (int i = 0; i < list.size(); i++) parts.add(filter(list.get(i), at + "[" + i + "]", depth + 1));
                    all.add(key.equals("$and") ? new Filter.And(parts) : new Filter.Or(parts));
                }
                case "$not" -> all.add(new Filter.Not(filter(e.getValue(), at, depth + 1)));
                default -> {
                    if (key.startsWith("$")) {
                        throw new InvalidFilterException(at, "unknown operator '" + key + "' here: expected a field name, $and, $or or $not");
                    }
                    checkField(key, at);
                    all.add(condition(key, e.getValue(), at, depth + 1));
                }
            }
        }
        return all.isEmpty() ? new Filter.All() : all.size() == 1 ? all.getFirst() : new Filter.And(all);
    }

    /** The condition on {@code field}: a bare value ($eq) or an object of field operators. */
    private Filter condition(String field, JsonNode value, String path, int depth) {
        if (!value.isObject()) return new Filter.Eq(field, scalar(value, path, "a bare value (meaning $eq)"));
        checkDepth(path, depth);
        if (value.isEmpty()) throw new InvalidFilterException(path, "an empty condition: give a value or operators such as $eq");
        List<Filter> all = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String op = e.getKey();
            String at = path + "." + op;
            count(at);
            JsonNode arg = e.getValue();
            all.add(switch (op) {
                case "$eq" -> new Filter.Eq(field, scalar(arg, at, "$eq"));
                case "$ne" -> new Filter.Not(new Filter.Eq(field, scalar(arg, at, "$ne")));
                case "$gt" -> range(field, Filter.Comparison.GT, arg, at);
                case "$gte" -> range(field, Filter.Comparison.GTE, arg, at);
                case "$lt" -> range(field, Filter.Comparison.LT, arg, at);
                case "$lte" -> range(field, Filter.Comparison.LTE, arg, at);
                case "$in" -> new Filter.In(field, valueSet(arg, at, "$in"));
                case "$nin" -> new Filter.Not(new Filter.In(field, valueSet(arg, at, "$nin")));
                case "$exists" -> {
                    if (!arg.isBoolean()) throw new InvalidFilterException(at, "$exists expects true or false, got " + describe(arg));
                    yield new Filter.Exists(field, arg.booleanValue());
                }
                case "$not" -> {
                    if (!arg.isObject()) {
                        throw new InvalidFilterException(at, "$not on a field expects an object of operators, got " + describe(arg));
                    }
                    yield new Filter.Not(condition(field, arg, at, depth + 1));
                }
                default -> throw new InvalidFilterException(at, op.startsWith("$")
                        ? "unknown operator '" + op + "': expected one of $eq $ne $gt $gte $lt $lte $in $nin $exists $not"
                        : "'" + op + "' inside a field's condition: operators start with $ (reach nested fields with a dotted path, e.g. \""
                          + field + "." + op + "\")");
            });
        }
        return all.size() == 1 ? all.getFirst() : new Filter.And(all);
    }

    private Filter range(String field, Filter.Comparison op, JsonNode arg, String path) {
        if (arg.isNumber()) return new Filter.Range(field, op, number(arg));
        if (arg.isTextual()) return new Filter.Range(field, op, arg.textValue());
        throw new InvalidFilterException(path, op.operator + " expects a number or a string, got " + describe(arg));
    }

    private Set<Object> valueSet(JsonNode arg, String path, String op) {
        if (!arg.isArray()) throw new InvalidFilterException(path, op + " expects an array of values, got " + describe(arg));
        Set<Object> values = new HashSet<>();
        for (int i = 0; i < arg.size(); i++) {
            String at = path + "[" + i + "]";
            count(at);
            values.add(scalar(arg.get(i), at, op + " values"));
        }
        return Set.copyOf(values);
    }

    /** A string, number (as a Double) or boolean. */
    private static Object scalar(JsonNode v, String path, String what) {
        if (v.isTextual()) return v.textValue();
        if (v.isNumber()) return number(v);
        if (v.isBoolean()) return v.booleanValue();
        String hint = v.isArray() ? " (to match any of several values use {\"$in\": [...]})"
                : v.isNull() ? " (to match a missing field use {\"$exists\": false})" : "";
        throw new InvalidFilterException(path, what + " must be a string, number or boolean, got " + describe(v) + hint);
    }

    /** Numbers compare as doubles; -0.0 is 0.0 so that equality and sets agree. */
    static Double number(JsonNode v) {
        double d = v.doubleValue();
        return d == 0 ? 0.0 : d;
    }

    private static void checkField(String field, String path) {
        if (field.isEmpty() || field.startsWith(".") || field.endsWith(".") || field.contains("..")) {
            throw new InvalidFilterException(path, "'" + field + "' is not a field path: use names separated by single dots");
        }
    }

    private void checkDepth(String path, int depth) {
        if (depth > MAX_DEPTH) throw new InvalidFilterException(path, "filter nested deeper than " + MAX_DEPTH + " levels");
    }

    private void count(String path) {
        if (++nodes > MAX_NODES) {
            throw new InvalidFilterException(path, "filter has more than " + MAX_NODES + " conditions and values");
        }
    }

    private static String describe(JsonNode n) {
        if (n == null || n.isMissingNode()) return "nothing";
        if (n.isObject()) return "an object";
        if (n.isArray()) return "an array";
        if (n.isTextual()) return "a string";
        if (n.isNumber()) return "a number";
        if (n.isBoolean()) return "a boolean";
        return "null";
    }
}
