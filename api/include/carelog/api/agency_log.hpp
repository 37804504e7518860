// The write side's view of one agency: its aggregate state plus what the log itself must keep
// consistent (per-agency sequence without gaps, the SHA-256 chain, idempotency keys). The same
// `apply` serves live commands and the catch-up read, so a restart reaches the same state.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "carelog/aggregates/agency.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/events/events.hpp"

namespace carelog::api {

struct idem_record {
    std::string aggregate_id;
    std::uint64_t version = 0;
    std::string token;
    boost::json::object body;
    micros at = 0;
};

struct agency_log {
    aggregates::agency_state state;
    std::uint64_t sequence = 0;
    sha256_digest last_hash{};
    std::unordered_map<std::string, idem_record> commands;
    std::deque<std::string> command_order;  // oldest first, to bound `commands`
};

// How long and how many idempotency keys an agency remembers.
inline constexpr micros idempotency_window = 24LL * 3600 * 1000000;
inline constexpr std::size_t idempotency_max_keys = 20000;

struct stamp_meta {
    std::string agency_id;
    std::string actor_id;
    std::string command_id;
    std::string correlation_id;
    micros now = 0;
};

// Wraps decided events in envelopes continuing the agency's sequence and hash chain and encodes
// them (the hash is computed while encoding). Does not change `log`.
struct stamped {
    events::envelope env;
    std::vector<std::uint8_t> bytes;
};
std::vector<stamped> stamp(const agency_log& log, const std::vector<events::decided_event>& decided,
                           const stamp_meta& meta, id_source& ids);

// Folds one event of the agency into the log: aggregate state, sequence, chain, idempotency record.
// Returns false (and applies nothing) when the event does not continue the chain: a gap in
// sequence or a prev_hash that is not the last hash.
bool apply(agency_log& log, const events::envelope& e, const std::string& token);

// "<partition>-<offset>", the consistency token of a record.
std::string make_token(int partition, std::int64_t offset);
bool parse_token(std::string_view token, int& partition, std::int64_t& offset);

boost::json::value to_json(const agency_log& log);
result<agency_log> agency_log_from_json(const boost::json::value& v);

}  // namespace carelog::api
