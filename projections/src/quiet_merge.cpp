#include "carelog/projections/quiet_merge.hpp"

#include <spdlog/spdlog.h>

#include "carelog/base/metric_text.hpp"
#include "carelog/base/stoppable_sleep.hpp"
#include "carelog/base/thread_name.hpp"

namespace carelog::projections {

quiet_merge::quiet_merge(store& s, options o)
    // What the store holds now is not this node's writing: left as it is. Taken here, not on the
    // watcher's thread, so a record applied before that thread runs still counts as new.
    : store_(s), o_(o), merged_at_(s.applied_count()), watcher_([this](std::stop_token stop) { watch(stop); }) {}

quiet_merge::~quiet_merge() {
    watcher_.request_stop();
    if (watcher_.joinable()) watcher_.join();
    stopping_ = true;
    cancel_ = true;
    if (merger_.joinable()) merger_.join();
}

void quiet_merge::watch(std::stop_token stop) {
    name_this_thread("quiet-merge");
    std::uint64_t seen = merged_at_;
    auto changed_at = std::chrono::steady_clock::now();
    while (sleep_unless_stopped(stop, o_.look_every)) {
        const auto now = std::chrono::steady_clock::now();
        const auto applied = store_.applied_count();
        if (applied != seen) {
            seen = applied;
            changed_at = now;
            if (merging_) cancel_ = true;  // records again: the merge gives way
            continue;
        }
        if (merging_ || now - changed_at < o_.quiet_after) continue;
        if (applied == merged_at_) {
            ++quiet_without_news_;
            continue;
        }
        if (merger_.joinable()) merger_.join();  // the last merge has ended (merging_ is false)
        cancel_ = false;
        merging_ = true;
        merger_ = std::jthread([this, applied] {
            name_this_thread("quiet-merge-run");
            const auto started = std::chrono::steady_clock::now();
            auto r = store_.merge_read_families(cancel_);
            const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                   started)
                                .count();
            if (r) {
                ++merged_;
                merged_at_ = applied;
                spdlog::info("projections: quiet for {} ms, the read families merged into one sorted run each in {} ms",
                             o_.quiet_after.count(), ms);
            } else if (stopping_) {
                spdlog::info("projections: the merge of the read families stopped with the node after {} ms", ms);
            } else if (cancel_) {
                ++cancelled_;
                spdlog::info("projections: records applied again, the merge of the read families gave way after {} ms",
                             ms);
            } else {
                merged_at_ = applied;  // tried again once more records have been applied
                spdlog::warn("projections: {}", r.error().detail);
            }
            merging_ = false;
        });
    }
}

std::string quiet_merge::metrics_text() const {
    std::string s;
    constexpr std::string_view merges = "carelog_projection_quiet_merges_total";
    metric_text::family(s, merges, "counter", "Merges of the read families into one sorted run each, by how they ended.");
    metric_text::sample(s, merges, R"({outcome="merged"})", merged_.load());
    metric_text::sample(s, merges, R"({outcome="gave_way"})", cancelled_.load());
    metric_text::single(s, "carelog_projection_quiet_merge_running", "gauge",
                        "Whether a merge of the read families is under way.", merging_.load() ? 1 : 0);
    constexpr std::string_view runs_name = "carelog_projection_sorted_runs";
    metric_text::family(s, runs_name, "gauge", "Sorted runs a read of the family looks into.");
    for (const auto& [family, runs] : store_.read_family_runs())
        metric_text::sample(s, runs_name, "{family=\"" + family + "\"}", runs);
    return s;
}

}  // namespace carelog::projections
