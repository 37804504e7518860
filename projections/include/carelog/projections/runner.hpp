// Feeds the RocksDB projections from the event topic (read_committed, all partitions assigned to
// this process, resuming at the offsets stored with the data) and answers read-your-writes waits,
// readiness and lag. The partitions are split over `apply_threads` appliers, each with a consumer
// and a thread of its own: an agency lives in one partition, so appliers never touch the same
// agency and store::apply_batch runs for them at the same time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "carelog/base/ids.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/projections/status.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::projections {

// Which applier takes each partition, given each partition's backlog at start (records not yet
// applied): the largest backlog first, each to the applier with the least so far (ties: fewer
// partitions, then the lower index), so a rebuild's appliers finish together even though agencies,
// and so partitions, differ in size. Without backlogs that is partition p to applier p % appliers.
std::vector<int> share_partitions(const std::vector<std::int64_t>& backlogs, int appliers);

class runner final : public status {
public:
    // `apply_threads`: how many appliers (0: one per core; at most one per partition).
    runner(kafka::config cfg, int partitions, projections::store& store, clock_source& clock,
           int apply_threads = 0);
    ~runner() override;

    // Opens the consumer at the stored offsets and starts the thread; fails if Kafka is unreachable.
    result<void> start();
    void stop();

    result<bool> wait_for(const std::string& token, std::chrono::milliseconds timeout) override;
    void when_applied(const std::string& token, std::chrono::milliseconds timeout, applied_callback done) override;
    bool ready() const override;
    std::string metrics_text() const override;
    // More Prometheus text appended to metrics_text() (the writers' metrics).
    void set_extra_metrics(std::function<std::string()> f) { extra_metrics_ = std::move(f); }

private:
    // One applier: a consumer of its partitions (share_partitions) and its thread.
    struct applier {
        std::vector<int> partitions;
        std::unique_ptr<kafka::log_reader> reader;
        std::thread thread;
    };
    void run(applier& a);
    // Applies one poll's records in one batch, retrying a storage error until it succeeds (a
    // batch skips what is already applied, so a retry never applies twice); false only when
    // stopping.
    bool apply_polled(std::span<const projections::incoming_record> records);
    // Logs, counts and copies a quarantined record to the quarantine topic.
    void quarantine(const projections::quarantined_record& q, std::span<const projections::incoming_record> records);
    // Partition p reached the end of the log at `next` (past transaction markers).
    void reached_end(int p, std::int64_t next);
    // Partition p holds everything it held at start; once every partition does, the runner is ready.
    void caught_up(int p);
    // Records that partition p is applied up to (not including) `next`, and answers the waiters
    // that were waiting for it.
    void applied_to(int p, std::int64_t next);
    // Answers `false` to the waiters whose time ran out (all of them when stopping).
    void expire_waiters(bool all);

    struct waiter {
        std::int64_t offset;
        std::chrono::steady_clock::time_point deadline;
        applied_callback done;
    };

    kafka::config cfg_;
    int partitions_;
    int apply_threads_;
    projections::store& store_;
    clock_source& clock_;
    std::vector<std::unique_ptr<applier>> appliers_;
    std::vector<int> applier_of_;  // per partition: the index of the applier that takes it
    std::vector<std::int64_t> start_hwm_;
    std::unique_ptr<std::atomic<bool>[]> eof_seen_;
    // Per partition: the next offset not yet applied (what the store holds, without asking it).
    std::unique_ptr<std::atomic<std::int64_t>[]> applied_end_;
    std::mutex waiters_mu_;
    std::vector<std::multimap<std::int64_t, waiter>> waiters_;  // per partition, by offset
    std::atomic<std::size_t> waiting_{0};
    std::atomic<bool> ready_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> applied_{0}, quarantined_{0}, apply_errors_{0};
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::function<std::string()> extra_metrics_;
    std::unique_ptr<kafka::producer> quarantine_out_;
};

}  // namespace carelog::projections
