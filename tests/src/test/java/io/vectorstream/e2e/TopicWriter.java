package io.vectorstream.e2e;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;

/**
 * Writes JSON upserts and tombstones to a topic with a real producer and keeps what the index must then hold:
 * the live set (last upsert of every id not deleted since) and, per partition, the end offset of what was written.
 */
final class TopicWriter implements AutoCloseable {
    private final String topic;
    private final int dim;
    private final KafkaProducer<String, String> producer;
    final Map<String, float[]> live = new ConcurrentHashMap<>();
    final Map<Integer, Long> end = new ConcurrentHashMap<>();
    private int next;

    TopicWriter(String bootstrap, String topic, int dim) {
        this.topic = topic;
        this.dim = dim;
        this.producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.LINGER_MS_CONFIG, 2,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000));
    }

    /** {@code inserts} new ids, then {@code changes} replacements or deletes of random existing ones; waits for the acks. */
    void churn(Random r, int inserts, int changes) throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (int i = 0; i < inserts; i++) sent.add(upsert("doc-" + next++, vector(r)));
        List<String> ids = new ArrayList<>(live.keySet());
        for (int i = 0; i < changes && !ids.isEmpty(); i++) {
            String id = ids.get(r.nextInt(ids.size()));
            sent.add(r.nextBoolean() ? delete(id) : upsert(id, vector(r)));
        }
        for (Future<RecordMetadata> f : sent) {
            RecordMetadata m = f.get();
            end.merge(m.partition(), m.offset() + 1, Math::max);
        }
    }

    private Future<RecordMetadata> upsert(String id, float[] v) {
        live.put(id, v);
        StringBuilder sb = new StringBuilder("{\"vector\":[");
        for (int d = 0; d < v.length; d++) sb.append(d == 0 ? "" : ",").append(v[d]);
        return producer.send(new ProducerRecord<>(topic, id, sb.append("]}").toString()));
    }

    private Future<RecordMetadata> delete(String id) {
        live.remove(id);
        return producer.send(new ProducerRecord<>(topic, id, null));
    }

    /** A clustered vector: one strong component plus noise. */
    float[] vector(Random r) {
        float[] v = new float[dim];
        int c = r.nextInt(dim);
        for (int d = 0; d < dim; d++) v[d] = (d == c ? 5f : 0f) + (float) r.nextGaussian();
        return v;
    }

    @Override
    public void close() {
        producer.close();
    }
}
