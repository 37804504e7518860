// The route table as data: every endpoint's method, path template, auth requirement and the
// facts /openapi.json is generated from. The table itself (with handlers) lives in router.cpp.
#pragma once

#include <span>
#include <string_view>

namespace carelog::api {

enum class auth_kind {
    none,          // health, metrics, the OpenAPI document, login and password reset
    operator_key,  // X-Operator-Key only (POST /v1/agencies)
    session,       // Authorization: Bearer <session token>; the route's permission applies
    // A client of the portal: Authorization: Bearer <portal session token> (POST /v1/portal/login).
    // No permission: the principal sees only its own client's data.
    portal_session,
    // A kiosk: Authorization: Bearer <kiosk token> (POST /v1/kiosk/sessions). Opens one kiosk
    // session's form of one client, nothing else.
    kiosk,
};

struct route_info {
    std::string_view method;          // "GET", "POST", ...
    std::string_view pattern;         // "/v1/staff/{id}"
    auth_kind auth;
    std::string_view permission;      // aggregates/access.hpp name a session needs ("" = none)
    int success_status;               // 200 or 201
    bool command;                     // submits a command (Idempotency-Key, consistency token out)
    std::string_view operation_id;
    std::string_view summary;
    std::string_view tag;
    std::string_view request_schema;  // components/schemas name, "" = no body
    std::string_view response_schema; // components/schemas name, "" = generic object
    std::string_view query;           // comma-separated query parameter names
};

std::span<const route_info> route_table() noexcept;

}  // namespace carelog::api
