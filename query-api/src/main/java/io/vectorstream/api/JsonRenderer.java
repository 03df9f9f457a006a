package io.vectorstream.api;

import io.vectorstream.index.ShardRegistry;
import io.vectorstream.index.Shard;
import io.vectorstream.index.IndexConfig;
import io.vectorstream.index.SearchHit;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.index.device.DeviceBackend;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.durable.DurableShard;
import io.vectorstream.index.durable.DurableShards;
import io.vertx.core.buffer.Buffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes every JSON response body the API sends. Stored metadata is JSON object text (validated on
 * ingestion) and is embedded as JSON, not as a string.
 */
final class JsonRenderer {
    private static final JsonFactory JSON = new JsonFactory();

    @FunctionalInterface
    private interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    /** {@code {"results":[...],"plan":{...}?,"snapshot":{"offsets","versions","missing"?,"stale"?},"took_ms":...}} */
    Buffer search(Answer answer, boolean includeMetadata, double tookMs, java.util.Collection<Integer> missing) {
        return search(answer, includeMetadata, tookMs, missing, java.util.Set.of());
    }

    /** As above; {@code stale}: the partitions a standby copy answered ({@code allow_stale}). */
    Buffer search(Answer answer, boolean includeMetadata, double tookMs, java.util.Collection<Integer> missing,
                  java.util.Collection<Integer> stale) {
        return render(g -> {
            g.writeStartObject();
            writeHits(g, answer.hits(), includeMetadata);
            writePlans(g, answer.plans());
            writeSnapshot(g, answer.offsets(), answer.versions(), missing, stale);
            g.writeNumberField("took_ms", tookMs);
            g.writeEndObject();
        });
    }

    /**
     * {@code {"results":[{"results":[...]},...],"snapshot":{...},"took_ms":...}}. Each query of a batch
     * reads the shards' snapshots current when it runs, so the batch's snapshot is, per partition, the
     * oldest any of its queries read: every answer covers at least those offsets.
     */
    Buffer batch(List<Answer> answers, List<SearchRequest> requests, double tookMs, java.util.Collection<Integer> missing) {
        return batch(answers, requests, tookMs, missing, java.util.Set.of());
    }

    /** As above; {@code stale}: the partitions a standby copy answered ({@code allow_stale}). */
    Buffer batch(List<Answer> answers, List<SearchRequest> requests, double tookMs, java.util.Collection<Integer> missing,
                 java.util.Collection<Integer> stale) {
        return render(g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("results");
            Map<Integer, Long> offsets = new TreeMap<>(), versions = new TreeMap<>();
            for (int i = 0; i < answers.size(); i++) {
                Answer a = answers.get(i);
                g.writeStartObject();
                writeHits(g, a.hits(), requests.get(i).includeMetadata());
                writePlans(g, a.plans());
                g.writeEndObject();
                for (var e : a.versions().entrySet()) {
                    Long seen = versions.get(e.getKey());
                    if (seen == null || e.getValue() < seen) {
                        versions.put(e.getKey(), e.getValue());
                        offsets.put(e.getKey(), a.offsets().get(e.getKey()));
                    }
                }
            }
            g.writeEndArray();
            writeSnapshot(g, offsets, versions, missing, stale);
            g.writeNumberField("took_ms", tookMs);
            g.writeEndObject();
        });
    }

    /** For a filtered search, {@code "plan":{"<partition>":"exact-matches"|"ivf-filtered"|"exact",...}}. */
    private static void writePlans(JsonGenerator g, Map<Integer, String> plans) throws IOException {
        if (plans.isEmpty()) return;
        g.writeObjectFieldStart("plan");
        for (var e : plans.entrySet()) g.writeStringField(String.valueOf(e.getKey()), e.getValue());
        g.writeEndObject();
    }

    /** {@code {"id":...,"vector":[...],"metadata":{...}|null}} */
    Buffer vector(StoredVector v) {
        return render(g -> {
            g.writeStartObject();
            g.writeStringField("id", v.id());
            g.writeArrayFieldStart("vector");
            for (float x : v.vector()) g.writeNumber(x);
            g.writeEndArray();
            g.writeFieldName("metadata");
            writeMetadata(g, v.metadataJson());
            g.writeEndObject();
        });
    }

    /** The index's shape and every owned shard's snapshot, for {@code GET /v1/status}. */
    Buffer status(IndexConfig config, String kernels, List<ShardSnapshot> snapshots) {
        return status(config, kernels, snapshots, null, null);
    }

    /** As above for every shard of {@code registry}, with where each one searches and the device backend. */
    Buffer status(IndexConfig config, String kernels, ShardRegistry registry, DurableShards storage) {
        return status(config, kernels, registry, storage, null);
    }

    /** As above, with the cluster's view ({@code cluster}: who owns and who keeps a standby of each partition). */
    Buffer status(IndexConfig config, String kernels, ShardRegistry registry, DurableShards storage, ClusterView cluster) {
        return status(config, kernels, registry, storage, cluster, p -> Double.NaN, Map.of(), Map.of());
    }

    /**
     * A partition's progress as its owner reports it: the next offset it applied, its consumer lag (NaN: unknown) and
     * its live vectors (-1: not reported).
     */
    record PartitionFigures(long appliedOffset, double lagRecords, long live) {
    }

    /**
     * As above, with each local partition's consumer lag ({@code lag}: NaN when unknown) and, in the cluster block,
     * every partition's applied offset and lag as its owner reported them ({@code figures}; {@code unreachable}: owners
     * that did not answer, and why).
     */
    Buffer status(IndexConfig config, String kernels, ShardRegistry registry, DurableShards storage, ClusterView cluster,
                  java.util.function.IntToDoubleFunction lag, Map<Integer, PartitionFigures> figures, Map<String, String> unreachable) {
        List<Shard> shards = registry.shards();
        List<ShardSnapshot> snapshots = new ArrayList<>(shards.size());
        for (Shard shard : shards) snapshots.add(shard.snapshot());
        return status(config, kernels, snapshots, shards, registry.backend(), storage, cluster, lag, figures, unreachable);
    }

    private Buffer status(IndexConfig config, String kernels, List<ShardSnapshot> snapshots, List<Shard> shards,
                          DeviceBackend backend) {
        return status(config, kernels, snapshots, shards, backend, null, null, p -> Double.NaN, Map.of(), Map.of());
    }

    private Buffer status(IndexConfig config, String kernels, List<ShardSnapshot> snapshots, List<Shard> shards,
                          DeviceBackend backend, DurableShards storage, ClusterView cluster, java.util.function.IntToDoubleFunction lagOf,
                          Map<Integer, PartitionFigures> figures, Map<String, String> unreachable) {
        return render(g -> {
            g.writeStartObject();
            g.writeNumberField("dim", config.dim());
            g.writeStringField("metric", config.metric().wireName());
            g.writeStringField("kernels", kernels);
            g.writeArrayFieldStart("partitions");
            long live = 0;
            for (ShardSnapshot s : snapshots) {
                live += s.liveCount();
                g.writeStartObject();
                g.writeNumberField("partition", s.partition());
                g.writeNumberField("live", s.liveCount());
                g.writeNumberField("applied_offset", s.nextOffset());
                double lagRecords = lagOf.applyAsDouble(s.partition());
                if (Double.isNaN(lagRecords)) g.writeNullField("lag_records");
                else g.writeNumberField("lag_records", (long) lagRecords);
                g.writeNumberField("version", s.version());
                g.writeStringField("index_kind", s.kind().wireName());
                g.writeNumberField("lists", s.listCount());
                g.writeNumberField("largest_list", s.largestListSize());
                g.writeNumberField("published_at_ms", s.publishedAtMillis());
                Shard shard = shards == null ? null : shards.get(snapshots.indexOf(s));
                g.writeStringField("device", shard == null ? "cpu" : shard.device());
                g.writeNumberField("device_bytes", shard == null ? 0 : shard.deviceBytes());
                g.writeNumberField("device_searches", shard == null ? 0 : shard.deviceSearches());
                writeBase(g, s);
                writeStorage(g, s, storage == null ? null : storage.get(s.partition()), storage == null ? 0 : storage.opens(s.partition()));
                g.writeEndObject();
            }
            g.writeEndArray();
            if (backend != null) writeBackend(g, backend);
            if (cluster != null) {
                Map<Integer, PartitionFigures> all = new java.util.TreeMap<>(figures);
                for (ShardSnapshot s : snapshots) all.put(s.partition(), new PartitionFigures(s.nextOffset(), lagOf.applyAsDouble(s.partition()),
                        s.liveCount()));
                writeCluster(g, cluster, all, unreachable);
            }
            g.writeObjectFieldStart("totals");
            g.writeNumberField("partitions", snapshots.size());
            g.writeNumberField("live", live);
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    /**
     * {@code "cluster":{"self":url,"unreachable":{url:why}?,"partitions":[{"partition":0,"owner":url|"local"|null,
     * "unavailable":why?,"standbys":[url,...],"applied_offset":n?,"lag_records":n|null?,"live":n?},...],
     * "totals":{"partitions":n,"reported":n,"live":n}}}: the whole topic as
     * Kafka Streams assigned it (the partitions above are this instance's), with each partition's progress as its
     * owner reported it.
     */
    private static void writeCluster(JsonGenerator g, ClusterView cluster, Map<Integer, PartitionFigures> figures,
                                     Map<String, String> unreachable) throws IOException {
        Map<Integer, List<String>> standbys = cluster.standbys();
        g.writeObjectFieldStart("cluster");
        if (cluster.self() != null) g.writeStringField("self", cluster.self());
        if (!unreachable.isEmpty()) {
            g.writeObjectFieldStart("unreachable");
            for (var e : unreachable.entrySet()) g.writeStringField(e.getKey(), e.getValue());
            g.writeEndObject();
        }
        g.writeArrayFieldStart("partitions");
        long live = 0;
        int reported = 0;
        for (var e : cluster.owners().entrySet()) {
            g.writeStartObject();
            g.writeNumberField("partition", e.getKey());
            switch (e.getValue()) {
                case ClusterView.Owner.Local l -> g.writeStringField("owner", cluster.self() != null ? cluster.self() : "local");
                case ClusterView.Owner.Remote r -> g.writeStringField("owner", r.baseUrl());
                case ClusterView.Owner.Unavailable u -> {
                    g.writeNullField("owner");
                    g.writeStringField("unavailable", u.reason());
                }
            }
            g.writeArrayFieldStart("standbys");
            for (String s : standbys.getOrDefault(e.getKey(), List.of())) g.writeString(s);
            g.writeEndArray();
            PartitionFigures f = figures.get(e.getKey());
            if (f != null) {
                g.writeNumberField("applied_offset", f.appliedOffset());
                if (Double.isNaN(f.lagRecords())) g.writeNullField("lag_records");
                else g.writeNumberField("lag_records", (long) f.lagRecords());
                if (f.live() >= 0) {
                    g.writeNumberField("live", f.live());
                    live += f.live();
                    reported++;
                }
            }
            g.writeEndObject();
        }
        g.writeEndArray();
        // the whole topic's figures, summed over the partitions whose owners reported them
        g.writeObjectFieldStart("totals");
        g.writeNumberField("partitions", cluster.owners().size());
        g.writeNumberField("reported", reported);
        g.writeNumberField("live", live);
        g.writeEndObject();
        g.writeEndObject();
    }

    private static void writeBackend(JsonGenerator g, DeviceBackend backend) throws IOException {
        g.writeObjectFieldStart("backend");
        g.writeStringField("kind", backend.kind());
        g.writeStringField("reason", backend.reason());
        g.writeArrayFieldStart("devices");
        for (DeviceBackend.DeviceInfo d : backend.devices()) {
            g.writeStartObject();
            g.writeStringField("device", d.device());
            g.writeStringField("name", d.name());
            g.writeNumberField("total_bytes", d.totalBytes());
            g.writeNumberField("budget_bytes", d.budgetBytes());
            g.writeNumberField("reserved_bytes", d.reservedBytes());
            g.writeNumberField("used_bytes", d.usedBytes());
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
    }

    /** Bytes per vector in memory and on disk, and the durable state: how it was restored, what it covers. */
    private static void writeStorage(JsonGenerator g, ShardSnapshot s, DurableShard durable, int opens) throws IOException {
        long live = Math.max(1, s.liveCount());
        long memory = s.memoryBytes();
        g.writeNumberField("memory_bytes", memory);
        g.writeNumberField("memory_bytes_per_vector", Math.round(memory / (double) live));
        if (durable == null) {
            g.writeNullField("storage");
            return;
        }
        DurableShard.Info info = durable.info();
        g.writeObjectFieldStart("storage");
        g.writeStringField("restored_from", info.restorePath().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        g.writeNumberField("restore_ms", info.restoreMillis());
        g.writeNumberField("opens", opens);
        g.writeNumberField("applied_offset", info.appliedOffset());
        g.writeNumberField("checkpoint_offset", info.checkpointOffset());
        g.writeNumberField("log_from", info.logFrom());
        g.writeNumberField("disk_bytes", info.diskBytes());
        g.writeNumberField("disk_bytes_per_vector", Math.round(info.diskBytes() / (double) live));
        g.writeEndObject();
    }

    /** The shard's layers: hot size, tombstones, and its IVF-PQ base (null until compaction built one). */
    private static void writeBase(JsonGenerator g, ShardSnapshot s) throws IOException {
        g.writeNumberField("hot_size", s.hotCount());
        g.writeNumberField("tombstones", s.tombstones().count());
        var base = s.base();
        if (base == null) {
            g.writeNullField("base");
            return;
        }
        g.writeObjectFieldStart("base");
        g.writeNumberField("version", base.version());
        g.writeStringField("kind", "ivf-pq");
        g.writeNumberField("size", base.size());
        g.writeNumberField("lists", base.index().nlist());
        g.writeNumberField("pq_m", base.index().m());
        g.writeNumberField("covers_offset", base.coversOffset());
        g.writeNumberField("built_at_ms", base.builtAtMillis());
        g.writeNumberField("build_ms", base.buildMillis());
        g.writeEndObject();
        g.writeObjectFieldStart("last_compaction");
        g.writeNumberField("at_ms", base.builtAtMillis());
        g.writeStringField("trigger", base.trigger());
        g.writeEndObject();
    }

    /** {@code {"status":"<status>"}} */
    Buffer status(String status) {
        return render(g -> {
            g.writeStartObject();
            g.writeStringField("status", status);
            g.writeEndObject();
        });
    }

    /** {@code {"error":{"code":...,"message":...}}} */
    Buffer error(String code, String message) {
        return render(g -> {
            g.writeStartObject();
            g.writeObjectFieldStart("error");
            g.writeStringField("code", code);
            g.writeStringField("message", message);
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    private static void writeHits(JsonGenerator g, List<SearchHit> hits, boolean includeMetadata) throws IOException {
        g.writeArrayFieldStart("results");
        for (SearchHit hit : hits) {
            g.writeStartObject();
            g.writeStringField("id", hit.id());
            g.writeNumberField("score", hit.score());
            g.writeNumberField("partition", hit.partition());
            if (includeMetadata && hit.metadataJson() != null) {
                g.writeFieldName("metadata");
                writeMetadata(g, hit.metadataJson());
            }
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void writeSnapshot(JsonGenerator g, Map<Integer, Long> offsets, Map<Integer, Long> versions,
                                      java.util.Collection<Integer> missing, java.util.Collection<Integer> stale) throws IOException {
        g.writeObjectFieldStart("snapshot");
        g.writeObjectFieldStart("offsets");
        for (var e : offsets.entrySet()) g.writeNumberField(Integer.toString(e.getKey()), e.getValue());
        g.writeEndObject();
        g.writeObjectFieldStart("versions");
        for (var e : versions.entrySet()) g.writeNumberField(Integer.toString(e.getKey()), e.getValue());
        g.writeEndObject();
        if (missing != null && !missing.isEmpty()) {
            g.writeArrayFieldStart("missing");
            for (int p : missing) g.writeNumber(p);
            g.writeEndArray();
        }
        if (stale != null && !stale.isEmpty()) {
            g.writeArrayFieldStart("stale");
            for (int p : stale) g.writeNumber(p);
            g.writeEndArray();
        }
        g.writeEndObject();
    }

    private static void writeMetadata(JsonGenerator g, String metadataJson) throws IOException {
        if (metadataJson == null || metadataJson.isBlank()) g.writeNull();
        else g.writeRawValue(metadataJson);
    }

    private static Buffer render(Body body) {
        try (ByteArrayBuilder out = new ByteArrayBuilder(512)) {
            try (JsonGenerator g = JSON.createGenerator(out)) {
                body.write(g);
            }
            return Buffer.buffer(out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
