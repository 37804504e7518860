// The write engine's snapshot of a partition's agency logs, so a restart replays only the log's
// tail: FlatBuffers values (writer/schema/writer_snapshot.fbs), one per aggregate and per
// idempotency record, each under its own key of the partition's namespace, so a snapshot writes
// only what changed since the last one.
//
// The lane thread calls `take_changes` for the agencies it changed, at a moment where memory equals
// the committed log; it encodes the changed entries only (no copy of an agency) and hands the bytes
// to the snapshot thread, which writes them with the partition's next offset and the format in one
// batch. `load_snapshot` rebuilds the logs from every entry of the namespace.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "carelog/base/errc.hpp"
#include "carelog/writer/agency_log.hpp"

namespace carelog::writer {

// Stored under snapshot_format_key beside "offset"; a namespace with another value (or none, as an
// older JSON snapshot has) is not loaded: the partition is replayed from offset 0 instead.
inline constexpr std::string_view snapshot_format = "4";
inline constexpr std::string_view snapshot_format_key = "format";
inline constexpr std::string_view snapshot_offset_key = "offset";
inline constexpr std::string_view snapshot_prefix = "a/";  // every entry's key starts with it

// Idempotency records live in slots ordinal % snapshot_command_slots: the live records of an agency
// (at most idempotency_max_keys, contiguous ordinals) never share a slot, so a new record overwrites
// an evicted one and no key is ever deleted. The agency's entry names the live range.
inline constexpr std::uint64_t snapshot_command_slots = idempotency_max_keys;

using snapshot_entries = std::vector<std::pair<std::string, std::string>>;

// Appends the entries of `log` that changed since its last snapshot (log.changed) to `out` and
// clears the marks: the agency's entry, then each changed staff member, client and live
// idempotency record. O(what changed).
void take_changes(const std::string& agency_id, agency_log& log, snapshot_entries& out);

// Marks every aggregate in memory and idempotency record of `log` changed (the next take_changes
// writes them all; an aggregate not in memory is in the snapshot already).
void mark_all_changed(agency_log& log);

// What a load keeps in memory: every aggregate, or (the writer's restart) only the agencies, their
// idempotency records and indexes, each staff member and client left in the snapshot to be read
// back when needed (read_back_from). Every value is verified either way.
enum class snapshot_load { everything, indexes_only };

// The agency logs of a partition from its entries (keys with snapshot_prefix, any order). Fails
// (errc::malformed, with the key) on a value that does not verify, an entry of an agency without
// its agency entry, or a live idempotency record that is missing.
result<std::unordered_map<std::string, agency_log>> load_snapshot(const snapshot_entries& entries,
                                                                  snapshot_load what = snapshot_load::everything);

// The same, reading the entries as `each` hands them out (key, value; valid during the call), so a
// partition's million entries are never copied into a vector first.
using snapshot_visitor = std::function<void(std::string_view key, std::string_view value)>;
result<std::unordered_map<std::string, agency_log>> load_snapshot(
    const std::function<void(const snapshot_visitor&)>& each, snapshot_load what = snapshot_load::everything);

// The keys of one staff member's and one client's entry.
std::string staff_entry_key(const std::string& agency_id, const std::string& staff_id);
std::string client_entry_key(const std::string& agency_id, const std::string& client_id);

// Reads one stored entry by key (nullopt: there is none).
using entry_reader = std::function<std::optional<std::string>(const std::string& key)>;
// Lets the staff and clients of `log` that are not in memory be read back from its agency's
// entries through `get`: their last snapshotted state, which the writer makes sure is their
// committed state before it lets one go (engine.cpp, lane::evict_written). A value that does not
// verify throws (the lane then rebuilds from snapshot and log).
void read_back_from(agency_log& log, const std::string& agency_id, entry_reader get);

}  // namespace carelog::writer
