// A check that a broker does what carelog needs, run by `ops/kafka smoke` on the broker's own
// classpath (Java's single-file source launcher, no build): create a topic, write with a
// transactional producer (one committed, one aborted, one committed transaction) and read back
// with read_committed, which must see exactly the committed records. Also `topic NAME [PARTITIONS]
// [KEY=VALUE...]`, which creates a topic, because the Kafka jars the broker runs on have no topic
// command and kcat cannot create topics.
// Its logging (warnings and errors to stderr) is set by ops/kafka on the command line:
// kafka-tool-log4j.properties for a Kafka 3.x classpath, kafka-tool-log4j2.properties for 4.x.
//   java -cp 'var/kafka-libs-VERSION/*' ops/kafka-smoke.java BOOTSTRAP smoke
//   java -cp 'var/kafka-libs-VERSION/*' ops/kafka-smoke.java BOOTSTRAP topic NAME [PARTITIONS] [KEY=VALUE...]

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class KafkaSmoke {
    public static void main(String[] args) throws Exception {
        if (args.length < 2) usage();
        String bootstrap = args[0];
        switch (args[1]) {
            case "smoke" -> smoke(bootstrap);
            case "topic" -> {
                if (args.length < 3) usage();
                int partitions = args.length > 3 ? Integer.parseInt(args[3]) : 12;
                Map<String, String> configs = new HashMap<>();
                for (int i = 4; i < args.length; i++) {
                    String[] kv = args[i].split("=", 2);
                    if (kv.length != 2) usage();
                    configs.put(kv[0], kv[1]);
                }
                try (Admin admin = admin(bootstrap)) {
                    createTopic(admin, args[2], partitions, configs);
                    System.out.println("created topic " + args[2] + " with " + partitions + " partitions");
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof TopicExistsException) {
                        System.out.println("topic " + args[2] + " already exists");
                    } else {
                        throw e;
                    }
                }
            }
            default -> usage();
        }
    }

    static void usage() {
        System.err.println("usage: kafka-smoke.java BOOTSTRAP smoke | BOOTSTRAP topic NAME [PARTITIONS] [KEY=VALUE...]");
        System.exit(2);
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(p);
    }

    static void createTopic(Admin admin, String name, int partitions, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs))).all().get();
    }

    static void smoke(String bootstrap) throws Exception {
        long started = System.nanoTime();
        String topic = "carelog-smoke-" + System.currentTimeMillis();
        try (Admin admin = admin(bootstrap)) {
            createTopic(admin, topic, 3, Map.of());
            try {
                Properties pp = new Properties();
                pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-tx");
                pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
                pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
                try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
                    producer.initTransactions();
                    for (String[] tx : new String[][] {{"committed-1", "commit"}, {"aborted", "abort"}, {"committed-2", "commit"}}) {
                        producer.beginTransaction();
                        producer.send(new ProducerRecord<>(topic, 0, "k", tx[0])).get();
                        if (tx[1].equals("commit")) producer.commitTransaction(); else producer.abortTransaction();
                    }
                }
                List<String> committed = read(bootstrap, topic, "read_committed", 2);
                List<String> uncommitted = read(bootstrap, topic, "read_uncommitted", 3);
                if (!committed.equals(List.of("committed-1", "committed-2"))) {
                    fail("read_committed saw " + committed + ", expected [committed-1, committed-2]");
                }
                if (!uncommitted.equals(List.of("committed-1", "aborted", "committed-2"))) {
                    fail("read_uncommitted saw " + uncommitted + ", expected all three records");
                }
            } finally {
                admin.deleteTopics(Set.of(topic)).all().get();
            }
        }
        System.out.printf("kafka smoke: ok (topic created, 2 transactions committed and 1 aborted, read_committed saw only the committed records) in %.1f s%n",
            (System.nanoTime() - started) / 1e9);
    }

    static List<String> read(String bootstrap, String topic, String isolation, int expected) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<String> seen = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 20_000;
            // Read to the end offset so that a record that should not be visible has its chance to show up.
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            while (System.currentTimeMillis() < deadline && consumer.position(tp) < end) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) seen.add(r.value());
            }
            if (consumer.position(tp) < end) fail(isolation + " consumer did not reach the end of " + tp + " in 20 s; saw " + seen);
        }
        if (seen.size() != expected) fail(isolation + " saw " + seen.size() + " records, expected " + expected + ": " + seen);
        return seen;
    }

    static void fail(String why) {
        System.err.println("kafka smoke: FAILED: " + why);
        System.exit(1);
    }
}
