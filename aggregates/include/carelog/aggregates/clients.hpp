// Clients and the client portal (SPEC §1 "Clients", "Client portal"): pure decisions on the
// Client aggregate and the queries the API needs before and after deciding.
//
// The aggregate. Everything of one client is one aggregate, "Client", aggregate_id = client id:
// its profile, the staff assigned to it, its portal invitations, its portal account (at most one),
// its message threads and its kiosk sessions. One aggregate per client keeps every rule that joins
// these (an invitation registers the client's one account, a client writes only into its own
// threads, a kiosk token opens only its own client's form) inside one version stream, and the
// agency-wide invariants (portal usernames unique per agency, case-insensitively, forever) hold
// because the agency's writer decides every command of the agency one after another (agency.hpp).
// The one event of this file that is not on a Client: PortalLoginFailed for an unknown username,
// which is on the Agency (aggregate_type "Agency"), as LoginFailed is.
//
// The division of labour with the API (which owns every secret and every clock), as in identity.hpp:
// tokens are made by the API (base/secrets.hpp random_token) and only their token_hash enters a
// command or an event; passwords arrive hashed (Argon2id) with the policy verdict; every command
// that depends on time carries `now` (the value the API stamps on the envelopes). Route permissions
// (clients.create, clients.assign_staff, kiosk.start, ...) are the API's; decide checks the rules that
// need the agency's state: the module switches and grants, visibility (access::can_see_client), staff
// being active.
//
// Choices where SPEC §1 is silent:
// - e-mail and phone of a client are optional (children, people without e-mail); when given they
//   must have the shape of one. E-mail is never unique (SPEC). external_id, when given, is unique per
//   agency (409): it lets a repeated CSV import be refused row by row instead of duplicating clients.
// - date_of_birth: a real date YYYY-MM-DD, 1900 or later, not after `now`'s UTC date.
// - invitations: the e-mail defaults to the client's; one client may hold several invitations, but
//   a client that already has a portal account cannot be invited again (409). Resend works on a
//   sent or expired invitation (new token, new expiry, the old token is dead); revoking a revoked
//   invitation changes nothing; a registered one can be neither resent nor revoked (409). Resend and
//   revoke need the same switch + permission as sending.
// - portal usernames: 3..64 characters of letters, digits, '.', '_' and '-', starting with a letter
//   or digit; anything with an '@' is e-mail shaped and refused (422). Portal and staff usernames are
//   separate namespaces (different login endpoints).
// - portal login reuses the agency's lockout policy (lockout_threshold / lockout_minutes) and idle
//   timeout; a portal session slides with use as a staff session does: its activity is recorded
//   (PortalSessionTouched) at most once per touch interval, and it idles out that long after.
// - a thread is between the client and one staff member. A staff member starts it by writing (they
//   are its staff member); a client starts it by naming a staff member assigned to them who has the
//   messaging permission. Any staff member who may see the client and has messaging may write into
//   any of the client's threads.
// - kiosk: needs no module switch (the route needs kiosk.start, part of the default set); lifetime
//   default 1 hour, at most 24 hours.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/agency.hpp"

namespace carelog::aggregates {

inline constexpr micros micros_per_hour = 3'600'000'000;
inline constexpr micros invitation_lifetime = 72 * micros_per_hour;      // SPEC: default 72 hours
inline constexpr micros max_invitation_lifetime = 30 * 24 * micros_per_hour;
inline constexpr micros kiosk_lifetime = micros_per_hour;
inline constexpr micros max_kiosk_lifetime = 24 * micros_per_hour;
inline constexpr std::size_t max_message_chars = 10'000;
inline constexpr std::size_t max_answers_bytes = 1 << 20;

// ---- commands ----

struct add_client {
    std::string client_id;
    std::string first_name;
    std::string last_name;
    std::string date_of_birth;  // YYYY-MM-DD
    std::string email;          // "" = none
    std::string phone;          // "" = none
    std::string external_id;    // "" = none
    micros now = 0;
};
struct assign_staff_to_client {
    std::string client_id;
    std::string staff_id;
};
struct unassign_staff_from_client {
    std::string client_id;
    std::string staff_id;
};
struct send_invitation {
    std::string client_id;
    std::string invitation_id;
    std::string actor_staff_id;  // who invites: needs the client_portal permission
    std::string email;           // "" = the client's e-mail
    std::string token_hash;      // token_hash(random_token()); the token goes into the link
    micros now = 0;
    std::optional<micros> expires_at;  // default now + 72 h
};
struct resend_invitation {
    std::string invitation_id;
    std::string actor_staff_id;
    std::string token_hash;  // a new token
    micros now = 0;
    std::optional<micros> expires_at;
};
struct revoke_invitation {
    std::string invitation_id;
    std::string actor_staff_id;
};
// Registration through an invitation link: InvitationAccepted + PortalUsernameChosen.
struct register_portal_account {
    std::string token_hash;         // token_hash of the link's token
    std::string portal_account_id;  // new id made by the API
    std::string username;
    std::string password_hash;  // Argon2id
    bool password_policy_ok = false;
    micros now = 0;
};
// Always refused: a portal username never changes (SPEC). Exists so the refusal is a rule.
struct change_portal_username {
    std::string portal_account_id;
    std::string username;
};
struct record_portal_login {
    std::string username;               // as typed
    bool password_ok = false;           // crypto_pwhash_str_verify verdict
    std::string checked_password_hash;  // the hash it verified against (must still be current)
    std::string session_id;             // token_hash of a fresh token
    std::string ip;
    std::string user_agent;
    micros now = 0;
};
struct portal_logout {
    std::string session_id;
};
// Activity on a live portal session: records PortalSessionTouched when one is due (see
// check_portal_session).
struct touch_portal_session {
    std::string session_id;
    micros now = 0;
};
// An administrator ends every live session of a portal account (a lost or stolen device):
// PortalSessionEnded{admin} for each; nothing when none is live.
struct end_portal_sessions {
    std::string portal_account_id;
};
// An administrator gives a portal account a temporary password (the client lost theirs): the API
// made it and hashed it; the client must choose their own at the next login. Ends every live
// session of the account and unlocks it.
struct set_portal_temporary_password {
    std::string portal_account_id;
    std::string new_password_hash;
    std::string note;  // the administrator's reason, kept with the event
};
// The client chooses their own password (also after a temporary one): `current_ok` is the API's
// check of the current password against `checked_password_hash`, `new_password_policy_ok` of the
// new one against the agency's policy. Ends every other session of the account.
struct change_portal_password {
    std::string portal_account_id;
    std::string session_id;  // the session asking: it stays
    bool current_ok = false;
    std::string checked_password_hash;
    std::string new_password_hash;
    bool new_password_policy_ok = false;
    bool new_same_as_current = false;
    micros now = 0;
};
// A portal client forgot their password: `token_hash` is the SHA-256 of a fresh link token the
// API mails to the client once the request is recorded.
struct request_portal_password_reset {
    std::string username;  // as typed
    std::string token_hash;
    micros now = 0;
};
// The client sets a new password with the link's token (the API checked the policy and whether the
// new password equals the current one, and hashed it).
struct confirm_portal_password_reset {
    std::string token_hash;
    std::string new_password_hash;
    bool new_password_policy_ok = false;
    bool new_same_as_current = false;
    micros now = 0;
};
// An administrator unlocks a portal account.
struct unlock_portal_account {
    std::string portal_account_id;
};
struct send_message {
    std::string client_id;
    std::string thread_id;    // an existing thread of the client, or a new id to start one
    std::string message_id;
    std::string sender_kind;  // "staff" | "client"
    std::string sender_id;    // staff id, or the client's portal account id
    std::string to_staff_id;  // a client starting a thread: the staff member it is with
    std::string body;
};
struct start_kiosk {
    std::string client_id;
    std::string kiosk_session_id;
    std::string actor_staff_id;
    std::string form_id;         // a blank form ...
    std::string document_id;     // ... or an existing document: exactly one
    std::string appointment_id;  // optional, only with form_id
    std::string token_hash;
    micros now = 0;
    std::optional<micros> expires_at;  // default now + 1 h, at most now + 24 h
};
struct submit_kiosk_form {
    std::string token_hash;
    std::string answers;  // a JSON object as text
    micros now = 0;
};

// ---- decisions ----
// Unknown agency -> not_found everywhere. Unknown client, invitation, account, thread -> not_found
// (also when it is another client's: nothing crosses clients).
//
// add_client: validation (all field errors at once); conflict for an existing client id or a taken
//   external_id. Yields ClientAdded.
// assign_staff_to_client: unknown staff -> not_found; deactivated -> conflict; already assigned ->
//   no events. unassign: unknown staff -> not_found; not assigned -> no events.
// send_invitation: forbidden when the agency's client_portal_enabled is off and/or the actor lacks
//   the client_portal permission (the detail names each missing one); an inactive or unknown actor ->
//   forbidden; a client the actor may not see -> not_found; an existing portal account -> conflict;
//   validation for the e-mail (none given and none on file), the token hash, the expiry.
// register_portal_account: a token that matches no live invitation (unknown, replaced by a resend,
//   revoked, expired, used, or its client already registered) -> validation on "token"; username
//   e-mail shaped or badly shaped -> validation on "username"; username taken in the agency
//   (case-insensitively, forever) -> conflict; password missing or against policy -> validation.
// change_portal_username: always conflict, never an event.
// record_portal_login: like identity's record_login (without TOTP): unknown username ->
//   PortalLoginFailed{unknown_user} on the Agency; the agency's client_portal_enabled off ->
//   PortalLoginFailed{portal_disabled} (no failure counted); lapsed lock -> PortalAccountUnlocked{timeout}
//   first; lock in force -> PortalLoginFailed{locked}; wrong password -> PortalLoginFailed
//   {bad_password} [+ PortalAccountLocked at the threshold]; success -> PortalSessionEnded{idle}
//   for sessions already idle, then PortalLoginSucceeded.
// send_message: staff sender: the agency's messaging_enabled and the staff member's messaging
//   permission (forbidden naming what is missing), active, may see the client (else not_found).
//   Client sender: messaging_enabled (forbidden), sender_id must be this client's portal account
//   (else not_found), the thread must be the client's own (another client's -> not_found); a new
//   thread needs to_staff_id assigned to the client, active, with messaging (validation).
//   Body 1..10000 characters of valid UTF-8 (message ids are the API's fresh UUIDs).
// start_kiosk: actor active and may see the client (else forbidden / not_found); exactly one of
//   form_id / document_id; appointment only with a form; token hash; expiry in (now, now + 24 h].
// submit_kiosk_form: a token of no live kiosk session (unknown, expired) -> unauthenticated;
//   already submitted -> conflict; answers not a JSON object or over 1 MiB -> validation.
result<std::vector<events::decided_event>> decide(const agency_state& s, const add_client& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const assign_staff_to_client& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const unassign_staff_from_client& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const send_invitation& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const resend_invitation& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const revoke_invitation& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const register_portal_account& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const change_portal_username& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const record_portal_login& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const portal_logout& c);
// touch_portal_session: a session that is not active (unknown, idle, portal off) -> unauthenticated;
// not due -> no events; due -> PortalSessionTouched.
result<std::vector<events::decided_event>> decide(const agency_state& s, const touch_portal_session& c);
// set_portal_temporary_password: unknown account -> not_found; an empty note -> validation;
//   -> PortalAccountUnlocked{admin} when locked, PortalPasswordChanged{temporary, require change},
//   PortalSessionEnded{password_changed} for every live session.
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_portal_temporary_password& c);
// change_portal_password: the session not a live session of the account -> unauthenticated; a stale
//   check (the hash changed meanwhile) -> stale; wrong current password or a new one the policy
//   refuses or equal to the current -> validation on the field; else PortalPasswordChanged{changed}
//   and PortalSessionEnded{password_changed} for every other live session.
result<std::vector<events::decided_event>> decide(const agency_state& s, const change_portal_password& c);
// request_portal_password_reset: token_hash not 64 hex -> validation; an unknown username, the
//   portal switched off, or a link requested less than reset_request_interval ago and still
//   pending -> no events (the API answers 202 either way and sends nothing). Otherwise
//   PortalPasswordResetRequested{token_hash, now + reset_token_lifetime}, voiding an older link.
//   A locked account may ask; the reset does not unlock it (only an administrator or the timeout).
result<std::vector<events::decided_event>> decide(const agency_state& s, const request_portal_password_reset& c);
// confirm_portal_password_reset: a token that is unknown, superseded, used or expired -> validation
//   on "token" (one message for all); a new password the policy refuses or equal to the current ->
//   validation on "new_password". Otherwise PortalPasswordChanged{reset} (which ends the link) and
//   PortalSessionEnded{password_changed} for every live session.
result<std::vector<events::decided_event>> decide(const agency_state& s, const confirm_portal_password_reset& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const unlock_portal_account& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const end_portal_sessions& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const send_message& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const start_kiosk& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const submit_kiosk_form& c);

// ---- pure queries ----

// "sent" | "registered" | "expired" | "revoked" at `now`.
std::string_view invitation_state_name(const invitation_state& i, micros now);

// Whether the staff member may see the client now (active, and access::can_see_client by type and
// assignment).
bool staff_can_see_client(const staff_state& st, const client_state& c);

// The client whose live invitation has this token (for the registration page), with the invitation.
struct invitation_ref {
    const client_state* client = nullptr;
    const invitation_state* invitation = nullptr;
};
invitation_ref find_live_invitation(const agency_state& s, std::string_view token_hash, micros now);

// A portal account by username (case-insensitive) or id.
struct portal_account_ref {
    const client_state* client = nullptr;
    const portal_account_state* account = nullptr;
};
portal_account_ref find_portal_account_by_username(const agency_state& s, std::string_view username);
portal_account_ref find_portal_account(const agency_state& s, std::string_view portal_account_id);
// The portal account whose pending reset link has this token hash and is still good at `now`.
portal_account_ref find_portal_reset_token(const agency_state& s, std::string_view token_hash, micros now);

// A portal session at `now`: the client it may see (only its own data) or nothing.
// portal_disabled: the agency's client_portal_enabled is off; no portal session works meanwhile
// (they work again if it is switched back on before they idle out).
enum class portal_session_status { unknown, active, idle_expired, portal_disabled };
struct portal_session_check {
    portal_session_status status = portal_session_status::unknown;
    const client_state* client = nullptr;
    const portal_account_state* account = nullptr;
    bool touch_due = false;  // active and now - last_seen >= the agency's touch interval
};
portal_session_check check_portal_session(const agency_state& s, std::string_view session_id, micros now);

// What a kiosk token opens at `now`: exactly one kiosk session of one client (to fetch its form or
// document and submit once), or nothing (unknown, expired, submitted).
struct kiosk_ref {
    const client_state* client = nullptr;
    const kiosk_state* kiosk = nullptr;
};
kiosk_ref find_live_kiosk(const agency_state& s, std::string_view token_hash, micros now);

bool is_portal_locked(const portal_account_state& a, micros now);

// Field checks shared by add_client and the CSV import (same messages, same fields).
struct client_fields {
    std::string first_name, last_name, date_of_birth, email, phone, external_id;
};
// Returns the normalized values (trimmed) or the field errors.
result<client_fields> validate_client_fields(const client_fields& in, micros now);
// The portal username rule: "" when acceptable, else the message for field "username".
std::string portal_username_problem(std::string_view username);

}  // namespace carelog::aggregates
