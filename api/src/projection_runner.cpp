#include "carelog/api/projection_runner.hpp"

#include <spdlog/spdlog.h>

#include "carelog/base/consistency_token.hpp"

namespace carelog::api {

projection_runner::projection_runner(kafka::config cfg, int partitions, projections::store& store,
                                     clock_source& clock)
    : cfg_(std::move(cfg)), partitions_(partitions), store_(store), clock_(clock),
      eof_seen_(new std::atomic<bool>[static_cast<std::size_t>(partitions)]) {
    for (int p = 0; p < partitions_; ++p) eof_seen_[static_cast<std::size_t>(p)] = false;
}

projection_runner::~projection_runner() { stop(); }

result<void> projection_runner::start() {
    auto hwm = kafka::high_watermarks(cfg_, cfg_.events_topic(), partitions_);
    if (!hwm) return std::unexpected(hwm.error());
    start_hwm_ = *hwm;
    std::vector<kafka::log_reader::start> starts;
    for (int p = 0; p < partitions_; ++p) starts.push_back({p, store_.next_offset(p)});
    auto reader = kafka::log_reader::open(cfg_, cfg_.events_topic(), starts);
    if (!reader) return std::unexpected(reader.error());
    reader_ = std::move(*reader);
    thread_ = std::thread([this] { run(); });
    return {};
}

void projection_runner::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    reader_.reset();
}

void projection_runner::run() {
    while (!stopping_) {
        auto n = reader_->poll(
            std::chrono::milliseconds(100),
            [&](const kafka::record& r) {
                for (int attempt = 0;; ++attempt) {
                    auto out = store_.apply(r.partition, r.offset, r.value, clock_.now());
                    if (out) {
                        if (*out == projections::apply_outcome::quarantined) {
                            ++quarantined_;
                            spdlog::error("projection: quarantined record at {} partition {} offset {} "
                                          "(undecodable); the projection goes on",
                                          cfg_.events_topic(), r.partition, r.offset);
                        } else if (*out == projections::apply_outcome::applied) {
                            ++applied_;
                        }
                        break;
                    }
                    // A local storage error: retry, never skip (skipping would lose the event).
                    ++apply_errors_;
                    spdlog::error("projection: applying partition {} offset {} failed: {}", r.partition, r.offset,
                                  out.error().detail);
                    if (stopping_) return;
                    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 5))));
                }
                { std::lock_guard lk(mu_); }  // no lost wake-up between a waiter's check and its wait
                cv_.notify_all();
            },
            [&](int p, std::int64_t next) {
                // Past transaction markers: the stored offset moves to the end, so a restart starts there.
                if (next > store_.next_offset(p)) {
                    if (auto a = store_.advance(p, next); !a)
                        spdlog::error("projection: advancing partition {} failed: {}", p, a.error().detail);
                }
                auto& seen = eof_seen_[static_cast<std::size_t>(p)];
                if (!seen && next >= start_hwm_[static_cast<std::size_t>(p)]) {
                    seen = true;
                    bool all = true;
                    for (int q = 0; q < partitions_; ++q) all = all && eof_seen_[static_cast<std::size_t>(q)];
                    if (all && !ready_) {
                        ready_ = true;
                        spdlog::info("projections caught up with the log; ready");
                    }
                }
                { std::lock_guard lk(mu_); }
                cv_.notify_all();
            });
        if (!n) {
            spdlog::warn("projection consumer: {}", n.error().detail);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
}

result<bool> projection_runner::wait_for(const std::string& token, std::chrono::milliseconds timeout) {
    int p = 0;
    std::int64_t off = 0;
    if (!parse_token(token, p, off) || p >= partitions_)
        return fail(errc::malformed, "X-Consistency-Token is not a token this server issued");
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return store_.next_offset(p) > off; });
}

bool projection_runner::ready() const { return ready_; }

std::string projection_runner::metrics_text() const {
    std::string s;
    s += "# HELP carelog_projection_lag Records on the topic not yet applied to the projections.\n"
         "# TYPE carelog_projection_lag gauge\n";
    for (int p = 0; p < partitions_; ++p) {
        auto hwm = reader_ ? reader_->high_watermark(p) : -1;
        auto pos = store_.next_offset(p);
        auto lag = hwm < 0 ? 0 : std::max<std::int64_t>(0, hwm - pos);
        s += "carelog_projection_lag{partition=\"" + std::to_string(p) + "\"} " + std::to_string(lag) + "\n";
    }
    s += "# HELP carelog_projection_applied_total Records applied to the projections since start.\n"
         "# TYPE carelog_projection_applied_total counter\n"
         "carelog_projection_applied_total " + std::to_string(applied_.load()) + "\n";
    s += "# HELP carelog_projection_quarantined_total Undecodable records quarantined since start.\n"
         "# TYPE carelog_projection_quarantined_total counter\n"
         "carelog_projection_quarantined_total " + std::to_string(quarantined_.load()) + "\n";
    s += "# HELP carelog_projection_apply_errors_total Local storage errors while applying (retried).\n"
         "# TYPE carelog_projection_apply_errors_total counter\n"
         "carelog_projection_apply_errors_total " + std::to_string(apply_errors_.load()) + "\n";
    s += "# HELP carelog_projection_ready Whether the projections caught up with the log since start.\n"
         "# TYPE carelog_projection_ready gauge\n"
         "carelog_projection_ready " + std::string(ready_ ? "1" : "0") + "\n";
    if (extra_metrics_) s += extra_metrics_();
    return s;
}

}  // namespace carelog::api
