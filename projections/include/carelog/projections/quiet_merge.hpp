// Merges the sorted runs of the families requests read, once the store has been quiet a while.
//
// Under writes, universal compaction lets each family hold up to ~8 sorted runs before it merges
// them (what commands want: a byte is rewritten few times). Every read pays for those runs: a read
// by id consults each run's filter and index, a listing merges all of them as it steps. An
// agency's day is bursts of writing and long stretches of reading, so when no record has been
// applied for `quiet_after` and some have been since the last merge, the families that hold more
// than one run are merged into one each (store::merge_read_families). A record applied during a
// merge cancels it: the writes get the CPU back, what was merged stays merged, and the next quiet
// stretch finishes the work.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "carelog/projections/store.hpp"

namespace carelog::projections {

class quiet_merge {
public:
    struct options {
        std::chrono::milliseconds quiet_after{5000};
        std::chrono::milliseconds look_every{200};  // how often it looks whether records were applied
    };
    quiet_merge(store& s, options o);
    ~quiet_merge();  // cancels a merge under way and waits for it
    quiet_merge(const quiet_merge&) = delete;
    quiet_merge& operator=(const quiet_merge&) = delete;

    // Prometheus text: merges finished and cancelled, whether one is under way, and each read
    // family's sorted runs now.
    std::string metrics_text() const;
    // How often the watcher has found the store quiet for the window with nothing applied since the
    // last merge (or the start), and so merged nothing: what a wait for "no merge" waits on.
    std::uint64_t quiet_looks_without_news() const { return quiet_without_news_.load(); }

private:
    void watch(std::stop_token stop);

    store& store_;
    options o_;
    std::atomic<bool> cancel_{false};
    std::atomic<bool> merging_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> merged_at_;  // applied_count() the last merge (or the start) left behind
    std::atomic<std::uint64_t> merged_{0};
    std::atomic<std::uint64_t> cancelled_{0};
    std::atomic<std::uint64_t> quiet_without_news_{0};
    std::jthread merger_;  // one merge at a time; joined before the next starts
    std::jthread watcher_;
};

}  // namespace carelog::projections
