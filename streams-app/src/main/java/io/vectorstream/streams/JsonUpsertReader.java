package io.vectorstream.streams;

/**
 * Reads the common shape of a JSON upsert — {@code {"vector":[numbers…]}}, with an optional {@code "metadata"} object
 * in either order — straight from the record's bytes: no parser, token or string per number (most of a JSON event
 * is its numbers, and a general parser spent ~19 % of a stream thread on them). Anything else — other fields,
 * duplicate fields, escapes in names, numbers outside the JSON grammar, non-finite values, a wrong dimension, trailing
 * bytes — is not read here: {@link #read} answers {@code false} and {@link EventDecoder} decodes the event with its
 * general parser, which gives the precise error. So this class only ever makes a valid event faster, never changes
 * what is accepted or rejected.
 * <p>
 * Numbers come out exactly as the general path makes them: the double nearest the decimal (correctly rounded), then
 * rounded to float. A decimal of at most 15 significant digits with a power of ten within ±22 is exact as
 * {@code m * 10^e} or {@code m / 10^-e} in one IEEE operation (both operands are exact doubles; Clinger's fast path);
 * any other is handed to {@link Double#parseDouble}.
 * <p>
 * One per event (a few fields: where it is, and where the metadata was found); not shared between threads.
 */
final class JsonUpsertReader {
    private static final double[] POW10 = new double[23];

    static {
        double p = 1;
        for (int i = 0; i < POW10.length; i++, p *= 10) POW10[i] = p;
    }

    /** Metadata nested deeper than this is left to the general parser (it enforces the depth limit). */
    private static final int MAX_METADATA_DEPTH = 32;

    private byte[] buf;
    private int pos;
    private int metadataStart = -1, metadataEnd = -1;

    /**
     * Reads {@code value} into {@code vector} (its length is the dimension). True when the event has the common
     * shape and is valid; then {@link #hasMetadata} says whether it carries a metadata object, at
     * {@link #metadataStart()}..{@link #metadataEnd()}. False: decode it with the general parser.
     */
    boolean read(byte[] value, float[] vector) {
        buf = value;
        pos = 0;
        metadataStart = metadataEnd = -1;
        boolean sawVector = false;
        try {
            skipBlanks();
            if (next() != '{') return false;
            skipBlanks();
            if (peek() == '}') return false; // no vector
            while (true) {
                skipBlanks();
                int field = fieldName();
                skipBlanks();
                if (next() != ':') return false;
                skipBlanks();
                if (field == VECTOR && !sawVector) {
                    if (!vector(vector)) return false;
                    sawVector = true;
                } else if (field == METADATA && metadataStart < 0) {
                    if (peek() != '{') return false; // null or a non-object: the general path says what it means
                    metadataStart = pos;
                    if (!skipObject()) return false;
                    metadataEnd = pos;
                } else {
                    return false;
                }
                skipBlanks();
                int c = next();
                if (c == '}') break;
                if (c != ',') return false;
            }
            skipBlanks();
            return sawVector && pos == buf.length;
        } catch (ArrayIndexOutOfBoundsException truncated) {
            return false;
        }
    }

    boolean hasMetadata() {
        return metadataStart >= 0;
    }

    int metadataStart() {
        return metadataStart;
    }

    int metadataEnd() {
        return metadataEnd;
    }

    private static final int VECTOR = 1, METADATA = 2, OTHER = 0;

    /** A field name without escapes: {@code "vector"}, {@code "metadata"}, or another. */
    private int fieldName() {
        if (next() != '"') return -1;
        int start = pos;
        while (true) {
            int c = next();
            if (c == '"') break;
            if (c == '\\' || c < 0x20) return OTHER; // escapes and controls: the general path
        }
        int len = pos - 1 - start;
        if (len == 6 && is(start, "vector")) return VECTOR;
        if (len == 8 && is(start, "metadata")) return METADATA;
        return OTHER;
    }

    private boolean is(int start, String name) {
        for (int i = 0; i < name.length(); i++) if (buf[start + i] != name.charAt(i)) return false;
        return true;
    }

    /** {@code [n, n, …]} of exactly {@code out.length} finite float32 values. */
    private boolean vector(float[] out) {
        if (next() != '[') return false;
        skipBlanks();
        if (peek() == ']') return out.length == 0 && next() == ']';
        for (int i = 0; ; i++) {
            if (i >= out.length) return false;
            skipBlanks();
            double d = number();
            if (Double.isNaN(d)) return false;
            float f = (float) d;
            if (Float.isInfinite(f)) return false;
            out[i] = f;
            skipBlanks();
            int c = next();
            if (c == ']') return i + 1 == out.length;
            if (c != ',') return false;
        }
    }

    /**
     * A JSON number (RFC 8259 grammar: {@code -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?}) as the nearest double;
     * NaN when the bytes are not one or its value is not finite. Reads past the end throw (a cut-short event).
     */
    private double number() {
        final byte[] b = buf;
        final int start = pos;
        int i = pos;
        boolean negative = b[i] == '-';
        if (negative) i++;
        long mantissa = 0;
        int digits = 0;      // significant digits taken into the mantissa (leading zeros are not)
        int dropped = 0;     // digits past what a long holds
        int exponent = 0;
        int c = b[i];
        if (c == '0') {
            c = b[++i];
            if (c >= '0' && c <= '9') return Double.NaN; // a leading zero
        } else if (c >= '1' && c <= '9') {
            do {
                if (digits < 19) {
                    mantissa = mantissa * 10 + (c - '0');
                    digits++;
                } else {
                    dropped++;
                    exponent++;
                }
                c = b[++i];
            } while (c >= '0' && c <= '9');
        } else {
            return Double.NaN;
        }
        if (c == '.') {
            c = b[++i];
            if (c < '0' || c > '9') return Double.NaN;
            do {
                if (digits == 0 && c == '0') { // leading zeros of a fraction: only the exponent moves
                    exponent--;
                } else if (digits < 19) {
                    mantissa = mantissa * 10 + (c - '0');
                    digits++;
                    exponent--;
                } else {
                    dropped++;
                }
                c = b[++i];
            } while (c >= '0' && c <= '9');
        }
        if (c == 'e' || c == 'E') {
            c = b[++i];
            boolean negativeExponent = c == '-';
            if (c == '+' || c == '-') c = b[++i];
            if (c < '0' || c > '9') return Double.NaN;
            int e = 0;
            do {
                if (e < 100_000) e = e * 10 + (c - '0');
                c = b[++i];
            } while (c >= '0' && c <= '9');
            exponent += negativeExponent ? -e : e;
        }
        pos = i;
        double value;
        if (mantissa == 0 && dropped == 0) {
            value = 0.0;
        } else if (digits <= 15 && dropped == 0 && exponent >= -22 && exponent <= 22) {
            value = exponent >= 0 ? mantissa * POW10[exponent] : mantissa / POW10[-exponent];
        } else {
            value = Double.parseDouble(new String(b, start, i - start, java.nio.charset.StandardCharsets.ISO_8859_1));
            return Double.isFinite(value) ? value : Double.NaN;
        }
        return negative ? -value : value;
    }

    /** Moves past a JSON object (strings and their escapes respected); false when it is cut short or nested too deep. */
    private boolean skipObject() {
        int depth = 0;
        while (pos < buf.length) {
            int c = next();
            switch (c) {
                case '{', '[' -> {
                    if (++depth > MAX_METADATA_DEPTH) return false;
                }
                case '}', ']' -> {
                    if (--depth == 0) return true;
                }
                case '"' -> {
                    while (true) {
                        int s = next();
                        if (s == '\\') pos++;
                        else if (s == '"') break;
                    }
                }
                default -> {
                }
            }
        }
        return false;
    }

    private void skipBlanks() {
        while (pos < buf.length) {
            byte c = buf[pos];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
            pos++;
        }
    }

    private int peek() {
        return pos < buf.length ? buf[pos] : -1;
    }

    private int next() {
        return buf[pos++];
    }

    private static boolean isDigit(int c) {
        return c >= '0' && c <= '9';
    }
}
