// Identity: login, sessions, password lifecycle, lockout and TOTP (SPEC §1 "Login and sessions" and
// the security policy of "Agency settings"), as pure decisions on the Staff aggregate.
//
// The division of labour with the API (which owns every secret and every clock):
// - Passwords: the API verifies the typed password against the CURRENT profile.password_hash with
//   libsodium (crypto_pwhash_str_verify) and passes the verdict plus the hash it verified against
//   (`checked_password_hash`). decide refuses with errc::conflict when that hash is no longer current
//   (a password change raced the check): the API checks again. For an unknown username the API still
//   runs one dummy verification so that timing does not tell which usernames exist.
//   New passwords arrive hashed (Argon2id) with the policy verdict (the API has the clear text; see
//   api/password_policy.hpp) and `new_same_as_current` (crypto_pwhash_str_verify of the new password
//   against the current hash).
// - TOTP: the API opens profile's sealed secret (base/secrets.hpp open_sealed with the server key,
//   context = staff id), checks the code with liboath (RFC 6238, SHA-1, 6 digits, 30 s, window ±1)
//   at `now`, and passes the verdict, the matched step and the sealed text it opened
//   (`checked_mfa_secret`). decide refuses a step that is not after the last one used, so a code is
//   never accepted twice, on any process (one writer per agency holds the state), and a step more
//   than one away from totp_step_at(now) (the API must pass the ABSOLUTE step it matched, not
//   liboath's window offset).
// - Tokens: session and reset tokens are base/secrets.hpp random_token() values given only to the
//   user; commands and events carry token_hash(token) (64 hex digits). The session id IS that hash.
// - Time: every command carries `now` (microseconds, UTC), the same value the API stamps on the
//   envelopes, and evolve dates sessions and password changes with the envelope's occurred_at.
//
// Outcomes map to HTTP by the API: a refused login is not an error here (it is an event, LoginFailed,
// with the reason); the API answers every refused login with the same 401 "invalid credentials" and
// never reveals the reason. The distinction lives only in the event log, for admins and auditors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/agency.hpp"

namespace carelog::aggregates {

// ---- commands ----

// One login attempt (agency slug already resolved to the agency's state).
struct record_login {
    std::string username;               // as typed; trimmed and compared case-insensitively
    bool password_ok = false;           // the API's crypto_pwhash_str_verify verdict
    std::string checked_password_hash;  // the hash it verified against (must still be current)
    bool totp_provided = false;         // a TOTP code was sent
    bool totp_ok = false;               // liboath verdict at `now`, window ±1 step
    std::int64_t totp_step = 0;         // the absolute step the code matched (see totp_step_at)
    std::string checked_mfa_secret;     // the sealed secret the code was checked against
    std::string session_id;             // token_hash of a fresh random_token()
    std::string ip;                     // kept as given, at most 64 bytes
    std::string user_agent;             // kept as given, at most 512 bytes
    micros now = 0;
};

// The staff member changes their own password from a live session (also the forced change after a
// temporary password or an expired one).
struct change_password {
    std::string staff_id;
    std::string session_id;  // the session asking: it stays, every other one ends
    bool current_ok = false;
    std::string checked_password_hash;
    std::string new_password_hash;
    bool new_password_policy_ok = false;
    bool new_same_as_current = false;
    micros now = 0;
};

// An administrator gives a staff member a temporary password (forgotten password, locked out).
struct set_temporary_password {
    std::string staff_id;
    std::string new_password_hash;
    bool new_password_policy_ok = false;
    bool require_change = true;
    micros now = 0;
};

// Forgot password. The API always answers 202, whatever this yields.
struct request_password_reset {
    std::string username;    // as typed
    std::string token_hash;  // token_hash of the random_token() that goes into the link
    micros now = 0;
};

// The reset link was followed with a new password.
struct confirm_password_reset {
    std::string token_hash;
    std::string new_password_hash;
    bool new_password_policy_ok = false;
    bool new_same_as_current = false;
    micros now = 0;
};

struct unlock_staff {
    std::string staff_id;
};

// TOTP enrolment: the API generates the secret, shows it (and the otpauth:// URI) once, and passes it
// sealed. Enrolling again before confirming replaces the pending secret.
struct enroll_mfa {
    std::string staff_id;
    std::string secret_sealed;  // base/secrets.hpp seal(server key, staff id, secret)
};
struct confirm_mfa {
    std::string staff_id;
    bool totp_ok = false;
    std::int64_t totp_step = 0;  // the absolute step the code matched
    std::string checked_mfa_secret;
    micros now = 0;
};
// An administrator removes a staff member's TOTP (lost device).
struct reset_mfa {
    std::string staff_id;
};

struct logout {
    std::string session_id;
};
// An administrator ends one session of a staff member, or all of them (session_id "").
struct end_sessions {
    std::string staff_id;
    std::string session_id;
};
// Activity on a live session: records SessionTouched when one is due (see check_session).
struct touch_session {
    std::string session_id;
    micros now = 0;
};
// Idle expiry, evaluated lazily: the API submits this when check_session says idle_expired.
struct expire_session {
    std::string session_id;
    micros now = 0;
};

// ---- decisions ----
//
// record_login (agency not found -> not_found; a session_id that is not 64 hex digits -> validation,
// one already in use -> conflict; a stale checked hash/secret -> conflict). Otherwise, in order:
//  1. Unknown username: LoginFailed{unknown_user} on the Agency aggregate (aggregate_type "Agency").
//  2. Deactivated staff: LoginFailed{deactivated} (whatever the password; not counted).
//  3. A recorded lock whose `until` has passed: AccountUnlocked{timeout} first, then judged afresh.
//     A lock still in force: LoginFailed{locked} (not counted, does not extend the lock).
//  4. Wrong password: LoginFailed{bad_password}.
//  5. MFA confirmed: no code -> LoginFailed{totp_required}; wrong code, a step not after the last
//     one used, or a step more than one from totp_step_at(now) -> LoginFailed{bad_totp}.
//  Failures of 4 and 5 count; when the consecutive count reaches settings.lockout_threshold (0 =
//  never) AccountLocked{until = now + lockout_minutes (0 = admin only), failures} follows.
//  6. Success: SessionEnded{idle} for the staff member's sessions that are already idle (so the
//     session map stays bounded), then LoginSucceeded{session_id, ip, user_agent, mfa,
//     mfa_enrollment_required, totp_step}. A staff member whose role is in mfa_required_roles
//     without a confirmed TOTP still logs in, with mfa_enrollment_required: the session may only
//     enrol (session_restriction::enrol_mfa). Likewise a forced or expired password logs in
//     restricted to changing it.
result<std::vector<events::decided_event>> decide(const agency_state& s, const record_login& c);

// change_password: staff must be active (409) and the session live and theirs (unauthenticated);
// current password wrong, new hash missing, policy failed or same as current -> validation.
// Yields PasswordChanged{self} + SessionEnded{password_changed} for every OTHER session.
result<std::vector<events::decided_event>> decide(const agency_state& s, const change_password& c);
// set_temporary_password: [AccountUnlocked{admin} when locked] + PasswordChanged{admin,
// require_change} + SessionEnded{password_changed} for every session.
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_temporary_password& c);
// request_password_reset: unknown or deactivated username -> no events (the API still says 202);
// token_hash not 64 hex -> validation; a link requested less than reset_request_interval ago is
// still pending -> no events (mail flooding). Otherwise PasswordResetRequested{token_hash,
// now + reset_token_lifetime}; it voids any older link of the staff member. A locked account may
// request a reset; the reset does not unlock it (SPEC: only an admin or the timeout unlocks).
result<std::vector<events::decided_event>> decide(const agency_state& s, const request_password_reset& c);
// confirm_password_reset: a token that is unknown, superseded, used or expired, or whose staff
// member was deactivated -> validation on field "token" (one message for all of them). Otherwise
// PasswordChanged{reset, reset_token_hash} + SessionEnded{password_changed} for ALL sessions.
result<std::vector<events::decided_event>> decide(const agency_state& s, const confirm_password_reset& c);
// unlock_staff: AccountUnlocked{admin} when a lock is recorded (also a lapsed one), else no events.
result<std::vector<events::decided_event>> decide(const agency_state& s, const unlock_staff& c);
// enroll_mfa: conflict when a confirmed TOTP exists (an admin resets it first); validation for a
// secret that is not sealed text. Yields MfaEnrolled.
result<std::vector<events::decided_event>> decide(const agency_state& s, const enroll_mfa& c);
// confirm_mfa: conflict without a pending enrolment, when already confirmed, or for a stale
// checked secret; validation on "code" for a wrong or reused code, or a step outside now ±1.
// Yields MfaConfirmed{step}.
result<std::vector<events::decided_event>> decide(const agency_state& s, const confirm_mfa& c);
// reset_mfa: MfaReset{admin} when anything is enrolled, else no events.
result<std::vector<events::decided_event>> decide(const agency_state& s, const reset_mfa& c);
// logout: SessionEnded{logout}; an unknown or ended session -> no events (logout is idempotent).
result<std::vector<events::decided_event>> decide(const agency_state& s, const logout& c);
// end_sessions: SessionEnded{admin} for the one session (not_found when it is not that staff
// member's) or all of them.
result<std::vector<events::decided_event>> decide(const agency_state& s, const end_sessions& c);
// touch_session: unknown, idle-expired or inactive staff -> unauthenticated; not due -> no events;
// due -> SessionTouched.
result<std::vector<events::decided_event>> decide(const agency_state& s, const touch_session& c);
// expire_session: SessionEnded{idle} when the session is idle at `now`, else no events.
result<std::vector<events::decided_event>> decide(const agency_state& s, const expire_session& c);

// ---- pure queries (for the API's per-request checks and admin views) ----

inline constexpr micros micros_per_minute = 60'000'000;
inline constexpr micros reset_token_lifetime = 60 * micros_per_minute;  // SPEC: 1 hour
inline constexpr micros reset_request_interval = micros_per_minute;     // one mail a minute at most
inline constexpr micros max_touch_interval = 5 * micros_per_minute;
inline constexpr std::size_t max_ip_bytes = 64;
inline constexpr std::size_t max_user_agent_bytes = 512;

// Idle timeout across processes: a session's last_seen only moves with SessionTouched, which the
// API records at most once per touch_interval (min(5 min, idle timeout / 6)). A session is idle once
// now - last_seen >= idle timeout, so the timeout is honoured to within one touch interval, on the
// early side (a session never outlives its idle timeout). Expiry is evaluated lazily: nothing runs
// on a timer; check_session says so at request time and the API then submits expire_session (its
// SessionEnded{idle} is for the audit trail; the session is already refused either way).
micros idle_timeout(const agency_state& s);
micros touch_interval(const agency_state& s);

// What a live session may do until its staff member complies. change_password first (a temporary
// or expired password), then enrol_mfa (the role requires MFA and none is confirmed).
enum class session_restriction { none, change_password, enrol_mfa };

enum class session_status {
    unknown,         // no such live session in this agency (never existed, ended, other agency)
    active,          // valid now
    idle_expired,    // valid no longer: idle for the timeout
    staff_inactive,  // the staff member was deactivated (its sessions ended in the same decision)
};

struct session_check {
    session_status status = session_status::unknown;
    const staff_state* staff = nullptr;  // set unless unknown; points into the agency_state
    bool touch_due = false;              // active and now - last_seen >= touch_interval
    session_restriction restriction = session_restriction::none;
};
session_check check_session(const agency_state& s, std::string_view session_id, micros now);

// RFC 6238 time step (30 s) of a time: floor(unix seconds / 30). Codes are accepted for the steps
// totp_step_at(now) - 1 .. + 1.
inline constexpr micros totp_period = 30'000'000;
constexpr std::int64_t totp_step_at(micros t) { return t >= 0 ? t / totp_period : (t - totp_period + 1) / totp_period; }
bool totp_step_in_window(std::int64_t step, micros now);

// The lock in force at `now` (a recorded lock whose until has passed no longer counts).
bool is_locked(const staff_state& st, micros now);
// settings.password_expiry_days after the last change (0 = never).
bool password_expired(const agency_state& s, const staff_state& st, micros now);
// The role is in settings.mfa_required_roles.
bool mfa_required_by_role(const agency_state& s, const staff_state& st);
// TOTP must be given at login: a confirmed enrolment.
bool mfa_enforced(const staff_state& st);
session_restriction restriction_of(const agency_state& s, const staff_state& st, micros now);

// The staff member whose pending, unexpired reset link has this token hash (active staff only), so
// the API can check the new password against the policy (which needs the username) before deciding.
const staff_state* find_reset_token(const agency_state& s, std::string_view token_hash, micros now);

// Reading a record_login decision: did it succeed, whose session, and any restriction.
struct login_outcome {
    bool succeeded = false;
    std::string staff_id;    // "" for an unknown username
    std::string reason;      // LoginFailed reason when refused
    bool locked_now = false; // this attempt locked the account
    bool mfa_enrollment_required = false;
};
login_outcome outcome_of(const std::vector<events::decided_event>& decided);

}  // namespace carelog::aggregates
