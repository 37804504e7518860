#include "carelog/writer/placement.hpp"

#include <set>
#include <string>
#include <vector>

#include "carelog/events/envelope_codec.hpp"

namespace carelog::writer {

result<void> check_placement(const kafka::config& cfg, int partitions, int tail) {
    const std::string topic = cfg.events_topic();
    auto ends = kafka::high_watermarks(cfg, topic, partitions);
    if (!ends) return std::unexpected(ends.error());
    std::vector<kafka::log_reader::start> starts;
    std::set<int> pending;
    for (int p = 0; p < partitions; ++p) {
        auto end = (*ends)[static_cast<std::size_t>(p)];
        if (end <= 0) continue;
        starts.push_back({p, std::max<std::int64_t>(0, end - tail)});
        pending.insert(p);
    }
    if (starts.empty()) return {};
    auto reader = kafka::log_reader::open(cfg, topic, starts);
    if (!reader) return std::unexpected(reader.error());
    std::optional<error> misplaced;
    auto until = std::chrono::steady_clock::now() + std::max(cfg.timeout, std::chrono::milliseconds(10000));
    while (!pending.empty() && !misplaced) {
        if (std::chrono::steady_clock::now() > until)
            return fail(errc::unavailable, "reading the event topic's tail to check agency placement timed out");
        auto n = (*reader)->poll(
            std::chrono::milliseconds(200),
            [&](const kafka::record& r) {
                if (misplaced) return;
                auto e = events::decode(r.value);
                if (!e) return;  // undecodable records are the projections' quarantine's business
                int expected = kafka::partition_for(e->agency_id, partitions);
                if (expected != r.partition)
                    misplaced = error::make(
                        errc::conflict,
                        "agency " + e->agency_id + " has events in partition " + std::to_string(r.partition) +
                            " (offset " + std::to_string(r.offset) + ") but belongs in partition " +
                            std::to_string(expected) + " with the topic's " + std::to_string(partitions) +
                            " partitions: the partition count changed after events were written; restore it");
            },
            [&](int p, std::int64_t) { pending.erase(p); });
        if (!n) return std::unexpected(n.error());
    }
    if (misplaced) return std::unexpected(*misplaced);
    return {};
}

}  // namespace carelog::writer
