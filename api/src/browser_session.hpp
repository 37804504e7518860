// Browser sessions: the session token in an HttpOnly, SameSite=Strict cookie (Secure when the
// public URL is https) instead of in the page's reach, plus a CSRF token the page sends as
// X-CSRF-Token on every unsafe request. The CSRF token is a keyed hash of the session id
// (SHA-256 over the server key and the token hash), so it is checked without storing anything and
// is worthless without the cookie it belongs to. Bearer tokens (Authorization) work as before and
// need no CSRF token: a browser never sends them on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "carelog/api/app.hpp"
#include "carelog/api/principal.hpp"
#include "carelog/api/router.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

inline constexpr std::string_view staff_cookie = "carelog_session";
inline constexpr std::string_view portal_cookie = "carelog_portal";

// The value of the named cookie in the request's Cookie header(s), if present and non-empty.
std::optional<std::string> cookie_value(const http_request& req, std::string_view name);

// The credential a request presents for a route of `kind`: Authorization: Bearer first; without an
// Authorization header, the staff or portal session cookie (kiosk routes take bearer tokens only).
struct credential {
    std::string token;
    bool from_cookie = false;
};
result<credential> request_credential(const http_request& req, auth_kind kind);

// The CSRF token of the session whose id (token hash) is `session_id`.
std::string csrf_token(const config& cfg, std::string_view session_id);

// Unsafe methods (anything but GET, HEAD, OPTIONS) authenticated by cookie need X-CSRF-Token equal
// to csrf_token(session): 403 otherwise.
result<void> check_csrf(const config& cfg, const http_request& req, const principal& who);

// Set-Cookie values: the session cookie for `token`, and one that clears it.
std::string session_cookie(const config& cfg, std::string_view name, std::string_view token);
std::string cleared_cookie(const config& cfg, std::string_view name);

// Whether this request was authenticated by the `name` cookie (no Authorization header).
bool cookie_authenticated(const http_request& req, std::string_view name);

}  // namespace carelog::api
