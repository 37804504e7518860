// The write side's view of one agency: its aggregate state plus what the log itself must keep
// consistent (per-agency sequence without gaps, the SHA-256 chain, idempotency records). The same
// `apply` serves live commands and the catch-up read, so a restart reaches the same state.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "carelog/aggregates/agency.hpp"
#include "carelog/base/consistency_token.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/events/events.hpp"

namespace carelog::writer {

// What a repeated Idempotency-Key answers: the first command's target, version, position and events.
// Shared and immutable but for `token`, which the writer fills in when the commit is known, so a
// replay decided in the same batch as its original (or evicted right after) still has it.
struct idem_record {
    std::string aggregate_id;
    std::uint64_t version = 0;
    std::string token;
    std::vector<events::envelope> events;
    micros at = 0;
    std::uint64_t ordinal = 0;  // its place among the agency's records: the live ones are contiguous
};

// What changed in an agency's log since its last snapshot, marked by `apply` and taken (and
// cleared) by the snapshot (snapshot.hpp), so a snapshot writes the changed aggregates only.
// The agency's own entry (sequence, chain, the Agency aggregate) changes with every event.
struct snapshot_marks {
    bool agency = false;
    std::unordered_set<std::string> staff;
    std::unordered_set<std::string> clients;
    std::unordered_set<std::string> commands;  // idempotency keys whose record changed
    bool empty() const { return !agency && staff.empty() && clients.empty() && commands.empty(); }
};

struct agency_log {
    aggregates::agency_state state;
    std::uint64_t sequence = 0;
    sha256_digest last_hash{};
    std::unordered_map<std::string, std::shared_ptr<idem_record>> commands;
    std::deque<std::string> command_order;  // oldest first, to bound `commands`
    std::uint64_t next_ordinal = 0;         // the ordinal of the next new idempotency record
    snapshot_marks changed;
};

// How long and how many idempotency keys an agency remembers.
inline constexpr micros idempotency_window = 24LL * 3600 * 1000000;
inline constexpr std::size_t idempotency_max_keys = 20000;

// Command ids that carry a client's Idempotency-Key are "<caller scope>:<key>" (api scopes every
// key by its caller); generated command ids are bare UUIDs and keep no idempotency record.
bool is_idempotency_key(std::string_view command_id);

struct stamp_meta {
    std::string agency_id;
    std::string actor_id;
    std::string command_id;
    std::string correlation_id;
    micros now = 0;
};

// Wraps decided events in envelopes continuing the agency's sequence and hash chain and encodes
// them (the hash is computed while encoding). Does not change `log`; the events' data move into
// the envelopes.
struct stamped {
    events::envelope env;
    std::vector<std::uint8_t> bytes;
};
std::vector<stamped> stamp(const agency_log& log, std::vector<events::decided_event> decided,
                           const stamp_meta& meta, id_source& ids);

// Folds one event of the agency into the log: aggregate state, sequence, chain, idempotency record,
// and marks what it changed for the next snapshot (`changed`).
// Returns false (and applies nothing) when the event does not continue the chain: a gap in
// sequence or a prev_hash that is not the last hash.
bool apply(agency_log& log, const events::envelope& e, const std::string& token);

}  // namespace carelog::writer
