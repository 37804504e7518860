#include "carelog/audit/view_sink.hpp"

#include <spdlog/spdlog.h>

namespace carelog::audit {

result<std::unique_ptr<kafka_view_sink>> kafka_view_sink::create(const kafka::config& cfg, const options& opts) {
    if (auto t = kafka::ensure_topic(cfg, cfg.access_topic()); !t) return std::unexpected(t.error());
    auto p = kafka::buffered_producer::create(cfg, cfg.access_topic(), {opts.max_buffered, opts.linger_ms, "none"});
    if (!p) return std::unexpected(p.error());
    return std::unique_ptr<kafka_view_sink>(new kafka_view_sink(std::move(*p), opts));
}

result<void> kafka_view_sink::record(const events::record_viewed& v) {
    const auto bytes = events::encode(v);
    static const std::vector<kafka::header> headers{{"event-type", "RecordViewed"},
                                                    {"schema-version", "1"},
                                                    {"content-type", events::access_content_type}};
    auto sent = out_->send(v.agency_id, bytes, headers);
    if (sent) return {};
    if (opts_.fail_closed) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return sent;
    }
    if (dropped_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0)
        spdlog::error("record view of {} by {} not recorded (fail-closed is off): {}", v.subject_id, v.actor_id,
                      sent.error().detail);
    return {};
}

std::string kafka_view_sink::metrics_text() const {
    auto c = out_->stats();
    std::string out;
    out += "# HELP carelog_access_views_delivered_total Record views acknowledged by the access topic.\n";
    out += "# TYPE carelog_access_views_delivered_total counter\n";
    out += "carelog_access_views_delivered_total " + std::to_string(c.delivered) + "\n";
    out += "# HELP carelog_access_views_failed_total Record views the access topic refused for good (logged).\n";
    out += "# TYPE carelog_access_views_failed_total counter\n";
    out += "carelog_access_views_failed_total " + std::to_string(c.failed) + "\n";
    out += "# HELP carelog_access_views_buffered Record views queued or in flight, not yet acknowledged.\n";
    out += "# TYPE carelog_access_views_buffered gauge\n";
    out += "carelog_access_views_buffered " + std::to_string(c.buffered) + "\n";
    out += "# HELP carelog_access_reads_refused_total Reads answered 503 because their view could not be recorded.\n";
    out += "# TYPE carelog_access_reads_refused_total counter\n";
    out += "carelog_access_reads_refused_total " + std::to_string(refused_.load(std::memory_order_relaxed)) + "\n";
    out += "# HELP carelog_access_views_dropped_total Record views dropped with fail-closed off.\n";
    out += "# TYPE carelog_access_views_dropped_total counter\n";
    out += "carelog_access_views_dropped_total " + std::to_string(dropped_.load(std::memory_order_relaxed)) + "\n";
    return out;
}

}  // namespace carelog::audit
