// Readers of the event log: read_committed consumers with manual assignment (every carelogd keeps
// full projections of its own, so no consumer group splits the partitions) and the writer's
// catch-up read to the end of one partition.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <mutex>
#include <random>

#include "carelog/base/ids.hpp"
#include "common.hpp"

namespace carelog::kafka {
using namespace detail;

struct log_reader::impl {
    rk_ptr rk;
    rd_kafka_queue_t* queue = nullptr;  // the consumer's queue, drained in batches by poll
    std::string topic;
    mutable std::mutex mu;
    std::map<int, std::int64_t> positions;
    ~impl() {
        if (queue) rd_kafka_queue_destroy(queue);
        if (rk) {
            auto err = rd_kafka_consumer_close(rk.get());
            (void)err;  // closing an assign()-only consumer commits nothing; an error changes nothing
        }
    }
};

log_reader::log_reader(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
log_reader::~log_reader() = default;

result<std::unique_ptr<log_reader>> log_reader::open(const config& cfg, const std::string& topic,
                                                     const std::vector<start>& starts, reader_tuning ahead) {
    random_ids ids;
    auto conf = make_conf(cfg, {
                                   {"group.id", "carelogd-reader-" + ids.next_uuid()},
                                   {"enable.auto.commit", "false"},
                                   {"enable.auto.offset.store", "false"},
                                   {"isolation.level", "read_committed"},
                                   {"enable.partition.eof", "true"},
                                   {"auto.offset.reset", "earliest"},
                                   {"fetch.wait.max.ms", std::to_string(ahead.idle_fetch_ms)},
                                   {"fetch.error.backoff.ms", "50"},
                                   {"check.crcs", "true"},
                                   {"queued.max.messages.kbytes", std::to_string(ahead.max_kbytes)},
                                   {"queued.min.messages", std::to_string(ahead.min_messages)},
                               });
    if (!conf) return std::unexpected(conf.error());
    auto rk = make_client(RD_KAFKA_CONSUMER, *conf);
    if (!rk) return std::unexpected(rk.error());
    auto p = std::make_unique<impl>();
    p->topic = topic;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(starts.size()));
    for (const auto& s : starts) {
        // An absolute offset, 0 for the beginning: librdkafka looks a logical one (BEGINNING) up
        // with the partition's leader first, which it cannot ask before it has the topic's
        // metadata and retries ~0.5 s later. A partition whose log starts later (retention)
        // answers 0 with OFFSET_OUT_OF_RANGE, and auto.offset.reset=earliest starts it there.
        rd_kafka_topic_partition_list_add(list, topic.c_str(), s.partition)->offset = std::max<std::int64_t>(s.offset, 0);
        p->positions[s.partition] = s.offset;
    }
    auto err = rd_kafka_assign(rk->get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return std::unexpected(to_error(err, "assign"));
    p->queue = rd_kafka_queue_get_consumer(rk->get());
    if (!p->queue) return fail(errc::internal, "consumer: no consumer queue");
    p->rk = std::move(*rk);
    return std::unique_ptr<log_reader>(new log_reader(std::move(p)));
}

result<int> log_reader::poll(std::chrono::milliseconds wait,
                             const std::function<void(const record&)>& on_record,
                             const std::function<void(int, std::int64_t)>& on_eof) {
    // The first message waits (up to `wait`); the rest of the batch is what the queue already holds.
    // carelog-replay verify of 500,000 records read in 1.37-1.41 s with one message per
    // rd_kafka_consumer_poll(), in 1.21-1.27 s draining the queue in batches (back to back, same topic).
    constexpr std::size_t most = 1000;
    std::array<rd_kafka_message_t*, most> batch;
    batch[0] = rd_kafka_consumer_poll(impl_->rk.get(), static_cast<int>(wait.count()));
    if (!batch[0]) return 0;
    const ssize_t more = rd_kafka_consume_batch_queue(impl_->queue, 0, batch.data() + 1, most - 1);
    const std::size_t count = 1 + static_cast<std::size_t>(std::max<ssize_t>(0, more));
    int n = 0;
    std::optional<error> failed;
    for (std::size_t i = 0; i < count; ++i) {
        rd_kafka_message_t* m = batch[i];
        if (failed) {  // after a fatal error: only released
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            {
                std::lock_guard lk(impl_->mu);
                impl_->positions[m->partition] = m->offset;
            }
            if (on_eof) on_eof(m->partition, m->offset);
        } else if (m->err) {
            auto e = m->err;
            std::string msg = rd_kafka_message_errstr(m);
            if (e == RD_KAFKA_RESP_ERR__FATAL || e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                failed = error::make(errc::internal, "consumer: " + msg);
            else if (e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                failed = error::make(errc::unavailable, "consumer: " + msg);
            else
                spdlog::debug("consumer: {}", msg);  // transport trouble: librdkafka retries by itself
        } else {
            record r;
            r.partition = m->partition;
            r.offset = m->offset;
            r.value = std::span(static_cast<const std::uint8_t*>(m->payload), m->len);
            r.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
            r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
            on_record(r);
            {
                std::lock_guard lk(impl_->mu);
                impl_->positions[m->partition] = m->offset + 1;
            }
            ++n;
        }
        rd_kafka_message_destroy(m);
    }
    if (failed) return std::unexpected(*failed);
    return n;
}

std::int64_t log_reader::position(int partition) const {
    std::lock_guard lk(impl_->mu);
    auto it = impl_->positions.find(partition);
    return it == impl_->positions.end() ? 0 : it->second;
}

std::int64_t log_reader::high_watermark(int partition) const {
    int64_t lo = -1, hi = -1;
    auto err = rd_kafka_get_watermark_offsets(impl_->rk.get(), impl_->topic.c_str(), partition, &lo, &hi);
    return err ? -1 : hi;
}

result<std::int64_t> read_to_end(const config& cfg, const std::string& topic, int partition, std::int64_t from,
                                 std::chrono::milliseconds deadline,
                                 const std::function<void(const record&)>& on_record) {
    auto reader = log_reader::open(cfg, topic, {{partition, from}});
    if (!reader) return std::unexpected(reader.error());
    auto until = std::chrono::steady_clock::now() + deadline;
    std::optional<std::int64_t> end;
    while (!end) {
        if (std::chrono::steady_clock::now() > until)
            return fail(errc::unavailable, "catching up partition " + std::to_string(partition) + " of " + topic +
                                               " timed out");
        auto r = (*reader)->poll(std::chrono::milliseconds(100), on_record,
                                 [&](int p, std::int64_t off) {
                                     if (p == partition) end = off;
                                 });
        if (!r) return std::unexpected(r.error());
    }
    return *end;
}

result<std::vector<std::int64_t>> high_watermarks(const config& cfg, const std::string& topic, int partitions) {
    auto conf = make_conf(cfg, {{"group.id", "carelogd-watermarks"}});
    if (!conf) return std::unexpected(conf.error());
    auto rk = make_client(RD_KAFKA_CONSUMER, *conf);
    if (!rk) return std::unexpected(rk.error());
    std::vector<std::int64_t> out;
    for (int p = 0; p < partitions; ++p) {
        int64_t lo = 0, hi = 0;
        auto err = rd_kafka_query_watermark_offsets(rk->get(), topic.c_str(), p, &lo, &hi,
                                                    static_cast<int>(cfg.timeout.count()));
        if (err) return std::unexpected(to_error(err, "watermarks of " + topic));
        out.push_back(hi);
    }
    rd_kafka_consumer_close(rk->get());
    return out;
}

namespace {
// A consumer handle for offset questions (no assignment, no group membership).
result<rk_ptr> offsets_client(const config& cfg) {
    random_ids ids;
    auto conf = make_conf(cfg, {{"group.id", "carelog-offsets-" + ids.next_uuid()},
                                {"enable.auto.commit", "false"},
                                {"isolation.level", "read_committed"}});
    if (!conf) return std::unexpected(conf.error());
    return make_client(RD_KAFKA_CONSUMER, *conf);
}
}  // namespace

result<std::map<int, std::pair<std::int64_t, std::int64_t>>> watermarks(const config& cfg, const std::string& topic,
                                                                         const std::vector<int>& partitions) {
    auto rk = offsets_client(cfg);
    if (!rk) return std::unexpected(rk.error());
    std::map<int, std::pair<std::int64_t, std::int64_t>> out;
    for (int p : partitions) {
        int64_t lo = -1, hi = -1;
        auto err = rd_kafka_query_watermark_offsets(rk->get(), topic.c_str(), p, &lo, &hi,
                                                    static_cast<int>(cfg.timeout.count()));
        if (err) return fail(errc::unavailable, "watermarks of " + topic + " partition " + std::to_string(p) + ": " +
                                                    rd_kafka_err2str(err));
        out[p] = {lo, hi};
    }
    return out;
}

result<std::map<int, std::int64_t>> offsets_for_time(const config& cfg, const std::string& topic,
                                                      const std::vector<int>& partitions, std::int64_t time_ms) {
    auto rk = offsets_client(cfg);
    if (!rk) return std::unexpected(rk.error());
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
    for (int p : partitions) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = time_ms;
    auto err = rd_kafka_offsets_for_times(rk->get(), list, static_cast<int>(cfg.timeout.count()));
    std::map<int, std::int64_t> out;
    std::vector<int> past_end;
    if (!err) {
        for (int i = 0; i < list->cnt; ++i) {
            const auto& e = list->elems[i];
            if (e.err) {
                err = e.err;
                break;
            }
            if (e.offset >= 0)
                out[e.partition] = e.offset;
            else
                past_end.push_back(e.partition);  // no record at or after the time
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return fail(errc::unavailable, "offsets for a time in " + topic + ": " + rd_kafka_err2str(err));
    for (int p : past_end) {
        int64_t lo = -1, hi = -1;
        auto werr = rd_kafka_query_watermark_offsets(rk->get(), topic.c_str(), p, &lo, &hi,
                                                     static_cast<int>(cfg.timeout.count()));
        if (werr) return fail(errc::unavailable, "end offset of " + topic + ": " + rd_kafka_err2str(werr));
        out[p] = hi;
    }
    return out;
}

}  // namespace carelog::kafka
