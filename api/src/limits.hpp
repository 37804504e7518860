// Private to api/: the node's abuse limits as the router and the handlers apply them
// (rate_limit.hpp has the mechanisms, docs/security.md the limits and their defaults).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "carelog/api/app.hpp"
#include "carelog/api/rate_limit.hpp"
#include "carelog/api/router.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

namespace detail {

// 429 problem+json with Retry-After: `wait` (whole seconds).
http_response rate_limited(std::chrono::seconds wait, std::string_view what);

// The limits of a route that needs no credentials, by the caller's address: every such route's
// anonymous limit, and the login / reset / registration limits of those routes. A wait when refused.
std::optional<std::chrono::seconds> admit_anonymous(app_context& ctx, const route_info& route, std::string_view peer);

// Logins per account (agency slug + username, case-insensitive), staff and portal alike.
std::optional<std::chrono::seconds> admit_login(app_context& ctx, std::string_view kind, std::string_view agency_slug,
                                                std::string_view username);

// Whether a failed login for a username the agency does not have may still be recorded in the log
// (the agency's unknown_logins_per_agency budget on this node). When not, the caller answers as for
// any refused login without recording it; it is counted (/metrics) and logged in aggregate.
bool record_unknown_login(app_context& ctx, std::string_view kind, const std::string& agency_id);

// Argon2id verification under the node's bound on concurrent checks: errc::unavailable (503) when
// no slot frees within the configured wait.
result<bool> bounded_verify(app_context& ctx, const std::string& hash, std::string_view password);
// The same cost for an unknown account (a fixed hash), under the same bound.
result<void> bounded_dummy_check(app_context& ctx, std::string_view password);

}  // namespace detail
}  // namespace carelog::api
