#include "carelog/projections/runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "carelog/base/consistency_token.hpp"
#include "carelog/base/metric_text.hpp"
#include "carelog/base/thread_name.hpp"
#include "carelog/projections/polled_batch.hpp"

namespace carelog::projections {

namespace {
int apply_threads_for(int wanted, int partitions) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::clamp(wanted > 0 ? wanted : cores, 1, std::max(1, partitions));
}
}  // namespace

std::vector<int> share_partitions(const std::vector<std::int64_t>& backlogs, int appliers) {
    const int n = static_cast<int>(backlogs.size());
    appliers = std::max(1, appliers);
    std::vector<int> order(static_cast<std::size_t>(n));
    for (int p = 0; p < n; ++p) order[static_cast<std::size_t>(p)] = p;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return backlogs[static_cast<std::size_t>(a)] > backlogs[static_cast<std::size_t>(b)];
    });
    std::vector<std::int64_t> load(static_cast<std::size_t>(appliers), 0);
    std::vector<int> count(static_cast<std::size_t>(appliers), 0);
    std::vector<int> out(static_cast<std::size_t>(n), 0);
    for (int p : order) {
        int best = 0;
        for (int a = 1; a < appliers; ++a) {
            const auto i = static_cast<std::size_t>(a), b = static_cast<std::size_t>(best);
            if (load[i] < load[b] || (load[i] == load[b] && count[i] < count[b])) best = a;
        }
        out[static_cast<std::size_t>(p)] = best;
        load[static_cast<std::size_t>(best)] += std::max<std::int64_t>(0, backlogs[static_cast<std::size_t>(p)]);
        ++count[static_cast<std::size_t>(best)];
    }
    return out;
}

runner::runner(kafka::config cfg, int partitions, projections::store& store, clock_source& clock,
               int apply_threads)
    : cfg_(std::move(cfg)), partitions_(partitions), apply_threads_(apply_threads_for(apply_threads, partitions)),
      store_(store), clock_(clock),
      eof_seen_(new std::atomic<bool>[static_cast<std::size_t>(partitions)]),
      applied_end_(new std::atomic<std::int64_t>[static_cast<std::size_t>(partitions)]),
      waiters_(static_cast<std::size_t>(partitions)) {
    for (int p = 0; p < partitions_; ++p) {
        eof_seen_[static_cast<std::size_t>(p)] = false;
        applied_end_[static_cast<std::size_t>(p)] = store_.next_offset(p);
    }
}

runner::~runner() { stop(); }

result<void> runner::start() {
    auto hwm = kafka::high_watermarks(cfg_, cfg_.events_topic(), partitions_);
    if (!hwm) return std::unexpected(hwm.error());
    start_hwm_ = *hwm;
    // What each partition has to apply. One with nothing (an empty topic, a clean restart) is
    // caught up now: its end-of-partition event would come only after a fetch that the broker
    // holds up to fetch.wait.max.ms for want of records.
    std::vector<std::int64_t> backlogs(static_cast<std::size_t>(partitions_));
    for (int p = 0; p < partitions_; ++p) {
        const auto i = static_cast<std::size_t>(p);
        backlogs[i] = std::max<std::int64_t>(0, start_hwm_[i] - applied_end_[i].load());
        if (backlogs[i] == 0) caught_up(p);
    }
    // Quarantined records are copied to a topic of their own: evidence kept with the log.
    if (auto t = kafka::ensure_topic(cfg_, cfg_.quarantine_topic()); !t) return std::unexpected(t.error());
    auto out = kafka::producer::create(cfg_);
    if (!out) return std::unexpected(out.error());
    quarantine_out_ = std::move(*out);
    applier_of_ = share_partitions(backlogs, apply_threads_);
    for (int i = 0; i < apply_threads_; ++i) {
        auto a = std::make_unique<applier>();
        std::vector<kafka::log_reader::start> starts;
        std::int64_t backlog = 0;
        for (int p = 0; p < partitions_; ++p) {
            if (applier_of_[static_cast<std::size_t>(p)] != i) continue;
            a->partitions.push_back(p);
            starts.push_back({p, store_.next_offset(p)});
            backlog += backlogs[static_cast<std::size_t>(p)];
        }
        if (backlog > 0)
            spdlog::info("projection applier {}: {} partitions, {} records behind", i, a->partitions.size(), backlog);
        auto reader = kafka::log_reader::open(cfg_, cfg_.events_topic(), starts, kafka::follow_tuning);
        if (!reader) {
            stop();
            return std::unexpected(reader.error());
        }
        a->reader = std::move(*reader);
        appliers_.push_back(std::move(a));
    }
    for (std::size_t i = 0; i < appliers_.size(); ++i)
        appliers_[i]->thread = std::thread([this, i, &a = *appliers_[i]] {
            name_this_thread("apply-" + std::to_string(i));
            run(a);
        });
    return {};
}

void runner::stop() {
    stopping_ = true;
    for (auto& a : appliers_)
        if (a->thread.joinable()) a->thread.join();
    appliers_.clear();
    expire_waiters(true);
}

void runner::applied_to(int p, std::int64_t next) {
    auto& end = applied_end_[static_cast<std::size_t>(p)];
    if (next <= end.load()) return;
    {
        std::lock_guard lk(mu_);  // no lost wake-up between a blocking waiter's check and its wait
        end.store(next);
    }
    cv_.notify_all();
    if (waiting_.load() == 0) return;
    std::vector<applied_callback> ready;
    {
        std::lock_guard lk(waiters_mu_);
        auto& w = waiters_[static_cast<std::size_t>(p)];
        auto last = w.lower_bound(next);  // waiting for an offset below `next`: applied
        for (auto it = w.begin(); it != last; ++it) ready.push_back(std::move(it->second.done));
        w.erase(w.begin(), last);
        waiting_ -= ready.size();
    }
    for (auto& done : ready) done(true);
}

void runner::expire_waiters(bool all) {
    if (waiting_.load() == 0) return;
    auto now = std::chrono::steady_clock::now();
    std::vector<applied_callback> late;
    {
        std::lock_guard lk(waiters_mu_);
        for (auto& w : waiters_)
            for (auto it = w.begin(); it != w.end();) {
                if (all || it->second.deadline <= now) {
                    late.push_back(std::move(it->second.done));
                    it = w.erase(it);
                } else {
                    ++it;
                }
            }
        waiting_ -= late.size();
    }
    for (auto& done : late) done(false);
}

void runner::run(applier& a) {
    projections::polled_batch batch;
    std::vector<std::pair<int, std::int64_t>> eofs;
    while (!stopping_) {
        batch.clear();
        eofs.clear();
        auto n = a.reader->poll(
            std::chrono::milliseconds(100), [&](const kafka::record& r) { batch.add(r); },
            [&](int p, std::int64_t next) { eofs.emplace_back(p, next); });
        if (!batch.empty() && !apply_polled(batch.records())) return;  // stopping
        for (const auto& [p, next] : eofs) reached_end(p, next);
        expire_waiters(false);
        if (!n) {
            spdlog::warn("projection consumer: {}", n.error().detail);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
}

bool runner::apply_polled(std::span<const projections::incoming_record> records) {
    for (int attempt = 0;; ++attempt) {
        auto out = store_.apply_batch(records, clock_.now());
        if (out) {
            applied_ += out->applied;
            for (const auto& q : out->quarantined) quarantine(q, records);
            for (const auto& [p, next] : out->next_offsets) applied_to(p, next);
            return true;
        }
        // A local storage error: retry, never skip (skipping would lose the events).
        ++apply_errors_;
        spdlog::error("projection: applying {} records from partition {} offset {} failed: {}", records.size(),
                      records.front().partition, records.front().offset, out.error().detail);
        if (stopping_) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 5))));
    }
}

void runner::quarantine(const projections::quarantined_record& q,
                        std::span<const projections::incoming_record> records) {
    ++quarantined_;
    spdlog::error("projection: quarantined record at {} partition {} offset {}: {}; it is not applied",
                  cfg_.events_topic(), q.partition, q.offset, q.reason);
    if (!quarantine_out_) return;
    for (const auto& r : records) {
        if (r.partition != q.partition || r.offset != q.offset) continue;
        auto sent = quarantine_out_->send(cfg_.quarantine_topic(), std::string(r.key), r.value,
                                          {{"carelog-source-partition", std::to_string(q.partition)},
                                           {"carelog-source-offset", std::to_string(q.offset)},
                                           {"carelog-reason", q.reason}});
        if (!sent)
            spdlog::error("projection: the quarantined record at partition {} offset {} did not reach {}: {}",
                          q.partition, q.offset, cfg_.quarantine_topic(), sent.error().detail);
        return;
    }
}

void runner::reached_end(int p, std::int64_t next) {
    // Past transaction markers: the stored offset moves to the end, so a restart starts there.
    if (next > applied_end_[static_cast<std::size_t>(p)].load()) {
        if (auto a = store_.advance(p, next); !a)
            spdlog::error("projection: advancing partition {} failed: {}", p, a.error().detail);
        else
            applied_to(p, next);
    }
    if (next >= start_hwm_[static_cast<std::size_t>(p)]) caught_up(p);
}

void runner::caught_up(int p) {
    auto& seen = eof_seen_[static_cast<std::size_t>(p)];
    if (seen.exchange(true)) return;
    bool all = true;
    for (int q = 0; q < partitions_; ++q) all = all && eof_seen_[static_cast<std::size_t>(q)];
    if (all && !ready_.exchange(true)) spdlog::info("projections caught up with the log; ready");
}

result<bool> runner::wait_for(const std::string& token, std::chrono::milliseconds timeout) {
    int p = 0;
    std::int64_t off = 0;
    if (!parse_token(token, p, off) || p >= partitions_)
        return fail(errc::malformed, "X-Consistency-Token is not a token this server issued");
    auto& end = applied_end_[static_cast<std::size_t>(p)];
    if (end.load() > off) return true;
    if (timeout.count() <= 0) return false;
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return end.load() > off; });
}

void runner::when_applied(const std::string& token, std::chrono::milliseconds timeout,
                          applied_callback done) {
    int p = 0;
    std::int64_t off = 0;
    if (!parse_token(token, p, off) || p >= partitions_)
        return done(fail(errc::malformed, "X-Consistency-Token is not a token this server issued"));
    auto& end = applied_end_[static_cast<std::size_t>(p)];
    if (end.load() > off) return done(true);
    if (timeout.count() <= 0 || stopping_) return done(false);
    {
        std::lock_guard lk(waiters_mu_);
        // Counted before the end is read again: applied_to moves the end before it reads the count,
        // so either it sees this waiter (and takes the lock after it is in place) or this sees the end.
        ++waiting_;
        if (end.load() <= off) {
            waiters_[static_cast<std::size_t>(p)].emplace(
                off, waiter{off, std::chrono::steady_clock::now() + timeout, std::move(done)});
            return;
        }
        --waiting_;
    }
    done(true);
}

bool runner::ready() const { return ready_; }

std::string runner::metrics_text() const {
    std::string s;
    metric_text::family(s, "carelog_projection_lag", "gauge", "Records on the topic not yet applied to the projections.");
    for (int p = 0; p < partitions_; ++p) {
        const auto a = p < static_cast<int>(applier_of_.size())
                           ? static_cast<std::size_t>(applier_of_[static_cast<std::size_t>(p)])
                           : appliers_.size();
        auto hwm = a < appliers_.size() ? appliers_[a]->reader->high_watermark(p) : -1;
        auto pos = store_.next_offset(p);
        auto lag = hwm < 0 ? 0 : std::max<std::int64_t>(0, hwm - pos);
        metric_text::sample(s, "carelog_projection_lag", metric_text::partition_label(p), lag);
    }
    metric_text::single(s, "carelog_projection_applied_total", "counter",
                        "Records applied to the projections since start.", applied_.load());
    metric_text::single(s, "carelog_projection_quarantined_total", "counter",
                        "Records quarantined since start (undecodable or not continuing their agency's chain).",
                        quarantined_.load());
    metric_text::single(s, "carelog_projection_apply_errors_total", "counter",
                        "Local storage errors while applying (retried).", apply_errors_.load());
    metric_text::single(s, "carelog_projection_ready", "gauge",
                        "Whether the projections caught up with the log since start.", ready_ ? 1 : 0);
    if (extra_metrics_) s += extra_metrics_();
    return s;
}

}  // namespace carelog::projections
