// carelog-replay: the auditors' tool. Reads the `<prefix>events` topic to its current end
// (read_committed) and
//   export   prints the events as SPEC §3 listings, one JSON line each (plus partition and offset),
//   verify   checks every agency's sequence and SHA-256 chain and reports each problem with topic,
//            partition and offset,
//   rebuild  prints one agency's state as of a time.
// Exit codes: 0 success; 1 the log does not verify / nothing to rebuild / records left out of an
// export; 2 usage or Kafka errors (nothing was checked).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <unistd.h>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "carelog/base/ids.hpp"
#include "carelog/replay/kafka_source.hpp"
#include "carelog/replay/replay.hpp"

using namespace carelog;

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;

int die(const std::string& message) {
    std::cerr << "carelog-replay: " << message << "\n";
    return exit_usage;
}

// An agency is named by its id; a slug is accepted too (an agency's id is the UUIDv5 of its slug).
std::string agency_id_of(const std::string& id_or_slug) {
    return is_uuid(id_or_slug) ? id_or_slug : uuid_v5(id_or_slug);
}

bool parse_time(const std::string& flag, const std::string& text, micros& out, std::string& err) {
    if (parse_rfc3339(text, out)) return true;
    err = flag + " must be an RFC 3339 time such as 2026-01-31T17:00:00Z, got '" + text + "'";
    return false;
}

std::vector<int> all_partitions(int n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    // Logs (librdkafka's included) go to stderr: stdout carries the export and the JSON state.
    spdlog::set_default_logger(spdlog::stderr_color_mt("carelog-replay"));
    spdlog::set_level(spdlog::level::warn);
    std::ios::sync_with_stdio(false);

    CLI::App app{"carelog-replay: export, verify and rebuild carelog's event log (read-only)"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the subcommand too

    replay::source_options src;
    int timeout_ms = static_cast<int>(src.timeout.count());
    app.add_option("--brokers", src.brokers, "Kafka bootstrap servers")
        ->envname("CARELOG_BROKERS")
        ->capture_default_str();
    app.add_option("--topic-prefix", src.topic_prefix, "prefix of carelog's topics (reads <prefix>events)")
        ->envname("CARELOG_TOPIC_PREFIX")
        ->capture_default_str();
    app.add_option("--timeout-ms", timeout_ms, "bounded wait for Kafka: metadata, and progress while reading")
        ->check(CLI::Range(100, 3600000))
        ->capture_default_str();
    int margin_ms = static_cast<int>(src.clock_margin.count());
    app.add_option("--clock-margin-ms", margin_ms,
                   "with --from/--to/--as-of: widen the span read by this much (Kafka timestamps are taken at "
                   "produce time; events are still filtered by their own occurred_at)")
        ->check(CLI::Range(0, 86400000))
        ->capture_default_str();

    // export
    auto* exp = app.add_subcommand("export", "print events as JSON lines (SPEC §3 listings + partition, offset)");
    std::string exp_agency, exp_from, exp_to, exp_type, exp_aggregate, exp_out;
    exp->add_option("--agency", exp_agency, "only this agency (id or slug)");
    exp->add_option("--from", exp_from, "only events with occurred_at >= this RFC 3339 time");
    exp->add_option("--to", exp_to, "only events with occurred_at <= this RFC 3339 time");
    exp->add_option("--type", exp_type, "only this event type (e.g. StaffCreated)");
    exp->add_option("--aggregate-id", exp_aggregate, "only events of this aggregate (agency or staff id)");
    exp->add_option("--out", exp_out, "write the lines to this file instead of stdout");

    // verify
    auto* ver = app.add_subcommand("verify", "check every agency's sequence and hash chain; exit 1 on any problem");
    std::string ver_agency, ver_from, ver_to;
    bool ver_heads = false;
    ver->add_option("--agency", ver_agency, "only this agency (id or slug)");
    ver->add_option("--from", ver_from,
                    "start at this RFC 3339 time (Kafka offsets for times): each agency's chain is checked from "
                    "its first event read");
    ver->add_option("--to", ver_to, "stop after this RFC 3339 time");
    ver->add_flag("--heads", ver_heads, "also print each agency's last sequence and head hash");

    // rebuild
    auto* reb = app.add_subcommand("rebuild", "print an agency's state as of a time, folded from its events");
    std::string reb_agency, reb_as_of;
    reb->add_option("--agency", reb_agency, "the agency (id or slug)")->required();
    reb->add_option("--as-of", reb_as_of, "RFC 3339 time: fold the events with occurred_at <= it")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }
    src.timeout = std::chrono::milliseconds(timeout_ms);
    src.progress = isatty(STDERR_FILENO) != 0;
    src.clock_margin = std::chrono::milliseconds(margin_ms);
    const std::string topic = src.events_topic();

    // Validate every argument before touching Kafka.
    std::string err;
    replay::export_filter filter;
    micros as_of = 0;
    if (exp->parsed()) {
        if (!exp_agency.empty()) filter.agency = agency_id_of(exp_agency);
        if (!exp_aggregate.empty()) filter.aggregate_id = exp_aggregate;
        micros t = 0;
        if (!exp_from.empty()) {
            if (!parse_time("--from", exp_from, t, err)) return die(err);
            filter.from = t;
        }
        if (!exp_to.empty()) {
            if (!parse_time("--to", exp_to, t, err)) return die(err);
            filter.to = t;
        }
        if (!exp_type.empty()) {
            auto names = replay::event_type_names();
            if (std::find(names.begin(), names.end(), exp_type) == names.end()) {
                std::string known;
                for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
                return die("unknown event type '" + exp_type + "'; known types: " + known);
            }
            filter.event_type = exp_type;
        }
    }
    if (reb->parsed()) {
        if (!parse_time("--as-of", reb_as_of, as_of, err)) return die(err);
        src.to = as_of;  // nothing after it is folded
    }
    if (exp->parsed()) {
        src.from = filter.from;
        src.to = filter.to;
    }
    if (ver->parsed()) {
        micros t = 0;
        if (!ver_from.empty()) {
            if (!parse_time("--from", ver_from, t, err)) return die(err);
            src.from = t;
        }
        if (!ver_to.empty()) {
            if (!parse_time("--to", ver_to, t, err)) return die(err);
            src.to = t;
        }
    }
    replay::read_stats stats;

    auto partitions = replay::partition_count(src, topic);
    if (!partitions) return die(partitions.error().detail);
    const int n = *partitions;

    if (exp->parsed()) {
        std::ofstream file;
        if (!exp_out.empty()) {
            file.open(exp_out, std::ios::out | std::ios::trunc);
            if (!file) return die("cannot write " + exp_out);
        }
        std::ostream& out = exp_out.empty() ? std::cout : file;
        replay::exporter ex(topic, filter, [](const replay::problem& p) {
            std::cerr << "carelog-replay: " << replay::describe(p) << "\n";
        });
        // One agency lives on one partition: read only that one.
        auto which = filter.agency ? std::vector<int>{replay::partition_of(*filter.agency, n)} : all_partitions(n);
        auto write = [&](const replay::record_view& r) {
            if (auto line = ex.add(r)) out << *line << '\n';
        };
        auto read =
            replay::read_partitions(src, topic, which, replay::read_order::partition_by_partition, write, &stats);
        out.flush();
        if (!read) return die(read.error().detail);
        if (!out) return die("writing the export failed" + (exp_out.empty() ? std::string() : ": " + exp_out));
        std::cerr << replay::describe(stats) << "\n";
        std::cerr << "exported " << ex.exported() << " events of " << *read << " records in " << topic;
        if (!ex.problems().empty())
            std::cerr << "; " << ex.problems().size() << " undecodable records left out (run verify)";
        std::cerr << "\n";
        return ex.problems().empty() ? exit_ok : exit_failed;
    }

    if (ver->parsed()) {
        replay::verify_options vo{topic, std::nullopt, n};
        vo.mid_chain = src.from.has_value();
        if (!ver_agency.empty()) vo.agency = agency_id_of(ver_agency);
        replay::chain_verifier v(vo, [](const replay::problem& p) { std::cout << replay::describe(p) << "\n"; });
        // Every partition, even for one agency: its events found on a wrong partition are a problem too.
        auto read = replay::read_partitions(src, topic, all_partitions(n), replay::read_order::interleaved,
                                            [&](const replay::record_view& r) { v.add(r); }, &stats);
        if (!read) {
            std::cout.flush();
            return die(read.error().detail);
        }
        if (ver_heads)
            for (const auto& [agency, h] : v.heads())
                std::cout << "agency=" << agency << " partition=" << h.partition << " events=" << h.events
                          << " sequence=" << h.sequence << " offset=" << h.offset << " head=" << to_hex(h.hash)
                          << "\n";
        std::cout << v.summary();
        if (src.from)
            std::cout << " (from " << format_rfc3339(*src.from)
                      << ": each agency's chain checked from its first event read, not from its start)";
        std::cout << "\n";
        std::cout.flush();
        std::cerr << replay::describe(stats) << "\n";
        if (vo.agency && v.events() == 0) {
            std::cerr << "carelog-replay: no events of agency " << *vo.agency << " in " << topic << "\n";
            return exit_failed;
        }
        return v.problems().empty() ? exit_ok : exit_failed;
    }

    // rebuild
    const std::string agency = agency_id_of(reb_agency);
    replay::rebuilder rb(topic, agency, as_of, n, [](const replay::problem& p) {
        std::cerr << "carelog-replay: warning: " << replay::describe(p) << "\n";
    });
    auto read = replay::read_partitions(src, topic, {replay::partition_of(agency, n)},
                                        replay::read_order::partition_by_partition,
                                        [&](const replay::record_view& r) { rb.add(r); }, &stats);
    if (!read) return die(read.error().detail);
    std::cerr << replay::describe(stats) << "\n";
    if (rb.applied() == 0) {
        std::cerr << "carelog-replay: agency " << agency << " has no events at or before " << format_rfc3339(as_of)
                  << " in " << topic << "\n";
        return exit_failed;
    }
    std::cout << boost::json::serialize(rb.to_json()) << "\n";
    std::cout.flush();
    if (!rb.problems().empty()) {
        std::cerr << "carelog-replay: the agency's log does not verify (" << rb.problems().size()
                  << " problems): the state above is what the log says, not what can be trusted\n";
        return exit_failed;
    }
    return exit_ok;
}
