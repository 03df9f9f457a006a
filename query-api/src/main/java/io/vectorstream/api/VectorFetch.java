package io.vectorstream.api;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Get-by-id for the whole topic ({@code GET /v1/vectors/{id}}): this instance's shards first, then the owners of the
 * partitions it does not hold, found through the {@link ClusterView} and asked in parallel. Which partition an id is
 * in cannot be computed here (a producer chooses it: Kafka's Java client hashes with murmur2, librdkafka's default
 * with CRC32), so every partition is looked in. An owner asked by another instance answers from its own shards and
 * says which partitions it searched ({@link #SEARCHED_HEADER}), a 404 included: "not found" is answered only when
 * every partition of the topic was searched. Partitions that could not be (owner gone, rebalancing, restoring) are
 * asked again at their current owner within the request's deadline, as a search is; then the answer is 503
 * {@code partitions_unavailable} naming them, never a 404 that may be wrong.
 */
final class VectorFetch {
    /** On an asked instance's answer: the partitions it searched, comma-separated (empty: none). */
    static final String SEARCHED_HEADER = "X-Vectorstream-Searched";

    private final VectorLookup lookup;
    private final ClusterView cluster;   // null: a single instance
    private final RemoteShards remote;   // null with no cluster
    private final WorkerPool workers;
    private final JsonRenderer renderer;
    private final ApiMetrics metrics;

    VectorFetch(VectorLookup lookup, ClusterView cluster, RemoteShards remote, WorkerPool workers, JsonRenderer renderer,
                ApiMetrics metrics) {
        this.lookup = lookup;
        this.cluster = cluster;
        this.remote = remote;
        this.workers = workers;
        this.renderer = renderer;
        this.metrics = metrics;
    }

    /** This instance's answer: the rendered vector (null: not here) and the partitions looked in. */
    record Local(Buffer rendered, Set<Integer> searched, Set<Integer> missing) {
        String searchedHeader() {
            return String.join(",", searched.stream().map(String::valueOf).toList());
        }
    }

    /** Looks in this instance's searchable shards only (on a worker): what another instance asks of this one. */
    Future<Local> here(String id, Context vctx) {
        return workers.submit(vctx, () -> {
            VectorLookup.Lookup found = lookup.lookup(id);
            return new Local(found.vector().map(renderer::vector).orElse(null), found.searched(), found.missing());
        });
    }

    /** The vector from whichever instance holds it; fails with a 404 only when every partition was searched. */
    Future<Buffer> whole(String id, Deadline deadline, Context vctx) {
        return attempt(id, deadline, vctx, new TreeSet<>(), new TreeMap<>(), 0);
    }

    private Future<Buffer> attempt(String id, Deadline deadline, Context vctx, Set<Integer> covered, Map<Integer, String> why,
                                   int attempt) {
        return here(id, vctx).compose(local -> {
            if (local.rendered() != null) return Future.succeededFuture(local.rendered());
            covered.addAll(local.searched());
            if (cluster == null) { // a single instance: a partition it does not hold now is restoring (it says so at once)
                if (local.missing().isEmpty()) return Future.failedFuture(notFound(id));
                return Future.failedFuture(new ApiError(503, "partitions_unavailable", "the id '" + id + "' is in none of the "
                        + "partitions searched, and these are not searchable on this instance yet (restoring): " + local.missing(), 1));
            }
            Map<Integer, ClusterView.Owner> owners = cluster.owners();
            Map<String, Set<Integer>> ask = new TreeMap<>();
            owners.forEach((p, owner) -> {
                if (covered.contains(p)) return;
                switch (owner) {
                    case ClusterView.Owner.Remote r -> ask.computeIfAbsent(r.baseUrl(), u -> new TreeSet<>()).add(p);
                    case ClusterView.Owner.Unavailable u -> why.put(p, u.reason());
                    case ClusterView.Owner.Local l -> why.put(p, "moved here while the look-up ran");
                }
            });
            String path = "/v1/vectors/" + URLEncoder.encode(id, StandardCharsets.UTF_8).replace("+", "%20");
            Map<String, Future<HttpResponse<Buffer>>> calls = new TreeMap<>();
            ask.forEach((url, partitions) -> calls.put(url, remote.ask(url, path, deadline.remainingMillis())));
            return Future.join(new ArrayList<>(calls.values())).transform(ignored -> {
                int failures = 0;
                for (var e : calls.entrySet()) {
                    String url = e.getKey();
                    Future<HttpResponse<Buffer>> call = e.getValue();
                    if (call.failed()) {
                        failures++;
                        for (int p : ask.get(url)) why.put(p, "its owner failed: " + call.cause().getMessage());
                        continue;
                    }
                    HttpResponse<Buffer> response = call.result();
                    if (response.statusCode() == 200) {
                        metrics.fannedOut(calls.size(), failures);
                        return Future.succeededFuture(response.body());
                    }
                    Set<Integer> searched = response.statusCode() == 404 ? parse(response.getHeader(SEARCHED_HEADER)) : null;
                    if (searched == null) {
                        failures++;
                        for (int p : ask.get(url)) why.put(p, "its owner " + url + " answered " + response.statusCode());
                        continue;
                    }
                    covered.addAll(searched);
                    for (int p : ask.get(url)) if (!searched.contains(p)) why.put(p, "its owner " + url + " no longer has it");
                }
                metrics.fannedOut(calls.size(), failures);
                Set<Integer> need = new TreeSet<>(owners.keySet());
                need.removeAll(covered);
                if (need.isEmpty()) return Future.failedFuture(notFound(id));
                return retryOrFail(id, deadline, vctx, covered, why, attempt, need);
            });
        });
    }

    /** Looks again after a pause while the deadline allows (partitions move during a rebalance); else a 503 naming them. */
    private Future<Buffer> retryOrFail(String id, Deadline deadline, Context vctx, Set<Integer> covered, Map<Integer, String> why,
                                       int attempt, Set<Integer> need) {
        long pause = ApiRouter.retryPauseMillis(attempt);
        if (attempt < ApiRouter.MAX_RETRIES && deadline.remainingMillis() > pause + 50) {
            Promise<Void> paused = Promise.promise();
            vctx.owner().setTimer(pause, t -> paused.complete());
            metrics.retried(1);
            return paused.future().compose(v -> attempt(id, deadline, vctx, covered, why, attempt + 1));
        }
        List<String> described = new ArrayList<>();
        for (int p : need) described.add(p + " (" + why.getOrDefault(p, "no owner answered for it") + ")");
        return Future.failedFuture(new ApiError(503, "partitions_unavailable", "the id '" + id + "' is in none of the "
                + "partitions searched, and these cannot be searched now: " + String.join("; ", described) + ". Retry shortly", 1));
    }

    private static ApiError notFound(String id) {
        return new ApiError(404, "not_found", "no vector with id '" + id + "'");
    }

    /** The partitions in a {@link #SEARCHED_HEADER} value; null when there is none or it is not one. */
    static Set<Integer> parse(String header) {
        if (header == null) return null;
        Set<Integer> partitions = new TreeSet<>();
        for (String p : header.split(",")) {
            if (p.isBlank()) continue;
            try {
                partitions.add(Integer.parseInt(p.trim()));
            } catch (NumberFormatException e) {
                return null;
            }
        }
        return partitions;
    }
}
