package io.vectorstream.app;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Creates the input and dead-letter topics when they are missing; leaves existing ones alone. */
final class TopicSetup {
    private static final Logger LOG = LoggerFactory.getLogger(TopicSetup.class);

    private TopicSetup() {
    }

    /**
     * Returns how many partitions the input topic has. The dead-letter topic is created with as many (an existing
     * input topic may have another count than {@code --partitions}).
     */
    static int ensureTopics(Admin admin, ServerSettings s) throws Exception {
        Optional<Short> rf = s.replicationFactor() > 0 ? Optional.of(s.replicationFactor()) : Optional.empty();
        create(admin, s, new NewTopic(s.topic(), Optional.of(s.partitions()), rf));
        Map<String, TopicDescription> d = admin.describeTopics(List.of(s.topic())).allTopicNames().get(30, TimeUnit.SECONDS);
        int actual = d.get(s.topic()).partitions().size();
        if (actual != s.partitions()) {
            LOG.info("topic {} exists with {} partitions (one index shard per partition)", s.topic(), actual);
        }
        create(admin, s, new NewTopic(s.topology().dlqTopic(), Optional.of(actual), rf));
        return actual;
    }

    private static void create(Admin admin, ServerSettings s, NewTopic t) throws Exception {
        try {
            admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
            LOG.info("created topic {} with {} partitions", t.name(), t.numPartitions());
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("could not create topic " + t.name() + " on " + s.bootstrapServers()
                        + ": " + e.getCause().getMessage(), e.getCause());
            }
        }
    }
}
