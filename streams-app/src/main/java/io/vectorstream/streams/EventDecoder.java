package io.vectorstream.streams;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonFactory;
import io.vectorstream.index.IndexOp;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns one raw Kafka record (key and value bytes, headers) into an {@link IndexOp}, or says
 * precisely why it is not one. Formats:
 * <ul>
 *   <li>JSON upsert: {@code {"vector":[...], "metadata":{...}}} (metadata optional, an object);</li>
 *   <li>binary upsert: little-endian float32s, selected by the header {@value #FORMAT_HEADER}{@code =f32le};</li>
 *   <li>delete: a tombstone (null value).</li>
 * </ul>
 * Stateless and thread-safe.
 */
public final class EventDecoder {
    public static final String FORMAT_HEADER = "vectorstream.format";
    public static final String FORMAT_F32LE = "f32le";
    public static final int MAX_ID_BYTES = 512;

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .enable(com.fasterxml.jackson.core.StreamReadFeature.USE_FAST_DOUBLE_PARSER) // most of a JSON event is numbers
            .build();

    private final int dim;
    private final int maxEventBytes;
    private final boolean directionOnly;

    /** Little-endian float32 bytes into floats, through a VarHandle view (no ByteBuffer per record). */
    private static final class LittleEndianFloats {
        private static final java.lang.foreign.ValueLayout.OfFloat F32LE =
                java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        /** One bulk copy (a memcpy on little-endian hosts, a swapping copy elsewhere), not a load per float. */
        static void copy(byte[] from, float[] to) {
            java.lang.foreign.MemorySegment.copy(java.lang.foreign.MemorySegment.ofArray(from), F32LE, 0, to, 0, to.length);
        }
    }

    public EventDecoder(int dim, int maxEventBytes) {
        this(dim, maxEventBytes, false);
    }

    /**
     * @param directionOnly the index compares directions (cosine): an all-zero vector, which has none, is a bad event
     *                      ({@code zero_vector}) instead of an entry every query scores 0
     */
    public EventDecoder(int dim, int maxEventBytes, boolean directionOnly) {
        this.dim = dim;
        this.maxEventBytes = maxEventBytes;
        this.directionOnly = directionOnly;
    }

    /** The outcome: exactly one of {@code op} and {@code error} is non-null. */
    public record Decoded(IndexOp op, InvalidEvent error) {
        static Decoded ok(IndexOp op) {
            return new Decoded(op, null);
        }

        static Decoded bad(String code, String message) {
            return new Decoded(null, new InvalidEvent(code, message));
        }
    }

    /** Why an event was rejected: a stable machine-readable code and a human-readable reason. */
    public record InvalidEvent(String code, String reason) {
    }

    public Decoded decode(byte[] key, byte[] value, Headers headers) {
        Decoded d = decodeRecord(key, value, headers);
        if (directionOnly && d.op() instanceof IndexOp.Upsert u && io.vectorstream.index.VectorMath.isZero(u.vector())) {
            return Decoded.bad("zero_vector", "the vector is all zeros: under the cosine metric a vector is a direction, and this one has none");
        }
        return d;
    }

    private Decoded decodeRecord(byte[] key, byte[] value, Headers headers) {
        String id = printableAscii(key) ? new String(key, StandardCharsets.ISO_8859_1) : null; // the common case, no decoder
        if (id == null) {
            String idProblem = idProblem(key);
            if (idProblem != null) return Decoded.bad("bad_id", idProblem);
            id = new String(key, StandardCharsets.UTF_8);
        }
        if (value == null) return Decoded.ok(new IndexOp.Delete(id));
        if (value.length > maxEventBytes) {
            return Decoded.bad("oversized", "value is " + value.length + " bytes, the limit is " + maxEventBytes);
        }
        byte[] format = headerBytes(headers, FORMAT_HEADER);
        if (format == null || sameAsciiIgnoreCase(format, JSON_BYTES)) return decodeJson(id, value);
        if (sameAsciiIgnoreCase(format, F32LE_BYTES)) return decodeBinary(id, value); // the common case: no String made
        String named = new String(format, StandardCharsets.UTF_8).trim();
        if (named.equalsIgnoreCase("json")) return decodeJson(id, value);
        if (named.equalsIgnoreCase(FORMAT_F32LE)) return decodeBinary(id, value);
        return Decoded.bad("bad_format", "header " + FORMAT_HEADER + "='" + named + "': expected json or f32le");
    }

    private Decoded decodeBinary(String id, byte[] value) {
        if (value.length != dim * Float.BYTES) {
            return Decoded.bad("wrong_dimension", "binary vector has " + value.length + " bytes, expected " + dim * Float.BYTES
                    + " (" + dim + " little-endian float32)");
        }
        float[] v = new float[dim];
        LittleEndianFloats.copy(value, v);
        String problem = finiteProblem(v);
        return problem != null ? Decoded.bad("non_finite", problem) : Decoded.ok(new IndexOp.Upsert(id, v, null));
    }

    private Decoded decodeJson(String id, byte[] value) {
        Decoded common = decodeCommonJson(id, value);
        return common != null ? common : decodeAnyJson(id, value);
    }

    /**
     * The common shape, read straight from the bytes ({@link JsonUpsertReader}); null when the event is anything else
     * or invalid, for {@link #decodeAnyJson} to decode and explain. Both give the same result for an event they read.
     */
    Decoded decodeCommonJson(String id, byte[] value) {
        JsonUpsertReader reader = new JsonUpsertReader();
        float[] vector = new float[dim];
        if (!reader.read(value, vector)) return null;
        String metadata = null;
        if (reader.hasMetadata()) {
            try (JsonParser p = JSON.createParser(value, reader.metadataStart(), reader.metadataEnd() - reader.metadataStart())) {
                if (p.nextToken() != JsonToken.START_OBJECT) return null;
                metadata = copyObject(p);
                if (p.nextToken() != null) return null;
            } catch (IOException e) {
                return null;
            }
        }
        return Decoded.ok(new IndexOp.Upsert(id, vector, metadata));
    }

    /** Any JSON event, through the general parser (package-private: the common path is tested against it). */
    Decoded decodeAnyJson(String id, byte[] value) {
        float[] vector = null;
        String metadata = null;
        try (JsonParser p = JSON.createParser(value)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Decoded.bad("not_an_object", "value must be a JSON object like {\"vector\":[...]}");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "vector" -> {
                        if (t != JsonToken.START_ARRAY) return Decoded.bad("bad_vector", "\"vector\" must be an array of numbers");
                        vector = new float[dim];
                        int n = 0;
                        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                            if (!e.isNumeric()) {
                                return Decoded.bad("bad_vector", "\"vector\"[" + n + "] is not a number");
                            }
                            double d = p.getDoubleValue();
                            float f = (float) d;
                            if (!Double.isFinite(d) || !Float.isFinite(f)) {
                                return Decoded.bad("non_finite", "\"vector\"[" + n + "] = " + p.getText() + " is not a finite float32");
                            }
                            if (n < dim) vector[n] = f;
                            n++;
                        }
                        if (n != dim) {
                            return Decoded.bad("wrong_dimension", "vector has " + n + " dimensions, expected " + dim);
                        }
                    }
                    case "metadata" -> {
                        if (t == JsonToken.VALUE_NULL) continue;
                        if (t != JsonToken.START_OBJECT) return Decoded.bad("bad_metadata", "\"metadata\" must be a JSON object");
                        metadata = copyObject(p);
                    }
                    default -> {
                        return Decoded.bad("unknown_field", "unknown field \"" + field + "\": expected \"vector\" and optional \"metadata\"");
                    }
                }
            }
            if (p.nextToken() != null) return Decoded.bad("unparseable", "trailing content after the JSON object");
        } catch (IOException e) {
            return Decoded.bad("unparseable", "invalid JSON: " + firstLine(e.getMessage()));
        }
        if (vector == null) return Decoded.bad("missing_vector", "no \"vector\" field");
        return Decoded.ok(new IndexOp.Upsert(id, vector, metadata));
    }

    /** Re-serialises the object the parser is at (compact), so metadata is stored as canonical JSON. */
    private static String copyObject(JsonParser p) throws IOException {
        StringWriter out = new StringWriter();
        try (var g = JSON.createGenerator(out)) {
            g.copyCurrentStructure(p);
        }
        return out.toString();
    }

    /** True for a valid id made of printable ASCII only (1..{@value #MAX_ID_BYTES} bytes of 0x20..0x7e). */
    private static boolean printableAscii(byte[] key) {
        if (key == null || key.length == 0 || key.length > MAX_ID_BYTES) return false;
        for (byte b : key) if (b < 0x20 || b > 0x7e) return false;
        return true;
    }

    static String idProblem(byte[] key) {
        if (key == null || key.length == 0) return "the record key (the vector's id) is missing or empty";
        if (key.length > MAX_ID_BYTES) return "the id is " + key.length + " bytes, the limit is " + MAX_ID_BYTES;
        String id;
        try {
            id = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(key)).toString();
        } catch (CharacterCodingException e) {
            return "the id is not valid UTF-8";
        }
        for (int i = 0; i < id.length(); i++) {
            if (Character.isISOControl(id.charAt(i))) return "the id contains a control character at position " + i;
        }
        return null;
    }

    private static String finiteProblem(float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) return "vector[" + i + "] is " + v[i] + ": values must be finite";
        }
        return null;
    }

    private static byte[] headerBytes(Headers headers, String name) {
        if (headers == null) return null;
        Header h = headers.lastHeader(name);
        return h == null ? null : h.value();
    }

    private static final byte[] JSON_BYTES = "json".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] F32LE_BYTES = FORMAT_F32LE.getBytes(StandardCharsets.US_ASCII);

    /** {@code a} equals the lower-case ASCII {@code lower}, ignoring case (no surrounding blanks). */
    private static boolean sameAsciiIgnoreCase(byte[] a, byte[] lower) {
        if (a.length != lower.length) return false;
        for (int i = 0; i < a.length; i++) {
            int c = a[i];
            if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
            if (c != lower[i]) return false;
        }
        return true;
    }

    private static String firstLine(String s) {
        if (s == null) return "";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
