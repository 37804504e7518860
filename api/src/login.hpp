// Private to api/: what the staff login (auth_handler.cpp) and the portal login (portal_handler.cpp)
// have in common before each decides its own command: the request, the per-account limit,
// read-your-writes, the agency by its slug, and one answer for every refusal.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "handlers.hpp"
#include "identity.hpp"

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

// `v` without leading and trailing spaces and tabs (usernames and codes as typed).
std::string trimmed(std::string_view v);

}  // namespace carelog::api::detail
