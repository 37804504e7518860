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

#include "carelog/aggregates/aggregate_map.hpp"
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

// One live session of a staff member (key: session id = hex SHA-256 of the bearer token).
struct session_info {
    micros created_at = 0;  // the LoginSucceeded's occurred_at
    micros last_seen = 0;   // the latest of created_at and its SessionTouched events
    std::string ip;
    bool mfa = false;  // a TOTP code was verified at login
    bool operator==(const session_info&) const = default;
};

// Everything about a staff member's ability to log in except the password hash and the forced-change
// flag, which stay in `profile` (profile.password_hash / profile.require_password_change are always
// the CURRENT values: PasswordChanged updates them), so there is one place to verify against.
struct credentials_state {
    micros password_changed_at = 0;  // StaffCreated or the latest PasswordChanged (password expiry)
    int failed_attempts = 0;         // consecutive; reset by LoginSucceeded, AccountUnlocked, PasswordChanged
    bool locked = false;             // as recorded; see is_locked() for the lock at a given time
    micros locked_until = 0;         // with `locked`: when it lapses (0 = only an admin unlocks)
    std::string mfa_secret_sealed;   // "" = no TOTP enrolled
    bool mfa_confirmed = false;
    std::int64_t last_totp_step = 0;  // no code of this step or an earlier one is accepted again
    std::map<std::string, session_info> sessions;  // ended sessions are erased
    std::string reset_token_hash;                  // the one pending reset link ("" = none)
    micros reset_requested_at = 0;
    micros reset_expires_at = 0;
    micros last_login_at = 0;
    bool operator==(const credentials_state&) const = default;
};

struct staff_state {
    std::string id;
    std::uint64_t version = 0;
    events::StaffCreated profile;  // current values (role/type/locations/programs kept up to date here too)
    std::set<std::string> permissions;
    bool active = true;
    credentials_state credentials;
    bool operator==(const staff_state&) const = default;
};

// ---- clients and the client portal (rules in clients.hpp) ----
// Everything of one client lives in the Client aggregate (aggregate_id = client id): assignments,
// invitations, the portal account, message threads and kiosk sessions.

enum class invitation_status { sent, registered, revoked };  // "expired" is sent + now >= expires_at
struct invitation_state {
    std::string id;
    std::string email;
    std::string token_hash;  // the current token (a resend replaces it; the old one is dead)
    micros sent_at = 0;      // InvitationSent or the latest InvitationResent
    micros expires_at = 0;
    invitation_status status = invitation_status::sent;
    std::string portal_account_id;  // registered only
    bool operator==(const invitation_state&) const = default;
};

struct portal_session_info {
    micros created_at = 0;
    std::string ip;
    micros last_seen = 0;  // the latest of created_at and its PortalSessionTouched events
    bool operator==(const portal_session_info&) const = default;
};
struct portal_account_state {
    std::string id;
    std::string username;       // as chosen (case kept); never changes
    std::string password_hash;  // Argon2id
    std::string invitation_id;
    micros created_at = 0;
    int failed_attempts = 0;
    bool locked = false;
    micros locked_until = 0;  // with locked: 0 = only an admin unlocks
    micros last_login_at = 0;
    // A temporary password set by an administrator: the client's sessions may do nothing but
    // choose their own password until they do (PortalPasswordChanged).
    bool require_password_change = false;
    // The one pending "forgot password" link (PortalPasswordResetRequested; "" = none). Any
    // PortalPasswordChanged ends it.
    std::string reset_token_hash;
    micros reset_requested_at = 0;
    micros reset_expires_at = 0;
    std::map<std::string, portal_session_info> sessions;  // live sessions by session id
    bool operator==(const portal_account_state&) const = default;
};

struct thread_state {
    std::string id;
    std::string staff_id;  // the staff member the client talks with
    micros started_at = 0;
    micros last_message_at = 0;
    std::uint64_t messages = 0;
    bool operator==(const thread_state&) const = default;
};

struct kiosk_state {
    std::string id;
    std::string form_id;
    std::string document_id;
    std::string appointment_id;
    std::string token_hash;
    micros started_at = 0;
    micros expires_at = 0;
    std::string started_by;
    bool submitted = false;
    micros submitted_at = 0;
    bool operator==(const kiosk_state&) const = default;
};

struct client_state {
    std::string id;
    std::uint64_t version = 0;
    events::ClientAdded profile;
    micros created_at = 0;
    std::set<std::string> assigned_staff;
    std::map<std::string, invitation_state> invitations;
    std::optional<portal_account_state> portal;
    std::map<std::string, thread_state> threads;
    std::map<std::string, kiosk_state> kiosks;
    bool operator==(const client_state&) const = default;
};

struct agency_state {
    std::string id;
    bool exists = false;
    std::uint64_t version = 0;  // the Agency aggregate's version
    std::string slug;
    events::Settings settings;  // complete: every optional is set once the agency exists
    std::map<std::string, location> locations;
    std::map<std::string, program> programs;
    // The maps below `staff` and below `clients` are indexes derived from them (a snapshot stores
    // only the aggregates and rebuilds them). Every agency-wide question a rule asks goes through
    // one, never through iterating the aggregates: the writer holds only some of them in memory
    // (aggregate_map.hpp), the indexes always whole.
    aggregate_map<staff_state> staff;
    // lower-case username -> staff id; never shrinks (usernames are unique forever)
    std::unordered_map<std::string, std::string> usernames;
    // session id -> staff id of every live session (derived from the staff's sessions; kept for lookup)
    std::unordered_map<std::string, std::string> session_owners;
    std::set<std::string> org_admins;                                // ids of the active org_admins
    std::unordered_map<std::string, std::string> reset_token_owners;  // pending reset link's hash -> staff

    // Clients, each index value a client id.
    aggregate_map<client_state> clients;
    // lower-case portal username -> client id; never shrinks (portal usernames are unique forever)
    std::unordered_map<std::string, std::string> portal_usernames;
    std::unordered_map<std::string, std::string> portal_accounts;        // portal account id -> client
    std::unordered_map<std::string, std::string> portal_session_owners;  // live portal session -> client
    std::unordered_map<std::string, std::string> invitation_owners;      // invitation id -> client
    std::unordered_map<std::string, std::string> invitation_tokens;      // current token hash -> client
    std::unordered_map<std::string, std::string> thread_owners;          // thread id -> client
    std::unordered_map<std::string, std::string> kiosk_owners;           // kiosk session id -> client
    std::unordered_map<std::string, std::string> kiosk_tokens;           // kiosk token hash -> client
    std::unordered_map<std::string, std::string> external_ids;           // external id -> client
    std::unordered_map<std::string, std::string> portal_reset_tokens;    // pending portal reset link -> client
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
// `occurred_at` (the envelope's) dates password changes, sessions and their activity: the identity
// rules depend on it, so callers pass it (or use the envelope overload). It defaults to 0 only so
// that older call sites compile; with 0 every password looks changed at the epoch and expired.
void evolve(agency_state& s, const std::string& aggregate_id, std::uint64_t aggregate_version,
            const events::payload& e, micros occurred_at = 0);
// The same from a decoded envelope (the way every consumer of the log should call it).
void evolve(agency_state& s, const events::envelope& e);

// Agency commands. create_agency yields AgencyCreated (aggregate_id = agency id, version 1) and
// the first admin's StaffCreated (role org_admin, type administration, no forced password change).
result<std::vector<events::decided_event>> decide(const agency_state& s, const create_agency& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const change_settings& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const add_location& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const add_program& c);

bool is_valid_slug(std::string_view slug);

}  // namespace carelog::aggregates
