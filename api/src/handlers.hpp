// Private to api/: what the router hands a handler, the helpers handlers share, and every
// handler's declaration (one .cpp per resource).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/url_view.hpp>

#include "carelog/aggregates/command.hpp"
#include "carelog/api/app.hpp"
#include "carelog/api/principal.hpp"
#include "carelog/api/problem.hpp"
#include "carelog/api/router.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api::detail {

struct request_context {
    app_context& ctx;
    const http_request& req;
    const route_info& route;
    boost::urls::url_view url;
    std::vector<std::pair<std::string, std::string>> params;  // path parameters by template name
    principal who;                 // empty for auth_kind::none
    std::string idempotency_key;   // validated; "" = none (command routes only)

    const std::string& param(std::string_view name) const;
};

using handler_fn = http_result<http_response> (*)(request_context&);

// 2xx JSON response (Content-Type application/json).
http_response json_response(int status, const boost::json::value& body);

// Submits a command for `agency_id` and answers `status` with the bus's body plus `version` and
// `consistency_token` (also X-Consistency-Token), `extra` merged in unless the result is an
// Idempotency-Key replay (which answers the first result's body with Idempotent-Replayed: true).
http_result<http_response> submit_command(request_context& rc, const std::string& agency_id, const std::string& actor,
                                     const aggregates::command& cmd, int status, boost::json::object extra = {});

// Waits for X-Consistency-Token (if sent) to be applied by the projections: 400 if malformed,
// 503 (Retry-After) when not applied within cfg.read_wait.
result<void> await_consistency(app_context& ctx, const http_request& req);

// auth.cpp
result<void> check_operator_key(const app_context& ctx, const http_request& req);
result<principal> agency_principal(app_context& ctx, const http_request& req);
result<void> require_role(const principal& p, std::initializer_list<std::string_view> roles);

// The agency's current Settings (for its password policy); defaults for fields the view lacks.
events::Settings agency_settings(app_context& ctx, const std::string& agency_id);

// ---- handlers ----
http_result<http_response> healthz(request_context&);
http_result<http_response> readyz(request_context&);
http_result<http_response> metrics_text(request_context&);
http_result<http_response> openapi(request_context&);

http_result<http_response> create_agency(request_context&);
http_result<http_response> get_settings(request_context&);
http_result<http_response> change_settings(request_context&);

http_result<http_response> add_location(request_context&);
http_result<http_response> list_locations(request_context&);
http_result<http_response> add_program(request_context&);
http_result<http_response> list_programs(request_context&);

http_result<http_response> create_staff(request_context&);
http_result<http_response> list_staff(request_context&);
http_result<http_response> get_staff(request_context&);
http_result<http_response> update_staff_profile(request_context&);
http_result<http_response> assign_role(request_context&);
http_result<http_response> set_staff_type(request_context&);
http_result<http_response> set_staff_locations(request_context&);
http_result<http_response> set_staff_programs(request_context&);
http_result<http_response> set_staff_permissions(request_context&);
http_result<http_response> deactivate_staff(request_context&);
http_result<http_response> staff_history(request_context&);

// openapi.cpp: the document generated from the route table (built once).
const std::string& openapi_document(const std::string& public_url);

}  // namespace carelog::api::detail
