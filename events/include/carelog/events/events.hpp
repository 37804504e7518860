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

// ---- identity: see schema/carelog_events.fbs for the meaning of every field ----

// Values of the reason/by fields, so producers and consumers spell them one way.
namespace password_change_reason {
inline constexpr const char* self = "self";
inline constexpr const char* reset = "reset";
inline constexpr const char* admin = "admin";
}  // namespace password_change_reason
namespace login_failure {
inline constexpr const char* bad_password = "bad_password";
inline constexpr const char* bad_totp = "bad_totp";
inline constexpr const char* totp_required = "totp_required";
inline constexpr const char* locked = "locked";
inline constexpr const char* deactivated = "deactivated";
inline constexpr const char* unknown_user = "unknown_user";
}  // namespace login_failure
namespace session_end {
inline constexpr const char* logout = "logout";
inline constexpr const char* idle = "idle";
inline constexpr const char* password_changed = "password_changed";
inline constexpr const char* admin = "admin";
inline constexpr const char* deactivated = "deactivated";
}  // namespace session_end

struct PasswordChanged {
    std::string password_hash;  // Argon2id string; never the password
    bool require_change_next_logon = false;
    std::string reason;            // password_change_reason
    std::string reset_token_hash;  // hex SHA-256; reason "reset" only
    bool operator==(const PasswordChanged&) const = default;
};
struct PasswordResetRequested {
    std::string token_hash;  // hex SHA-256 of the single-use token
    micros expires_at = 0;
    bool operator==(const PasswordResetRequested&) const = default;
};
struct LoginSucceeded {
    std::string session_id;  // hex SHA-256 of the bearer token
    std::string ip;
    std::string user_agent;
    bool mfa = false;
    bool mfa_enrollment_required = false;
    std::int64_t totp_step = 0;  // the RFC 6238 step of the code used (0 = none)
    bool operator==(const LoginSucceeded&) const = default;
};
struct LoginFailed {
    std::string username_tried;  // "" when what was typed cannot be a username
    std::string ip;
    std::string user_agent;
    std::string reason;  // login_failure
    bool operator==(const LoginFailed&) const = default;
};
struct AccountLocked {
    micros until = 0;  // 0 = until an administrator unlocks
    int failures = 0;
    bool operator==(const AccountLocked&) const = default;
};
struct AccountUnlocked {
    std::string by;  // "admin" | "timeout"
    bool operator==(const AccountUnlocked&) const = default;
};
struct MfaEnrolled {
    std::string secret_sealed;  // base/secrets.hpp seal(): "sb1:" + hex(nonce || box)
    bool operator==(const MfaEnrolled&) const = default;
};
struct MfaConfirmed {
    std::int64_t step = 0;
    bool operator==(const MfaConfirmed&) const = default;
};
struct MfaReset {
    std::string by;  // "admin"
    bool operator==(const MfaReset&) const = default;
};
struct SessionEnded {
    std::string session_id;
    std::string reason;  // session_end
    bool operator==(const SessionEnded&) const = default;
};
struct SessionTouched {
    std::string session_id;
    bool operator==(const SessionTouched&) const = default;
};

// ---- clients and the client portal: aggregate "Client", aggregate_id = client id ----
// (see schema/carelog_events.fbs for the meaning of every field)

namespace portal_login_failure {
inline constexpr const char* bad_password = "bad_password";
inline constexpr const char* locked = "locked";
inline constexpr const char* unknown_user = "unknown_user";
inline constexpr const char* portal_disabled = "portal_disabled";  // the agency switched the portal off
}  // namespace portal_login_failure
namespace portal_session_end {
inline constexpr const char* logout = "logout";
inline constexpr const char* idle = "idle";
inline constexpr const char* admin = "admin";
inline constexpr const char* password_changed = "password_changed";
}  // namespace portal_session_end
namespace sender_kind {
inline constexpr const char* staff = "staff";
inline constexpr const char* client = "client";
}  // namespace sender_kind

struct ClientAdded {
    std::string first_name;
    std::string last_name;
    std::string date_of_birth;  // YYYY-MM-DD
    std::string email;          // "" when none
    std::string phone;          // "" when none
    std::string external_id;    // "" when none
    bool operator==(const ClientAdded&) const = default;
};
struct StaffAssignedToClient {
    std::string staff_id;
    bool operator==(const StaffAssignedToClient&) const = default;
};
struct StaffUnassignedFromClient {
    std::string staff_id;
    bool operator==(const StaffUnassignedFromClient&) const = default;
};
struct InvitationSent {
    std::string invitation_id;
    std::string email;
    micros expires_at = 0;
    std::string token_hash;
    bool operator==(const InvitationSent&) const = default;
};
struct InvitationResent {
    std::string invitation_id;
    micros expires_at = 0;
    std::string token_hash;
    bool operator==(const InvitationResent&) const = default;
};
struct InvitationRevoked {
    std::string invitation_id;
    bool operator==(const InvitationRevoked&) const = default;
};
struct InvitationAccepted {
    std::string invitation_id;
    std::string portal_account_id;
    bool operator==(const InvitationAccepted&) const = default;
};
struct PortalUsernameChosen {
    std::string portal_account_id;
    std::string username;
    std::string password_hash;  // Argon2id string; never the password
    bool operator==(const PortalUsernameChosen&) const = default;
};
struct PortalLoginSucceeded {
    std::string portal_account_id;
    std::string session_id;  // hex SHA-256 of the bearer token
    std::string ip;
    std::string user_agent;
    bool operator==(const PortalLoginSucceeded&) const = default;
};
struct PortalLoginFailed {
    std::string portal_account_id;  // "" for an unknown username (Agency aggregate)
    std::string username_tried;
    std::string ip;
    std::string user_agent;
    std::string reason;  // portal_login_failure
    bool operator==(const PortalLoginFailed&) const = default;
};
struct PortalAccountLocked {
    std::string portal_account_id;
    micros until = 0;  // 0 = until an administrator unlocks
    int failures = 0;
    bool operator==(const PortalAccountLocked&) const = default;
};
struct PortalAccountUnlocked {
    std::string portal_account_id;
    std::string by;  // "admin" | "timeout"
    bool operator==(const PortalAccountUnlocked&) const = default;
};
struct PortalSessionEnded {
    std::string portal_account_id;
    std::string session_id;
    std::string reason;  // portal_session_end
    bool operator==(const PortalSessionEnded&) const = default;
};
struct MessageSent {
    std::string thread_id;
    std::string message_id;
    std::string sender_kind;  // sender_kind::staff | sender_kind::client
    std::string sender_id;    // staff id or portal account id
    std::string body;
    std::string staff_id;  // the thread's staff member
    bool operator==(const MessageSent&) const = default;
};
struct KioskSessionStarted {
    std::string kiosk_session_id;
    std::string client_id;
    std::string form_id;         // exactly one of form_id / document_id
    std::string document_id;
    std::string appointment_id;  // "" when none (only with form_id)
    std::string token_hash;
    micros expires_at = 0;
    std::string started_by;  // staff id
    bool operator==(const KioskSessionStarted&) const = default;
};
struct KioskFormSubmitted {
    std::string kiosk_session_id;
    std::string answers;  // a JSON object as text
    bool operator==(const KioskFormSubmitted&) const = default;
};
struct PortalSessionTouched {
    std::string portal_account_id;
    std::string session_id;
    bool operator==(const PortalSessionTouched&) const = default;
};
struct PortalPasswordChanged {
    std::string portal_account_id;
    std::string password_hash;  // Argon2id string; never the password
    bool require_change_next_logon = false;
    std::string reason;  // "temporary" | "changed" | "reset"
    std::string note;    // the administrator's reason for a temporary password
    bool operator==(const PortalPasswordChanged&) const = default;
};
struct PortalPasswordResetRequested {
    std::string portal_account_id;
    std::string token_hash;  // hex SHA-256 of the link's token; never the token
    micros expires_at = 0;
    bool operator==(const PortalPasswordResetRequested&) const = default;
};

using payload = std::variant<AgencyCreated, AgencySettingsChanged, LocationAdded, ProgramAdded, StaffCreated,
                             StaffProfileUpdated, RoleAssigned, StaffTypeSet, StaffLocationsSet, StaffProgramsSet,
                             ModulePermissionGranted, ModulePermissionRevoked, StaffDeactivated,
                             // identity, in the schema's union order
                             PasswordChanged, PasswordResetRequested, LoginSucceeded, LoginFailed, AccountLocked,
                             AccountUnlocked, MfaEnrolled, MfaConfirmed, MfaReset, SessionEnded, SessionTouched,
                             // clients and the client portal, in the schema's union order
                             ClientAdded, StaffAssignedToClient, StaffUnassignedFromClient, InvitationSent,
                             InvitationResent, InvitationRevoked, InvitationAccepted, PortalUsernameChosen,
                             PortalLoginSucceeded, PortalLoginFailed, PortalAccountLocked, PortalAccountUnlocked,
                             PortalSessionEnded, MessageSent, KioskSessionStarted, KioskFormSubmitted,
                             PortalSessionTouched, PortalPasswordChanged, PortalPasswordResetRequested>;

// "StaffCreated", ... (the Kafka `event-type` header and `event_type` in listings).
std::string_view event_type_name(const payload& p) noexcept;
// "Agency", "Staff" or "Client": which aggregate an event type usually belongs to. The exceptions are
// LoginFailed and PortalLoginFailed for an unknown username, which belong to the Agency: the decision says so in
// decided_event::aggregate_type, and a decoded envelope carries it in envelope::aggregate_type.
std::string_view aggregate_type_of(const payload& p) noexcept;

// What an aggregate decides: the payload and the aggregate it belongs to. The command path adds
// the envelope metadata (sequence, hashes, ids, time).
struct decided_event {
    std::string aggregate_id;
    std::uint64_t aggregate_version = 0;
    payload data;
    std::string aggregate_type;  // "" = aggregate_type_of(data); set only where that differs
};

// The envelope's aggregate_type for a decided event: use this (not aggregate_type_of(d.data)) when
// stamping envelopes.
std::string_view aggregate_type_of(const decided_event& d) noexcept;

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
