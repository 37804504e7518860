// carelog-writermem: what the writer's state of a log costs in memory, without Kafka. The log of
// log_shape.hpp is generated in memory and folded into agency logs with the writer's own `apply`
// (what a rebuild does); then everything is snapshotted and the logs are loaded back from the
// entries, as the writer's restart does (indexes only) and with every aggregate in memory. Prints
// the heap in use (jemalloc's stats.allocated: carelogd's allocator) after each step, per
// aggregate, so a change to the writer's state can be judged by bytes, not by a whole node's RSS.
#include <CLI/CLI.hpp>
#include <jemalloc/jemalloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/writer/agency_log.hpp"
#include "carelog/writer/snapshot.hpp"
#include "log_shape.hpp"

using namespace carelog;

namespace {
double heap_mib() {
    std::uint64_t epoch = 1;
    std::size_t len = sizeof epoch;
    (void)mallctl("epoch", &epoch, &len, &epoch, len);  // refresh the statistics
    std::size_t allocated = 0;
    len = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0) return 0;
    return static_cast<double>(allocated) / (1 << 20);
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelog-writermem: the writer's memory for a log, measured"};
    bench::log_shape shape;
    app.add_option("--events", shape.events, "how many events in all");
    app.add_option("--agencies", shape.agencies);
    app.add_option("--staff", shape.staff, "staff members besides each agency's org_admin");
    CLI11_PARSE(app, argc, argv);

    const double base = heap_mib();
    std::unordered_map<std::string, writer::agency_log> logs;
    std::uint64_t n = 0;
    bench::generate(shape, [&](int, const std::string& agency, const std::string&, const std::vector<std::uint8_t>& bytes) {
        auto e = events::decode(bytes);
        if (!e || !writer::apply(logs[agency], *e, "0-" + std::to_string(n))) {
            std::fprintf(stderr, "event %llu does not apply\n", static_cast<unsigned long long>(n));
            std::exit(1);
        }
        ++n;
    });
    const double applied = heap_mib() - base;
    std::printf("applied %llu events: heap %.1f MiB (%.0f bytes per event)\n", static_cast<unsigned long long>(n),
                applied, applied * (1 << 20) / static_cast<double>(n));

    writer::snapshot_entries entries;
    for (auto& [id, log] : logs) writer::take_changes(id, log, entries);
    logs.clear();
    std::size_t bytes = 0;
    for (const auto& [k, v] : entries) bytes += k.size() + v.size();
    std::printf("snapshot: %zu entries, %.1f MiB of keys and values\n", entries.size(),
                static_cast<double>(bytes) / (1 << 20));
    for (auto what : {writer::snapshot_load::indexes_only, writer::snapshot_load::everything}) {
        const double before_load = heap_mib();
        const auto t0 = std::chrono::steady_clock::now();
        auto loaded = writer::load_snapshot(entries, what);
        const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!loaded) {
            std::fprintf(stderr, "load: %s\n", loaded.error().detail.c_str());
            return 1;
        }
        const double after_load = heap_mib() - before_load;
        std::printf("loaded from the snapshot (%s) in %.2f s: heap %.1f MiB (%.0f bytes per event)\n",
                    what == writer::snapshot_load::everything ? "everything" : "indexes only", secs, after_load,
                    after_load * (1 << 20) / static_cast<double>(n));
    }
    return 0;
}
