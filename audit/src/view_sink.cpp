#include "carelog/audit/view_sink.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace carelog::audit {

namespace {
// The drain thread wakes at least this often, and at once when this many views wait.
constexpr auto drain_every = std::chrono::milliseconds(5);
constexpr std::size_t drain_at = 1024;
}  // namespace

result<std::unique_ptr<kafka_view_sink>> kafka_view_sink::create(const kafka::config& cfg, const options& opts) {
    if (auto t = kafka::ensure_topic(cfg, cfg.access_topic()); !t) return std::unexpected(t.error());
    auto p = kafka::buffered_producer::create(cfg, cfg.access_topic(), {opts.max_buffered, opts.linger_ms, "none"});
    if (!p) return std::unexpected(p.error());
    return std::unique_ptr<kafka_view_sink>(new kafka_view_sink(std::move(*p), opts));
}

kafka_view_sink::kafka_view_sink(std::unique_ptr<kafka::buffered_producer> p, options o)
    : out_(std::move(p)), opts_(o), thread_([this] { run(); }) {}

kafka_view_sink::~kafka_view_sink() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    // out_'s destructor waits for the broker's acknowledgements (bounded).
}

result<void> kafka_view_sink::record(events::record_viewed&& v) {
    const std::size_t on_the_way = queued_.load(std::memory_order_relaxed) + out_->stats().buffered;
    if (on_the_way >= opts_.max_buffered) {
        if (opts_.fail_closed) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            return fail(errc::unavailable, "the buffer of record views waiting for the access topic is full");
        }
        if (dropped_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0)
            spdlog::error("record view of {} by {} not recorded (fail-closed is off): the access topic's buffer is full",
                          v.subject_id, v.actor_id);
        return {};
    }
    std::size_t waiting;
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(v));
        waiting = queue_.size();
    }
    queued_.fetch_add(1, std::memory_order_relaxed);
    if (waiting == drain_at) wake_.notify_one();
    return {};
}

void kafka_view_sink::run() {
    std::vector<events::record_viewed> batch;
    for (;;) {
        bool stop;
        {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, drain_every, [&] { return stopping_ || queue_.size() >= drain_at; });
            batch.swap(queue_);
            stop = stopping_;
        }
        if (!batch.empty()) send(batch);
        batch.clear();
        if (stop) return;
    }
}

void kafka_view_sink::send(std::vector<events::record_viewed>& batch) {
    static const std::vector<kafka::header> headers{{"event-type", "RecordViewed"},
                                                    {"schema-version", "1"},
                                                    {"content-type", events::access_content_type}};
    for (auto& v : batch) {
        v.view_id = ids_.next_uuid();
        const auto bytes = events::encode(v);
        if (auto sent = out_->send(v.agency_id, bytes, headers); !sent) {
            // The read was answered: this view is lost. Never expected (record() keeps the total on
            // its way under the producer's own bound), so it is loud.
            unsent_.fetch_add(1, std::memory_order_relaxed);
            spdlog::error("record view {} of {} by {} could not be queued for the access topic: {}", v.view_id,
                          v.subject_id, v.actor_id, sent.error().detail);
        }
        queued_.fetch_sub(1, std::memory_order_relaxed);
    }
}

std::string kafka_view_sink::metrics_text() const {
    auto c = out_->stats();
    auto line = [](std::string& out, const char* name, const char* type, const char* help, std::uint64_t v) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
               std::to_string(v) + "\n";
    };
    std::string out;
    line(out, "carelog_access_views_delivered_total", "counter", "Record views acknowledged by the access topic.",
         c.delivered);
    line(out, "carelog_access_views_failed_total", "counter",
         "Record views lost: refused for good by the broker or not queued for it (each logged).",
         c.failed + unsent_.load(std::memory_order_relaxed));
    line(out, "carelog_access_views_buffered", "gauge",
         "Record views on their way: queued on this node or not yet acknowledged by the broker.",
         queued_.load(std::memory_order_relaxed) + c.buffered);
    line(out, "carelog_access_reads_refused_total", "counter",
         "Reads answered 503 because their view could not be recorded.", refused_.load(std::memory_order_relaxed));
    line(out, "carelog_access_views_dropped_total", "counter", "Record views dropped with fail-closed off.",
         dropped_.load(std::memory_order_relaxed));
    return out;
}

}  // namespace carelog::audit
