// Private: the router's entry point for app.cpp.
#pragma once

#include <string_view>

#include "carelog/api/app.hpp"

namespace carelog::api::detail {

struct routed {
    http_response response;
    std::string_view route;  // template, or "-"
};

routed route_request(app_context& ctx, const http_request& req, std::string_view peer);

}  // namespace carelog::api::detail
