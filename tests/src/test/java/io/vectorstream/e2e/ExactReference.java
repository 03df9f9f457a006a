package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/** The brute-force answer the e2e tests hold the server to, and how they read ids from a response. */
final class ExactReference {
    private ExactReference() {
    }

    /** The ids of the {@code k} vectors of {@code live} nearest to {@code q} under squared L2, nearest first. */
    static List<String> topK(Map<String, float[]> live, float[] q, int k) {
        List<Map.Entry<String, float[]>> all = new ArrayList<>(live.entrySet());
        all.sort(Comparator.comparingDouble(e -> l2(e.getValue(), q)));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, all.size()); i++) out.add(all.get(i).getKey());
        return out;
    }

    static double l2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        return s;
    }

    /** The result ids of a search response, in order. */
    static List<String> ids(JsonNode response) {
        List<String> out = new ArrayList<>();
        response.path("results").forEach(h -> out.add(h.path("id").asText()));
        return out;
    }
}
