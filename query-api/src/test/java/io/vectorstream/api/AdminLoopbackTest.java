package io.vectorstream.api;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.IndexSearcher;
import io.vectorstream.index.ShardRegistry;
import io.vectorstream.kernels.Kernels;
import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Collections;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** Without an admin token, admin routes take loopback clients only, unless --admin-open says otherwise. */
class AdminLoopbackTest {

    @Test
    void onlyLoopbackAddressesAreAdmittedWithoutAToken() {
        AdminGuard guard = new AdminGuard(null);
        assertThat(guard.admitsWithoutToken("127.0.0.1")).isTrue();
        assertThat(guard.admitsWithoutToken("127.8.9.10")).isTrue();
        assertThat(guard.admitsWithoutToken("0:0:0:0:0:0:0:1")).isTrue();
        assertThat(guard.admitsWithoutToken("10.1.2.3")).isFalse();
        assertThat(guard.admitsWithoutToken("192.168.0.7")).isFalse();
        assertThat(guard.admitsWithoutToken(null)).isFalse();
        assertThat(new AdminGuard(null, true).admitsWithoutToken("10.1.2.3")).as("--admin-open").isTrue();
    }

    @Test
    void overRealHttpANonLoopbackClientGets403AndLoopbackGetsThrough() throws Exception {
        InetAddress external = null;
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nic.isUp() || nic.isLoopback()) continue;
            for (InetAddress a : Collections.list(nic.getInetAddresses())) if (a instanceof Inet4Address) external = a;
        }
        if (external == null) {
            System.out.println("SKIPPED the non-loopback half of AdminLoopbackTest: this machine has no non-loopback IPv4 address");
        }
        for (boolean open : new boolean[]{false, true}) {
            ShardRegistry registry = new ShardRegistry(IndexConfig.of(4, Metric.L2), Kernels.cpu());
            QueryServer server = new QueryServer(new QueryApiConfig("0.0.0.0", 0, 1 << 16, 1, null, open),
                    new IndexSearcher(registry), registry, id -> Optional.empty(), () -> true,
                    new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
            server.addAdminRoutes(r -> r.post("/ping").handler(ctx -> ctx.response().end("{\"pong\":true}")));
            int port = server.start();
            try {
                HttpClient http = HttpClient.newHttpClient();
                HttpResponse<String> local = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/admin/ping"))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(local.statusCode()).as(local.body()).isEqualTo(200);
                if (external != null) {
                    HttpResponse<String> remote = http.send(HttpRequest.newBuilder(
                                    URI.create("http://" + external.getHostAddress() + ":" + port + "/v1/admin/ping"))
                            .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                    if (open) {
                        assertThat(remote.statusCode()).as(remote.body()).isEqualTo(200);
                    } else {
                        assertThat(remote.statusCode()).as(remote.body()).isEqualTo(403);
                        assertThat(remote.body()).contains("forbidden").contains("--admin-token").contains("--admin-open");
                    }
                }
            } finally {
                server.close();
            }
        }
    }
}
