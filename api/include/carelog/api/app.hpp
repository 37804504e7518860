// The HTTP application as a pure function: handle(ctx, request) -> response, no socket I/O, so
// every endpoint is tested without a network (tests/unit/api). server.hpp puts it on sockets.
// This is the only public header that includes Beast (for the message type aliases).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "carelog/api/command_bus.hpp"
#include "carelog/api/metrics.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::api {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

struct config {
    // X-Operator-Key: creates agencies and, until sessions land, acts as an agency's first admin.
    // Empty = nothing is accepted (never "no key required").
    std::string operator_key;
    std::size_t body_limit = 1 << 20;                  // larger bodies: 413
    std::size_t header_limit = 16 * 1024;              // larger header blocks: 431
    std::chrono::seconds header_timeout{10};           // from the first byte to the end of the header
    std::chrono::seconds body_timeout{30};             // reading the body
    std::chrono::seconds idle_timeout{60};             // keep-alive wait for the next request
    std::chrono::milliseconds read_wait{5000};         // X-Consistency-Token wait before 503
    std::string public_url;                            // CARELOG_PUBLIC_URL (OpenAPI `servers`)
};

struct app_context {
    config cfg;
    command_bus& commands;
    projection_status& projections_status;
    projections::store& store;
    clock_source& clock;
    id_source& ids;
    metrics& m;
};

// Answers one request. Never throws: handler exceptions become a 500 problem. Records the
// request in ctx.m (counter and latency by route template).
http_response handle(app_context& ctx, const http_request& req);

// handle() plus the route template that served it ("/v1/staff/{id}", or "-" when none matched),
// for the server's access log.
struct handled {
    http_response response;
    std::string_view route;
};
handled dispatch(app_context& ctx, const http_request& req);

}  // namespace carelog::api
