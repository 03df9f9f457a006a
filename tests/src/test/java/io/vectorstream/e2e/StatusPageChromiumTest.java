package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vectorstream.app.MaintenanceSettings;
import io.vectorstream.app.ServerSettings;
import io.vectorstream.app.VectorstreamServer;
import io.vectorstream.compaction.CompactionPolicy;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.kernels.Metric;
import io.vectorstream.streams.TopologySettings;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The operator's status page in a real headless Chromium, against a real server fed by a real broker: the page shows
 * every partition with the live count, applied offset and sizes that {@code /v1/status} reports; lag, freshness and
 * recall cells show the metrics when the server has them and "—" when not; with an admin token set it hides the
 * rebuild buttons and says why, until the token is typed in; a mouse click on a partition's "Rebuild" queues a job
 * that the page then shows with its state and progress until done, and the partition's new base. The test saves a
 * screenshot to {@code target/status-page.png}.
 *
 * <p>Needs a Chromium ({@code chromium} on the PATH, or {@code -Dvectorstream.chromium=PATH}); without one it fails,
 * unless {@code -Dvectorstream.skipChromium=true} (or {@code VECTORSTREAM_SKIP_CHROMIUM=true}) says to skip it.
 */
class StatusPageChromiumTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String SKIP_PROPERTY = "vectorstream.skipChromium";
    private static final String SKIP_ENV = "VECTORSTREAM_SKIP_CHROMIUM";
    private static final int DIM = 16;
    private static final int PARTITIONS = 3;
    private static final String TOPIC = "status-page";
    private static final String TOKEN = "page-s3cret";
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String DASH = "—";

    @TempDir
    Path dataDir;
    @TempDir
    Path profile;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void showsThePartitionsAndARebuildsProgressInARealBrowser() throws Exception {
        Path chromium = chromiumOrSkip();
        try (KafkaClusterTestKit cluster = InJvmKafka.start()) {
            String bootstrap = cluster.bootstrapServers();
            ServerSettings settings = new ServerSettings(bootstrap, null, TOPIC, PARTITIONS, (short) 1, "status-page-e2e", dataDir,
                    1, "127.0.0.1", 0, 16 << 20, 2, TOKEN, new IndexConfig(DIM, Metric.L2, 0, 400, 8, 42L),
                    new TopologySettings(TOPIC, DIM, 1 << 20, 200));
            MaintenanceSettings maintenance = new MaintenanceSettings(CompactionPolicy.manual(1000), Duration.ofSeconds(2));
            try (VectorstreamServer server = VectorstreamServer.start(settings, maintenance);
                 TopicWriter writer = new TopicWriter(bootstrap, TOPIC, DIM)) {
                String base = "http://127.0.0.1:" + server.httpPort();
                writer.churn(new Random(21), 4500, 300); // ~1,500 per partition: enough for an IVF-PQ base (1,000)
                awaitCovered(base, writer);
                JsonNode status = JSON.readTree(get(base + "/v1/status", null).body());
                assertThat(status.path("partitions")).hasSize(PARTITIONS);

                try (HeadlessChromium browser = HeadlessChromium.start(chromium, profile, 1280, 900)) {
                    browser.navigate(base + "/");

                    // every partition, with what /v1/status says (nothing is written any more: the counts are final)
                    for (JsonNode p : status.path("partitions")) {
                        int partition = p.path("partition").asInt();
                        JsonNode row = browser.awaitValue(rowExpression(partition),
                                r -> r.isObject() && r.path("live").asText().equals(grouped(p.path("live").asLong())),
                                WAIT, "partition " + partition + " with live " + p.path("live"));
                        assertThat(row.path("local").asText()).isEqualTo("true");
                        assertThat(row.path("applied").asText()).isEqualTo(grouped(p.path("applied_offset").asLong()));
                        assertThat(row.path("hot").asText()).isEqualTo(grouped(p.path("hot_size").asLong()));
                        assertThat(row.path("base").asText()).as("no base before a rebuild").isEqualTo(DASH);
                        assertThat(row.path("owner").asText()).isEqualTo("here");
                    }
                    assertThat(browser.eval("document.querySelectorAll('#partitions tbody tr[data-partition]').length").asInt())
                            .isEqualTo(PARTITIONS);
                    assertThat(browser.eval("document.getElementById('t-live').textContent").asText())
                            .isEqualTo(grouped(status.path("totals").path("live").asLong()));
                    assertMetricCells(browser, base);
                    JsonNode search = browser.await("(() => { const r = document.querySelector("
                            + "'#routes tr[data-route=\"/v1/search\"][data-method=\"POST\"]'); return r && r.cells[2].textContent; })()",
                            WAIT, "the POST /v1/search row of the requests table");
                    assertThat(Long.parseLong(search.asText().replace(",", ""))).isPositive();

                    // the server has an admin token: no rebuild buttons, and the page says why
                    JsonNode note = browser.await("(() => { const n = document.getElementById('admin-note');"
                            + " return !n.hidden && n.textContent; })()", WAIT, "the note on the admin API");
                    assertThat(note.asText()).contains("Rebuild buttons hidden").contains("Bearer");
                    assertThat(browser.eval("document.querySelectorAll('button[data-rebuild]').length").asInt()).isZero();
                    assertThat(browser.eval("document.getElementById('token-form').hidden").asBoolean()).isFalse();

                    // typed into the page, the token lets it use the admin API: one button per partition, and one for all
                    browser.click("#token");
                    browser.type(TOKEN);
                    browser.click("#token-use");
                    browser.awaitValue("document.querySelectorAll('button[data-rebuild]').length", n -> n.asInt() == PARTITIONS + 1,
                            WAIT, "the rebuild buttons");
                    assertThat(browser.eval("document.getElementById('admin-note').hidden").asBoolean()).isTrue();
                    assertThat(browser.eval("document.querySelector('#jobs tbody').textContent").asText()).contains("no rebuild jobs yet");

                    // a mouse click on partition 1's button queues a job, which the page follows to the end
                    browser.click("button[data-rebuild=\"1\"]");
                    Set<String> states = new LinkedHashSet<>();
                    JsonNode job = browser.awaitValue(JOB_ROW, j -> {
                        if (!j.isObject()) return false;
                        states.add(j.path("state").asText());
                        assertThat(j.path("state").asText()).isIn("queued", "running", "done");
                        assertThat(j.path("percent").asInt()).isBetween(0, 100);
                        assertThat(j.path("text").asText()).contains(j.path("percent").asText() + "%");
                        assertThat(j.path("shards")).hasSize(1);
                        assertThat(j.path("shards").path(0).path("partition").asInt()).isEqualTo(1);
                        return j.path("state").asText().equals("done");
                    }, Duration.ofSeconds(90), "the rebuild job to be shown done");
                    assertThat(states).as("states the page showed").isNotEmpty();
                    assertThat(job.path("percent").asInt()).isEqualTo(100);
                    assertThat(job.path("trigger").asText()).isEqualTo("operator");
                    assertThat(job.path("shards").path(0).path("text").asText()).contains("100%").contains("built");
                    assertThat(browser.eval("document.getElementById('flash').textContent").asText())
                            .contains("Rebuild " + job.path("job").asText() + " queued for partition 1");

                    // the server agrees: that job, on partition 1 only
                    JsonNode listed = JSON.readTree(get(base + "/v1/admin/rebuild", TOKEN).body()).path("jobs");
                    assertThat(listed).hasSize(1);
                    assertThat(listed.path(0).path("job").asText()).isEqualTo(job.path("job").asText());
                    assertThat(listed.path(0).path("state").asText()).isEqualTo("done");
                    assertThat(get(base + "/v1/admin/rebuild", null).statusCode()).isEqualTo(401);
                    assertThat(get(base + "/v1/admin/rebuild?limit=0", TOKEN).statusCode()).isEqualTo(400);
                    assertThat(get(base + "/v1/admin/rebuild?limit=x", TOKEN).statusCode()).isEqualTo(400);

                    // and partition 1 now has a base, of the size /v1/status reports, from an operator's compaction
                    JsonNode after = JSON.readTree(get(base + "/v1/status", null).body());
                    JsonNode p1 = null;
                    for (JsonNode p : after.path("partitions")) if (p.path("partition").asInt() == 1) p1 = p;
                    assertThat(p1).isNotNull();
                    assertThat(p1.path("base").path("size").asLong()).isPositive();
                    String baseSize = grouped(p1.path("base").path("size").asLong());
                    JsonNode row1 = browser.awaitValue(rowExpression(1), r -> r.path("base").asText().equals(baseSize),
                            WAIT, "partition 1's base size " + baseSize);
                    assertThat(row1.path("lastCompaction").asText()).startsWith("operator");
                    assertThat(row1.path("button").asText()).isEqualTo("Rebuild");
                    assertThat(browser.eval(rowExpression(0)).path("base").asText()).isEqualTo(DASH);
                    if (get(base + "/metrics", null).body().contains("vectorstream_compaction_runs_total{outcome=\"built\",trigger=\"operator\"")) {
                        JsonNode runs = browser.await("(() => { const r = document.querySelector('#ingest tr[data-compaction=\"operator/built\"]');"
                                + " return r && r.cells[1].textContent; })()", WAIT, "the operator's compaction run in the maintenance table");
                        assertThat(Long.parseLong(runs.asText().replace(",", ""))).isPositive();
                    }

                    Path png = Path.of("target", "status-page.png");
                    Files.createDirectories(png.getParent());
                    Files.write(png, browser.screenshot());
                    assertScreenshot(png);
                    assertThat(browser.pageErrors).as("JavaScript errors in the page").isEmpty();
                }
            }
        }
    }

    /** The browser to drive, or the test is skipped (only when told to) or fails saying how to get one. */
    private static Path chromiumOrSkip() {
        Path chromium = HeadlessChromium.find();
        String missing = chromium == null ? "found no chromium, chromium-browser or google-chrome on the PATH"
                : !Files.isRegularFile(chromium) || !Files.isExecutable(chromium) ? chromium + " (named by -D"
                + HeadlessChromium.BINARY_PROPERTY + " or " + HeadlessChromium.BINARY_ENV + ") is not an executable file" : null;
        if (missing == null) return chromium;
        String skip = System.getProperty(SKIP_PROPERTY, System.getenv(SKIP_ENV));
        if (skip != null && (skip.equalsIgnoreCase("true") || skip.equals("1"))) {
            String reason = "SKIPPED StatusPageChromiumTest: " + missing + ", and " + SKIP_PROPERTY + "/" + SKIP_ENV
                    + " says to skip; the status page was not tested in a browser";
            System.out.println(reason);
            Assumptions.abort(reason);
        }
        throw new AssertionError("StatusPageChromiumTest needs a headless Chromium and " + missing + ": install Debian's"
                + " `chromium` (apt-get install -y chromium; .ci/run does), or name the binary with -D"
                + HeadlessChromium.BINARY_PROPERTY + "=PATH (or " + HeadlessChromium.BINARY_ENV + "). To skip this test knowingly: -D"
                + SKIP_PROPERTY + "=true (or " + SKIP_ENV + "=true).");
    }

    /** A partition's row as the page shows it (the visible texts), or null. */
    private static String rowExpression(int partition) {
        return "(() => { const tr = document.querySelector('#partitions tbody tr[data-partition=\"" + partition + "\"]');"
                + " if (!tr) return null; const c = (n) => { const e = tr.querySelector('[data-col=\"' + n + '\"]'); return e ? e.textContent : null; };"
                + " const b = tr.querySelector('button[data-rebuild]');"
                + " return {local: tr.dataset.local, live: c('live'), base: c('base'), hot: c('hot'), applied: c('applied_offset'),"
                + " lagRecords: c('lag_records'), lagSeconds: c('lag_seconds'), freshness: c('freshness'), recall: c('recall'),"
                + " lastCompaction: c('last_compaction'), owner: c('owner'), button: b ? b.textContent : null}; })()";
    }

    /** The newest row of the rebuild jobs table, or null. */
    private static final String JOB_ROW = "(() => { const tr = document.querySelector('#jobs tbody tr[data-job]'); if (!tr) return null;"
            + " return {job: tr.dataset.job, state: tr.dataset.state, percent: tr.dataset.percent, trigger: tr.cells[1].textContent,"
            + " text: tr.cells[4].textContent, shards: [...tr.querySelectorAll('[data-shard]')].map((s) => ({partition: +s.dataset.shard,"
            + " state: s.dataset.state, text: s.textContent}))}; })()";

    /**
     * Lag, freshness and recall cells: a value where {@code /metrics} has the partition's series, "—" where it has none
     * (the page is read first: a series present in the later scrape may have been registered meanwhile, so the cell
     * then gets until the next poll to show it).
     */
    private void assertMetricCells(HeadlessChromium browser, String base) throws Exception {
        String[][] cells = {
                {"lagRecords", "vectorstream_consumer_lag_records"},
                {"lagSeconds", "vectorstream_consumer_lag_seconds"},
                {"freshness", "vectorstream_freshness_seconds_bucket"},
                {"recall", "vectorstream_recall_estimate"},
        };
        for (int partition = 0; partition < PARTITIONS; partition++) {
            JsonNode row = browser.eval(rowExpression(partition));
            String metrics = get(base + "/metrics", null).body();
            for (String[] cell : cells) {
                String shown = row.path(cell[0]).asText();
                Pattern series = Pattern.compile("(?m)^" + cell[1] + "\\{[^}]*partition=\"" + partition + "\"[^}]*\\} (\\S+)");
                var m = series.matcher(metrics);
                if (!m.find()) {
                    assertThat(shown).as("%s of partition %d without the metric", cell[0], partition).isEqualTo(DASH);
                } else if (!m.group(1).equals("NaN") && !cell[0].equals("freshness")) {
                    int p = partition;
                    browser.awaitValue(rowExpression(partition), r -> !r.path(cell[0]).asText().equals(DASH),
                            Duration.ofSeconds(5), cell[0] + " of partition " + p + " (the metric has " + m.group(1) + ")");
                }
                if (cell[0].equals("recall")) assertThat(shown).matches(DASH + "|[01]\\.\\d{3}");
                if (cell[0].equals("lagRecords")) assertThat(shown).matches(DASH + "|[\\d,]+");
            }
        }
    }

    /** A real PNG of the page: the window's width, at least its height, and more than a blank page's colours. */
    private static void assertScreenshot(Path png) throws Exception {
        byte[] bytes = Files.readAllBytes(png);
        assertThat(bytes.length).as("PNG size").isGreaterThan(20_000);
        BufferedImage image = ImageIO.read(new ByteArrayInputStream(bytes));
        assertThat(image).as("a decodable PNG").isNotNull();
        assertThat(image.getWidth()).isEqualTo(1280);
        assertThat(image.getHeight()).isGreaterThanOrEqualTo(600);
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < image.getHeight(); y += 7) for (int x = 0; x < image.getWidth(); x += 7) colours.add(image.getRGB(x, y));
        assertThat(colours.size()).as("distinct colours in the screenshot").isGreaterThan(16);
        System.out.println("Status page screenshot: " + png.toAbsolutePath() + " (" + bytes.length + " bytes, "
                + image.getWidth() + "x" + image.getHeight() + ")");
    }

    private static String grouped(long n) {
        return String.format(Locale.US, "%,d", n);
    }

    /** Waits, with read-your-writes itself, until every partition covers what was written. */
    private void awaitCovered(String base, TopicWriter writer) throws Exception {
        StringBuilder min = new StringBuilder();
        writer.end.forEach((p, o) -> min.append(min.isEmpty() ? "" : ",").append('"').append(p).append("\":").append(o));
        StringBuilder vector = new StringBuilder();
        for (int d = 0; d < DIM; d++) vector.append(d == 0 ? "" : ",").append("0.0");
        String body = "{\"vector\":[" + vector + "],\"k\":1,\"min_offsets\":{" + min + "}}";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search"))
                    .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) return;
        }
        throw new AssertionError("partitions did not reach " + writer.end);
    }

    private HttpResponse<String> get(String url, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
        if (token != null) b.header("Authorization", "Bearer " + token);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
