package io.vectorstream.api;

import io.vectorstream.index.SearchHit;
import io.vectorstream.index.SearchResult;
import io.vectorstream.index.ShardSnapshot;
import io.vectorstream.kernels.Metric;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One query's answer as the API renders it, from this instance's shards, other instances', or both merged.
 *
 * @param hits     best first
 * @param offsets  per partition that answered: the next input offset its snapshot reflects
 * @param versions per partition that answered: its snapshot version
 * @param plans    per partition, for a filtered search: the plan it ran
 */
record Answer(List<SearchHit> hits, Map<Integer, Long> offsets, Map<Integer, Long> versions, Map<Integer, String> plans) {

    static Answer of(SearchResult result) {
        Map<Integer, Long> offsets = new TreeMap<>(), versions = new TreeMap<>();
        for (ShardSnapshot s : result.snapshots()) {
            offsets.put(s.partition(), s.nextOffset());
            versions.put(s.partition(), s.version());
        }
        Map<Integer, String> plans = new TreeMap<>();
        result.plans().forEach((p, plan) -> plans.put(p, plan.wireName()));
        return new Answer(result.hits(), offsets, versions, plans);
    }

    /**
     * The best {@code k} of several answers for disjoint partitions (a partition answered twice, as can happen
     * while it moves, counts once: the first answer that has it keeps it).
     */
    static Answer merge(List<Answer> answers, int k) {
        Map<Integer, Long> offsets = new TreeMap<>(), versions = new TreeMap<>();
        Map<Integer, String> plans = new TreeMap<>();
        List<SearchHit> hits = new ArrayList<>();
        for (Answer a : answers) {
            for (SearchHit h : a.hits) if (!offsets.containsKey(h.partition())) hits.add(h);
            a.offsets.forEach(offsets::putIfAbsent);
            a.versions.forEach(versions::putIfAbsent);
            a.plans.forEach(plans::putIfAbsent);
        }
        hits.sort(Comparator.comparingDouble(SearchHit::distance));
        return new Answer(hits.size() > k ? List.copyOf(hits.subList(0, k)) : hits, offsets, versions, plans);
    }

    /** A hit as another instance rendered it: its distance recovered from the score. */
    static SearchHit remoteHit(String id, float score, String metadataJson, int partition, Metric metric) {
        return new SearchHit(id, metric == Metric.L2 ? score : -score, score, metadataJson, partition);
    }
}
