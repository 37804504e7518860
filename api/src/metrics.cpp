// Request counters and latency histograms in Prometheus text format. Labels come only from the
// route table and a fixed method list, so a client cannot grow the label set. Recording is a few
// relaxed atomic increments on a slot found by hashing (method, route): no lock, no allocation.
#include "carelog/api/metrics.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <vector>

#include "carelog/base/histogram.hpp"
#include "carelog/base/metric_text.hpp"

namespace carelog::api {
namespace {

constexpr std::array<std::string_view, 8> methods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};
constexpr std::array<std::string_view, 5> classes{"1xx", "2xx", "3xx", "4xx", "5xx"};

std::size_t method_index(std::string_view m) {
    for (std::size_t i = 0; i + 1 < methods.size(); ++i)
        if (m == methods[i]) return i;
    return methods.size() - 1;
}

// One (method, route) pair: counters by status class and a latency histogram, all atomics, so
// recording a request takes no lock and allocates nothing.
struct slot {
    std::atomic<int> state{0};  // 0 free, 1 being claimed, 2 ready
    std::size_t method = 0;
    std::array<char, 160> route{};
    std::size_t route_len = 0;
    std::array<std::atomic<std::uint64_t>, classes.size()> by_class{};
    histogram seconds;  // duration_bounds

    std::string_view route_name() const { return {route.data(), route_len}; }
};

// Routes come from the route table (about a hundred), times the methods each is asked with: a
// fixed open-addressed table far larger than that. A pair that finds no room is counted under
// route "overflow" (never silently dropped).
constexpr std::size_t slot_count = 1024;

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

}  // namespace

struct metrics::impl {
    std::array<slot, slot_count> slots;
    std::atomic<std::uint64_t> refused_connections{0};

    slot& find(std::size_t method, std::string_view route) {
        if (route.size() > slot{}.route.size()) route = "overflow";
        const std::size_t h = (std::hash<std::string_view>{}(route) ^ (method * 0x9e3779b97f4a7c15ULL));
        for (std::size_t probe = 0; probe < slot_count; ++probe) {
            slot& s = slots[(h + probe) % slot_count];
            int st = s.state.load(std::memory_order_acquire);
            if (st == 0) {
                int expected = 0;
                if (s.state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
                    s.method = method;
                    std::copy(route.begin(), route.end(), s.route.begin());
                    s.route_len = route.size();
                    s.state.store(2, std::memory_order_release);
                    return s;
                }
                st = expected;
            }
            while (st == 1) st = s.state.load(std::memory_order_acquire);  // claimed a moment ago
            if (s.method == method && s.route_name() == route) return s;
        }
        return find(method, "overflow");
    }
};

metrics::metrics() : impl_(std::make_unique<impl>()) {}
metrics::~metrics() = default;

void metrics::observe(std::string_view method, std::string_view route, int status, std::chrono::microseconds latency) {
    slot& s = impl_->find(method_index(method), route);
    const auto cls = static_cast<std::size_t>(std::clamp(status / 100, 1, 5) - 1);
    s.by_class[cls].fetch_add(1, std::memory_order_relaxed);
    s.seconds.observe(static_cast<double>(latency.count()) / 1e6);
}

std::uint64_t metrics::connection_refused() {
    return impl_->refused_connections.fetch_add(1, std::memory_order_relaxed) + 1;
}

std::string metrics::text() const {
    // Sorted by route, then method: a stable page for people and diffs.
    std::vector<const slot*> ready;
    for (const auto& s : impl_->slots)
        if (s.state.load(std::memory_order_acquire) == 2) ready.push_back(&s);
    std::sort(ready.begin(), ready.end(), [](const slot* a, const slot* b) {
        return std::pair(a->route_name(), methods[a->method]) < std::pair(b->route_name(), methods[b->method]);
    });
    std::string out;
    constexpr std::string_view requests = "carelog_http_requests_total";
    metric_text::family(out, requests, "counter", "HTTP requests by method, route template and status class.");
    for (const slot* s : ready)
        for (std::size_t c = 0; c < classes.size(); ++c) {
            auto n = s->by_class[c].load(std::memory_order_relaxed);
            if (n == 0) continue;
            metric_text::sample(out, requests,
                                "{method=\"" + std::string(methods[s->method]) + "\",route=\"" +
                                    escape(s->route_name()) + "\",status_class=\"" + std::string(classes[c]) + "\"}",
                                n);
        }
    constexpr std::string_view duration = "carelog_http_request_duration_seconds";
    metric_text::family(out, duration, "histogram", "Time to answer a request, by route template.");
    for (const slot* s : ready)
        s->seconds.render(out, duration,
                          "method=\"" + std::string(methods[s->method]) + "\",route=\"" + escape(s->route_name()) + "\"");
    metric_text::single(out, "carelog_http_connections_refused_total", "counter",
                        "Connections closed unread: over the total or the per-address cap.",
                        impl_->refused_connections.load(std::memory_order_relaxed));
    return out;
}

}  // namespace carelog::api
