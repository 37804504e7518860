// The clients read models' pure part: the JSON views of clients, invitations, portal
// accounts, threads, messages and kiosk sessions, the client list's index keys and order, and who
// sees which clients. No RocksDB here: store.cpp reads the old views, calls these, and writes the
// new views and the index differences in the record's WriteBatch.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "carelog/events/events.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::projections::client_views {

// Index kinds in the client_index column family.
namespace index_kind {
inline constexpr std::string_view by_name = "n";      // (n, agency) + order suffix: every client
inline constexpr std::string_view assigned = "s";     // (s, agency, staff_id) + order suffix
inline constexpr std::string_view name_token = "t";   // (t, agency, token) + order suffix
inline constexpr std::string_view invitations = "ci"; // (ci, agency, client_id) be64(seq) -> invitation id
inline constexpr std::string_view username = "u";     // (u, agency, lower(username)) -> portal account id
inline constexpr std::string_view client_threads = "tc";  // (tc, agency, client_id) be64(seq) -> thread id
inline constexpr std::string_view staff_threads = "ts";   // (ts, agency, staff_id) be64(seq) -> thread id
inline constexpr std::string_view kiosks = "kc";          // (kc, agency, client_id) be64(seq) -> kiosk id
}  // namespace index_kind

// The client view after ClientAdded.
boost::json::object created_view(const events::envelope& e, const events::ClientAdded& c);

// The client view after one more event of the client (ClientAdded creates it; assignments, the
// portal account and its username change it; every event of the client sets version and
// updated_at). Events before ClientAdded leave no view. The projection and the view as of a time
// (`store::client_as_of`) both fold with it.
void evolve(std::optional<boost::json::object>& view, const events::envelope& e);

// The position of a client in list order: keys::make(folded lower last name, folded lower first
// name, id). List cursors encode it; the n, s and t index keys end in it.
std::string order_suffix(const boost::json::object& client_view);

// Every n / s / t index key of a client view.
std::set<std::string> index_keys(const std::string& agency_id, const boost::json::object& client_view);

// True when every query word is the prefix of one of the view's name tokens.
bool matches(const boost::json::object& client_view, const std::vector<std::string>& q_words);

// SPEC §1 (mirrors aggregates::access::can_see_client, which projections cannot include):
// administration types see every client, therapy_counseling only assigned ones, anything else none.
client_scope scope_of(std::string_view staff_type);
bool visible(const boost::json::object& client_view, const client_viewer& viewer);

// The stored invitation view with "state" computed at `now` (sent | registered | expired | revoked).
boost::json::object invitation_at(boost::json::object stored, micros now);
// The stored kiosk view with "state" at `now` (active | expired | submitted).
boost::json::object kiosk_at(boost::json::object stored, micros now);

}  // namespace carelog::projections::client_views
