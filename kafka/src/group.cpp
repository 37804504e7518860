// The consumer-group member of the notifier: subscribe, one record at a time, synchronous commits,
// and rewinding a partition to retry a record later (instead of blocking inside the handler, which
// would stop polling and get the member thrown out of the group after max.poll.interval.ms).
#include <spdlog/spdlog.h>

#include <vector>

#include "common.hpp"

namespace carelog::kafka {
using namespace detail;

struct group_consumer::impl {
    rk_ptr rk;
    std::string topic;
    rd_kafka_message_t* held = nullptr;  // the last record handed out (its payload is borrowed)
    ~impl() {
        if (held) rd_kafka_message_destroy(held);
        if (rk) (void)rd_kafka_consumer_close(rk.get());
    }
};

group_consumer::group_consumer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
group_consumer::~group_consumer() = default;

result<std::unique_ptr<group_consumer>> group_consumer::open(const config& cfg, const std::string& topic,
                                                             const std::string& group_id) {
    auto conf = make_conf(cfg, {
                                   {"group.id", group_id},
                                   {"enable.auto.commit", "false"},
                                   {"enable.auto.offset.store", "false"},
                                   {"auto.offset.reset", "earliest"},
                                   {"isolation.level", "read_committed"},
                                   {"partition.assignment.strategy", "cooperative-sticky"},
                                   {"session.timeout.ms", "10000"},
                                   {"heartbeat.interval.ms", "1000"},
                                   {"check.crcs", "true"},
                               });
    if (!conf) return std::unexpected(conf.error());
    auto rk = make_client(RD_KAFKA_CONSUMER, *conf);
    if (!rk) return std::unexpected(rk.error());
    rd_kafka_poll_set_consumer(rk->get());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    auto err = rd_kafka_subscribe(rk->get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return std::unexpected(to_error(err, "subscribe to " + topic));
    auto p = std::make_unique<impl>();
    p->rk = std::move(*rk);
    p->topic = topic;
    return std::unique_ptr<group_consumer>(new group_consumer(std::move(p)));
}

result<std::optional<record>> group_consumer::next(std::chrono::milliseconds wait) {
    if (impl_->held) {
        rd_kafka_message_destroy(impl_->held);
        impl_->held = nullptr;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk.get(), static_cast<int>(wait.count()));
    if (!m) return std::optional<record>{};
    if (m->err) {
        auto e = m->err;
        std::string msg = rd_kafka_message_errstr(m);
        rd_kafka_message_destroy(m);
        if (e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
            e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED)
            return fail(errc::internal, "group consumer: " + msg);
        if (e != RD_KAFKA_RESP_ERR__PARTITION_EOF) spdlog::debug("group consumer: {}", msg);
        return std::optional<record>{};
    }
    impl_->held = m;
    record r;
    r.partition = m->partition;
    r.offset = m->offset;
    r.value = std::span(static_cast<const std::uint8_t*>(m->payload), m->len);
    r.key = m->key ? std::string_view(static_cast<const char*>(m->key), m->key_len) : std::string_view{};
    return std::optional<record>{r};
}

result<void> group_consumer::commit(int partition, std::int64_t next_offset) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, impl_->topic.c_str(), partition)->offset = next_offset;
    auto err = rd_kafka_commit(impl_->rk.get(), list, 0 /* synchronous */);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return std::unexpected(to_error(err, "commit offset " + std::to_string(next_offset) + " of partition " +
                                                      std::to_string(partition)));
    return {};
}

result<void> group_consumer::rewind(int partition, std::int64_t offset) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, impl_->topic.c_str(), partition)->offset = offset;
    rd_kafka_error_t* e = rd_kafka_seek_partitions(impl_->rk.get(), list, 5000);
    std::string why;
    if (!e && list->elems[0].err) why = rd_kafka_err2str(list->elems[0].err);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        why = rd_kafka_error_string(e);
        rd_kafka_error_destroy(e);
    }
    if (!why.empty()) return fail(errc::unavailable, "rewind partition " + std::to_string(partition) + ": " + why);
    return {};
}

}  // namespace carelog::kafka
