// carelog-loggen: writes a large, valid event log straight to <prefix>events, for the restart and
// rebuild benchmarks (ops/bench-rebuild): the log of log_shape.hpp. Loopback only.
#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "log_shape.hpp"

using namespace carelog;

int main(int argc, char** argv) {
    CLI::App app{"carelog-loggen: a valid chained event log for restart and rebuild benchmarks"};
    std::string brokers, prefix;
    bench::log_shape shape;
    app.add_option("--brokers", brokers, "loopback broker")->required();
    app.add_option("--topic-prefix", prefix, "writes <prefix>events (created with carelogd's settings)")->required();
    app.add_option("--events", shape.events, "how many events in all");
    app.add_option("--agencies", shape.agencies);
    app.add_option("--staff", shape.staff, "staff members besides each agency's org_admin");
    app.add_option("--partitions", shape.partitions, "partition count when the topic is created");
    CLI11_PARSE(app, argc, argv);
    if (brokers.rfind("127.0.0.1:", 0) != 0) {
        std::fprintf(stderr, "carelog-loggen only writes to a broker on 127.0.0.1\n");
        return 2;
    }

    kafka::config cfg;
    cfg.brokers = brokers;
    cfg.topic_prefix = prefix;
    cfg.partitions = shape.partitions;
    auto count = kafka::ensure_topic(cfg, cfg.events_topic());
    if (!count) {
        std::fprintf(stderr, "topic: %s\n", count.error().detail.c_str());
        return 1;
    }

    char err[512];
    auto* conf = rd_kafka_conf_new();
    for (auto [k, v] : {std::pair{"bootstrap.servers", brokers.c_str()}, {"enable.idempotence", "true"},
                        {"acks", "all"}, {"linger.ms", "5"}, {"queue.buffering.max.messages", "1000000"},
                        {"message.max.bytes", "1000000"}})
        if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "%s: %s\n", k, err);
            return 2;
        }
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
        if (m->err) {
            std::fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
            std::exit(1);
        }
    });
    auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        std::fprintf(stderr, "producer: %s\n", err);
        return 2;
    }
    const std::string topic = cfg.events_topic();
    shape.partitions = *count;
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    bench::generate(shape, [&](int partition, const std::string& agency, const std::string& type,
                               const std::vector<std::uint8_t>& bytes) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_KEY(agency.data(), agency.size()),
                                 RD_KAFKA_V_VALUE(const_cast<std::uint8_t*>(bytes.data()), bytes.size()),
                                 RD_KAFKA_V_HEADER("event-type", type.data(), static_cast<ssize_t>(type.size())),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        rd_kafka_poll(rk, 0);
        ++n;
    });
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::fprintf(stderr, "flush timed out\n");
        return 1;
    }
    rd_kafka_destroy(rk);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("loggen: %llu events over %d agencies in %.1f s (%.0f events/s)\n",
                static_cast<unsigned long long>(n), shape.agencies, secs, static_cast<double>(n) / secs);
    return 0;
}
