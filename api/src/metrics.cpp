// Request counters and latency histograms in Prometheus text format. Labels come only from the
// route table and a fixed method list, so a client cannot grow the label set.
#include "carelog/api/metrics.hpp"

#include <array>
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

namespace carelog::api {
namespace {

constexpr std::array<double, 12> bucket_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

struct histogram {
    std::array<std::uint64_t, bucket_bounds.size()> buckets{};  // cumulative at render time
    std::uint64_t count = 0;
    double sum = 0;
};

std::string_view known_method(std::string_view m) {
    for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
        if (m == k) return k;
    return "other";
}

std::string escape(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

std::string fmt_double(double d) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", d);
    return buf;
}

}  // namespace

struct metrics::impl {
    mutable std::mutex m;
    std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> counts;
    std::map<std::pair<std::string, std::string>, histogram> latency;
};

metrics::metrics() : impl_(std::make_unique<impl>()) {}
metrics::~metrics() = default;

void metrics::observe(std::string_view method, std::string_view route, int status, std::chrono::microseconds latency) {
    std::string cls = std::to_string(status / 100) + "xx";
    double seconds = static_cast<double>(latency.count()) / 1e6;
    std::string m(known_method(method));
    std::lock_guard lock(impl_->m);
    ++impl_->counts[{m, std::string(route), cls}];
    auto& h = impl_->latency[{m, std::string(route)}];
    for (std::size_t i = 0; i < bucket_bounds.size(); ++i)
        if (seconds <= bucket_bounds[i]) {
            ++h.buckets[i];
            break;
        }
    ++h.count;
    h.sum += seconds;
}

std::string metrics::text() const {
    std::lock_guard lock(impl_->m);
    std::string out;
    out += "# HELP carelog_http_requests_total HTTP requests by method, route template and status class.\n";
    out += "# TYPE carelog_http_requests_total counter\n";
    for (const auto& [k, n] : impl_->counts) {
        const auto& [method, route, cls] = k;
        out += "carelog_http_requests_total{method=\"" + method + "\",route=\"" + escape(route) + "\",status_class=\"" +
               cls + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP carelog_http_request_duration_seconds Time to answer a request, by route template.\n";
    out += "# TYPE carelog_http_request_duration_seconds histogram\n";
    for (const auto& [k, h] : impl_->latency) {
        std::string labels = "method=\"" + k.first + "\",route=\"" + escape(k.second) + "\"";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
            cumulative += h.buckets[i];
            out += "carelog_http_request_duration_seconds_bucket{" + labels + ",le=\"" + fmt_double(bucket_bounds[i]) +
                   "\"} " + std::to_string(cumulative) + "\n";
        }
        out += "carelog_http_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        out += "carelog_http_request_duration_seconds_sum{" + labels + "} " + fmt_double(h.sum) + "\n";
        out += "carelog_http_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
    }
    return out;
}

}  // namespace carelog::api
