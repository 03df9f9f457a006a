package io.vectorstream.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vectorstream.index.VectorFiles;
import io.vectorstream.streams.EventDecoder;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code vectorstream produce} against a real in-JVM KRaft broker: every input format, bad rows, failures. */
class ProduceCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger TOPICS = new AtomicInteger();

    private static EmbeddedKafka kafka;
    private static Admin admin;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() throws Exception {
        kafka = EmbeddedKafka.start(0, null);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
    }

    @AfterAll
    static void stopBroker() {
        if (admin != null) admin.close();
        if (kafka != null) kafka.close();
    }

    record Result(int exitCode, String out, String err) {
    }

    /** Runs the command as the CLI would, with stdout/stderr captured. */
    static Result produce(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ProduceCommand cmd = new ProduceCommand();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        CommandLine cli = new CommandLine(cmd);
        cli.setOut(new PrintWriter(cmd.out, true));
        cli.setErr(new PrintWriter(cmd.err, true));
        int code = cli.execute(args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** produce FILE into a fresh one-partition topic; returns the topic's name and the run's result. */
    private String[] args(String topic, Path file, String... more) {
        List<String> a = new ArrayList<>(List.of(file.toString(), "--bootstrap-servers", kafka.bootstrapServers(), "--topic", topic, "--quiet"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    private static String newTopic(Map<String, String> configs) throws Exception {
        String topic = "produce-test-" + TOPICS.incrementAndGet();
        admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty()).configs(configs)))
                .all().get(30, TimeUnit.SECONDS);
        return topic;
    }

    private static String newTopic() throws Exception {
        return newTopic(Map.of());
    }

    /** Everything in the (one-partition) topic, in order. */
    private static List<ConsumerRecord<byte[], byte[]>> consumeAll(String topic, int expected) {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
            TopicPartition tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp)).get(tp);
            assertThat(end).as("records in " + topic).isEqualTo(expected);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (c.position(tp) < end && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        assertThat(out).hasSize(expected);
        return out;
    }

    private static String key(ConsumerRecord<byte[], byte[]> r) {
        return new String(r.key(), StandardCharsets.UTF_8);
    }

    private static String format(ConsumerRecord<byte[], byte[]> r) {
        Header h = r.headers().lastHeader(EventDecoder.FORMAT_HEADER);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static float[] floats(ConsumerRecord<byte[], byte[]> r) {
        assertThat(format(r)).isEqualTo(EventDecoder.FORMAT_F32LE);
        float[] v = new float[r.value().length / 4];
        ByteBuffer.wrap(r.value()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    private static JsonNode json(ConsumerRecord<byte[], byte[]> r) throws IOException {
        assertThat(format(r)).isNull();
        return JSON.readTree(r.value());
    }

    private static float[] jsonVector(JsonNode n) {
        float[] v = new float[n.path("vector").size()];
        for (int i = 0; i < v.length; i++) v[i] = n.path("vector").path(i).floatValue();
        return v;
    }

    /** A .fvecs/.bvecs file whose rows may have different dimensions (VectorFiles only writes uniform ones). */
    private static void writeVecs(Path file, List<float[]> rows, boolean bytes) throws IOException {
        int size = 0;
        for (float[] r : rows) size += 4 + r.length * (bytes ? 1 : 4);
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] r : rows) {
            b.putInt(r.length);
            for (float f : r) {
                if (bytes) b.put((byte) f);
                else b.putFloat(f);
            }
        }
        Files.write(file, b.array());
    }

    private static float[] row(int i, int dim) {
        float[] v = new float[dim];
        for (int d = 0; d < dim; d++) v[d] = i * 0.5f - d * 0.25f;
        return v;
    }

    private static void writeNpy(Path file, String descr, boolean fortran, String shape, float[] data) throws IOException {
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
        int pad = 64 - (10 + dict.length() + 1) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        for (float f : data) b.putFloat(f);
        Files.write(file, b.array());
    }

    @Test
    void registeredInTheCommandLine() {
        assertThat(new CommandLine(new Main()).getSubcommands()).containsKey("produce");
    }

    @Test
    void fvecsAsBinaryRecordsWithRowNumberIds() throws Exception {
        int n = 300, dim = 16;
        float[] data = new float[n * dim];
        for (int i = 0; i < n; i++) System.arraycopy(row(i, dim), 0, data, i * dim, dim);
        Path file = dir.resolve("base.fvecs");
        VectorFiles.writeFvecs(file, data, n, dim);
        String topic = newTopic();

        Result r = produce(args(topic, file));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("300 rows sent", "0 bad rows", "rows/s", "MB/s");
        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, n);
        for (int i = 0; i < n; i++) {
            assertThat(key(recs.get(i))).isEqualTo(String.valueOf(i));
            assertThat(floats(recs.get(i))).containsExactly(row(i, dim));
        }

        // --id-prefix, --start-row and --limit: ids stay the row numbers in the file
        String topic2 = newTopic();
        Result part = produce(args(topic2, file, "--id-prefix", "doc-", "--start-row", "10", "--limit", "5", "--dim", "16"));
        assertThat(part.exitCode()).as(part.err()).isZero();
        List<ConsumerRecord<byte[], byte[]>> some = consumeAll(topic2, 5);
        assertThat(some).extracting(ProduceCommandTest::key).containsExactly("doc-10", "doc-11", "doc-12", "doc-13", "doc-14");
        assertThat(floats(some.get(2))).containsExactly(row(12, dim));
    }

    @Test
    void fvecsBadRowsAreReportedCountedAndSkipped() throws Exception {
        List<float[]> rows = new ArrayList<>();
        for (int i = 0; i < 10; i++) rows.add(row(i, 4));
        rows.set(3, row(3, 5));                                   // wrong dimension
        rows.get(6)[2] = Float.NaN;                               // non-finite
        rows.get(8)[0] = Float.POSITIVE_INFINITY;
        Path file = dir.resolve("bad.fvecs");
        writeVecs(file, rows, false);
        String topic = newTopic();

        Result r = produce(args(topic, file));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("bad row 3: dimension 5, expected 4", "bad row 6: vector[2] is NaN", "bad row 8: vector[0] is Infinity");
        assertThat(r.out()).contains("7 rows sent", "3 bad rows");
        assertThat(consumeAll(topic, 7)).extracting(ProduceCommandTest::key).containsExactly("0", "1", "2", "4", "5", "7", "9");

        // --dim given: the rows of another dimension are the bad ones, even the first
        String topic2 = newTopic();
        Result withDim = produce(args(topic2, file, "--dim", "5"));
        assertThat(withDim.exitCode()).isEqualTo(1);
        assertThat(withDim.err()).contains("bad row 0: dimension 4, expected 5");
        assertThat(withDim.out()).contains("1 rows sent", "9 bad rows");
        assertThat(consumeAll(topic2, 1)).extracting(ProduceCommandTest::key).containsExactly("3");
    }

    @Test
    void truncatedFvecsStopsWithABadRow() throws Exception {
        Path file = dir.resolve("trunc.fvecs");
        writeVecs(file, List.of(row(0, 4), row(1, 4), row(2, 4)), false);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 6));
        String topic = newTopic();
        Result r = produce(args(topic, file));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("bad row 2: truncated");
        assertThat(consumeAll(topic, 2)).extracting(ProduceCommandTest::key).containsExactly("0", "1");
    }

    @Test
    void bvecsWidenedToFloatsAndSentAsJsonOnRequest() throws Exception {
        int n = 12, dim = 8;
        byte[] data = new byte[n * dim];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 23);   // covers values above 127 (unsigned)
        Path file = dir.resolve("base.bvecs");
        VectorFiles.writeBvecs(file, data, n, dim);

        String topic = newTopic();
        Result bin = produce(args(topic, file));
        assertThat(bin.exitCode()).as(bin.err()).isZero();
        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, n);
        for (int i = 0; i < n; i++) {
            float[] expect = new float[dim];
            for (int d = 0; d < dim; d++) expect[d] = data[i * dim + d] & 0xff;
            assertThat(floats(recs.get(i))).containsExactly(expect);
        }

        String topic2 = newTopic();
        Result js = produce(args(topic2, file, "--value-format", "json"));
        assertThat(js.exitCode()).as(js.err()).isZero();
        List<ConsumerRecord<byte[], byte[]>> jrecs = consumeAll(topic2, n);
        JsonNode first = json(jrecs.get(1));
        assertThat(first.has("metadata")).isFalse();
        float[] expect = new float[dim];
        for (int d = 0; d < dim; d++) expect[d] = data[dim + d] & 0xff;
        assertThat(jsonVector(first)).containsExactly(expect);
        // and the server's decoder accepts it
        EventDecoder.Decoded decoded = new EventDecoder(dim, 1 << 20).decode(jrecs.get(1).key(), jrecs.get(1).value(), jrecs.get(1).headers());
        assertThat(decoded.error()).isNull();
    }

    @Test
    void npyFloat32COrder() throws Exception {
        int n = 20, dim = 6;
        float[] data = new float[n * dim];
        for (int i = 0; i < n; i++) System.arraycopy(row(i, dim), 0, data, i * dim, dim);
        data[5 * dim + 1] = Float.NaN;
        Path file = dir.resolve("emb.npy");
        writeNpy(file, "<f4", false, "(" + n + ", " + dim + ")", data);
        String topic = newTopic();

        Result r = produce(args(topic, file, "--id-prefix", "v", "--dim", "6"));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains("bad row 5: vector[1] is NaN");
        assertThat(r.out()).contains("19 rows sent", "1 bad rows");
        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, 19);
        assertThat(key(recs.get(0))).isEqualTo("v0");
        assertThat(key(recs.get(5))).isEqualTo("v6");
        assertThat(floats(recs.get(5))).containsExactly(row(6, dim));

        // --start-row seeks
        String topic2 = newTopic();
        Result tail = produce(args(topic2, file, "--start-row", "18"));
        assertThat(tail.exitCode()).as(tail.err()).isZero();
        assertThat(consumeAll(topic2, 2)).extracting(ProduceCommandTest::key).containsExactly("18", "19");
    }

    @Test
    void npyOfAnotherDtypeOrOrderIsAUsageError() throws Exception {
        Path f8 = dir.resolve("f8.npy");
        writeNpy(f8, "<f8", false, "(2, 2)", new float[8]);
        Result r = produce(args("unused", f8));
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err()).contains("dtype '<f8' is not supported", "astype('<f4')");

        Path fortran = dir.resolve("fortran.npy");
        writeNpy(fortran, "<f4", true, "(2, 2)", new float[4]);
        assertThat(produce(args("unused", fortran)).err()).contains("Fortran");

        Path oneD = dir.resolve("one.npy");
        writeNpy(oneD, "<f4", false, "(4,)", new float[4]);
        Result one = produce(args("unused", oneD));
        assertThat(one.exitCode()).isEqualTo(2);
        assertThat(one.err()).contains("expected a 2-D array");

        Path wrongDim = dir.resolve("ok.npy");
        writeNpy(wrongDim, "<f4", false, "(1, 4)", new float[4]);
        Result dimMismatch = produce(args("unused", wrongDim, "--dim", "8"));
        assertThat(dimMismatch.exitCode()).isEqualTo(2);
        assertThat(dimMismatch.err()).contains("4-d vectors", "--dim is 8");
    }

    @Test
    void jsonLinesWithIdsMetadataAndBadRows() throws Exception {
        Path file = dir.resolve("docs.jsonl");
        Files.writeString(file, String.join("\n",
                "{\"id\":\"a\",\"vector\":[1,2,3],\"metadata\":{\"title\":\"hello\",\"tags\":[\"x\"]}}", // line 1
                "{\"id\":\"b\",\"vector\":[4.5,5,6],\"text\":\"ignored\"}",                               // line 2
                "",                                                                                     // line 3: blank, not a row
                "{\"id\":\"c\",\"vector\":[1,2]}",                                                      // line 4: wrong dimension
                "this is not json",                                                                     // line 5
                "{\"id\":\"d\",\"vector\":[1,NaN,3]}",                                                  // line 6: NaN
                "{\"vector\":[1,2,3]}",                                                                 // line 7: no id
                "{\"id\":\"e\",\"metadata\":{}}",                                                       // line 8: no vector
                "{\"id\":\"f\",\"vector\":[1,2,3],\"metadata\":\"x\"}",                                 // line 9: metadata not an object
                "{\"id\":\"g\",\"vector\":[7,8,9],\"metadata\":null}",                                  // line 10
                "{\"id\":42,\"vector\":[1,1,1]}",                                                       // line 11: integer id
                "{\"id\":\"h\",\"vector\":[1,\"2\",3]}",                                                // line 12: not a number
                "{\"id\":\"i\",\"vector\":[1e39,2,3]}") + "\n");                                        // line 13: beyond float32
        String topic = newTopic();

        Result r = produce(args(topic, file, "--id-field", "id"));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains(
                "bad row 2 (line 4): dimension 2, expected 3",
                "bad row 3 (line 5): invalid JSON",
                "bad row 4 (line 6): \"vector\"[1] = NaN is not a finite float32",
                "bad row 5 (line 7): no id field \"id\"",
                "bad row 6 (line 8): no \"vector\" field",
                "bad row 7 (line 9): \"metadata\" must be a JSON object, not a string",
                "bad row 10 (line 12): \"vector\"[1] is not a number",
                "bad row 11 (line 13): \"vector\"[0] = 1e39 is not a finite float32");
        assertThat(r.out()).contains("4 rows sent", "8 bad rows");

        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, 4);
        assertThat(recs).extracting(ProduceCommandTest::key).containsExactly("a", "b", "g", "42");
        JsonNode a = json(recs.get(0));                                  // metadata: sent as JSON
        assertThat(jsonVector(a)).containsExactly(1f, 2f, 3f);
        assertThat(a.path("metadata")).isEqualTo(JSON.readTree("{\"title\":\"hello\",\"tags\":[\"x\"]}"));
        assertThat(floats(recs.get(1))).containsExactly(4.5f, 5f, 6f);    // no metadata: binary
        assertThat(floats(recs.get(2))).containsExactly(7f, 8f, 9f);      // null metadata is no metadata
        assertThat(floats(recs.get(3))).containsExactly(1f, 1f, 1f);

        // the server decodes both kinds, metadata included
        EventDecoder decoder = new EventDecoder(3, 1 << 20);
        for (ConsumerRecord<byte[], byte[]> rec : recs) {
            assertThat(decoder.decode(rec.key(), rec.value(), rec.headers()).error()).isNull();
        }
        assertThat(decoder.decode(recs.get(0).key(), recs.get(0).value(), recs.get(0).headers()).op().toString()).contains("hello");
    }

    @Test
    void jsonLinesCustomFieldsAndRowNumberIds() throws Exception {
        Path file = dir.resolve("custom.json");
        Files.writeString(file, "{\"id\":\"x\",\"emb\":[0.25,0.5],\"meta\":{\"n\":1}}\n{\"id\":\"y\",\"emb\":[1,2]}\n");
        String topic = newTopic();
        Result r = produce(args(topic, file, "--vector-field", "emb", "--metadata-field", "meta", "--id-prefix", "row-"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("--id-field id");  // a hint: the rows have ids that were not used
        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, 2);
        assertThat(recs).extracting(ProduceCommandTest::key).containsExactly("row-0", "row-1");
        JsonNode first = json(recs.get(0));
        assertThat(jsonVector(first)).containsExactly(0.25f, 0.5f);
        assertThat(first.path("metadata").path("n").asInt()).isEqualTo(1);
        assertThat(floats(recs.get(1))).containsExactly(1f, 2f);
    }

    @Test
    void manyChunksKeepFileOrder() throws Exception {
        // rows are decoded in parallel chunks of 256; records and bad-row reports must still come in file order
        int n = 3000;
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i % 500 == 499) s.append("{\"id\":\"k").append(i).append("\",\"vector\":[1]}\n");
            else if (i % 3 == 0) s.append("{\"id\":\"k").append(i).append("\",\"vector\":[").append(i).append(",2],\"metadata\":{\"i\":").append(i).append("}}\n");
            else s.append("{\"id\":\"k").append(i).append("\",\"vector\":[").append(i).append(",2]}\n");
        }
        Path file = dir.resolve("many.jsonl");
        Files.writeString(file, s);
        String topic = newTopic();
        Result r = produce(args(topic, file, "--id-field", "id"));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.out()).contains("2,994 rows sent", "6 bad rows");
        assertThat(r.err().lines().filter(l -> l.contains(": bad row ")).toList())
                .containsExactly(java.util.stream.IntStream.range(0, 6).map(k -> k * 500 + 499)
                        .mapToObj(i -> "vectorstream produce: bad row " + i + " (line " + (i + 1) + "): dimension 1, expected 2 (the first row's; set --dim)")
                        .toArray(String[]::new));
        List<ConsumerRecord<byte[], byte[]>> recs = consumeAll(topic, n - 6);
        int at = 0;
        for (int i = 0; i < n; i++) {
            if (i % 500 == 499) continue;
            ConsumerRecord<byte[], byte[]> rec = recs.get(at++);
            assertThat(key(rec)).isEqualTo("k" + i);
            if (i % 3 == 0) assertThat(json(rec).path("metadata").path("i").asInt()).isEqualTo(i);
            else assertThat(floats(rec)).containsExactly(i, 2f);
        }
    }

    @Test
    void printedBadRowsAreCappedButAllCounted() throws Exception {
        StringBuilder s = new StringBuilder("{\"vector\":[1,2]}\n");
        for (int i = 0; i < 30; i++) s.append("{\"vector\":[1]}\n");
        Path file = dir.resolve("many-bad.jsonl");
        Files.writeString(file, s);
        String topic = newTopic();
        Result r = produce(args(topic, file));
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().lines().filter(l -> l.contains(": bad row ")).count()).isEqualTo(20);
        assertThat(r.err()).contains("bad row 20 (line 21)", "and 10 more bad rows not shown").doesNotContain("bad row 21 ");
        assertThat(r.out()).contains("1 rows sent", "30 bad rows");
        consumeAll(topic, 1);
    }

    @Test
    void progressBarAndSummary() throws Exception {
        Path file = dir.resolve("p.fvecs");
        VectorFiles.writeFvecs(file, new float[50 * 4], 50, 4);
        String topic = newTopic();
        List<String> a = new ArrayList<>(List.of(args(topic, file)));
        a.remove("--quiet");
        Result r = produce(a.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("100%", "50/50 rows", "rows/s");
        assertThat(r.out()).contains("50 rows sent");
    }

    /** Off a terminal (a log file, CI) progress is plain lines, never a line of carriage returns. */
    @Test
    void progressOffATerminalIsPlainLines() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        ProduceCommand.Progress lines = new ProduceCommand.Progress(err, ProduceCommand.Progress.Mode.LINES, () -> "[###] 50%  5 rows");
        lines.start();
        lines.message("vectorstream produce: bad row 3: why");
        lines.finish();
        lines.finish(); // once only
        assertThat(bytes.toString(StandardCharsets.UTF_8)).doesNotContain("\r")
                .isEqualTo("vectorstream produce: bad row 3: why\nvectorstream produce: [###] 50%  5 rows\n");

        bytes.reset();
        ProduceCommand.Progress bar = new ProduceCommand.Progress(err, ProduceCommand.Progress.Mode.BAR, () -> "[###] 50%");
        bar.start();
        bar.finish();
        assertThat(bytes.toString(StandardCharsets.UTF_8)).startsWith("\r[###] 50%").endsWith("\n");
    }

    /** A file with nothing to send, or a start past its end, fails and says so (it exited 0 having sent nothing). */
    @Test
    void nothingToSendIsAnError() throws Exception {
        Path empty = dir.resolve("empty.fvecs");
        Files.write(empty, new byte[0]);
        Result none = produce(args(newTopic(), empty));
        assertThat(none.exitCode()).isEqualTo(1);
        assertThat(none.err()).contains("holds no rows", "nothing to send");

        Path blank = dir.resolve("blank.jsonl");
        Files.writeString(blank, "\n  \n");
        Result blankLines = produce(args(newTopic(), blank));
        assertThat(blankLines.exitCode()).isEqualTo(1);
        assertThat(blankLines.err()).contains("holds no rows", "nothing sent");

        Path three = dir.resolve("three.fvecs");
        VectorFiles.writeFvecs(three, new float[3 * 4], 3, 4);
        Result past = produce(args(newTopic(), three, "--start-row", "5"));
        assertThat(past.exitCode()).isEqualTo(2);
        assertThat(past.err()).contains("--start-row 5 is past the end", "(3 rows)");
        Result atEnd = produce(args(newTopic(), three, "--start-row", "3"));
        assertThat(atEnd.exitCode()).isEqualTo(1);
        assertThat(atEnd.err()).contains("holds no rows after row 3");
        assertThat(produce(args(newTopic(), three, "--limit", "0")).exitCode()).as("nothing asked for").isZero();
    }

    /**
     * SIGTERM (Ctrl-C, a scheduler's stop) mid-run: the rows read are sent and flushed, the summary is printed and says
     * where to go on, and going on from there completes the topic with no row missing or sent twice. A real process.
     */
    @Test
    void aSignalStopsAtARowAndSaysWhereToGoOn() throws Exception {
        int n = 200_000;
        Path file = dir.resolve("many.fvecs");
        float[] data = new float[n * 4];
        for (int i = 0; i < data.length; i++) data[i] = i;
        VectorFiles.writeFvecs(file, data, n, 4);
        String topic = newTopic();
        // one small batch in flight at a time: ~10 s for the file, so the signal lands mid-run on any machine
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "produce", file.toString(),
                "--bootstrap-servers", kafka.bootstrapServers(), "--topic", topic,
                "--producer-property", "batch.size=1024", "--producer-property", "linger.ms=0",
                "--producer-property", "max.in.flight.requests.per.connection=1"));
        Path log = dir.resolve("produce.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        TopicPartition tp = new TopicPartition(topic, 0);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (endOffset(tp) < 2_000 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(p.isAlive()).as("still producing when signalled: " + Files.readString(log)).isTrue();
        p.destroy(); // SIGTERM
        assertThat(p.waitFor(45, TimeUnit.SECONDS)).isTrue();
        String output = Files.readString(log);
        assertThat(p.exitValue()).as(output).isEqualTo(143);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("same command with --start-row (\\d+)").matcher(output);
        assertThat(m.find()).as(output).isTrue();
        long next = Long.parseLong(m.group(1));
        assertThat(output).contains(String.format(java.util.Locale.ROOT, "%,d rows sent to topic", next));
        assertThat(endOffset(tp)).as("every row before the resume point, once").isEqualTo(next);
        assertThat(next).isLessThan(n);

        Result rest = produce(args(topic, file, "--start-row", Long.toString(next), "--limit", "5"));
        assertThat(rest.exitCode()).as(rest.err()).isZero();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class))) {
            c.assign(List.of(tp));
            c.seek(tp, next - 1);
            List<String> keys = new ArrayList<>();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (keys.size() < 6 && System.nanoTime() < until) c.poll(Duration.ofMillis(200)).forEach(r -> keys.add(key(r)));
            assertThat(keys).as("the last row before the stop, then the rows from the resume point")
                    .containsExactly(Long.toString(next - 1), Long.toString(next), Long.toString(next + 1),
                            Long.toString(next + 2), Long.toString(next + 3), Long.toString(next + 4));
        }
    }

    private static long endOffset(TopicPartition tp) throws Exception {
        return admin.listOffsets(Map.of(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()))
                .partitionResult(tp).get(10, TimeUnit.SECONDS).offset();
    }

    @Test
    void usageErrorsExitWith2() throws Exception {
        Path txt = dir.resolve("vectors.txt");
        Files.writeString(txt, "1 2 3\n");
        Result unknown = produce(args("t", txt));
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("--format");

        Result missing = produce(args("t", dir.resolve("nope.fvecs")));
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("no such file");

        Path f = dir.resolve("x.fvecs");
        VectorFiles.writeFvecs(f, new float[4], 1, 4);
        assertThat(produce(args("t", f, "--format", "csv")).exitCode()).isEqualTo(2);
        assertThat(produce(args("t", f, "--producer-property", "linger.ms=soon")).exitCode()).isEqualTo(2);
        assertThat(produce(args("t", f, "--id-field", "id")).exitCode()).isEqualTo(2);
    }

    @Test
    void sendFailuresFailTheCommand() throws Exception {
        Path f = dir.resolve("big.fvecs");
        VectorFiles.writeFvecs(f, new float[5 * 64], 5, 64);
        // the broker rejects every record: larger than the topic's max.message.bytes
        String topic = newTopic(Map.of("max.message.bytes", "128"));
        Result rejected = produce(args(topic, f, "--producer-property", "batch.size=200"));
        assertThat(rejected.exitCode()).isEqualTo(1);
        assertThat(rejected.err()).contains("sending to topic '" + topic + "'", "failed", "RecordTooLarge");

        // nothing listens there
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Result down = produce(f.toString(), "--bootstrap-servers", "localhost:" + port, "--topic", "x", "--quiet",
                "--producer-property", "max.block.ms=1000");
        assertThat(down.exitCode()).isEqualTo(1);
        assertThat(down.err()).contains("cannot produce to topic 'x' on localhost:" + port);
    }

    /** A topic the broker creates on the first send is said, with the partition count the broker chose. */
    @Test
    void aTopicThatDidNotExistIsSaidWithItsPartitionCount(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path jsonl = dir.resolve("rows.jsonl");
        Files.writeString(jsonl, "{\"id\":\"a\",\"vector\":[1,2,3]}\n");
        String fresh = "produce-test-auto-" + TOPICS.incrementAndGet();
        Result created = produce(args(fresh, jsonl, "--id-field", "id"));
        assertThat(created.exitCode()).as(created.err()).isZero();
        assertThat(created.err()).contains("topic '" + fresh + "' did not exist: the broker created it with")
                .contains("--partitions N");
        Result again = produce(args(fresh, jsonl, "--id-field", "id"));
        assertThat(again.err()).as("it exists now").doesNotContain("did not exist");
        Result existing = produce(args(newTopic(), jsonl, "--id-field", "id"));
        assertThat(existing.err()).doesNotContain("did not exist");
    }
}
