// Topic administration: create the event topic when missing, refuse one that could lose events.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "carelog/base/shared_object.hpp"
#include "common.hpp"

namespace carelog::kafka {
using namespace detail;

int partition_for(std::string_view key, int partition_count) {
    return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partition_count, nullptr, nullptr);
}

std::string library_in_use() {
    return std::string("librdkafka ") + rd_kafka_version_str() + " from " +
           shared_object_of(reinterpret_cast<const void*>(&rd_kafka_version_str));
}

namespace {

struct queue_deleter {
    void operator()(rd_kafka_queue_t* q) const noexcept { rd_kafka_queue_destroy(q); }
};
using queue_ptr = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;

// Partition count of `topic`, 0 when the topic does not exist.
result<int> partition_count(rd_kafka_t* rk, const std::string& topic, std::chrono::milliseconds timeout) {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(timeout.count()));
    rd_kafka_topic_destroy(rkt);
    if (err) return std::unexpected(to_error(err, "metadata for " + topic));
    int n = 0;
    bool missing = true;
    for (int i = 0; i < md->topic_cnt; ++i) {
        if (topic != md->topics[i].topic) continue;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;
        if (md->topics[i].err) {
            auto e = to_error(md->topics[i].err, "metadata for " + topic);
            rd_kafka_metadata_destroy(md);
            return std::unexpected(e);
        }
        missing = false;
        n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    return missing ? 0 : n;
}

// A topic just created shows in the broker's metadata once the controller's record of it has
// reached the broker (a few hundred ms on KRaft): asked every 25 ms, for at most cfg.timeout.
result<int> wait_visible(rd_kafka_t* rk, const config& cfg, const std::string& topic) {
    const auto until = std::chrono::steady_clock::now() + cfg.timeout;
    for (;;) {
        auto n = partition_count(rk, topic, cfg.timeout);
        if (!n || *n > 0) return n;
        if (std::chrono::steady_clock::now() >= until)
            return fail(errc::unavailable, "topic " + topic + " not visible after creation");
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
}

result<void> create(rd_kafka_t* rk, const config& cfg, const std::string& topic, const std::string& retention_ms = "-1") {
    char errstr[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), cfg.partitions, cfg.replication_factor, errstr, sizeof errstr);
    if (!nt) return fail(errc::internal, std::string("NewTopic: ") + errstr);
    rd_kafka_NewTopic_set_config(nt, "retention.ms", retention_ms.c_str());
    rd_kafka_NewTopic_set_config(nt, "retention.bytes", "-1");
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
    rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", std::to_string(cfg.min_insync_replicas).c_str());
    queue_ptr q(rd_kafka_queue_new(rk));
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, static_cast<int>(cfg.timeout.count()), errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q.get());
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q.get(), static_cast<int>(cfg.timeout.count() * 2));
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    if (!ev) return fail(errc::unavailable, "CreateTopics timed out for " + topic);
    result<void> out;
    if (rd_kafka_event_error(ev)) {
        out = fail(errc::unavailable, std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t** res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; ++i) {
            auto e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                out = fail(errc::internal, std::string("CreateTopics ") + topic + ": " +
                                               (rd_kafka_topic_result_error_string(res[i])
                                                    ? rd_kafka_topic_result_error_string(res[i])
                                                    : rd_kafka_err2str(e)));
        }
    }
    rd_kafka_event_destroy(ev);
    if (out) spdlog::info("created topic {} ({} partitions, rf {})", topic, cfg.partitions, cfg.replication_factor);
    return out;
}

result<std::map<std::string, std::string>> describe(rd_kafka_t* rk, const config& cfg, const std::string& topic) {
    char errstr[512];
    rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    queue_ptr q(rd_kafka_queue_new(rk));
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(cfg.timeout.count()), errstr, sizeof errstr);
    rd_kafka_DescribeConfigs(rk, &res, 1, opts, q.get());
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q.get(), static_cast<int>(cfg.timeout.count() * 2));
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_ConfigResource_destroy(res);
    if (!ev) return fail(errc::unavailable, "DescribeConfigs timed out for " + topic);
    std::map<std::string, std::string> out;
    result<std::map<std::string, std::string>> r = out;
    if (rd_kafka_event_error(ev)) {
        r = fail(errc::unavailable, std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_ConfigResource_t** rs =
            rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &cnt);
        for (size_t i = 0; i < cnt; ++i) {
            // A broker that has not learnt of a topic just created elsewhere in the cluster answers
            // this resource with an error (and no entries): not an answer about the topic.
            if (auto err = rd_kafka_ConfigResource_error(rs[i]); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char* why = rd_kafka_ConfigResource_error_string(rs[i]);
                rd_kafka_event_destroy(ev);
                return fail(errc::unavailable, "DescribeConfigs for " + topic + ": " +
                                                   (why ? std::string(why) : std::string(rd_kafka_err2str(err))));
            }
            size_t n = 0;
            const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &n);
            for (size_t k = 0; k < n; ++k) {
                const char* v = rd_kafka_ConfigEntry_value(entries[k]);
                out[rd_kafka_ConfigEntry_name(entries[k])] = v ? v : "";
            }
        }
        r = out;
    }
    rd_kafka_event_destroy(ev);
    return r;
}

}  // namespace

result<int> ensure_topic(const config& cfg, const std::string& topic) {
    auto conf = make_conf(cfg, {});
    if (!conf) return std::unexpected(conf.error());
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(rk.error());
    auto n = partition_count(rk->get(), topic, cfg.timeout);
    if (!n) return n;
    if (*n == 0) {
        if (auto c = create(rk->get(), cfg, topic); !c) return std::unexpected(c.error());
        n = wait_visible(rk->get(), cfg, topic);
        if (!n) return n;
    }
    auto configs = describe(rk->get(), cfg, topic);
    if (!configs) return std::unexpected(configs.error());
    if (!configs->contains("retention.ms"))  // an empty answer is no answer: ask again later
        return fail(errc::unavailable, "the broker described no configuration for " + topic + " yet");
    const auto& c = *configs;
    auto get = [&](const char* k) { auto it = c.find(k); return it == c.end() ? std::string() : it->second; };
    // Every reason at once, so an operator fixes the topic in one go.
    std::string problems;
    auto add = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
    if (get("retention.ms") != "-1")
        add("retention.ms=" + get("retention.ms") + " (must be -1: the event log keeps every event)");
    if (get("cleanup.policy").find("compact") != std::string::npos)
        add("cleanup.policy=" + get("cleanup.policy") + " (must be delete: the event log is never compacted)");
    if (get("retention.bytes") != "" && get("retention.bytes") != "-1")
        add("retention.bytes=" + get("retention.bytes") + " (must be -1)");
    if (!problems.empty()) return fail(errc::internal, "topic " + topic + " could lose events: " + problems);
    return *n;
}

result<int> ensure_notifications_topic(const config& cfg, const std::string& topic, std::int64_t retention_ms) {
    if (retention_ms <= 0) return fail(errc::internal, "the notifications topic needs a finite retention");
    auto conf = make_conf(cfg, {});
    if (!conf) return std::unexpected(conf.error());
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(rk.error());
    auto n = partition_count(rk->get(), topic, cfg.timeout);
    if (!n || *n > 0) return n;
    if (auto c = create(rk->get(), cfg, topic, std::to_string(retention_ms)); !c) return std::unexpected(c.error());
    return wait_visible(rk->get(), cfg, topic);
}

}  // namespace carelog::kafka
