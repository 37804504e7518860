// The domain's events as plain C++ values: what aggregates decide, what projections apply, what the
// codec turns into FlatBuffers (schema/carelog_events.fbs). Names are the domain's own words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "carelog/base/ids.hpp"
#include "carelog/base/sha256.hpp"

namespace carelog::events {

using strings = std::vector<std::string>;

// Every field optional: AgencyCreated carries all of them, AgencySettingsChanged only what changes.
struct Settings {
    std::optional<std::string> name;
    std::optional<bool> client_portal_enabled;
    std::optional<bool> messaging_enabled;
    std::optional<int> password_min_length;
    std::optional<bool> password_require_upper;
    std::optional<bool> password_require_lower;
    std::optional<bool> password_require_digit;
    std::optional<bool> password_require_symbol;
    std::optional<bool> password_disallow_username;
    std::optional<int> lockout_threshold;
    std::optional<int> lockout_minutes;
    std::optional<int> session_idle_minutes;
    std::optional<int> password_expiry_days;
    std::optional<strings> mfa_required_roles;
    std::optional<strings> services;
    bool operator==(const Settings&) const = default;
};

// The secure defaults of SPEC §1 "Agency settings".
Settings default_settings(std::string name);

struct AgencyCreated {
    std::string name;
    std::string slug;
    Settings settings;
    bool operator==(const AgencyCreated&) const = default;
};
struct AgencySettingsChanged {
    Settings settings;
    bool operator==(const AgencySettingsChanged&) const = default;
};
struct LocationAdded {
    std::string location_id;
    std::string name;
    std::string address;
    bool operator==(const LocationAdded&) const = default;
};
struct ProgramAdded {
    std::string program_id;
    std::string name;
    bool operator==(const ProgramAdded&) const = default;
};

struct Phone {
    std::string kind;
    std::string number;
    bool operator==(const Phone&) const = default;
};

struct StaffCreated {
    std::string first_name;
    std::string middle_name;  // "" when none
    std::string last_name;
    std::string gender;
    std::string position;
    std::string email;
    std::string username;
    std::string role;
    std::string staff_type;
    strings location_ids;
    strings program_ids;
    std::string hire_date;  // "" or YYYY-MM-DD
    std::vector<Phone> phones;
    std::string npi;
    std::string supervisor_id;
    bool require_password_change = true;
    std::string password_hash;  // Argon2id string; never the password
    bool operator==(const StaffCreated&) const = default;
};

// Present fields change; "" clears an optional field.
struct StaffProfileUpdated {
    std::optional<std::string> first_name;
    std::optional<std::string> middle_name;
    std::optional<std::string> last_name;
    std::optional<std::string> gender;
    std::optional<std::string> position;
    std::optional<std::string> email;
    std::optional<std::string> hire_date;
    std::optional<std::vector<Phone>> phones;
    std::optional<std::string> npi;
    std::optional<std::string> supervisor_id;
    bool operator==(const StaffProfileUpdated&) const = default;
};

struct RoleAssigned {
    std::string role;
    bool operator==(const RoleAssigned&) const = default;
};
struct StaffTypeSet {
    std::string staff_type;
    bool operator==(const StaffTypeSet&) const = default;
};
struct StaffLocationsSet {
    strings location_ids;
    bool operator==(const StaffLocationsSet&) const = default;
};
struct StaffProgramsSet {
    strings program_ids;
    bool operator==(const StaffProgramsSet&) const = default;
};
struct ModulePermissionGranted {
    std::string permission;
    bool operator==(const ModulePermissionGranted&) const = default;
};
struct ModulePermissionRevoked {
    std::string permission;
    bool operator==(const ModulePermissionRevoked&) const = default;
};
struct StaffDeactivated {
    std::string reason;
    bool operator==(const StaffDeactivated&) const = default;
};

using payload = std::variant<AgencyCreated, AgencySettingsChanged, LocationAdded, ProgramAdded, StaffCreated,
                             StaffProfileUpdated, RoleAssigned, StaffTypeSet, StaffLocationsSet, StaffProgramsSet,
                             ModulePermissionGranted, ModulePermissionRevoked, StaffDeactivated>;

// "StaffCreated", ... (the Kafka `event-type` header and `event_type` in listings).
std::string_view event_type_name(const payload& p) noexcept;
// "Agency" or "Staff": which aggregate an event type belongs to.
std::string_view aggregate_type_of(const payload& p) noexcept;

// What an aggregate decides: the payload and the aggregate it belongs to. The command path adds
// the envelope metadata (sequence, hashes, ids, time).
struct decided_event {
    std::string aggregate_id;
    std::uint64_t aggregate_version = 0;
    payload data;
};

struct envelope {
    std::string event_id;
    std::string agency_id;
    std::string aggregate_type;
    std::string aggregate_id;
    std::uint64_t aggregate_version = 0;
    std::uint64_t sequence = 0;
    micros occurred_at = 0;
    std::string actor_id;
    std::string command_id;
    std::string correlation_id;
    std::string causation_id;
    sha256_digest prev_hash{};
    sha256_digest hash{};
    std::uint16_t schema_version = 1;
    payload data;
};

inline constexpr std::uint16_t current_schema_version = 1;

}  // namespace carelog::events
