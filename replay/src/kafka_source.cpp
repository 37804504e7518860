// Reading the event topic for carelog-replay. Records come from kafka::log_reader (read_committed,
// manual assignment, no offsets committed); the partition count comes from one metadata request,
// because kafka::ensure_topic would create a missing topic and an auditor's typo must not.
#include "carelog/replay/kafka_source.hpp"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "carelog/kafka/kafka.hpp"

namespace carelog::replay {

namespace {

kafka::config to_config(const source_options& o) {
    kafka::config c;
    c.brokers = o.brokers;
    c.topic_prefix = o.topic_prefix;
    c.timeout = o.timeout;
    return c;
}

struct rk_deleter {
    void operator()(rd_kafka_t* rk) const noexcept { rd_kafka_destroy(rk); }
};

}  // namespace

int partition_of(std::string_view agency_id, int partition_count) {
    return kafka::partition_for(agency_id, partition_count);
}

result<int> partition_count(const source_options& opts, const std::string& topic) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    const std::pair<const char*, std::string> settings[] = {
        {"bootstrap.servers", opts.brokers},
        {"client.id", "carelog-replay"},
        {"socket.timeout.ms", std::to_string(std::max<long>(1000, opts.timeout.count()))},
        {"allow.auto.create.topics", "false"},
        {"log.connection.close", "false"},
        {"log_level", "0"},  // connection chatter: the failure is reported once, below
    };
    for (const auto& [k, v] : settings) {
        if (rd_kafka_conf_set(conf, k, v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(errc::internal, std::string("kafka config ") + k + ": " + errstr);
        }
    }
    std::unique_ptr<rd_kafka_t, rk_deleter> rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return fail(errc::internal, std::string("rd_kafka_new: ") + errstr);
    }
    // All-topics metadata: asking for one topic by name could make a broker with
    // auto.create.topics.enable create it.
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk.get(), 1, nullptr, &md, static_cast<int>(opts.timeout.count()));
    if (err)
        return fail(errc::unavailable,
                    "metadata from " + opts.brokers + " for " + topic + ": " + rd_kafka_err2str(err));
    std::optional<int> n;
    std::string topic_error;
    for (int i = 0; i < md->topic_cnt; ++i) {
        if (topic != md->topics[i].topic) continue;
        if (md->topics[i].err && md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            topic_error = rd_kafka_err2str(md->topics[i].err);
        else if (!md->topics[i].err)
            n = md->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    if (!topic_error.empty()) return fail(errc::unavailable, "metadata for " + topic + ": " + topic_error);
    if (!n || *n <= 0) return fail(errc::not_found, "topic " + topic + " does not exist on " + opts.brokers);
    return *n;
}

namespace {

using steady = std::chrono::steady_clock;

std::int64_t to_ms(micros t) { return t / 1000; }

// Where each partition's read starts: its beginning, or its first record at opts.from (less the
// clock margin).
result<std::map<int, std::int64_t>> start_offsets(const source_options& opts, const std::string& topic,
                                                  const std::vector<int>& partitions) {
    std::map<int, std::int64_t> out;
    if (!opts.from) {
        for (int p : partitions) out[p] = 0;
        return out;
    }
    return kafka::offsets_for_time(to_config(opts), topic, partitions,
                                   std::max<std::int64_t>(0, to_ms(*opts.from) - opts.clock_margin.count()));
}

// Prints "position, records/s, time left" on stderr about once a second.
class progress_line {
public:
    progress_line(bool on, std::int64_t expected) : on_(on), expected_(expected), start_(steady::now()) {}
    void tick(std::size_t done) {
        if (!on_) return;
        auto now = steady::now();
        if (now - last_ < std::chrono::seconds(1)) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        std::fprintf(stderr, "\rread %zu of ~%lld records", done, static_cast<long long>(expected_));
        if (expected_ > 0)
            std::fprintf(stderr, " (%.0f%%)", 100.0 * static_cast<double>(done) / static_cast<double>(expected_));
        std::fprintf(stderr, ", %.0f records/s", rate);
        if (rate > 0 && expected_ > static_cast<std::int64_t>(done))
            std::fprintf(stderr, ", ~%.0f s left", static_cast<double>(expected_ - static_cast<std::int64_t>(done)) / rate);
        std::fprintf(stderr, "   ");
        std::fflush(stderr);
        shown_ = true;
    }
    ~progress_line() {
        if (shown_) std::fprintf(stderr, "\n");
    }

private:
    bool on_;
    std::int64_t expected_;
    steady::time_point start_, last_{};
    bool shown_ = false;
};

// Reads `partitions` with one reader until each has reported its end once (or passed opts.to).
result<std::size_t> read_together(const source_options& opts, const std::string& topic,
                                  const std::vector<int>& partitions,
                                  const std::function<void(const record_view&)>& on_record) {
    if (partitions.empty()) return 0;
    auto first = start_offsets(opts, topic, partitions);
    if (!first) return std::unexpected(first.error());
    std::int64_t expected = 0;
    if (opts.progress) {
        auto marks = kafka::watermarks(to_config(opts), topic, partitions);
        if (!marks) return std::unexpected(marks.error());
        for (const auto& [p, lh] : *marks) expected += std::max<std::int64_t>(0, lh.second - std::max(lh.first, (*first)[p]));
    }
    progress_line progress(opts.progress, expected);
    std::vector<kafka::log_reader::start> starts;
    for (int p : partitions) starts.push_back({p, (*first)[p]});
    // Verifying and exporting outrun the fetches: a deep prefetch keeps the reader from idling
    // (librdkafka pauses a partition whose queue is full; see kafka::reader_tuning).
    auto reader = kafka::log_reader::open(to_config(opts), topic, starts, {262144, 1000000});
    if (!reader) return std::unexpected(reader.error());
    const std::int64_t stop_after_ms =
        opts.to ? to_ms(*opts.to) + opts.clock_margin.count() : std::numeric_limits<std::int64_t>::max();
    std::map<int, std::int64_t> ends;
    std::size_t total = 0;
    auto last_progress = steady::now();
    while (ends.size() < partitions.size()) {
        bool progressed = false;
        auto n = (*reader)->poll(
            std::chrono::milliseconds(100),
            [&](const kafka::record& r) {
                progressed = true;
                // Records appended after the end we reached belong to a later run.
                if (auto it = ends.find(r.partition); it != ends.end() && r.offset >= it->second) return;
                // Past the span asked for: this partition ends here.
                if (r.timestamp_ms > stop_after_ms) {
                    ends.try_emplace(r.partition, r.offset);
                    return;
                }
                on_record(record_view{r.partition, r.offset, r.key, r.value});
                ++total;
            },
            [&](int partition, std::int64_t next_offset) {
                progressed = true;
                ends.try_emplace(partition, next_offset);
            });
        if (!n) return std::unexpected(n.error());
        progress.tick(total);
        auto now = steady::now();
        if (progressed) {
            last_progress = now;
        } else if (now - last_progress > opts.timeout) {
            std::string waiting;
            for (int p : partitions)
                if (!ends.contains(p)) waiting += (waiting.empty() ? "" : ",") + std::to_string(p);
            return fail(errc::unavailable, "reading " + topic + " from " + opts.brokers + ": no progress for " +
                                               std::to_string(opts.timeout.count()) + " ms (partitions " + waiting +
                                               " not read to their end)");
        }
    }
    return total;
}

}  // namespace

std::string describe(const read_stats& s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "read %zu records in %.2f s (%.0f records/s)", s.records, s.seconds,
                  s.seconds > 0 ? static_cast<double>(s.records) / s.seconds : 0.0);
    return buf;
}

result<std::size_t> read_partitions(const source_options& opts, const std::string& topic,
                                    const std::vector<int>& partitions, read_order order,
                                    const std::function<void(const record_view&)>& on_record, read_stats* stats) {
    const auto t0 = steady::now();
    auto done = [&](result<std::size_t> r) {
        if (stats && r) *stats = {*r, std::chrono::duration<double>(steady::now() - t0).count()};
        return r;
    };
    if (order == read_order::interleaved) return done(read_together(opts, topic, partitions, on_record));
    std::size_t total = 0;
    for (int p : partitions) {
        auto n = read_together(opts, topic, {p}, on_record);
        if (!n) return n;
        total += *n;
    }
    return done(total);
}

}  // namespace carelog::replay
