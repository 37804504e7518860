// The Kafka plumbing against a real broker: where a producer puts a keyed record (as the Java
// client would, so the access, notifications and quarantine topics share the events' partitions),
// and where a reader starts when asked for the beginning.
#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "carelog/kafka/kafka.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;

namespace {

// Deletes the records of `partition` below `before` (what retention does to an old segment).
void delete_records(const std::string& brokers, const std::string& topic, int partition, std::int64_t before) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
    std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr),
                                                          rd_kafka_destroy);
    REQUIRE(rk);
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = before;
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(offsets);
    rd_kafka_topic_partition_list_destroy(offsets);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
    rd_kafka_DeleteRecords(rk.get(), &del, 1, nullptr, q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000);
    REQUIRE(ev);
    INFO((rd_kafka_event_error_string(ev) ? rd_kafka_event_error_string(ev) : ""));
    CHECK(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
    const rd_kafka_topic_partition_list_t* done =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    REQUIRE(done);
    REQUIRE(done->cnt == 1);
    CHECK(done->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(done->elems[0].offset == before);  // the partition's new log start
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
}

}  // namespace

TEST_CASE("kafka: a keyed record lands where partition_for puts its key, and a reader asked for the beginning "
          "starts at a partition's first record, also after its first records were deleted") {
    kafka::config cfg;
    cfg.brokers = test_brokers();
    cfg.topic_prefix = "kafka-test-" + fresh_suffix() + ".";
    cfg.partitions = 12;
    const std::string topic = cfg.events_topic();
    REQUIRE(kafka::ensure_topic(cfg, topic).value() == 12);

    const std::string key = "agency-of-the-test";
    const int p = kafka::partition_for(key, 12);
    const int empty = (p + 1) % 12;
    auto out = kafka::producer::create(cfg);
    REQUIRE(out);
    for (int i = 0; i < 10; ++i) {
        const std::string v = "record " + std::to_string(i);
        auto off = (*out)->send(topic, key, std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()), {});
        REQUIRE(off);
        REQUIRE(*off == i);
    }

    // Reads `partition` from `from` until its end; the offsets read, and where the end was reported.
    auto read_all = [&](int partition, std::int64_t from) {
        auto reader = kafka::log_reader::open(cfg, topic, {{partition, from}});
        REQUIRE(reader);
        std::vector<std::int64_t> offsets;
        std::vector<std::string> values;
        std::optional<std::int64_t> end;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!end && std::chrono::steady_clock::now() < until) {
            auto n = (*reader)->poll(
                std::chrono::milliseconds(100),
                [&](const kafka::record& r) {
                    offsets.push_back(r.offset);
                    values.emplace_back(reinterpret_cast<const char*>(r.value.data()), r.value.size());
                },
                [&](int q, std::int64_t next) {
                    if (q == partition) end = next;
                });
            REQUIRE(n);
        }
        REQUIRE(end);
        return std::tuple{offsets, values, *end};
    };

    SECTION("from the beginning") {
        auto [offsets, values, end] = read_all(p, 0);
        REQUIRE(offsets.size() == 10);
        CHECK(offsets.front() == 0);
        CHECK(values.front() == "record 0");
        CHECK(end == 10);
    }
    SECTION("from the beginning, after the partition's first four records were deleted") {
        delete_records(cfg.brokers, topic, p, 4);
        auto [offsets, values, end] = read_all(p, 0);
        REQUIRE(offsets.size() == 6);
        CHECK(offsets.front() == 4);
        CHECK(values.front() == "record 4");
        CHECK(offsets.back() == 9);
        CHECK(end == 10);
    }
    SECTION("an empty partition") {
        auto [offsets, values, end] = read_all(empty, 0);
        CHECK(offsets.empty());
        CHECK(end == 0);
    }
}
