package io.vectorstream.streams;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.durable.DurableShards;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

class VectorTopologyTest {
    private static final int DIM = 4;

    @TempDir
    Path stateDir;

    private ShardRegistry registry;
    private SimpleMeterRegistry meters;
    private DurableShards durables;
    private TopologyTestDriver driver;
    private TestInputTopic<byte[], byte[]> input;
    private TestOutputTopic<byte[], byte[]> dlq;

    @BeforeEach
    void start() {
        startWith(3);
    }

    private void startWith(int batchMaxRecords) {
        if (driver != null) driver.close();
        registry = new ShardRegistry(IndexConfig.of(DIM, Metric.L2), Kernels.cpu());
        meters = new SimpleMeterRegistry();
        TopologySettings settings = new TopologySettings("vectors", DIM, 1024, batchMaxRecords);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "topology-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        VectorTopology.configure(props, settings, meters);
        durables = new DurableShards();
        driver = new TopologyTestDriver(VectorTopology.build(settings, registry, new IngestMetrics(meters), durables), props);
        input = driver.createInputTopic("vectors", new ByteArraySerializer(), new ByteArraySerializer());
        dlq = driver.createOutputTopic("vectors.dlq", new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void send(String key, String json) {
        input.pipeInput(key == null ? null : key.getBytes(StandardCharsets.UTF_8),
                json == null ? null : json.getBytes(StandardCharsets.UTF_8));
    }

    private List<SearchHit> search(float... q) {
        return new IndexSearcher(registry).search(q, 10, null, true).hits();
    }

    private ShardSnapshot snapshot() {
        return registry.snapshots().get(0);
    }

    /** The stream thread's next pass: the punctuator applies whatever is pending. */
    private void flushByTime() {
        driver.advanceWallClockTime(Duration.ofMillis(1));
    }

    @Test
    void batchesByCountThenPublishesOneSnapshotPerBatch() {
        send("a", "{\"vector\":[1,0,0,0]}");
        send("b", "{\"vector\":[0,1,0,0]}");
        assertThat(snapshot().liveCount()).as("two events are not a full batch of three").isZero();
        send("c", "{\"vector\":[0,0,1,0],\"metadata\":{\"title\":\"C\"}}");
        assertThat(snapshot().liveCount()).isEqualTo(3);
        assertThat(snapshot().version()).isEqualTo(1);
        assertThat(snapshot().nextOffset()).as("next offset after offsets 0,1,2").isEqualTo(3);
        SearchHit top = search(0, 0, 0.9f, 0).get(0);
        assertThat(top.id()).isEqualTo("c");
        assertThat(top.metadataJson()).isEqualTo("{\"title\":\"C\"}");
    }

    @Test
    void aPartialBatchIsAppliedAtTheThreadsNextPass() {
        send("a", "{\"vector\":[1,0,0,0]}");
        assertThat(snapshot().liveCount()).isZero();
        flushByTime();
        assertThat(snapshot().liveCount()).isEqualTo(1);
        assertThat(search(1, 0, 0, 0).get(0).id()).isEqualTo("a");
    }

    @Test
    void oldRecordsOfABacklogWaitForALargerBatchFreshOnesDoNot() {
        startWith(1_000);
        java.time.Instant produced = java.time.Instant.now().minusSeconds(60); // a backlog: produced a minute ago
        for (int i = 0; i < 5; i++) {
            input.pipeInput(("old" + i).getBytes(StandardCharsets.UTF_8),
                    ("{\"vector\":[" + i + ",0,0,0]}").getBytes(StandardCharsets.UTF_8), produced);
        }
        flushByTime();
        assertThat(snapshot().liveCount()).as("a pass of old records does not end their batch").isZero();
        driver.advanceWallClockTime(Duration.ofMillis(IngestProcessor.BEHIND_MAX_WAIT_MS));
        assertThat(snapshot().liveCount()).as("applied once the batch is %d ms old", IngestProcessor.BEHIND_MAX_WAIT_MS)
                .isEqualTo(5);
        send("fresh", "{\"vector\":[0,0,0,1]}");
        flushByTime();
        assertThat(snapshot().liveCount()).as("a fresh trickle is applied at the next pass").isEqualTo(6);
    }

    @Test
    void upsertReplacesAndTombstoneDeletes() {
        send("a", "{\"vector\":[1,0,0,0]}");
        send("b", "{\"vector\":[0,1,0,0]}");
        flushByTime();
        send("a", "{\"vector\":[0,0,0,5]}");
        send("b", null);
        send("never-seen", null); // deleting an unknown id is a no-op
        flushByTime();
        assertThat(snapshot().liveCount()).isEqualTo(1);
        List<SearchHit> hits = search(0, 0, 0, 5);
        assertThat(hits).extracting(SearchHit::id).containsExactly("a");
        assertThat(hits.get(0).distance()).isZero();
        assertThat(dlq.isEmpty()).isTrue();
        assertThat(snapshot().find("b")).isNull();
        assertThat(snapshot().find("a").vector()).containsExactly(0, 0, 0, 5);
        assertThat(durables.get(0).appliedOffset()).isEqualTo(4);
    }

    @Test
    void sameIdTwiceInOneBatchKeepsTheLastOperation() {
        send("a", "{\"vector\":[1,0,0,0]}");
        send("a", null);
        send("x", "{\"vector\":[1,1,1,1]}");
        assertThat(snapshot().liveCount()).isEqualTo(1);
        assertThat(search(1, 0, 0, 0)).extracting(SearchHit::id).containsExactly("x");
    }

    @Test
    void binaryLittleEndianUpserts() {
        ByteBuffer b = ByteBuffer.allocate(DIM * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putFloat(0.5f).putFloat(0).putFloat(0).putFloat(-2);
        RecordHeaders headers = new RecordHeaders();
        headers.add(EventDecoder.FORMAT_HEADER, "f32le".getBytes(StandardCharsets.UTF_8));
        input.pipeInput(new TestRecord<>("bin".getBytes(StandardCharsets.UTF_8), b.array(), headers));
        flushByTime();
        SearchHit hit = search(0.5f, 0, 0, -2).get(0);
        assertThat(hit.id()).isEqualTo("bin");
        assertThat(hit.distance()).isZero();
    }

    @Test
    void everyKindOfBadEventGoesToTheDeadLetterTopicWithItsReason() {
        send("p", "{not json");
        send("d", "{\"vector\":[1,2,3]}");
        send("n", "{\"vector\":[1,2,3,1e999]}");
        send("s", "{\"vector\":[1,2,3,\"x\"]}");
        send("u", "{\"vector\":[1,2,3,4],\"colour\":1}");
        send("m", "{\"metadata\":{}}");
        send("o", "{\"vector\":[" + "1,".repeat(600) + "1]}");
        send("", "{\"vector\":[1,2,3,4]}");
        send("mt", "{\"vector\":[1,2,3,4],\"metadata\":[1]}");
        send("arr", "[1,2,3,4]");
        RecordHeaders badFormat = new RecordHeaders();
        badFormat.add(EventDecoder.FORMAT_HEADER, "f16".getBytes(StandardCharsets.UTF_8));
        input.pipeInput(new TestRecord<>("f".getBytes(StandardCharsets.UTF_8), new byte[16], badFormat));
        RecordHeaders binary = new RecordHeaders();
        binary.add(EventDecoder.FORMAT_HEADER, "f32le".getBytes(StandardCharsets.UTF_8));
        input.pipeInput(new TestRecord<>("b3".getBytes(StandardCharsets.UTF_8), new byte[12], binary));
        input.pipeInput(new TestRecord<>(new byte[]{(byte) 0xff, (byte) 0xfe}, "{\"vector\":[1,2,3,4]}".getBytes(StandardCharsets.UTF_8)));
        send("good", "{\"vector\":[1,2,3,4]}");
        flushByTime();

        List<TestRecord<byte[], byte[]>> dead = dlq.readRecordsToList();
        List<String> codes = dead.stream().map(r -> header(r, DeadLetterHeaders.ERROR_CODE)).toList();
        assertThat(codes).containsExactly("unparseable", "wrong_dimension", "non_finite", "bad_vector", "unknown_field",
                "missing_vector", "oversized", "bad_id", "bad_metadata", "not_an_object", "bad_format",
                "wrong_dimension", "bad_id");
        assertThat(header(dead.get(1), DeadLetterHeaders.ERROR_REASON)).contains("3 dimensions, expected 4");
        assertThat(header(dead.get(1), DeadLetterHeaders.SOURCE_OFFSET)).isEqualTo("1");
        assertThat(new String(dead.get(1).value(), StandardCharsets.UTF_8)).as("original value kept").isEqualTo("{\"vector\":[1,2,3]}");
        assertThat(snapshot().liveCount()).as("the good event after them is applied").isEqualTo(1);
        assertThat(meters.counter("vectorstream_events", "result", "invalid").count()).isEqualTo(13);
        assertThat(meters.counter("vectorstream_dead_letters", "code", "wrong_dimension").count()).isEqualTo(2);
    }

    @Test
    void aDeadLetteredEventStillAdvancesTheCoveredOffsets() {
        send("a", "{\"vector\":[1,0,0,0]}");
        send("bad", "{\"vector\":[1]}");
        flushByTime();
        assertThat(snapshot().nextOffset()).isEqualTo(2);
        assertThat(snapshot().liveCount()).isEqualTo(1);
    }

    private static String header(TestRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}
