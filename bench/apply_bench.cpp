// carelog-applybench: the projections' apply path alone, without Kafka and without the writer.
// The log of log_shape.hpp is generated in memory, then applied to a fresh store in a temporary
// directory as projections::runner applies it: one applier thread per --threads, each with the
// partitions p % threads == its index, taking up to --poll records of one partition at a time
// (what a consumer poll returns while catching up). Prints events/s, the appliers' own CPU per
// event and the whole process's (RocksDB's flushes and compactions included), so a change to the
// apply path can be judged by CPU, which moves far less than a rate when other work shares the
// machine. Then, if asked, times single client reads and 50-client pages on the store as the
// applying left it, and again after merging the families reads use into one sorted run each.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>
#include <vector>

#include "carelog/projections/store.hpp"
#include "log_shape.hpp"

using namespace carelog;

namespace {
double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}
double process_cpu_s() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}
struct event {
    std::string agency;
    std::vector<std::uint8_t> bytes;  // operator new: aligned as a consumer's batch is
};
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelog-applybench: the projections' apply path alone, timed"};
    bench::log_shape shape;
    shape.events = 200'000;
    int threads = 2;
    std::size_t poll = 1000;
    std::string dir_base = std::filesystem::temp_directory_path().string();
    app.add_option("--events", shape.events, "how many events in all");
    app.add_option("--agencies", shape.agencies);
    app.add_option("--staff", shape.staff, "staff members besides each agency's org_admin");
    app.add_option("--partitions", shape.partitions);
    app.add_option("--threads", threads, "appliers, each its own partitions");
    app.add_option("--poll", poll, "records per batch");
    app.add_option("--dir", dir_base, "where the temporary store goes");
    bool keep = false;
    app.add_flag("--keep", keep, "leave the store (and RocksDB's LOG) behind");
    std::size_t reads = 0;
    app.add_option("--reads", reads, "then this many single client reads (GET /v1/clients/{id}'s store call), timed");
    std::size_t lists = 0;
    app.add_option("--lists", lists, "then this many 50-client pages (GET /v1/clients?limit=50's store call, following each agency's cursor, none kept in memory), timed");
    bool merge = false;
    app.add_flag("--merge", merge,
                 "then merge the families reads use into one sorted run each (what carelogd does once quiet) and "
                 "time the reads and pages again");
    std::size_t audit_pages = 0;
    app.add_option("--audit-pages", audit_pages, "then this many pages of 500 of an agency's audit trail, timed");
    CLI11_PARSE(app, argc, argv);
    threads = std::clamp(threads, 1, shape.partitions);

    std::vector<std::vector<event>> by_partition(static_cast<std::size_t>(shape.partitions));
    std::vector<std::pair<std::string, std::string>> clients;  // (agency, client) of every ClientAdded
    bench::generate(shape, [&](int p, const std::string& agency, const std::string& type,
                               const std::vector<std::uint8_t>& b) {
        by_partition[static_cast<std::size_t>(p)].push_back({agency, b});
        if ((reads || lists || audit_pages) && type == "ClientAdded")
            if (auto e = events::decode(b)) clients.emplace_back(agency, e->aggregate_id);
    });

    const auto dir = std::filesystem::path(dir_base) / ("carelog-applybench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    auto opened = projections::store::open(dir.string());
    if (!opened) {
        std::fprintf(stderr, "store: %s\n", opened.error().detail.c_str());
        return 1;
    }
    auto& store = **opened;

    std::atomic<std::uint64_t> applied{0}, quarantined{0};
    std::atomic<bool> failed{false};
    std::vector<double> applier_cpu(static_cast<std::size_t>(threads));
    const double cpu0 = process_cpu_s();
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> appliers;
    for (int i = 0; i < threads; ++i)
        appliers.emplace_back([&, i] {
            const double c0 = thread_cpu_s();
            std::vector<std::size_t> next(by_partition.size(), 0);
            std::vector<projections::incoming_record> batch;
            for (bool more = true; more && !failed;) {
                more = false;
                for (int p = i; p < shape.partitions; p += threads) {
                    auto& evs = by_partition[static_cast<std::size_t>(p)];
                    auto& at = next[static_cast<std::size_t>(p)];
                    if (at >= evs.size()) continue;
                    batch.clear();
                    for (; at < evs.size() && batch.size() < poll; ++at)
                        batch.push_back({p, static_cast<std::int64_t>(at), evs[at].bytes, evs[at].agency});
                    auto out = store.apply_batch(batch, 0);
                    if (!out) {
                        std::fprintf(stderr, "apply: %s\n", out.error().detail.c_str());
                        failed = true;
                        return;
                    }
                    applied += out->applied;
                    quarantined += out->quarantined.size();
                    more = more || at < evs.size();
                }
            }
            applier_cpu[static_cast<std::size_t>(i)] = thread_cpu_s() - c0;
        });
    for (auto& t : appliers) t.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = process_cpu_s() - cpu0;
    double own = 0;
    for (double c : applier_cpu) own += c;
    // Single reads of clients spread over the whole store, as the client read's handler asks, and
    // first pages of 50 clients, agency after agency, as the list's handler asks.
    std::vector<std::string> agencies;
    for (const auto& [agency, client] : clients)
        if (std::find(agencies.begin(), agencies.end(), agency) == agencies.end()) agencies.push_back(agency);
    std::size_t found = 0, paged = 0;
    const projections::client_viewer admin{"bench", "administration"};
    auto time_reads = [&] {
        if (!reads || clients.empty() || failed) return 0.0;
        const double r0 = thread_cpu_s();
        for (std::size_t i = 0; i < reads; ++i) {
            const auto& [agency, client] = clients[(i * 7919) % clients.size()];
            if (store.client_text_for(agency, client, admin)) ++found;
        }
        return (thread_cpu_s() - r0) / static_cast<double>(reads) * 1e6;
    };
    // Pages follow each agency's cursor (back to the first page after the last), and none is
    // kept in memory: what is timed is the store's walk, which a kept page would skip.
    auto time_lists = [&] {
        if (!lists || agencies.empty() || failed) return 0.0;
        store.keep_pages(0);
        projections::client_filter f;
        f.stored_bytes = true;
        std::vector<std::optional<std::string>> cursors(agencies.size());
        const double r0 = thread_cpu_s();
        for (std::size_t i = 0; i < lists; ++i) {
            auto& cursor = cursors[i % agencies.size()];
            if (auto p = store.list_clients(agencies[i % agencies.size()], admin, f, 50, cursor)) {
                paged += p->stored.size();
                cursor = p->next_cursor;
            }
        }
        return (thread_cpu_s() - r0) / static_cast<double>(lists) * 1e6;
    };
    auto runs_text = [&] {
        std::string t;
        for (const auto& [family, runs] : store.read_family_runs()) t += " " + family + " " + std::to_string(runs);
        return t;
    };
    const std::string runs_before = runs_text();
    const double read_us = time_reads(), list_us = time_lists();
    const std::size_t paged_before = paged;
    double merged_read_us = 0, merged_list_us = 0, merge_s = 0;
    std::string runs_after;
    if (merge && !failed) {
        const std::atomic<bool> never{false};
        const auto m0 = std::chrono::steady_clock::now();
        if (auto m = store.merge_read_families(never); !m) {
            std::fprintf(stderr, "merge: %s\n", m.error().detail.c_str());
            failed = true;
        }
        merge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count();
        runs_after = runs_text();
        merged_read_us = time_reads();
        merged_list_us = time_lists();
    }
    // Pages of the audit listing (GET /v1/audit/events?limit=500), agency after agency, walking
    // each agency's trail from its newest change.
    double page_us = 0;
    std::size_t listed = 0;
    if (audit_pages && !clients.empty() && !failed) {
        const double r0 = thread_cpu_s();
        std::optional<std::string> cursor;
        for (std::size_t i = 0, a = 0; i < audit_pages; ++i) {
            auto p = store.audit_events(agencies[a], {}, 500, cursor);
            if (!p) {
                std::fprintf(stderr, "audit: %s\n", p.error().detail.c_str());
                failed = true;
                break;
            }
            listed += p->items.size();
            cursor = p->next_cursor;
            if (!cursor) a = (a + 1) % agencies.size();
        }
        page_us = (thread_cpu_s() - r0) / static_cast<double>(audit_pages) * 1e6;
    }
    opened->reset();  // closes the store: flushes the memtables
    const double closed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu_closed = process_cpu_s() - cpu0;
    if (keep)
        std::printf("applybench: store left in %s\n", dir.c_str());
    else
        std::filesystem::remove_all(dir);
    if (failed) return 1;
    const double n = static_cast<double>(applied.load());
    std::printf("applybench: %llu events (%llu quarantined) over %d agencies, %d appliers, %zu per batch\n",
                static_cast<unsigned long long>(applied.load()), static_cast<unsigned long long>(quarantined.load()),
                shape.agencies, threads, poll);
    std::printf("applybench: %.2f s, %.0f events/s; CPU per event: appliers %.1f us, process %.1f us; with the "
                "closing flush %.2f s, process %.1f us\n",
                secs, n / secs, own / n * 1e6, cpu / n * 1e6, closed, cpu_closed / n * 1e6);
    if (reads || lists)
        std::printf("applybench: sorted runs:%s; %zu single client reads: %.2f us of CPU each; %zu pages of 50 "
                    "clients (%zu clients listed in all): %.2f us each\n",
                    runs_before.c_str(), reads, read_us, lists, paged_before, list_us);
    if (merge)
        std::printf("applybench: merged in %.2f s into sorted runs:%s; client reads %.2f us, pages %.2f us (%zu "
                    "clients listed)\n",
                    merge_s, runs_after.c_str(), merged_read_us, merged_list_us, paged - paged_before);
    if (audit_pages)
        std::printf("applybench: %zu audit pages of up to 500, %zu items: %.0f us of CPU per page\n", audit_pages,
                    listed, page_us);
    return applied == shape.events && quarantined == 0 && found == reads * (merge ? 2 : 1) && (!merge || paged == 2 * paged_before) && !failed ? 0 : 1;
}
