// What the decisions share: field checks, and the emitter of one aggregate's events. Every check
// appends to one list of field errors, so a request learns about all of its problems at once
// instead of one per round trip.
#pragma once

#include "carelog/base/overloaded.hpp"
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/agency.hpp"
#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"

namespace carelog::aggregates::detail {

using decision = result<std::vector<events::decided_event>>;

using carelog::overloaded;

class field_errors {
public:
    void add(std::string field, std::string message) { list_.push_back({std::move(field), std::move(message)}); }
    bool empty() const noexcept { return list_.empty(); }
    std::size_t size() const noexcept { return list_.size(); }
    error to_error() const { return error{errc::validation, "the request has invalid fields", list_}; }

private:
    std::vector<field_error> list_;
};

// Appends events to one aggregate (a staff member, a client) with consecutive versions after its
// current one.
class emitter {
public:
    template <class State>
    explicit emitter(const State& aggregate) : id_(aggregate.id), version_(aggregate.version) {}
    void add(events::payload p) { out_.push_back({id_, ++version_, std::move(p)}); }
    std::vector<events::decided_event> take() { return std::move(out_); }

private:
    std::string id_;
    std::uint64_t version_;
    std::vector<events::decided_event> out_;
};

// Code points of valid UTF-8.
std::size_t utf8_length(std::string_view s) noexcept;

// Display text (names, positions, addresses): valid UTF-8, no control characters, at most
// `max_chars` code points after trimming, non-empty when `required`. Returns the trimmed text; on
// failure adds one error for `field` and returns it anyway (the caller stops before emitting).
std::string check_text(field_errors& errs, const std::string& field, std::string_view value, bool required,
                       std::size_t max_chars);

// Simple shape: one '@', non-empty local part, a domain with an inner dot, no spaces, <= 254 bytes.
bool is_valid_email(std::string_view email) noexcept;
std::string check_email(field_errors& errs, const std::string& field, std::string_view value);

// A real calendar date YYYY-MM-DD (Gregorian leap years), year 1900 or later.
bool is_valid_date(std::string_view date) noexcept;

bool is_one_of(std::string_view v, std::span<const char* const> values) noexcept;
std::string joined(std::span<const char* const> values);

// A set of ids: each must be a key of `known`; duplicates are dropped and the result is sorted
// (the set is what matters, so "no change" compares canonical forms). Unknown ids name themselves.
template <class Map>
strings check_ids(field_errors& errs, const std::string& field, const strings& ids, const Map& known,
                  std::string_view what);

strings canonical_set(strings v);

// Staff-side evolve, kept beside the Staff rules (agency.cpp dispatches to it).
void evolve_staff(agency_state& s, const std::string& staff_id, std::uint64_t version, const events::payload& e,
                  micros occurred_at);
// The identity part of the Staff evolve (identity.cpp): credentials, sessions, MFA.
void evolve_identity(agency_state& s, staff_state& st, const events::payload& e, micros occurred_at);
// Client-side evolve (clients.cpp), and the agency's client indexes of one client (snapshots
// store clients only and rebuild the indexes with this).
void evolve_client(agency_state& s, const std::string& client_id, std::uint64_t version, const events::payload& e,
                   micros occurred_at);
void index_client(agency_state& s, const client_state& c);
// The agency's staff indexes of one staff member (usernames, live sessions, active org_admins,
// the pending reset link), and keeping the last two current when an event changed `st`.
// index_staff and index_client read only ids, usernames, role, active, reset token hashes, external
// id, invitation status and tokens, kiosk tokens: the writer's restart hands them staff and clients
// holding only those (writer/src/snapshot.cpp, *_index_fields).
void index_staff(agency_state& s, const staff_state& st);
void reindex_staff(agency_state& s, const staff_state& st, const std::string& old_reset_token, bool was_org_admin);
bool is_active_org_admin(const staff_state& st);

}  // namespace carelog::aggregates::detail

namespace carelog::aggregates::detail {

// ---- template definitions ----

template <class Map>
strings check_ids(field_errors& errs, const std::string& field, const strings& ids, const Map& known,
                  std::string_view what) {
    strings unknown;
    for (const auto& id : ids)
        if (!known.contains(id) && std::find(unknown.begin(), unknown.end(), id) == unknown.end())
            unknown.push_back(id);
    if (!unknown.empty()) {
        std::string msg = "unknown " + std::string(what) + (unknown.size() == 1 ? " " : "s ");
        for (std::size_t i = 0; i < unknown.size(); ++i) msg += (i ? ", '" : "'") + unknown[i] + "'";
        errs.add(field, msg + " in this agency");
    }
    return canonical_set(ids);
}

// A password verified against a hash that changed meanwhile (the API verifies again).
std::unexpected<error> stale_password_check();
// New-password checks shared by every way of setting one (staff and portal): on "new_password".
void check_new_password(field_errors& errs, const std::string& hash, bool policy_ok, bool same_as_current);

}  // namespace carelog::aggregates::detail
