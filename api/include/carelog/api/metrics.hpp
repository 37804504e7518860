// Request metrics for GET /metrics (Prometheus text format): a counter by method, route template
// and status class, and a latency histogram per route. Thread-safe; shared by every io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace carelog::api {

class metrics {
public:
    metrics();
    ~metrics();
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    // `route` is a route template ("/v1/staff/{id}") or "-" for requests no route matched, so
    // label cardinality stays bounded.
    void observe(std::string_view method, std::string_view route, int status, std::chrono::microseconds latency);

    // A connection closed unread because it was over the total or per-address cap; returns the
    // count so far.
    std::uint64_t connection_refused();

    // carelog_http_requests_total{method,route,status_class},
    // carelog_http_request_duration_seconds{method,route} histogram and
    // carelog_http_connections_refused_total.
    std::string text() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace carelog::api
