package io.vectorstream.api;

import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.http.HttpResponse;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The status page over real HTTP: served at / and /index.html as HTML, self-contained (nothing loaded from another
 * origin), and timed like every other route. That it renders the server's data is tested in a real browser
 * ({@code StatusPageChromiumTest} in the tests module).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StatusPageTest {
    private ApiFixture api;

    @BeforeAll
    void start() {
        api = new ApiFixture(Metric.L2);
    }

    @AfterAll
    void stop() {
        api.close();
    }

    @Test
    void servedAtTheRootAndIndexHtmlAsTheResource() {
        byte[] resource = StatusPage.load();
        assertThat(resource.length).isGreaterThan(5_000);
        for (String path : new String[]{"/", "/index.html"}) {
            HttpResponse<String> page = api.get(path);
            assertThat(page.statusCode()).as(path).isEqualTo(200);
            assertThat(page.headers().firstValue("Content-Type")).as(path).hasValue("text/html; charset=utf-8");
            assertThat(page.headers().firstValue("Content-Security-Policy").orElse("")).contains("connect-src 'self'");
            assertThat(page.body()).as(path).isEqualTo(new String(resource, java.nio.charset.StandardCharsets.UTF_8));
        }
        String body = api.get("/").body();
        assertThat(body).startsWith("<!doctype html>").contains("<title>Vectorstream status</title>")
                .contains("fetchWithTimeout(\"/v1/status\")").contains("fetchWithTimeout(\"/metrics\")")
                .contains("/v1/admin/rebuild");
    }

    @Test
    void selfContainedNothingFromAnotherOrigin() {
        String body = api.get("/").body();
        // no external script, style sheet, image or font: every src/href is relative, and no @import or url(http…)
        var external = Pattern.compile("(?i)(src|href)\\s*=\\s*[\"']?\\s*(https?:)?//|@import|url\\(\\s*[\"']?https?:").matcher(body);
        assertThat(external.find()).as("external reference at %s", external.hitEnd() ? -1 : external.start()).isFalse();
        assertThat(body).doesNotContain("<script src").doesNotContain("<link ");
    }

    @Test
    void otherMethodsAndPathsAreNotThePage() {
        HttpResponse<String> post = api.post("/", "{}");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(api.get("/index.htm").statusCode()).isEqualTo(404);
    }

    @Test
    void pageRequestsAreTimedUnderTheirRoute() {
        api.get("/");
        api.get("/index.html");
        String scrape = api.get("/metrics").body();
        assertThat(scrape).contains("vectorstream_http_requests_seconds_count{method=\"GET\",route=\"/\",status=\"200\"}")
                .contains("route=\"/index.html\",status=\"200\"");
    }
}
