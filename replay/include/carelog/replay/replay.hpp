// The auditors' logic over raw log records (partition, offset, key, bytes), with no Kafka in sight:
// verifying every agency's sequence and SHA-256 chain, exporting events as SPEC §3 listings with
// filters, and rebuilding an agency's state as of a time. carelog-replay feeds these from the
// topic (kafka_source.hpp); the unit tests feed them hand-made chains.
//
// Every consumer expects the records of one partition in offset order. Partitions may interleave:
// an agency lives on one partition, so per-partition order is per-agency order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "carelog/aggregates/agency.hpp"
#include "carelog/base/errc.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/sha256.hpp"
#include "carelog/events/events.hpp"

namespace carelog::replay {

// One record of the event topic as Kafka hands it out; the views must outlive the call they are
// passed to, nothing more.
struct record_view {
    int partition = 0;
    std::int64_t offset = 0;
    std::string_view key;
    std::span<const std::uint8_t> value;
};

// Something wrong with one record, located well enough to find it again with any Kafka tool.
struct problem {
    std::string topic;
    int partition = 0;
    std::int64_t offset = 0;
    std::string agency;  // the envelope's agency_id, or the Kafka key when the record does not decode
    std::string what;
};

// "topic=carelog.events partition=3 offset=17 agency=<id>: <what>"
std::string describe(const problem& p);

// ---------------------------------------------------------------------------------------------
// verify

struct verify_options {
    std::string topic;
    std::optional<std::string> agency;  // only this agency's records (by envelope agency_id or key)
    // When > 0, each agency must sit on the partition murmur2(agency id) % partition_count picks,
    // the partition its writer appends to. When 0 (unknown), an agency must stay on one partition.
    int partition_count = 0;
    // The read starts after the log's beginning (a span by time): each agency's first record read
    // anchors its chain (its sequence and prev_hash are taken as given); everything after it is
    // checked as usual.
    bool mid_chain = false;
};

// What the verifier made of one record.
struct verdict {
    bool selected = false;                  // false: filtered out by `agency`, nothing checked
    std::optional<events::envelope> event;  // set when the record decodes
    bool in_chain = false;  // takes the next place in the agency's chain (not a repeat/backwards step)
    bool ok = false;        // no problem found with this record
};

// Checks per agency: sequence starts at 1 without gaps or repeats; prev_hash equals the previous
// event's stored hash (all zeros for the first); the stored hash equals events::compute_hash of the
// record bytes; the envelope's agency_id equals the Kafka key; the agency stays on its partition.
// A record that does not decode is a problem of the key's agency and leaves its chain untouched.
// After a gap the chain resumes at the found event (one gap, one problem, not a cascade).
class chain_verifier {
public:
    explicit chain_verifier(verify_options opts, std::function<void(const problem&)> on_problem = {});

    verdict add(const record_view& r);

    const std::vector<problem>& problems() const noexcept { return problems_; }
    std::size_t events() const noexcept { return events_; }  // selected records, decodable or not
    std::size_t agencies() const noexcept { return agencies_.size(); }

    // The head of each agency's chain, for auditors who anchor the log by its last hash.
    struct head {
        int partition = 0;
        std::size_t events = 0;
        std::uint64_t sequence = 0;  // last sequence in the chain (0: none decoded)
        std::int64_t offset = -1;    // its offset
        sha256_digest hash{};        // its stored hash (zeros: none)
    };
    const std::map<std::string, head>& heads() const noexcept { return agencies_; }

    // "verified N events of M agencies: OK" or "verified N events of M agencies: K problems"
    std::string summary() const;

private:
    void report(const record_view& r, const std::string& agency, std::string what);

    verify_options opts_;
    std::function<void(const problem&)> on_problem_;
    std::vector<problem> problems_;
    std::size_t events_ = 0;
    std::map<std::string, head> agencies_;
};

// ---------------------------------------------------------------------------------------------
// export

struct export_filter {
    std::optional<std::string> agency;
    std::optional<micros> from;  // occurred_at >= from
    std::optional<micros> to;    // occurred_at <= to
    std::optional<std::string> event_type;
    std::optional<std::string> aggregate_id;

    bool matches(const events::envelope& e) const;
};

// Every event type name ("AgencyCreated", ...), to validate --type.
std::vector<std::string> event_type_names();

// SPEC §3 event listing (events::listing_json) plus `partition` and `offset`, secrets scrubbed.
boost::json::object export_line(const events::envelope& e, int partition, std::int64_t offset);

// Filters and formats records; a record that does not decode is a problem (when the filter's
// agency, if any, is its key) and yields no line.
class exporter {
public:
    exporter(std::string topic, export_filter filter, std::function<void(const problem&)> on_problem = {});

    // The JSON line (without newline) for a record that passes the filter.
    std::optional<std::string> add(const record_view& r);

    std::size_t exported() const noexcept { return exported_; }
    const std::vector<problem>& problems() const noexcept { return problems_; }

private:
    std::string topic_;
    export_filter filter_;
    std::function<void(const problem&)> on_problem_;
    std::vector<problem> problems_;
    std::size_t exported_ = 0;
};

// ---------------------------------------------------------------------------------------------
// rebuild

// Folds one agency's events with occurred_at <= as_of through aggregates::evolve, in chain order.
// The agency's chain is verified on the way; the problems of records up to as_of (and of records
// that do not decode, whose time is unknown) are the rebuild's problems: the state is then suspect.
// Repeated or backwards records are never folded twice.
class rebuilder {
public:
    rebuilder(std::string topic, std::string agency, micros as_of, int partition_count = 0,
              std::function<void(const problem&)> on_problem = {});

    void add(const record_view& r);

    std::size_t applied() const noexcept { return applied_; }
    const aggregates::agency_state& state() const noexcept { return state_; }
    const std::vector<problem>& problems() const noexcept { return problems_; }

    // aggregates::to_json(state) without secrets or the snapshot's format field, plus `as_of`
    // (RFC 3339), `events_applied`, `sequence` and `hash` of the last event folded.
    boost::json::object to_json() const;

private:
    std::string agency_;
    micros as_of_;
    chain_verifier verifier_;
    std::function<void(const problem&)> on_problem_;
    std::vector<problem> problems_;
    aggregates::agency_state state_;
    std::size_t applied_ = 0;
    std::uint64_t last_sequence_ = 0;
    sha256_digest last_hash_{};
};

// Removes secrets from a JSON tree in place: members named password, password_hash,
// temporary_password, totp_secret, secret, token or *_sealed (the sealed TOTP secret), and any
// member whose string value is an Argon2 hash.
void scrub_secrets(boost::json::value& v);

}  // namespace carelog::replay
