package io.vectorstream.index.filter;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One vector's metadata, flattened for filtering: every dotted path ({@code a.b.c}) with the scalar values found
 * there. An array contributes each of its elements to its path (nested arrays flatten), so "any element matches"
 * is "any value matches"; a path that leads to an object is present with no values ({@code $exists}). Values are
 * {@link String}, {@link Double} or {@link Boolean}; JSON null is present and matches nothing but {@code $exists}.
 * Immutable; paths are interned, so many documents share their keys.
 */
public final class MetadataDoc {
    public static final MetadataDoc EMPTY = new MetadataDoc(new String[0], new Object[0][]);
    private static final JsonFactory JSON = new JsonFactory();
    private static final Object[] NO_VALUES = new Object[0];

    private final String[] paths;    // sorted
    private final Object[][] values; // values[i]: the scalars at paths[i]

    private MetadataDoc(String[] paths, Object[][] values) {
        this.paths = paths;
        this.values = values;
    }

    /** Parses a metadata JSON object; null, or anything not an object, is the empty document. */
    public static MetadataDoc parse(String json) {
        if (json == null || json.isEmpty()) return EMPTY;
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return EMPTY;
            Map<String, List<Object>> out = new LinkedHashMap<>();
            readObject(p, "", out);
            if (out.isEmpty()) return EMPTY;
            String[] paths = out.keySet().toArray(new String[0]);
            Arrays.sort(paths);
            Object[][] values = new Object[paths.length][];
            for (int i = 0; i < paths.length; i++) {
                List<Object> v = out.get(paths[i]);
                values[i] = v.isEmpty() ? NO_VALUES : v.toArray();
                paths[i] = paths[i].intern();
            }
            return new MetadataDoc(paths, values);
        } catch (IOException e) {
            return EMPTY; // metadata is validated at ingest; a stored value that does not parse matches no filter
        }
    }

    private static void readObject(JsonParser p, String prefix, Map<String, List<Object>> out) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String path = prefix.isEmpty() ? p.currentName() : prefix + "." + p.currentName();
            p.nextToken();
            readValue(p, path, out);
        }
    }

    private static void readValue(JsonParser p, String path, Map<String, List<Object>> out) throws IOException {
        List<Object> at = out.computeIfAbsent(path, k -> new ArrayList<>(1));
        switch (p.currentToken()) {
            case START_OBJECT -> readObject(p, path, out);
            case START_ARRAY -> {
                while (p.nextToken() != JsonToken.END_ARRAY) readValue(p, path, out);
            }
            case VALUE_STRING -> at.add(p.getText());
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                double d = p.getDoubleValue();
                at.add(d == 0 ? 0.0 : d); // -0.0 is 0.0, as in filters
            }
            case VALUE_TRUE -> at.add(Boolean.TRUE);
            case VALUE_FALSE -> at.add(Boolean.FALSE);
            default -> { } // null: present, no value
        }
    }

    /** The values at {@code path} (possibly none), or null when the path is absent. */
    public Object[] values(String path) {
        int i = Arrays.binarySearch(paths, path);
        return i < 0 ? null : values[i];
    }

    /** Every path present, sorted (for the metadata index). */
    String[] paths() {
        return paths;
    }

    Object[] valuesAt(int i) {
        return values[i];
    }
}
