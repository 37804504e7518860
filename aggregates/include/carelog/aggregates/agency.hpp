// The Agency aggregate and the state every command of an agency is decided against.
// Pure: no Kafka, RocksDB, Beast, filesystem or clock. Time and ids arrive inside commands.
//
// One agency's events are totally ordered (Kafka key = agency id), so one writer holds an
// `agency_state` in memory and checks every invariant of that agency (username uniqueness
// included) with `decide`, then folds the accepted events in with `evolve`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"

namespace carelog::aggregates {

using events::strings;

inline constexpr const char* role_values[] = {"org_admin", "admin", "biller", "therapist", "scheduler"};
inline constexpr const char* staff_type_values[] = {"therapy_counseling", "administration",
                                                    "administration_time_tracking"};
inline constexpr const char* module_permission_values[] = {"client_portal", "messaging"};

struct location {
    std::string id;
    std::string name;
    std::string address;
    bool operator==(const location&) const = default;
};
struct program {
    std::string id;
    std::string name;
    bool operator==(const program&) const = default;
};

struct staff_state {
    std::string id;
    std::uint64_t version = 0;
    events::StaffCreated profile;  // current values (role/type/locations/programs kept up to date here too)
    std::set<std::string> permissions;
    bool active = true;
    bool operator==(const staff_state&) const = default;
};

struct agency_state {
    std::string id;
    bool exists = false;
    std::uint64_t version = 0;  // the Agency aggregate's version
    std::string slug;
    events::Settings settings;  // complete: every optional is set once the agency exists
    std::map<std::string, location> locations;
    std::map<std::string, program> programs;
    std::unordered_map<std::string, staff_state> staff;
    // lower-case username -> staff id; never shrinks (usernames are unique forever)
    std::unordered_map<std::string, std::string> usernames;
    bool operator==(const agency_state&) const = default;
};

// ---- commands (ids and hashes are made by the caller, so decide stays pure) ----

struct create_agency {
    std::string agency_id;
    std::string name;
    std::string slug;  // lower-case letters, digits, hyphens; 3..63
    std::string admin_staff_id;
    std::string admin_first_name;
    std::string admin_last_name;
    std::string admin_email;
    std::string admin_password_hash;  // Argon2id string
};
struct change_settings {
    events::Settings patch;  // only present fields change; name/slug rules apply
};
struct add_location {
    std::string location_id;
    std::string name;
    std::string address;
};
struct add_program {
    std::string program_id;
    std::string name;
};

// ---- rules ----

// Applies one event of this agency (Agency or Staff aggregate) to the state. Unknown staff ids in
// Staff events are ignored (never happens for a chain the writer produced).
void evolve(agency_state& s, const std::string& aggregate_id, std::uint64_t aggregate_version,
            const events::payload& e);

// Agency commands. create_agency yields AgencyCreated (aggregate_id = agency id, version 1) and
// the first admin's StaffCreated (role org_admin, type administration, no forced password change).
result<std::vector<events::decided_event>> decide(const agency_state& s, const create_agency& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const change_settings& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const add_location& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const add_program& c);

bool is_valid_slug(std::string_view slug);

}  // namespace carelog::aggregates
