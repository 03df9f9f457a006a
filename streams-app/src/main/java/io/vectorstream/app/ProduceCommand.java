package io.vectorstream.app;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.vectorstream.streams.EventDecoder;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code vectorstream produce FILE}: loads vectors from a file into the input topic as upsert events, at
 * full speed. Reads {@code .fvecs}/{@code .bvecs} (the TEXMEX formats of {@link io.vectorstream.index.VectorFiles}),
 * float32 {@code .npy} and JSON lines, streaming: a 4 MiB chunk or a line at a time, never the whole file.
 * ({@code VectorFiles} reads a file whole into one array and rejects it at the first row of another
 * dimension; here such a row is one bad row.)
 * Bad rows are reported with their row/line number and reason, counted, and skipped; the exit code is 1
 * if there were any, 2 for usage errors, and 1 when Kafka refuses the records.
 */
@Command(name = "produce", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Load vectors from a file into the Kafka topic as upserts, at full speed. Formats: fvecs, bvecs, "
                + "npy (float32, 2-D, C order) and JSON lines (one {\"vector\":[…], \"metadata\":{…}, …} object per line).",
                "Records are binary (little-endian float32s, header vectorstream.format=f32le) unless a row has metadata "
                        + "or --value-format json is given. Bad rows are reported on stderr, counted and skipped; "
                        + "the exit code is 1 if there were any (0 otherwise, 2 for usage errors)."})
final class ProduceCommand implements Callable<Integer> {
    static final String NAME = "vectorstream produce";

    enum Format { fvecs, bvecs, npy, jsonl }

    enum ValueFormat { binary, json }

    /** Producer settings for bulk loading; --producer-property overrides any of them (measured: see README). */
    static final Map<String, String> PRODUCER_DEFAULTS = defaults();

    private static Map<String, String> defaults() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(ProducerConfig.ACKS_CONFIG, "all");
        m.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        m.put(ProducerConfig.LINGER_MS_CONFIG, "10");
        m.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(1 << 20));
        m.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none");
        m.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        return m;
    }

    @Parameters(index = "0", paramLabel = "FILE", description = "The vectors: .fvecs, .bvecs, .npy, .jsonl or .json (JSON lines).")
    Path file;

    @Option(names = "--format", paramLabel = "FORMAT",
            description = "${COMPLETION-CANDIDATES} (default: from the file name's extension).")
    Format format;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT,...", defaultValue = "localhost:9092",
            description = "Kafka bootstrap servers (default: ${DEFAULT-VALUE}).")
    String bootstrapServers;

    @Option(names = "--topic", paramLabel = "NAME", defaultValue = "vectors", description = "Topic to produce to (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--dim", paramLabel = "N", description = "Expected dimension; rows of another dimension are bad rows (default: the first row's).")
    Integer dim;

    @Option(names = "--id-field", paramLabel = "NAME",
            description = "JSON lines: take each row's id from this field (a string or an integer; a row without it is bad). "
                    + "Default: the row number.")
    String idField;

    @Option(names = "--vector-field", paramLabel = "NAME", defaultValue = "vector",
            description = "JSON lines: the field holding the vector (default: ${DEFAULT-VALUE}).")
    String vectorField;

    @Option(names = "--metadata-field", paramLabel = "NAME", defaultValue = "metadata",
            description = "JSON lines: the optional field holding the metadata object (default: ${DEFAULT-VALUE}).")
    String metadataField;

    @Option(names = "--id-prefix", paramLabel = "P",
            description = "Ids from row numbers are P0, P1, … (default: none, so 0, 1, …).")
    String idPrefix = "";

    @Option(names = "--start-row", paramLabel = "N", defaultValue = "0",
            description = "Skip the first N rows (ids stay the row numbers in the file) (default: ${DEFAULT-VALUE}).")
    long startRow;

    @Option(names = "--limit", paramLabel = "N", description = "Read at most N rows (default: all).")
    Long limit;

    @Option(names = "--value-format", paramLabel = "FORMAT", defaultValue = "binary",
            description = "binary (f32le; rows with metadata still go as JSON) or json for every row (default: ${DEFAULT-VALUE}).")
    ValueFormat valueFormat;

    @Option(names = "--producer-property", paramLabel = "KEY=VALUE",
            description = "A Kafka producer setting (repeatable), e.g. compression.type=lz4 or "
                    + "security.protocol=SSL. Defaults: acks=all, idempotence, linger.ms=10, batch.size=1 MiB, no compression.")
    Map<String, String> producerProperties = new LinkedHashMap<>();

    @Option(names = "--show-bad-rows", paramLabel = "N", defaultValue = "20",
            description = "Print at most N bad rows; the rest are only counted (default: ${DEFAULT-VALUE}).")
    int showBadRows;

    @Option(names = {"-q", "--quiet"}, description = "No progress bar (bad rows and the summary are still printed).")
    boolean quiet;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with defaults for these options without the dashes (topic=vectors), "
                    + "e.g. the one given to serve. Env: VECTORSTREAM_CONFIG.")
    Path config;

    /** Progress and bad rows. */
    PrintStream err = System.err;
    /** The summary line. */
    PrintStream out = System.out;

    private static final JsonFactory JSON = JsonFactory.builder()
            // NaN/Infinity become a precise bad-row reason instead of "invalid JSON"
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            // number parsing and printing are most of the time spent on a JSON-lines row; both stay exact
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .enable(StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
            // the server's decoder allows no deeper metadata; such a row would only end in the dead-letter topic
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build();
    private static final List<Header> F32LE_HEADERS = List.of(
            new RecordHeader(EventDecoder.FORMAT_HEADER, EventDecoder.FORMAT_F32LE.getBytes(StandardCharsets.UTF_8)));
    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle FLOAT_LE = MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
    /** A row dimension above this in a .fvecs/.bvecs file means the file is damaged (or not that format). */
    static final int MAX_DIM = 1 << 20;

    /** A bad command line or input file that nothing can be sent from: exit code 2. */
    static final class UsageError extends RuntimeException {
        UsageError(String message) {
            super(message);
        }
    }

    // --- counters, read by the progress thread and the producer's callbacks ---
    private final LongAdder acked = new LongAdder();
    private final LongAdder ackedBytes = new LongAdder();
    private final AtomicReference<Exception> failure = new AtomicReference<>();
    /** One callback for every record: counts acknowledgements, keeps the first failure. */
    private final Callback onAck = (md, e) -> {
        if (e != null) {
            failure.compareAndSet(null, e);
        } else {
            acked.increment();
            ackedBytes.add(Math.max(0, md.serializedKeySize()) + Math.max(0, md.serializedValueSize()));
        }
    };
    private volatile long badRows;
    private volatile long sentRows;
    /** Rows taken from the file (sent, bad or in flight); after a stop, where to go on. */
    private volatile long rowsRead;
    /** Set by {@link StopOnSignal}: read no more rows, send those read, flush, sum up. */
    private volatile boolean stopRequested;
    private long startNanos;
    private long endNanos;
    private volatile long total = -1;
    private volatile boolean totalKnown;
    private RowSource source;

    @Override
    public Integer call() {
        Map<String, Object> props;
        try {
            validateOptions();
            props = producerConfig();
            source = open();
        } catch (UsageError e) {
            err.println(NAME + ": " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println(NAME + ": cannot read " + file + ": " + e);
            return 2;
        }
        try (RowSource s = source) {
            return produce(props);
        } catch (UsageError e) {
            err.println(NAME + ": " + e.getMessage());
            return 2;
        } catch (IOException e) {
            err.println(NAME + ": reading " + file + " failed: " + e);
            return 1;
        }
    }

    private void validateOptions() {
        if (dim != null && (dim < 1 || dim > MAX_DIM)) throw new UsageError("--dim must be between 1 and " + MAX_DIM + ", not " + dim);
        if (startRow < 0) throw new UsageError("--start-row must be >= 0, not " + startRow);
        if (limit != null && limit < 0) throw new UsageError("--limit must be >= 0, not " + limit);
        if (showBadRows < 0) throw new UsageError("--show-bad-rows must be >= 0, not " + showBadRows);
        if (topic == null || topic.isBlank()) throw new UsageError("--topic must not be empty");
        if (vectorField.equals(metadataField) || vectorField.equals(idField) || metadataField.equals(idField)) {
            throw new UsageError("--vector-field, --metadata-field and --id-field must name different fields");
        }
        if (idField != null && format() != Format.jsonl) {
            throw new UsageError("--id-field applies to JSON lines only; " + format() + " rows are numbered (use --id-prefix)");
        }
    }

    Map<String, Object> producerConfig() {
        Map<String, Object> props = new HashMap<>(PRODUCER_DEFAULTS);
        props.putAll(producerProperties);
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "vectorstream-produce");
        for (Map.Entry<String, String> e : producerProperties.entrySet()) {
            if (e.getKey().isBlank() || e.getValue() == null) {
                throw new UsageError("--producer-property needs KEY=VALUE, got '" + e.getKey() + "'");
            }
            if (e.getKey().equals(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG) || e.getKey().equals(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG)) {
                throw new UsageError("--producer-property " + e.getKey() + " cannot be changed: keys and values are bytes");
            }
        }
        return props;
    }

    private Format format() {
        if (format != null) return format;
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".fvecs")) return Format.fvecs;
        if (name.endsWith(".bvecs")) return Format.bvecs;
        if (name.endsWith(".npy")) return Format.npy;
        if (name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".ndjson")) return Format.jsonl;
        throw new UsageError("cannot tell the format of " + file + " from its name: give --format fvecs|bvecs|npy|jsonl");
    }

    private RowSource open() throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new UsageError(Files.exists(file) ? file + " is not a regular file" : "no such file: " + file);
        }
        try {
            return switch (format()) {
                case fvecs -> new VecsSource(file, false);
                case bvecs -> new VecsSource(file, true);
                case npy -> NpySource.open(file, dim);
                case jsonl -> new JsonLinesSource(file, idField, vectorField, metadataField);
            };
        } catch (NoSuchFileException e) {
            throw new UsageError("no such file: " + file);
        }
    }

    // ------------------------------------------------------------------ the loop

    /** Whether the topic exists (asked before the producer's metadata request creates it); null when unknown. */
    private Boolean topicExists(Map<String, Object> props) {
        Map<String, Object> adminProps = new java.util.HashMap<>();
        for (var e : props.entrySet()) {
            if (org.apache.kafka.clients.admin.AdminClientConfig.configNames().contains(e.getKey())) adminProps.put(e.getKey(), e.getValue());
        }
        org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(adminProps);
        try {
            return admin.listTopics().names().get(10, java.util.concurrent.TimeUnit.SECONDS).contains(topic);
        } catch (Exception e) { // no answer: the metadata request that follows reports a broker that is down
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            return null;
        } finally {
            admin.close(Duration.ZERO); // not the default close, which waits out the unanswered call (60 s, broker down)
        }
    }

    private int produce(Map<String, Object> props) throws IOException {
        long skipped = source.skip(startRow);
        if (skipped < startRow) {
            throw new UsageError("--start-row " + startRow + " is past the end of " + file + " (" + skipped
                    + " row" + (skipped == 1 ? "" : "s") + "): nothing to send");
        }
        long left = source.rowsLeft();
        if (left == 0 && startRow == 0 && !Long.valueOf(0).equals(limit)) {
            err.println(NAME + ": " + file + " holds no rows: nothing to send");
            return 1;
        }
        total = left >= 0 ? Math.min(left, limit == null ? Long.MAX_VALUE : limit) : (limit != null ? limit : -1);
        totalKnown = left >= 0;

        KafkaProducer<byte[], byte[]> producer;
        try {
            producer = new KafkaProducer<>(props);
        } catch (KafkaException e) {
            throw new UsageError("invalid producer settings: " + rootMessage(e));
        }
        Progress progress = new Progress(err, quiet ? Progress.Mode.OFF : stderrIsTerminal() ? Progress.Mode.BAR : Progress.Mode.LINES,
                this::progressLine);
        BadRows bad = new BadRows(progress, showBadRows);
        try {
            Boolean existed = topicExists(props);
            try {
                int partitions = producer.partitionsFor(topic).size();
                if (Boolean.FALSE.equals(existed)) { // the metadata request above made the broker create it
                    err.println(NAME + ": topic '" + topic + "' did not exist: the broker created it with " + partitions
                            + " partition" + (partitions == 1 ? "" : "s") + " (its num.partitions). The index keeps one shard"
                            + " per partition; to choose how many, create the topic first (kafka-topics.sh, `vectorstream"
                            + " broker --topic " + topic + ":N`) or start `vectorstream serve --partitions N` before producing.");
                }
            } catch (KafkaException e) {
                err.println(NAME + ": cannot produce to topic '" + topic + "' on " + bootstrapServers + ": " + rootMessage(e)
                        + " (is the broker up, and does the topic exist or may the broker create it?)");
                return 1;
            }
            startNanos = System.nanoTime();
            progress.start();
            try (StopOnSignal signal = StopOnSignal.install(this::requestStop)) {
                sendAll(producer, bad, limit == null ? Long.MAX_VALUE : limit);
                producer.flush(); // every send completed (acknowledged or failed) before the summary
                endNanos = System.nanoTime();
                progress.finish();
                close(producer);
                summary(bad);
            }
            return exitCode();
        } finally {
            progress.finish();
            close(producer);
        }
    }

    private boolean producerClosed;

    private void close(KafkaProducer<byte[], byte[]> producer) {
        if (producerClosed) return;
        producerClosed = true;
        try {
            producer.close(Duration.ofSeconds(30));
        } catch (KafkaException e) {
            failure.compareAndSet(null, e);
        }
    }

    /**
     * The summary (stdout) and what else the user must know (stderr). After a stop by a signal every row read was
     * sent and flushed, so the rows from {@code startRow + rowsRead} on are exactly the ones not sent: the resume point.
     */
    private void summary(BadRows bad) {
        bad.finish();
        double seconds = Math.max(1e-9, ((endNanos != 0 ? endNanos : System.nanoTime()) - startNanos) / 1e9);
        long sent = acked.sum();
        out.printf(Locale.ROOT, "%s: %,d rows sent to topic '%s' (%s), %,d bad rows, %.2f s, %,.0f rows/s, %.1f MB/s%n",
                NAME, sent, topic, bootstrapServers, badRows, seconds, sent / seconds, ackedBytes.sum() / seconds / 1e6);
        out.flush();
        if (source instanceof JsonLinesSource j && idField == null && j.sawIdField) {
            err.println(NAME + ": note: rows have an \"id\" field, but the ids sent are row numbers; pass --id-field id to use it");
        }
        Exception f = failure.get();
        if (f != null) {
            err.println(NAME + ": sending to topic '" + topic + "' on " + bootstrapServers + " failed: " + rootMessage(f)
                    + " (" + String.format(Locale.ROOT, "%,d of %,d", sent, sentRows) + " records were acknowledged before it)");
        } else if (stopRequested && (limit == null || rowsRead < limit)) {
            long next = startRow + rowsRead;
            err.println(NAME + ": stopped by a signal after " + String.format(Locale.ROOT, "%,d", rowsRead) + " rows; every row before row "
                    + next + " was sent. To go on: the same command with --start-row " + next
                    + (limit == null ? "" : " --limit " + (limit - rowsRead)));
        } else if (sent == 0 && badRows == 0 && !Long.valueOf(0).equals(limit)) {
            err.println(NAME + ": " + file + (startRow > 0 ? " holds no rows after row " + startRow : " holds no rows") + ": nothing sent");
        }
        err.flush();
    }

    private int exitCode() {
        if (failure.get() != null) return 1;
        if (acked.sum() == 0 && badRows == 0 && !stopRequested && !Long.valueOf(0).equals(limit)) return 1; // an empty file
        return badRows > 0 ? 1 : 0;
    }

    private void requestStop() {
        stopRequested = true;
    }

    /**
     * Stops the run at a row boundary on SIGTERM / Ctrl-C: the JVM runs this hook, which asks the loop to stop reading
     * and waits (30 s at most) until the rows read are sent, flushed and summed up, so the summary says where to go on.
     */
    static final class StopOnSignal implements AutoCloseable {
        private final Thread hook;
        private final java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);

        private StopOnSignal(Runnable stop) {
            hook = new Thread(() -> {
                stop.run();
                try {
                    finished.await(30, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "vectorstream-produce-stop");
        }

        static StopOnSignal install(Runnable stop) {
            StopOnSignal s = new StopOnSignal(stop);
            Runtime.getRuntime().addShutdownHook(s.hook);
            return s;
        }

        @Override
        public void close() {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) { // the hook is running: it returns now that we are done
            }
        }
    }

    /**
     * Whether stderr is a terminal, where a progress bar redrawn in place with carriage returns belongs. The launcher
     * knows (the JVM's own stderr is a pipe through its warning filter) and says so in {@code vectorstream.stderr.tty};
     * without it (java -jar) a terminal is assumed when the JVM has a console.
     */
    static boolean stderrIsTerminal() {
        String said = System.getProperty("vectorstream.stderr.tty");
        if (said != null) return Boolean.parseBoolean(said);
        java.io.Console console = System.console();
        if (console == null) return false;
        try { // Console.isTerminal() is JDK 22+: from 22 on a console exists even when the streams are redirected
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }

    /** Rows per decode task, and the raw bytes at which a task is cut short (large rows). */
    private static final int CHUNK_ROWS = 256;
    private static final long CHUNK_BYTES = 256 << 10;

    /**
     * The pipeline: this thread reads rows (cheap: a copy out of the read buffer, or a line of text); a
     * pool decodes and validates them and builds the keys and values (JSON parsing and printing are the
     * costly part); this thread then checks them in file order and sends them. Order is kept, so bad rows
     * are reported, and records sent, in file order.
     */
    private void sendAll(KafkaProducer<byte[], byte[]> producer, BadRows bad, long max) throws IOException {
        int workers = Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors() - 1));
        ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "vectorstream-produce-decode");
            t.setDaemon(true);
            return t;
        });
        ArrayDeque<Future<List<Row>>> inFlight = new ArrayDeque<>();
        int expectedDim = dim == null ? 0 : dim;
        boolean more = true;
        long read = 0;
        try {
            while (true) {
                while (more && inFlight.size() < workers * 4 && failure.get() == null && !stopRequested) {
                    List<Row> chunk = new ArrayList<>(CHUNK_ROWS);
                    long bytes = 0;
                    while (chunk.size() < CHUNK_ROWS && bytes < CHUNK_BYTES) {
                        if (read >= max) {
                            more = false;
                            break;
                        }
                        Row row = new Row();
                        if (!source.next(row)) {
                            more = false;
                            break;
                        }
                        read++;
                        rowsRead = read;
                        chunk.add(row);
                        bytes += row.rawBytes();
                        if (row.fatal) {
                            more = false;
                            break;
                        }
                    }
                    if (!chunk.isEmpty()) {
                        inFlight.add(pool.submit(() -> {
                            Scratch scratch = new Scratch();
                            for (Row row : chunk) prepare(row, scratch);
                            return chunk;
                        }));
                    }
                }
                Future<List<Row>> next = inFlight.poll();
                if (next == null || failure.get() != null) return;
                for (Row row : await(next)) {
                    if (failure.get() != null) return;
                    String reason = row.bad;
                    if (row.dim > 0) {
                        if (expectedDim == 0) expectedDim = row.dim;
                        else if (reason == null && row.dim != expectedDim) {
                            reason = "dimension " + row.dim + ", expected " + expectedDim + (dim == null ? " (the first row's; set --dim)" : "");
                        }
                    }
                    if (reason != null) {
                        bad.report(row, reason);
                        badRows++;
                        if (row.fatal) return;
                        continue;
                    }
                    try {
                        producer.send(new ProducerRecord<>(topic, null, row.key, row.value, row.json ? null : F32LE_HEADERS), onAck);
                        sentRows++;
                    } catch (RecordTooLargeException e) {
                        // one row too large for this producer's max.request.size: that row's problem, not the run's
                        bad.report(row, "the record is " + (row.key.length + row.value.length) + " bytes: " + e.getMessage());
                        badRows++;
                    } catch (KafkaException e) {
                        failure.compareAndSet(null, e);
                    }
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Decodes and validates one row and builds its key and value; any thread. */
    private void prepare(Row row, Scratch scratch) {
        try {
            source.decode(row, scratch);
            row.text = null;
            if (row.bad != null) return;
            String id = row.id != null ? row.id : idPrefix + row.index;
            row.key = id.getBytes(StandardCharsets.UTF_8);
            row.bad = idProblem(id, row.key);
            if (row.bad != null) return;
            row.json = valueFormat == ValueFormat.json || row.metadata != null;
            row.value = row.json ? jsonValue(row.f32le, row.metadata) : row.f32le;
            row.f32le = null;
            row.metadata = null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static <T> T await(Future<T> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof UncheckedIOException u) throw u.getCause();
            if (c instanceof RuntimeException r) throw r;
            if (c instanceof Error er) throw er;
            throw new IOException(c);
        }
    }

    private String progressLine() {
        double seconds = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        long ok = acked.sum();
        long done = Math.max(ok, sentRows) + badRows;
        double fraction = Double.NaN;
        if (totalKnown) fraction = total == 0 ? 1.0 : Math.min(1.0, done / (double) total);
        else {
            double f = source.fraction();
            if (total > 0) f = Double.isNaN(f) ? done / (double) total : Math.max(f, done / (double) total);
            fraction = Math.min(1.0, f);
        }
        StringBuilder s = new StringBuilder(96);
        if (!Double.isNaN(fraction)) {
            int percent = (int) Math.floor(fraction * 100);
            int width = 24, filled = Math.max(0, Math.min(width, (int) (fraction * width)));
            s.append('[').append("#".repeat(filled)).append("-".repeat(width - filled)).append("] ");
            s.append(String.format(Locale.ROOT, "%3d%%  ", percent));
        }
        // rows handed to the producer, the same count the bar's share is of (acknowledgements trail them by a batch or
        // two: a small file showed "63%  0 rows"); the rate is of acknowledged rows, what the broker took
        long sent = Math.max(ok, sentRows);
        s.append(String.format(Locale.ROOT, "%,d", sent));
        if (totalKnown) s.append(String.format(Locale.ROOT, "/%,d", total));
        s.append(" rows");
        if (sent > ok) s.append(String.format(Locale.ROOT, " (%,d acked)", ok));
        s.append(String.format(Locale.ROOT, "  %,.0f rows/s", ok / seconds));
        if (!Double.isNaN(fraction) && fraction > 0 && fraction < 1) s.append("  ETA ").append(duration(seconds * (1 - fraction) / fraction));
        if (badRows > 0) s.append(String.format(Locale.ROOT, "  %,d bad", badRows));
        return s.toString();
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s < 60) return s + "s";
        if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
    }

    /** Why the id would be rejected by the server (EventDecoder's rules), or null. */
    static String idProblem(String id, byte[] key) {
        if (key.length == 0) return "the id is empty";
        if (key.length > EventDecoder.MAX_ID_BYTES) return "the id is " + key.length + " bytes, the limit is " + EventDecoder.MAX_ID_BYTES;
        for (int i = 0; i < id.length(); i++) {
            if (Character.isISOControl(id.charAt(i))) return "the id contains a control character at position " + i;
        }
        return null;
    }

    /** {@code {"vector":[…],"metadata":{…}}}, the JSON upsert the server decodes. */
    static byte[] jsonValue(byte[] f32le, String metadata) throws IOException {
        ByteArrayBuilder bb = new ByteArrayBuilder(f32le.length * 3 + 32 + (metadata == null ? 0 : metadata.length()));
        try (JsonGenerator g = JSON.createGenerator(bb)) {
            g.writeStartObject();
            g.writeArrayFieldStart("vector");
            for (int i = 0; i < f32le.length; i += 4) g.writeNumber((float) FLOAT_LE.get(f32le, i));
            g.writeEndArray();
            if (metadata != null) {
                g.writeFieldName("metadata");
                g.writeRawValue(metadata);
            }
            g.writeEndObject();
        }
        return bb.toByteArray();
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null || t instanceof java.util.concurrent.ExecutionException)) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        if (t instanceof ConfigException) return m;
        return t.getClass().getSimpleName() + ": " + m;
    }

    /** Reason for the first non-finite float32 in a little-endian row, or null. */
    static String nonFinite(byte[] f32le) {
        for (int i = 0; i < f32le.length; i += 4) {
            int bits = (int) INT_LE.get(f32le, i);
            if ((bits & 0x7f800000) == 0x7f800000) {
                return "vector[" + (i / 4) + "] is " + Float.intBitsToFloat(bits) + ": values must be finite";
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ rows and sources

    /** Per-thread scratch space for decoding. */
    static final class Scratch {
        float[] floats = new float[1024];
    }

    /** One row of the input. */
    static final class Row {
        /** 0-based row number in the file (the id when there is no id field). */
        long index;
        /** 1-based line number (JSON lines), 0 for binary formats. */
        long line;
        /** The row's dimension when known, else 0. */
        int dim;
        /** The vector as little-endian float32s; null for a bad row. A fresh array per row (it becomes the record value). */
        byte[] f32le;
        /** The id from the id field, or null for the row number. */
        String id;
        /** The metadata object as compact JSON, or null. */
        String metadata;
        /** Why the row is bad, or null. */
        String bad;
        /** Nothing after this row can be read (a damaged or truncated file). */
        boolean fatal;
        /** JSON lines: the line, until it is decoded. */
        String text;
        /** The record, once prepared: key, value, and whether the value is JSON (else f32le). */
        byte[] key;
        byte[] value;
        boolean json;

        void reset(long index) {
            this.index = index;
        }

        long rawBytes() {
            return text != null ? 2L * text.length() : f32le != null ? f32le.length : 0;
        }

        String where() {
            return line > 0 ? "row " + index + " (line " + line + ")" : "row " + index;
        }
    }

    interface RowSource extends Closeable {
        /** Skips up to {@code rows} rows without decoding them; returns how many there were. */
        long skip(long rows) throws IOException;

        /** Fills {@code row} (a fresh one) with the next row, undecoded where decoding is costly; false at the end of the file. */
        boolean next(Row row) throws IOException;

        /**
         * Finishes what {@link #next} left undecoded and validates the values; called on any thread, one row at
         * a time per thread, with that thread's scratch space.
         */
        void decode(Row row, Scratch scratch) throws IOException;

        /** Rows after the current position (estimated from the first row for .fvecs/.bvecs), or -1 when unknown. */
        long rowsLeft();

        /** The share of the file read since the start row, or NaN. Called from the progress thread. */
        double fraction();
    }

    /** Buffered sequential reads of a file channel, 4 MiB at a time. */
    abstract static class ChannelSource implements RowSource {
        final Path file;
        final FileChannel ch;
        final long size;
        ByteBuffer buf = ByteBuffer.allocate(4 << 20).order(ByteOrder.LITTLE_ENDIAN).limit(0);
        /** File offset of the next byte the channel will read. */
        long channelPos;
        volatile long consumed;
        long startOffset;

        ChannelSource(Path file) throws IOException {
            this.file = file;
            this.ch = FileChannel.open(file, StandardOpenOption.READ);
            this.size = ch.size();
        }

        /** At least {@code n} bytes buffered; false when the file ends first (whatever is left stays buffered). */
        final boolean ensure(int n) throws IOException {
            if (buf.remaining() >= n) return true;
            if (n > buf.capacity()) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(n, buf.capacity() * 2)).order(ByteOrder.LITTLE_ENDIAN);
                bigger.put(buf).flip();
                buf = bigger;
            }
            buf.compact();
            int r;
            while (buf.hasRemaining() && (r = ch.read(buf)) >= 0) channelPos += r;
            buf.flip();
            return buf.remaining() >= n;
        }

        final long offset() {
            return channelPos - buf.remaining();
        }

        final void seek(long offset) throws IOException {
            ch.position(offset);
            channelPos = offset;
            buf.clear().limit(0);
        }

        final void markStart() {
            startOffset = offset();
            consumed = startOffset;
        }

        @Override
        public double fraction() {
            long span = size - startOffset;
            return span <= 0 ? 1.0 : (consumed - startOffset) / (double) span;
        }

        /** Binary rows are read whole by next(); what is left is the check for NaN and infinities. */
        @Override
        public void decode(Row row, Scratch scratch) {
            if (row.bad == null && row.f32le != null) {
                row.bad = nonFinite(row.f32le);
                if (row.bad != null) row.f32le = null;
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    /** {@code .fvecs}/{@code .bvecs}: per row a little-endian int32 dimension, then that many float32s or uint8s. */
    static final class VecsSource extends ChannelSource {
        private final boolean bytes;
        private final int valueBytes;
        private final String ext;
        private final long estimatedRows;
        private long index = -1;

        VecsSource(Path file, boolean bytes) throws IOException {
            super(file);
            this.bytes = bytes;
            this.valueBytes = bytes ? 1 : 4;
            this.ext = bytes ? ".bvecs" : ".fvecs";
            long est = 0;
            if (ensure(4)) {
                int d = buf.getInt(buf.position());
                if (d >= 1 && d <= MAX_DIM) est = size / (4L + (long) d * valueBytes);
            }
            this.estimatedRows = est;
            markStart();
        }

        @Override
        public long skip(long rows) throws IOException {
            long n = 0;
            while (n < rows) {
                if (!ensure(4)) break;
                int d = buf.getInt(buf.position());
                if (d < 1 || d > MAX_DIM) break; // next() reports it
                int rowBytes = 4 + d * valueBytes;
                if (!ensure(rowBytes)) break;
                buf.position(buf.position() + rowBytes);
                index++;
                n++;
            }
            markStart();
            return n;
        }

        @Override
        public boolean next(Row row) throws IOException {
            if (!ensure(4)) {
                if (!buf.hasRemaining()) return false;
                row.reset(++index);
                row.bad = "the file ends with " + buf.remaining() + " stray bytes (truncated?)";
                row.fatal = true;
                buf.position(buf.limit());
                consumed = offset();
                return true;
            }
            row.reset(++index);
            int d = buf.getInt();
            if (d < 1 || d > MAX_DIM) {
                row.bad = "dimension " + d + " at byte offset " + (offset() - 4) + " is impossible: the file is damaged or not a " + ext
                        + " file; nothing after it can be read";
                row.fatal = true;
                return true;
            }
            row.dim = d;
            int n = d * valueBytes;
            if (!ensure(n)) {
                row.bad = "truncated: the file ends " + buf.remaining() + " bytes into this row's " + n;
                row.fatal = true;
                buf.position(buf.limit());
                consumed = offset();
                return true;
            }
            byte[] v = new byte[d * 4];
            if (bytes) {
                int p = buf.position();
                byte[] a = buf.array();
                int base = buf.arrayOffset() + p;
                for (int i = 0; i < d; i++) FLOAT_LE.set(v, i * 4, (float) (a[base + i] & 0xff));
                buf.position(p + n);
                row.f32le = v;
            } else {
                buf.get(v);
                row.f32le = v;
            }
            consumed = offset();
            return true;
        }

        @Override
        public long rowsLeft() {
            return Math.max(0, estimatedRows - (index + 1));
        }
    }

    /** A NumPy {@code .npy} file holding a 2-D little-endian float32 array in C order. */
    static final class NpySource extends ChannelSource {
        private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
        private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
        private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

        private final long rows;
        private final int dim;
        private final long dataOffset;
        private long index = -1;

        private NpySource(Path file, long rows, int dim, long dataOffset) throws IOException {
            super(file);
            this.rows = rows;
            this.dim = dim;
            this.dataOffset = dataOffset;
            seek(dataOffset);
            markStart();
        }

        static NpySource open(Path file, Integer expectedDim) throws IOException {
            long[] shape;
            long dataOffset;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                ByteBuffer head = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
                while (head.hasRemaining() && ch.read(head) >= 0) {
                    // fill
                }
                head.flip();
                byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
                if (head.remaining() < 10 || !ByteBuffer.wrap(magic).equals(head.slice(0, 6))) {
                    throw new UsageError(file + " is not a .npy file (no \\x93NUMPY magic)");
                }
                int major = head.get(6) & 0xff;
                long headerLen;
                int prefix;
                if (major == 1) {
                    headerLen = head.getShort(8) & 0xffff;
                    prefix = 10;
                } else if (major == 2 || major == 3) {
                    if (head.remaining() < 12) throw new UsageError(file + ": truncated .npy header");
                    headerLen = head.getInt(8) & 0xffffffffL;
                    prefix = 12;
                } else {
                    throw new UsageError(file + ": unsupported .npy format version " + major);
                }
                if (headerLen > 1 << 20 || prefix + headerLen > ch.size()) throw new UsageError(file + ": damaged .npy header");
                ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
                ch.position(prefix);
                while (hb.hasRemaining() && ch.read(hb) >= 0) {
                    // fill
                }
                String header = new String(hb.array(), 0, hb.position(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
                dataOffset = prefix + headerLen;
                shape = parseHeader(file, header);
                long need = shape[0] * shape[1] * 4;
                if (ch.size() - dataOffset < need) {
                    throw new UsageError(file + ": truncated: the array (" + shape[0] + ", " + shape[1] + ") needs " + need
                            + " bytes of data, the file has " + (ch.size() - dataOffset));
                }
            }
            if (expectedDim != null && shape[1] != expectedDim) {
                throw new UsageError(file + " holds " + shape[1] + "-d vectors (shape (" + shape[0] + ", " + shape[1] + ")), but --dim is " + expectedDim);
            }
            return new NpySource(file, shape[0], (int) shape[1], dataOffset);
        }

        /** The shape (rows, dim) from the header dict, after checking dtype and order. */
        static long[] parseHeader(Path file, String header) {
            Matcher descr = DESCR.matcher(header);
            if (!descr.find()) {
                throw new UsageError(file + ": unsupported dtype (a structured array?): only float32 ('<f4') is supported; header " + header.trim());
            }
            String dtype = descr.group(1);
            if (!dtype.equals("<f4")) {
                String hint = dtype.equals(">f4") ? "big-endian float32 is not supported"
                        : "dtype '" + dtype + "' is not supported, only little-endian float32 ('<f4')";
                throw new UsageError(file + ": " + hint + "; convert it with np.save(path, a.astype('<f4'))");
            }
            Matcher fortran = FORTRAN.matcher(header);
            if (fortran.find() && fortran.group(1).equals("True")) {
                throw new UsageError(file + ": the array is in Fortran (column-major) order; save it in C order with "
                        + "np.save(path, np.ascontiguousarray(a))");
            }
            Matcher shape = SHAPE.matcher(header);
            if (!shape.find()) throw new UsageError(file + ": no shape in the .npy header " + header.trim());
            List<Long> dims = new ArrayList<>();
            for (String part : shape.group(1).split(",")) {
                if (part.isBlank()) continue;
                try {
                    dims.add(Long.parseLong(part.trim().replaceAll("L$", "")));
                } catch (NumberFormatException e) {
                    throw new UsageError(file + ": bad shape in the .npy header " + header.trim());
                }
            }
            if (dims.size() != 2) {
                throw new UsageError(file + ": expected a 2-D array (rows, dim), got shape (" + shape.group(1).trim() + ")"
                        + (dims.size() == 1 ? "; for one vector save a.reshape(1, -1)" : ""));
            }
            if (dims.get(1) < 1 || dims.get(1) > MAX_DIM || dims.get(0) < 0) {
                throw new UsageError(file + ": unsupported shape (" + dims.get(0) + ", " + dims.get(1) + ")");
            }
            return new long[]{dims.get(0), dims.get(1)};
        }

        @Override
        public long skip(long n) throws IOException {
            long k = Math.min(n, rows - (index + 1));
            index += k;
            seek(dataOffset + (index + 1) * (long) dim * 4);
            markStart();
            return k;
        }

        @Override
        public boolean next(Row row) throws IOException {
            if (index + 1 >= rows) return false;
            row.reset(++index);
            row.dim = dim;
            if (!ensure(dim * 4)) { // only if the file shrank after open()
                row.bad = "truncated: the file ends inside this row";
                row.fatal = true;
                return true;
            }
            byte[] v = new byte[dim * 4];
            buf.get(v);
            consumed = offset();
            row.f32le = v;
            return true;
        }

        @Override
        public long rowsLeft() {
            return rows - (index + 1);
        }
    }

    /** JSON lines: one object per line; blank lines are not rows. */
    static final class JsonLinesSource implements RowSource {
        private final String idField;
        private final String vectorField;
        private final String metadataField;
        private final long size;
        private final CountingInputStream counted;
        private final BufferedReader reader;
        private long line;
        private long index = -1;
        private long startOffset;
        volatile boolean sawIdField;

        JsonLinesSource(Path file, String idField, String vectorField, String metadataField) throws IOException {
            this.idField = idField;
            this.vectorField = vectorField;
            this.metadataField = metadataField;
            this.size = Files.size(file);
            this.counted = new CountingInputStream(Files.newInputStream(file));
            this.reader = new BufferedReader(new InputStreamReader(counted, StandardCharsets.UTF_8), 1 << 16);
        }

        private String nextLine() throws IOException {
            while (true) {
                String s = reader.readLine();
                if (s == null) return null;
                line++;
                if (line == 1 && !s.isEmpty() && s.charAt(0) == '\uFEFF') s = s.substring(1);
                if (!s.isBlank()) return s;
            }
        }

        @Override
        public long skip(long rows) throws IOException {
            long n = 0;
            while (n < rows && nextLine() != null) {
                index++;
                n++;
            }
            startOffset = counted.count;
            return n;
        }

        @Override
        public boolean next(Row row) throws IOException {
            String s = nextLine();
            if (s == null) return false;
            row.reset(++index);
            row.line = line;
            row.text = s;
            return true;
        }

        @Override
        public void decode(Row row, Scratch scratch) throws IOException {
            if (row.text != null) parse(row.text, row, scratch);
        }

        private void parse(String s, Row row, Scratch scratch) throws IOException {
            int n = -1;
            try (JsonParser p = JSON.createParser(s)) {
                if (p.nextToken() != JsonToken.START_OBJECT) {
                    row.bad = "not a JSON object";
                    return;
                }
                boolean haveId = false;
                for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                    String field = p.currentName();
                    JsonToken v = p.nextToken();
                    if (field.equals(vectorField)) {
                        if (v != JsonToken.START_ARRAY) {
                            row.bad = "\"" + vectorField + "\" is not an array of numbers";
                            return;
                        }
                        n = 0;
                        for (JsonToken e = p.nextToken(); e != JsonToken.END_ARRAY; e = p.nextToken()) {
                            if (!e.isNumeric()) {
                                row.bad = "\"" + vectorField + "\"[" + n + "] is not a number";
                                return;
                            }
                            double d = p.getDoubleValue();
                            float f = (float) d;
                            if (!Float.isFinite(f)) {
                                row.bad = "\"" + vectorField + "\"[" + n + "] = " + p.getText() + " is not a finite float32";
                                row.dim = countRest(p, n + 1);
                                return;
                            }
                            if (n == scratch.floats.length) scratch.floats = java.util.Arrays.copyOf(scratch.floats, n * 2);
                            scratch.floats[n++] = f;
                        }
                    } else if (field.equals(metadataField)) {
                        if (v == JsonToken.VALUE_NULL) {
                            row.metadata = null;
                        } else if (v != JsonToken.START_OBJECT) {
                            row.bad = "\"" + metadataField + "\" must be a JSON object, not " + describe(v);
                            return;
                        } else {
                            StringWriter w = new StringWriter();
                            try (JsonGenerator g = JSON.createGenerator(w)) {
                                g.copyCurrentStructure(p);
                            }
                            row.metadata = w.toString();
                        }
                    } else if (field.equals(idField)) {
                        if (v == JsonToken.VALUE_STRING || v == JsonToken.VALUE_NUMBER_INT) {
                            row.id = p.getText();
                            haveId = true;
                        } else {
                            row.bad = "id field \"" + idField + "\" must be a string or an integer, not " + describe(v);
                            return;
                        }
                    } else {
                        if (idField == null && field.equals("id")) sawIdField = true;
                        p.skipChildren();
                    }
                }
                if (p.nextToken() != null) {
                    row.bad = "trailing content after the JSON object";
                    return;
                }
                if (idField != null && !haveId) {
                    row.bad = "no id field \"" + idField + "\"";
                    return;
                }
            } catch (JsonProcessingException e) {
                row.bad = "invalid JSON: " + e.getOriginalMessage().lines().findFirst().orElse("")
                        + " (column " + e.getLocation().getColumnNr() + ")";
                return;
            }
            if (n < 0) {
                row.bad = "no \"" + vectorField + "\" field";
                return;
            }
            if (n == 0) {
                row.bad = "\"" + vectorField + "\" is empty";
                return;
            }
            row.dim = n;
            byte[] v = new byte[n * 4];
            for (int i = 0; i < n; i++) FLOAT_LE.set(v, i * 4, scratch.floats[i]);
            row.f32le = v;
        }

        /** The array's length, counting on from {@code n} elements (for the dimension of a row with a bad value). */
        private static int countRest(JsonParser p, int n) throws IOException {
            for (JsonToken e = p.nextToken(); e != null && e != JsonToken.END_ARRAY; e = p.nextToken()) {
                p.skipChildren();
                n++;
            }
            return n;
        }

        private static String describe(JsonToken t) {
            return switch (t) {
                case START_ARRAY -> "an array";
                case VALUE_STRING -> "a string";
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
                case VALUE_TRUE, VALUE_FALSE -> "a boolean";
                case VALUE_NULL -> "null";
                case START_OBJECT -> "an object";
                default -> t.toString();
            };
        }

        @Override
        public long rowsLeft() {
            return -1;
        }

        @Override
        public double fraction() {
            long span = size - startOffset;
            return span <= 0 ? 1.0 : Math.min(1.0, (counted.count - startOffset) / (double) span);
        }

        @Override
        public void close() throws IOException {
            reader.close();
        }
    }

    static final class CountingInputStream extends FilterInputStream {
        volatile long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) count++;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) count += n;
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long k = in.skip(n);
            count += k;
            return k;
        }
    }

    // ------------------------------------------------------------------ output

    /** Prints bad rows (the first {@code max} of them), then how many more there were. */
    static final class BadRows {
        private final Progress progress;
        private final int max;
        private long count;

        BadRows(Progress progress, int max) {
            this.progress = progress;
            this.max = max;
        }

        void report(Row row, String reason) {
            count++;
            if (count <= max) progress.message(NAME + ": bad " + row.where() + ": " + reason);
        }

        void finish() {
            if (count > max) {
                progress.message(String.format(Locale.ROOT, "%s: … and %,d more bad rows not shown (--show-bad-rows)", NAME, count - max));
            }
        }
    }

    /**
     * Progress on stderr. On a terminal, a one-line bar redrawn in place a few times a second (other messages clear
     * it first); elsewhere (a log file, a pipe, CI) the same line as plain text every {@link #LINE_EVERY_MS} ms,
     * so a log holds a readable history instead of one line of carriage returns.
     */
    static final class Progress {
        enum Mode { BAR, LINES, OFF }

        static final long LINE_EVERY_MS = 10_000;

        private final PrintStream err;
        private final Mode mode;
        private final java.util.function.Supplier<String> line;
        private final Object lock = new Object();
        private int shown;
        private volatile boolean running;
        private Thread thread;

        Progress(PrintStream err, Mode mode, java.util.function.Supplier<String> line) {
            this.err = err;
            this.mode = mode;
            this.line = line;
        }

        void start() {
            if (mode == Mode.OFF) return;
            running = true;
            long every = mode == Mode.BAR ? 250 : LINE_EVERY_MS;
            thread = new Thread(() -> {
                while (running) {
                    try {
                        if (mode == Mode.LINES) Thread.sleep(every); // a log line after the first interval, not at 0 %
                        if (!running) return;
                        draw();
                        if (mode == Mode.BAR) Thread.sleep(every);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "vectorstream-produce-progress");
            thread.setDaemon(true);
            thread.start();
        }

        void message(String s) {
            synchronized (lock) {
                clear();
                err.println(s);
                err.flush();
            }
        }

        private void draw() {
            synchronized (lock) {
                String s = line.get();
                if (mode == Mode.LINES) {
                    err.println(NAME + ": " + s);
                } else {
                    err.print("\r" + s + (s.length() < shown ? " ".repeat(shown - s.length()) : ""));
                    shown = s.length();
                }
                err.flush();
            }
        }

        private void clear() {
            if (shown > 0) {
                err.print("\r" + " ".repeat(shown) + "\r");
                shown = 0;
            }
        }

        /** Stops the redraws and leaves the final state on its own line (once; later calls do nothing). */
        void finish() {
            Thread t = thread;
            if (mode == Mode.OFF || t == null) return;
            thread = null;
            running = false;
            t.interrupt();
            try {
                t.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (lock) {
                draw();
                if (mode == Mode.BAR) err.println();
                shown = 0;
            }
        }
    }
}
