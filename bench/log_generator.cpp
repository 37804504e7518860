// carelog-loggen: writes a large, valid event log straight to <prefix>events, for the restart and
// rebuild benchmarks (ops/bench-rebuild). Every agency's events form a correct chain (sequence,
// prev_hash, hash) in the partition murmur2(agency id) % count puts it, exactly as carelogd's
// writer would have written them: an agency with its org_admin, then clients. Loopback only.
#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/kafka/kafka.hpp"

using namespace carelog;

namespace {

std::string uuid_of(std::uint64_t kind, std::uint64_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx", static_cast<unsigned long long>(kind),
                  static_cast<unsigned long long>(n));
    return buf;
}

struct agency {
    std::string id;
    std::uint64_t sequence = 0;
    sha256_digest last{};
    int partition = 0;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelog-loggen: a valid chained event log for restart and rebuild benchmarks"};
    std::string brokers, prefix;
    std::uint64_t total = 1'000'000;
    int agencies_n = 100, partitions = 12;
    app.add_option("--brokers", brokers, "loopback broker")->required();
    app.add_option("--topic-prefix", prefix, "writes <prefix>events (created with carelogd's settings)")->required();
    app.add_option("--events", total, "how many events in all");
    app.add_option("--agencies", agencies_n);
    app.add_option("--partitions", partitions, "partition count when the topic is created");
    CLI11_PARSE(app, argc, argv);
    if (brokers.rfind("127.0.0.1:", 0) != 0) {
        std::fprintf(stderr, "carelog-loggen only writes to a broker on 127.0.0.1\n");
        return 2;
    }

    kafka::config cfg;
    cfg.brokers = brokers;
    cfg.topic_prefix = prefix;
    cfg.partitions = partitions;
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
    const micros t0 = 1'790'000'000'000'000;  // 2026-09

    std::vector<agency> agencies;
    for (int i = 0; i < agencies_n; ++i) {
        agency a;
        a.id = uuid_of(0xa, static_cast<std::uint64_t>(i));
        a.partition = kafka::partition_for(a.id, *count);
        agencies.push_back(std::move(a));
    }
    auto emit = [&](agency& a, const std::string& aggregate, std::uint64_t version, events::payload p,
                    std::uint64_t n) {
        events::envelope e;
        e.event_id = uuid_of(0xe, n);
        e.agency_id = a.id;
        e.aggregate_type = std::string(events::aggregate_type_of(p));
        e.aggregate_id = aggregate;
        e.aggregate_version = version;
        e.sequence = ++a.sequence;
        e.occurred_at = t0 + static_cast<micros>(n) * 1000;
        e.actor_id = "operator";
        e.command_id = uuid_of(0xc, n);
        e.correlation_id = e.command_id;
        e.causation_id = e.command_id;
        e.prev_hash = a.last;
        e.data = std::move(p);
        auto bytes = events::encode(e);
        a.last = e.hash;
        const std::string type(events::event_type_name(e.data));
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(a.partition),
                                 RD_KAFKA_V_KEY(a.id.data(), a.id.size()),
                                 RD_KAFKA_V_VALUE(bytes.data(), bytes.size()),
                                 RD_KAFKA_V_HEADER("event-type", type.data(), static_cast<ssize_t>(type.size())),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        rd_kafka_poll(rk, 0);
    };

    const auto start = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    for (auto& a : agencies) {
        auto settings = events::default_settings("Agency " + a.id.substr(0, 8));
        emit(a, a.id, 1, events::AgencyCreated{"Agency " + a.id.substr(0, 8), "gen-" + a.id.substr(0, 8) + "-" +
                                                                                  std::to_string(n),
                                               settings},
             n++);
        events::StaffCreated admin;
        admin.first_name = "Ada";
        admin.last_name = "Admin";
        admin.gender = "female";
        admin.position = "Administrator";
        admin.email = "ada@example.org";
        admin.username = "aadmin";
        admin.role = "org_admin";
        admin.staff_type = "administration";
        admin.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        admin.require_password_change = true;
        emit(a, uuid_of(0x5, n), 1, std::move(admin), n);
        ++n;
    }
    static const char* firsts[] = {"Ann", "Bo", "Cruz", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo"};
    static const char* lasts[] = {"Lee", "Ng", "Ortiz", "Park", "Quinn", "Roth", "Sato", "Tran", "Uhl", "Vega"};
    for (std::uint64_t i = 0; n < total; ++i, ++n) {
        auto& a = agencies[i % agencies.size()];
        events::ClientAdded c{firsts[i % 10], std::string(lasts[(i / 10) % 10]) + std::to_string(i), "1990-01-02",
                              "", "", ""};
        emit(a, uuid_of(0xc1, n), 1, std::move(c), n);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::fprintf(stderr, "flush timed out\n");
        return 1;
    }
    rd_kafka_destroy(rk);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("loggen: %llu events over %d agencies in %.1f s (%.0f events/s)\n",
                static_cast<unsigned long long>(n), agencies_n, secs, static_cast<double>(n) / secs);
    return 0;
}
