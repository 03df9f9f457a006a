package io.vectorstream.bench;

import io.vectorstream.streams.StreamsTuning;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.Record;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The Kafka Streams floor: how fast Kafka Streams alone takes a topic in on this machine. A fresh application with
 * the server's own settings ({@link StreamsTuning}) and the server's thread count, whose one processor only counts
 * records, reads the topic from its start to its end. The server's backfill rate is judged against this (and against
 * a plain consumer, kcat): what the floor costs, no processor on Kafka Streams can avoid.
 */
final class StreamsFloor {
    static final String USAGE = """
            usage: vectorstream streams-floor --bootstrap-servers HOST:PORT --topic T [--threads N] [--timeout-s 600] [--json]
              reads T from its start to its current end through Kafka Streams (a fresh application id, the server's
              settings, a processor that only counts); prints records/s from process start and from the first record.
              --threads: stream threads (default: as the server, min(cores, partitions))""";

    private static final LongAdder RECORDS = new LongAdder();

    private StreamsFloor() {
    }

    static void main(String[] argv) throws Exception {
        Args a = new Args(argv, 0, USAGE);
        if (a.flag("help")) {
            System.out.println(USAGE);
            return;
        }
        String bootstrap = a.string("bootstrap-servers", null);
        String topic = a.string("topic", null);
        long timeoutMs = TimeUnit.SECONDS.toMillis(a.integer("timeout-s", 600));
        long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();

        int partitions;
        long records = 0;
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            TopicDescription d = admin.describeTopics(java.util.List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            partitions = d.partitions().size();
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>(), latest = new HashMap<>();
            for (var p : d.partitions()) {
                earliest.put(new TopicPartition(topic, p.partition()), OffsetSpec.earliest());
                latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
            }
            var from = admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS);
            var to = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
            for (TopicPartition tp : latest.keySet()) records += to.get(tp).offset() - from.get(tp).offset();
        }
        if (records == 0) throw new IllegalArgumentException("topic '" + topic + "' is empty: nothing to read");
        int threads = a.integer("threads", Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), partitions)));

        Topology topology = new Topology();
        topology.addSource("records", Serdes.ByteArray().deserializer(), Serdes.ByteArray().deserializer(), topic);
        topology.addProcessor("count", CountingProcessor::new, "records");
        Path state = Files.createTempDirectory("vectorstream-streams-floor");
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "vectorstream-streams-floor-" + UUID.randomUUID());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        StreamsTuning.applyTo(p);

        long firstAt = -1;
        boolean done;
        try (KafkaStreams streams = new KafkaStreams(topology, p)) {
            streams.start();
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (true) {
                long n = RECORDS.sum();
                if (n > 0 && firstAt < 0) firstAt = System.currentTimeMillis();
                done = n >= records;
                if (done || System.currentTimeMillis() > deadline) break;
                Thread.sleep(2);
            }
            long end = System.currentTimeMillis();
            double cpu = processCpuSeconds();
            streams.close(Duration.ofSeconds(10));
            if (!done) {
                System.err.printf(Locale.ROOT, "error: read %,d of %,d records in %d s%n", RECORDS.sum(), records, timeoutMs / 1000);
                System.exit(1);
            }
            double total = (end - jvmStart) / 1000.0, fromFirst = (end - firstAt) / 1000.0;
            if (a.flag("json")) {
                System.out.printf(Locale.ROOT, "{\"records\":%d,\"partitions\":%d,\"threads\":%d,\"seconds\":%.3f,"
                                + "\"first_record_s\":%.3f,\"records_per_s\":%.1f,\"records_per_s_after_first\":%.1f,\"cpu_s\":%.2f}%n",
                        records, partitions, threads, total, (firstAt - jvmStart) / 1000.0, records / total,
                        records / fromFirst, cpu);
            } else {
                System.out.printf(Locale.ROOT, "Kafka Streams floor: %,d records of '%s' (%d partitions, %d stream threads) in %.2f s "
                                + "from process start: %,.0f records/s; %,.0f records/s from the first record; %.1f s of CPU%n",
                        records, topic, partitions, threads, total, records / total, records / fromFirst, cpu);
            }
        } finally {
            deleteQuietly(state);
        }
    }

    /** Counts; nothing else, so that what is measured is Kafka Streams. */
    private static final class CountingProcessor implements Processor<byte[], byte[], Void, Void> {
        @Override
        public void process(Record<byte[], byte[]> record) {
            RECORDS.increment();
        }
    }

    private static double processCpuSeconds() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime() / 1e9;
        }
        return Double.NaN;
    }

    private static void deleteQuietly(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (java.io.IOException ignored) {
            // a temporary directory: nothing to lose
        }
    }
}
