package io.vectorstream.streams;

import io.vectorstream.index.IndexOp;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The JSON upsert's two decoders against each other: the common shape read straight from the bytes
 * ({@link JsonUpsertReader}) must give exactly what the general parser gives, bit for bit, and leave everything else
 * (with its precise error) to it.
 */
class EventDecoderJsonTest {
    private static final int DIM = 6;
    private final EventDecoder decoder = new EventDecoder(DIM, 1 << 20);

    @Test
    void theCommonShapeIsReadDirectlyAndEqualsTheGeneralParserBitForBit() {
        Random r = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder vector = new StringBuilder("[");
            for (int d = 0; d < DIM; d++) {
                if (d > 0) vector.append(i % 3 == 0 ? ", " : ",");
                vector.append(number(r));
            }
            vector.append(']');
            String metadata = "{\"n\":" + i + ",\"tags\":[\"a\",\"b\\\"c\"],\"nested\":{\"x\":[1,{\"y\":null}]},\"s\":\"}{][\"}";
            String json = switch (i % 4) {
                case 0 -> "{\"vector\":" + vector + "}";
                case 1 -> "{\"vector\":" + vector + ",\"metadata\":" + metadata + "}";
                case 2 -> " {\n  \"metadata\" : " + metadata + " ,\n  \"vector\" : " + vector + "\n}\n";
                default -> "{\"vector\": " + vector + ", \"metadata\": {}}";
            };
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            EventDecoder.Decoded common = decoder.decodeCommonJson("id", bytes);
            EventDecoder.Decoded general = decoder.decodeAnyJson("id", bytes);
            assertThat(common).as("read directly: %s", json).isNotNull();
            assertThat(general.op()).as(json).isNotNull();
            IndexOp.Upsert a = (IndexOp.Upsert) common.op(), b = (IndexOp.Upsert) general.op();
            for (int d = 0; d < DIM; d++) {
                assertThat(Float.floatToRawIntBits(a.vector()[d])).as("%s [%d]: %s vs %s", json, d, a.vector()[d], b.vector()[d])
                        .isEqualTo(Float.floatToRawIntBits(b.vector()[d]));
            }
            assertThat(a.metadataJson()).as(json).isEqualTo(b.metadataJson());
            assertThat(decoder.decode("id".getBytes(StandardCharsets.UTF_8), bytes, null).op()).isInstanceOf(IndexOp.Upsert.class);
        }
    }

    /** Numbers as producers print them: Java's float and double forms, Python's repr, integers, long digit strings. */
    private static String number(Random r) {
        float f = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(13) - 6));
        return switch (r.nextInt(9)) {
            case 0 -> Float.toString(f);                                      // 1.2345679E-5
            case 1 -> Double.toString(f);                                     // the float's exact double, 17 digits
            case 2 -> String.format(Locale.ROOT, "%.6e", f);                  // 1.234568e-05 (Python's %e, numpy)
            case 3 -> Integer.toString(r.nextInt(2001) - 1000);               // integers
            case 4 -> String.format(Locale.ROOT, "%.25f", f);                 // more digits than a long holds
            case 5 -> r.nextBoolean() ? "0" : "-0.0";
            case 6 -> {                                                      // exponents, signed and not
                int e = r.nextInt(60) - 30;
                yield (r.nextBoolean() ? "1E" : "1e") + (e >= 0 && r.nextBoolean() ? "+" : "") + e;
            }
            case 7 -> "123456789012345678901234567890";                         // a long integer part
            default -> new java.math.BigDecimal(f).toPlainString();          // the exact decimal of the float
        };
    }

    @Test
    void anythingElseIsLeftToTheGeneralParserWithItsError() {
        String ok = "[1,2,3,4,5,6]";
        List<String> others = List.of(
                "{\"vector\":[01,2,3,4,5,6]}",                  // leading zero
                "{\"vector\":[1.,2,3,4,5,6]}",                  // no fraction digits
                "{\"vector\":[.5,2,3,4,5,6]}",
                "{\"vector\":[+1,2,3,4,5,6]}",
                "{\"vector\":[1e,2,3,4,5,6]}",
                "{\"vector\":[NaN,2,3,4,5,6]}",
                "{\"vector\":[1e39,2,3,4,5,6]}",                // beyond float32
                "{\"vector\":[1e400,2,3,4,5,6]}",               // beyond double
                "{\"vector\":[1,2,3,4,5]}",                     // wrong dimension
                "{\"vector\":[1,2,3,4,5,6,7]}",
                "{\"vector\":[]}",
                "{\"vector\":[1,2,3,4,5,\"6\"]}",
                "{\"vector\":" + ok + "} x",                    // trailing content
                "{\"vector\":" + ok + ",\"vector\":" + ok + "}", // duplicate field
                "{\"vector\":" + ok + ",\"extra\":1}",          // unknown field
                "{\"vect\\u006fr\":" + ok + "}",                // an escaped name
                "{\"vector\":" + ok + ",\"metadata\":null}",
                "{\"vector\":" + ok + ",\"metadata\":[1]}",
                "{\"vector\":" + ok + ",\"metadata\":{\"a\":}}", // invalid metadata
                "{\"vector\":" + ok + ",\"metadata\":{\"a\":1}",  // cut short
                "{\"vector\":[1,2,3",
                "{\"metadata\":{}}",
                "{}",
                "[1,2,3,4,5,6]",
                "");
        for (String json : others) {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            assertThat(decoder.decodeCommonJson("id", bytes)).as("not read directly: %s", json).isNull();
            EventDecoder.Decoded d = decoder.decode("id".getBytes(StandardCharsets.UTF_8), bytes, null);
            EventDecoder.Decoded general = decoder.decodeAnyJson("id", bytes);
            assertThat(d.op() == null ? d.error().code() : "ok").as(json)
                    .isEqualTo(general.op() == null ? general.error().code() : "ok");
        }
        // and the general path still names each problem as before
        assertThat(code("{\"vector\":[1e39,2,3,4,5,6]}")).isEqualTo("non_finite");
        assertThat(code("{\"vector\":[1,2,3,4,5]}")).isEqualTo("wrong_dimension");
        assertThat(code("{\"vector\":" + ok + ",\"extra\":1}")).isEqualTo("unknown_field");
        assertThat(code("{\"vector\":[01,2,3,4,5,6]}")).isEqualTo("unparseable");
        assertThat(code("{\"vector\":" + ok + ",\"metadata\":[1]}")).isEqualTo("bad_metadata");
    }

    @Test
    void metadataNestedDeeperThanTheLimitIsStillRefusedByTheGeneralParser() {
        String deep = "{\"a\":".repeat(70) + "1" + "}".repeat(70);
        byte[] bytes = ("{\"vector\":[1,2,3,4,5,6],\"metadata\":" + deep + "}").getBytes(StandardCharsets.UTF_8);
        assertThat(new JsonUpsertReader().read(bytes, new float[DIM])).isFalse();
        assertThat(decoder.decode("id".getBytes(StandardCharsets.UTF_8), bytes, null).op()).isNull();
    }

    private String code(String json) {
        EventDecoder.Decoded d = decoder.decode("id".getBytes(StandardCharsets.UTF_8), json.getBytes(StandardCharsets.UTF_8), null);
        return d.op() == null ? d.error().code() : "ok";
    }

    /** Under cosine an all-zero vector has no direction: a bad event in either format; under L2 it is a point like any. */
    @Test
    void anAllZeroVectorIsABadEventUnderCosineOnly() {
        EventDecoder cosine = new EventDecoder(DIM, 1 << 20, true);
        String zeros = "{\"vector\":[" + "0,".repeat(DIM - 1) + "-0.0]}";
        EventDecoder.Decoded json = cosine.decode("z".getBytes(), zeros.getBytes(), null);
        assertThat(json.op()).isNull();
        assertThat(json.error().code()).isEqualTo("zero_vector");
        assertThat(json.error().reason()).contains("cosine");
        org.apache.kafka.common.header.internals.RecordHeaders binary = new org.apache.kafka.common.header.internals.RecordHeaders();
        binary.add(EventDecoder.FORMAT_HEADER, EventDecoder.FORMAT_F32LE.getBytes());
        assertThat(cosine.decode("z".getBytes(), new byte[DIM * 4], binary).error().code()).isEqualTo("zero_vector");
        String almost = "{\"vector\":[" + "0,".repeat(DIM - 1) + "1e-30]}";
        assertThat(cosine.decode("a".getBytes(), almost.getBytes(), null).op()).as("not all zeros").isNotNull();
        assertThat(decoder.decode("z".getBytes(), zeros.getBytes(), null).op()).as("L2: a point like any").isNotNull();
        assertThat(cosine.decode("z".getBytes(), null, null).op()).as("a delete has no vector").isInstanceOf(IndexOp.Delete.class);
    }
}
