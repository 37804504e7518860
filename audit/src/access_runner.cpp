#include "carelog/audit/access_runner.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "carelog/base/metric_text.hpp"
#include "carelog/base/thread_name.hpp"
#include "carelog/projections/polled_batch.hpp"

namespace carelog::audit {

result<void> access_runner::start() {
    auto n = kafka::ensure_topic(cfg_, cfg_.access_topic());
    if (!n) return std::unexpected(n.error());
    partitions_ = *n;
    std::vector<kafka::log_reader::start> starts;
    for (int p = 0; p < partitions_; ++p) starts.push_back({p, store_.next_access_offset(p)});
    auto reader = kafka::log_reader::open(cfg_, cfg_.access_topic(), starts, kafka::follow_tuning);
    if (!reader) return std::unexpected(reader.error());
    reader_ = std::move(*reader);
    thread_ = std::thread([this] {
        name_this_thread("audit-views");
        run();
    });
    return {};
}

void access_runner::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    reader_.reset();
}

void access_runner::run() {
    // Background work: under load the request threads go first and the audit read model lags a
    // little (carelog_audit_lag); it catches up as soon as the load lets it. Views are already
    // durable on the topic, so nothing waits on this thread.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10) != 0)
        spdlog::warn("audit consumer: could not lower its priority; it competes with requests");
    projections::polled_batch batch;
    while (!stopping_) {
        batch.clear();
        auto n = reader_->poll(
            std::chrono::milliseconds(100), [&](const kafka::record& r) { batch.add(r); }, [](int, std::int64_t) {});
        if (!batch.empty()) {
            const auto records = batch.records();
            for (int attempt = 0; !stopping_; ++attempt) {
                auto out = store_.apply_access_batch(records);
                if (out) {
                    applied_ += out->applied;
                    for (const auto& r : out->rejected) {
                        ++rejected_;
                        spdlog::error("audit: record at {} partition {} offset {} is not applied: {}",
                                      cfg_.access_topic(), r.partition, r.offset, r.reason);
                    }
                    break;
                }
                ++apply_errors_;
                spdlog::error("audit: applying {} record views failed: {}", records.size(), out.error().detail);
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 5))));
            }
        }
        if (!n) {
            spdlog::warn("audit consumer: {}", n.error().detail);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
}

std::string access_runner::metrics_text() const {
    std::string s;
    metric_text::family(s, "carelog_audit_lag", "gauge",
                        "Record views on the access topic not yet in the audit read model.");
    for (int p = 0; p < partitions_; ++p) {
        auto hwm = reader_ ? reader_->high_watermark(p) : -1;
        auto lag = hwm < 0 ? 0 : std::max<std::int64_t>(0, hwm - store_.next_access_offset(p));
        metric_text::sample(s, "carelog_audit_lag", metric_text::partition_label(p), lag);
    }
    metric_text::single(s, "carelog_audit_views_applied_total", "counter",
                        "Record views applied to the audit read model since start.", applied_.load());
    metric_text::single(s, "carelog_audit_views_rejected_total", "counter",
                        "Records of the access topic that did not decode (logged).", rejected_.load());
    metric_text::single(s, "carelog_audit_apply_errors_total", "counter",
                        "Local storage errors while applying record views (retried).", apply_errors_.load());
    return s;
}

}  // namespace carelog::audit
