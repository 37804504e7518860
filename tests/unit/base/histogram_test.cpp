// The Prometheus histogram the request metrics and the writers share: cumulative buckets, +Inf,
// sum and count, recorded from several threads without losing an observation.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "carelog/base/histogram.hpp"

namespace {
std::string line_value(const std::string& text, const std::string& series) {
    const auto at = text.find(series + " ");
    if (at == std::string::npos) return "";
    const auto start = at + series.size() + 1;
    return text.substr(start, text.find('\n', start) - start);
}
}  // namespace

TEST_CASE("histogram: buckets are cumulative, an observation on a bound falls in it, beyond the last only in +Inf",
          "[unit][base][histogram]") {
    constexpr std::array<double, 3> bounds{1, 10, 100};
    carelog::histogram h(bounds);
    for (double v : {0.5, 1.0, 7.0, 10.0, 250.0}) h.observe(v);
    std::string out;
    h.render(out, "x_commands", R"(group="g0")");
    CHECK(line_value(out, R"(x_commands_bucket{group="g0",le="1"})") == "2");
    CHECK(line_value(out, R"(x_commands_bucket{group="g0",le="10"})") == "4");
    CHECK(line_value(out, R"(x_commands_bucket{group="g0",le="100"})") == "4");
    CHECK(line_value(out, R"(x_commands_bucket{group="g0",le="+Inf"})") == "5");
    CHECK(line_value(out, R"(x_commands_sum{group="g0"})") == "268.5");
    CHECK(line_value(out, R"(x_commands_count{group="g0"})") == "5");
}

TEST_CASE("histogram: without labels, durations in seconds from four threads are all counted", "[unit][base][histogram]") {
    carelog::histogram h;  // duration_bounds
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&h] {
            for (int i = 0; i < 10000; ++i) h.observe(0.003);
        });
    for (auto& t : threads) t.join();
    std::string out;
    h.render(out, "x_seconds");
    CHECK(line_value(out, R"(x_seconds_bucket{le="0.0025"})") == "0");
    CHECK(line_value(out, R"(x_seconds_bucket{le="0.005"})") == "40000");
    CHECK(line_value(out, R"(x_seconds_bucket{le="5"})") == "40000");
    CHECK(line_value(out, R"(x_seconds_bucket{le="+Inf"})") == "40000");
    CHECK(line_value(out, "x_seconds_sum") == "120");
    CHECK(line_value(out, "x_seconds_count") == "40000");
}
