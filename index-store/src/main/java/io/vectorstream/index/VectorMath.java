package io.vectorstream.index;

/** Small helpers on single vectors shared by ingestion and search. */
public final class VectorMath {
    private VectorMath() {
    }

    /** A unit-length copy of {@code v}; an all-zero vector stays zero. */
    public static float[] normalized(float[] v) {
        double norm = 0;
        for (float x : v) norm += (double) x * x;
        float[] out = v.clone();
        if (norm == 0) return out;
        float inv = (float) (1.0 / Math.sqrt(norm));
        for (int i = 0; i < out.length; i++) out[i] *= inv;
        return out;
    }

    /** Null when every value is finite, else a message naming the first bad position. */
    public static String nonFiniteProblem(float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) return "vector[" + i + "] is " + v[i] + ": values must be finite numbers";
        }
        return null;
    }

    /** True when every value is zero (a vector with no direction: nothing for the cosine metric to compare). */
    public static boolean isZero(float[] v) {
        for (float x : v) if (x != 0f) return false;
        return true;
    }
}
