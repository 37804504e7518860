// Private to api/: what the staff's credential handlers (auth_handler.cpp) and the portal's
// (portal_handler.cpp) have in common around the command each decides. For a login: the request,
// the per-account limit, read-your-writes, the agency by its slug, one answer for every refusal,
// and the token or cookie of a session that opened. For a reset link's confirmation: the request,
// whom the link was sent for, one answer for every bad link, and the new password's checks.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "handlers.hpp"
#include "carelog/api/password_policy.hpp"
#include "identity.hpp"
#include "limits.hpp"

namespace carelog::api::detail {

enum class login_kind { staff, portal };

// One login as both kinds read it. The password is wiped when the attempt ends.
struct login_attempt {
    std::string agency_id;
    std::string username;              // trimmed
    std::string password;
    std::optional<std::string> totp;   // staff only: the TOTP code, when given
    bool cookie = false;               // a browser: the token goes into an HttpOnly cookie
    std::string token;                 // the new session's bearer token, should the login succeed
    std::string session_id;            // its hash: the session's id in the log
    std::string user_agent;

    login_attempt() = default;
    login_attempt(const login_attempt&) = delete;
    login_attempt& operator=(const login_attempt&) = delete;
    ~login_attempt() { wipe(password); }
};

// Every refused login answers this one 401; the reason is only in the login's failure event.
std::unexpected<error> invalid_credentials();

// Runs a login. Reads {agency, username, password, cookie} (and totp for staff; for the portal it
// is an unknown field), refuses a too frequent account (429), waits for a consistency token the
// caller sent, and finds the agency by its slug. An unknown agency answers invalid_credentials()
// after the password work a known account would cost, so the time tells nothing. So does a
// username `known` says the agency lacks, unless the agency's budget for recording unknown
// usernames allows this one: then, as for a known account, `decide` answers (its command records
// the failure in the log).
http_result<http_response> run_login(request_context& rc, login_kind kind,
                                     const std::function<bool(const std::string& agency_id,
                                                              const std::string& username)>& known,
                                     const std::function<http_result<http_response>(login_attempt&)>& decide);

// What a login's command (record_login, record_portal_login) says of the attempt: its username,
// session id, address, user agent and time, and whether the password matches `hash`, the
// account's current hash (nullptr for no account: the same password work, so the time tells
// nothing).
template <class Login>
http_result<void> describe_attempt(request_context& rc, const login_attempt& a, micros now, const std::string* hash,
                                   Login& c) {
    c.username = a.username;
    c.session_id = a.session_id;
    c.ip = rc.peer;
    c.user_agent = a.user_agent;
    c.now = now;
    if (!hash) {
        if (auto d = bounded_dummy_check(rc.ctx, a.password); !d) return std::unexpected(problem(d.error()));
        return {};
    }
    c.checked_password_hash = *hash;
    auto ok = bounded_verify(rc.ctx, *hash, a.password);
    if (!ok) return std::unexpected(problem(ok.error()));
    c.password_ok = *ok;
    return {};
}

// Submits the login's command (build, retried on a stale check as submit_retrying does) and
// answers whether the log says it succeeded: the command's result when its body has
// `outcome_field` "succeeded"; a 503 when the log could not take it; else invalid_credentials().
http_result<command_result> submit_login(request_context& rc, const login_attempt& a, std::string_view outcome_field,
                                         const std::function<http_result<aggregates::command>()>& build);

// The 200 of a login that succeeded: `out` with the session's token, or for a browser the CSRF
// token, the session's token going into the HttpOnly cookie `cookie_name`; the consistency token
// of the login's events.
http_response login_succeeded(request_context& rc, const login_attempt& a, boost::json::object out,
                              std::string_view cookie_name, const std::string& consistency_token);

// A reset link's confirmation as both kinds read it: {token, new_password}. The new password is
// wiped when the confirmation ends.
struct reset_confirmation {
    std::string agency_id;
    std::string token_hash;
    std::string owner_id;      // whom the link was sent for: the staff member, or the client
    std::string new_password;

    reset_confirmation() = default;
    reset_confirmation(const reset_confirmation&) = delete;
    reset_confirmation& operator=(const reset_confirmation&) = delete;
    ~reset_confirmation() { wipe(new_password); }
};

// The one answer for a link that is unknown, replaced, used or expired: 422 on "token".
std::unexpected<error> bad_reset_link();

// Runs a reset link's confirmation: reads the body, finds the token's agency (caught up with the
// log first) and whom `owner(agency_id, token_hash)` says the link was sent for (bad_reset_link()
// when no one), then `decide` answers.
http_result<http_response> run_reset_confirmation(
    request_context& rc,
    const std::function<std::optional<std::string>(const std::string& agency_id, const std::string& token_hash)>& owner,
    const std::function<http_result<http_response>(reset_confirmation&)>& decide);

// What a confirmation's command says of its new password, which the agency's policy accepted:
// whether it is the current one (`current_hash`, checked under the node's bound on password
// checks) and its Argon2id hash.
template <class Confirm>
http_result<void> set_new_password(app_context& ctx, Confirm& c, const std::string& current_hash,
                                   const std::string& fresh) {
    auto same = bounded_verify(ctx, current_hash, fresh);
    if (!same) return std::unexpected(problem(same.error()));
    c.new_same_as_current = *same;
    auto hash = hash_password(fresh);
    if (!hash) return fail(errc::internal, "the password could not be hashed");
    c.new_password_hash = std::move(*hash);
    c.new_password_policy_ok = true;
    return {};
}

// `v` without leading and trailing spaces and tabs (usernames and codes as typed).
std::string trimmed(std::string_view v);

}  // namespace carelog::api::detail
