// Shared fixtures for the aggregates tests: an agency with locations and programs, valid commands
// to vary one field at a time, and helpers that fold decisions back into the state.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "carelog/aggregates/command.hpp"

namespace carelog::aggregates::testing {

using decision = result<std::vector<events::decided_event>>;

inline std::string describe(const error& e) {
    std::string out = e.detail;
    for (const auto& f : e.fields) out += " | " + f.field + ": " + f.message;
    return out;
}

// The events of a decision that must succeed.
inline std::vector<events::decided_event> accepted(const decision& d) {
    if (!d) FAIL("refused: " << describe(d.error()));
    return *d;
}

// The error of a decision that must fail.
inline error refused(const decision& d) {
    if (d) FAIL("accepted with " << d->size() << " event(s)");
    return d.error();
}

inline bool has_field(const error& e, const std::string& field) {
    return std::any_of(e.fields.begin(), e.fields.end(), [&](const auto& f) { return f.field == field; });
}
inline std::string field_message(const error& e, const std::string& field) {
    for (const auto& f : e.fields)
        if (f.field == field) return f.message;
    return {};
}

inline void fold_in(agency_state& s, const std::vector<events::decided_event>& evs) {
    for (const auto& e : evs) evolve(s, e.aggregate_id, e.aggregate_version, e.data);
}
// The same with the envelopes' occurred_at (identity state is dated by it).
inline void fold_in(agency_state& s, const std::vector<events::decided_event>& evs, micros at) {
    for (const auto& e : evs) evolve(s, e.aggregate_id, e.aggregate_version, e.data, at);
}

inline create_agency agency_cmd() {
    create_agency c;
    c.agency_id = "agency-1";
    c.name = "Riverside Counseling";
    c.slug = "riverside";
    c.admin_staff_id = "admin-1";
    c.admin_first_name = "Ada";
    c.admin_last_name = "Lovelace";
    c.admin_email = "ada@riverside.example";
    c.admin_password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    return c;
}

inline create_staff staff_cmd(std::string id, std::string first, std::string last, std::string middle = "") {
    create_staff c;
    c.staff_id = std::move(id);
    c.first_name = std::move(first);
    c.middle_name = std::move(middle);
    c.last_name = std::move(last);
    c.gender = "female";
    c.position = "Counselor";
    c.email = "staff@riverside.example";
    c.role = "therapist";
    c.staff_type = "therapy_counseling";
    c.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$dGVtcA";
    return c;
}

// An agency with two locations (loc-main "Main Office", loc-north "North Clinic") and two
// programs (prog-iop "Intensive Outpatient", prog-youth "Youth Services").
struct agency_fixture {
    agency_state s;

    agency_fixture() {
        fold_in(s, accepted(decide(s, agency_cmd())));
        fold_in(s, accepted(decide(s, add_location{"loc-main", "Main Office", "1 River Rd"})));
        fold_in(s, accepted(decide(s, add_location{"loc-north", "North Clinic", ""})));
        fold_in(s, accepted(decide(s, add_program{"prog-iop", "Intensive Outpatient"})));
        fold_in(s, accepted(decide(s, add_program{"prog-youth", "Youth Services"})));
    }

    // Decides and applies; returns the accepted events.
    std::vector<events::decided_event> run(const command& c) {
        auto evs = accepted(decide(s, c));
        fold_in(s, evs);
        return evs;
    }

    // Creates a staff member and returns the username the rule chose.
    std::string hire(create_staff c) {
        auto id = c.staff_id;
        run(std::move(c));
        return s.staff.at(id).profile.username;
    }

    const staff_state& staff(const std::string& id) const { return s.staff.at(id); }
};

}  // namespace carelog::aggregates::testing
