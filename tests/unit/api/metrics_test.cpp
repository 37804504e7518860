// The request metrics: counts and histograms by method and route template, recorded from many
// threads at once without losing a request.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "carelog/api/metrics.hpp"
#include "metrics_text.hpp"

using carelog::api::metrics;
using namespace std::chrono_literals;

namespace {
std::string line_value(const std::string& text, const std::string& series) {
    auto at = text.find(series + " ");
    if (at == std::string::npos) return "";
    auto start = at + series.size() + 1;
    return text.substr(start, text.find('\n', start) - start);
}
}  // namespace

TEST_CASE("metrics: requests recorded from four threads are all counted, by method, route and status class",
          "[api][metrics]") {
    metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&m] {
            for (int i = 0; i < 10000; ++i) {
                m.observe("GET", "/v1/staff/{id}", i % 10 == 0 ? 404 : 200, 800us);
                m.observe("POST", "/v1/clients", 201, 3ms);
            }
        });
    for (auto& t : threads) t.join();
    m.observe("BREW", "-", 400, 7s);
    const auto text = m.text();
    CHECK(carelog::testing::format_problem(text) == "");
    CHECK(line_value(text, R"(carelog_http_requests_total{method="GET",route="/v1/staff/{id}",status_class="2xx"})") ==
          "36000");
    CHECK(line_value(text, R"(carelog_http_requests_total{method="GET",route="/v1/staff/{id}",status_class="4xx"})") ==
          "4000");
    CHECK(line_value(text, R"(carelog_http_requests_total{method="POST",route="/v1/clients",status_class="2xx"})") ==
          "40000");
    CHECK(line_value(text, R"(carelog_http_requests_total{method="other",route="-",status_class="4xx"})") == "1");
    // 0.8 ms falls in the first bucket (1 ms), 3 ms in the 5 ms one; 7 s only in +Inf.
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_bucket{method="GET",route="/v1/staff/{id}",le="0.001"})") ==
          "40000");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_bucket{method="POST",route="/v1/clients",le="0.0025"})") ==
          "0");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_bucket{method="POST",route="/v1/clients",le="0.005"})") ==
          "40000");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_count{method="POST",route="/v1/clients"})") == "40000");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_sum{method="POST",route="/v1/clients"})") == "120");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_bucket{method="other",route="-",le="5"})") == "0");
    CHECK(line_value(text, R"(carelog_http_request_duration_seconds_bucket{method="other",route="-",le="+Inf"})") == "1");
}

TEST_CASE("metrics: each refused connection is counted once and shown as a counter", "[unit][api]") {
    metrics m;
    CHECK(line_value(m.text(), "\ncarelog_http_connections_refused_total") == "0");
    CHECK(m.connection_refused() == 1);
    CHECK(m.connection_refused() == 2);
    const auto text = m.text();
    CHECK(text.find("# TYPE carelog_http_connections_refused_total counter\n") != std::string::npos);
    CHECK(line_value(text, "\ncarelog_http_connections_refused_total") == "2");
}
