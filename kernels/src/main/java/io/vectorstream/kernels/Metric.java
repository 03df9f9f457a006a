package io.vectorstream.kernels;

import java.util.Locale;

/**
 * A similarity metric. Internally every search ranks by a <em>distance</em> where smaller is better;
 * {@link #toScore} turns that distance into the score users see.
 *
 * <ul>
 *   <li>{@code L2}: distance = score = squared Euclidean distance (smaller is better).</li>
 *   <li>{@code IP}: distance = -dot, score = dot (larger is better).</li>
 *   <li>{@code COSINE}: vectors are normalised on the way in, then it is IP: score = cosine similarity.</li>
 * </ul>
 */
public enum Metric {
    L2, IP, COSINE;

    /** Parses {@code l2|ip|cosine} (case-insensitive), with a message naming the valid values. */
    public static Metric parse(String text) {
        if (text == null) throw new IllegalArgumentException("metric must be one of l2, ip, cosine");
        return switch (text.trim().toLowerCase(Locale.ROOT)) {
            case "l2", "euclidean" -> L2;
            case "ip", "inner_product", "dot" -> IP;
            case "cosine", "cos" -> COSINE;
            default -> throw new IllegalArgumentException("unknown metric '" + text + "': expected l2, ip or cosine");
        };
    }

    /** True when vectors must be normalised to unit length before they are stored or searched. */
    public boolean normalizes() {
        return this == COSINE;
    }

    /** True when the kernel computes a dot product and the distance is its negation. */
    public boolean usesDot() {
        return this != L2;
    }

    /** The user-facing score for an internal distance. */
    public float toScore(float distance) {
        return this == L2 ? distance : -distance;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
