// The staff directory projection's pure part: how an event changes a staff view (JSON), which index
// keys a view has, and whether a view matches a list filter. No RocksDB here: store.cpp reads the
// old view, calls evolve, and writes the view plus the difference between the old and new index
// keys in the record's WriteBatch. staff_as_of folds stored events through the same evolve.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "carelog/events/events.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::projections::staff_directory {

// The one code path "apply an event to a staff view". `view` is nullopt until StaffCreated; events
// of other aggregates and Staff events before StaffCreated leave it unchanged. An event whose
// aggregate_version is not above the view's version was already applied (a re-published record)
// and is ignored, so applying twice never rolls the view back.
void evolve(std::optional<boost::json::object>& view, const events::envelope& e);

// Search tokens of a view: first, middle and last name and username, accents folded to ASCII and
// lower-cased. Each word gives its letters and digits joined ("o'brien" -> "obrien",
// "garcia-lopez" -> "garcialopez") and each run of them ("garcia", "lopez").
std::set<std::string> search_tokens(const boost::json::object& view);
// The words of a `q` parameter, normalized like tokens (folded, lower-case, letters and digits).
// Empty when q holds no letter or digit (then q filters nothing).
std::vector<std::string> query_words(std::string_view q);

// Index kinds in the staff_index column family; each key is
// (kind, agency_id, [value,] username_lower, staff_id), value empty.
namespace index_kind {
inline constexpr std::string_view username = "u";  // every staff member, ordered by username
inline constexpr std::string_view role = "r";
inline constexpr std::string_view type = "t";
inline constexpr std::string_view location = "l";
inline constexpr std::string_view program = "p";
inline constexpr std::string_view active = "a";  // value "1" or "0"
inline constexpr std::string_view name_token = "n";
}  // namespace index_kind

// Every index key of `view` in agency `agency_id`.
std::set<std::string> index_keys(const std::string& agency_id, const boost::json::object& view);

// The position of a view in username order: keys::make(username_lower, id). Index keys end in it,
// list cursors encode it.
std::string order_suffix(const boost::json::object& view);

// True when the view satisfies every filter (AND). Query words come from query_words(f.q).
bool matches(const boost::json::object& view, const staff_filter& f, const std::vector<std::string>& q_words);

}  // namespace carelog::projections::staff_directory
