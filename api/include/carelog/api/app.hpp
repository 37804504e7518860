// The HTTP application as a pure function: handle(ctx, request) -> response, no socket I/O, so
// every endpoint is tested without a network (tests/unit/api). server.hpp puts it on sockets.
// This is the only public header that includes Beast (for the message type aliases).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "carelog/api/command_bus.hpp"
#include "carelog/audit/view_sink.hpp"
#include "carelog/api/metrics.hpp"
#include "carelog/notify/notifications.hpp"
#include "carelog/api/rate_limit.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/projections/status.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::api {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

struct config {
    // X-Operator-Key: creates agencies (and nothing inside an agency: staff log in).
    // Empty = nothing is accepted (never "no key required").
    std::string operator_key;
    // CARELOG_SECRET_KEY: seals TOTP secrets (context = staff id) and notification bodies.
    secret_key server_key;
    std::size_t body_limit = 1 << 20;                  // larger bodies: 413
    std::size_t import_body_limit = 16 << 20;          // POST /v1/clients/import (CSV) only
    std::size_t header_limit = 16 * 1024;              // larger header blocks: 431
    std::chrono::seconds header_timeout{10};           // from the first byte to the end of the header
    std::chrono::seconds body_timeout{30};             // reading the body
    std::chrono::seconds idle_timeout{60};             // keep-alive wait for the next request
    std::chrono::milliseconds read_wait{5000};         // X-Consistency-Token wait before 503
    // Open connections: beyond either cap a new connection is closed as soon as it is accepted
    // (before a byte is read), so a flood of idle sockets costs one accept each, never a session.
    std::size_t max_connections = 20000;               // in total
    std::size_t max_connections_per_address = 1000;    // from one source address
    std::string public_url;                            // CARELOG_PUBLIC_URL (OpenAPI `servers`, links)
    rate_limit_config limits;                          // per node; docs/security.md
};

// The identity read path's cache (identity.cpp): staff members' identity state and portal clients'
// state (portal.cpp) folded from their events, so a request folds only what is new. Opaque here.
class identity_cache;
std::shared_ptr<identity_cache> make_identity_cache();

// Each session's last write on this node (a consistency token), so the session's next request
// waits for exactly that and no more: a session always sees its own writes without a header.
class session_writes;
std::shared_ptr<session_writes> make_session_writes();

// The web console's files (static_files.hpp); null = this node serves only the API.
class static_site;
// The node's token buckets, Argon2id gate and Idempotency-Key requests (rate_limit.hpp).
std::shared_ptr<node_limits> make_node_limits(const rate_limit_config& c);

struct app_context {
    config cfg;
    command_bus& commands;
    projections::status& projections_status;
    projections::store& store;
    clock_source& clock;
    id_source& ids;
    metrics& m;
    // Where reset links go (the notifications topic); null = nowhere (logged).
    notify::notification_sink* notifications = nullptr;
    // Where record views go (the access topic): every read of a client, staff member, thread,
    // kiosk submission or list is recorded before it is answered, and answered 503 when the sink
    // refuses it. Null = views are not recorded (unit tests of other things).
    audit::view_sink* views = nullptr;
    std::shared_ptr<identity_cache> identity = make_identity_cache();
    std::shared_ptr<session_writes> own_writes = make_session_writes();
    std::shared_ptr<const static_site> web;
    std::shared_ptr<node_limits> limits = make_node_limits(cfg.limits);
};

// The body limit of the route a request line names (cfg.body_limit unless the route allows more),
// and the largest of all (what the server lets through before it knows the route).
std::size_t body_limit_for(const config& cfg, std::string_view method, std::string_view target);
std::size_t max_body_limit(const config& cfg);

// Answers one request. Never throws: handler exceptions become a 500 problem. Records the
// request in ctx.m (counter and latency by route template).
// `peer` is the client's address as the socket saw it (the server passes it; X-Forwarded-For is
// never trusted): it goes into LoginSucceeded / LoginFailed.
http_response handle(app_context& ctx, const http_request& req, std::string_view peer = {});

// handle() plus the route template that served it ("/v1/staff/{id}", or "-" when none matched),
// for the server's access log.
struct handled {
    http_response response;
    std::string_view route;
};
handled dispatch(app_context& ctx, const http_request& req, std::string_view peer = {});

}  // namespace carelog::api
