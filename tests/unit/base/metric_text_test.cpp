#include <catch2/catch.hpp>

#include <string>

#include "carelog/base/histogram.hpp"
#include "carelog/base/metric_text.hpp"
#include "metrics_text.hpp"

using namespace carelog;
using carelog::testing::format_problem;
using carelog::testing::metric_value;

TEST_CASE("metric text: families written through metric_text make a page a scraper groups as written",
          "[unit][base][metrics]") {
    std::string page;
    metric_text::single(page, "carelog_things_total", "counter", "Things.", 3u);
    metric_text::family(page, "carelog_ready", "gauge", "Whether each partition is ready.");
    for (int p = 0; p < 3; ++p) metric_text::sample(page, "carelog_ready", metric_text::partition_label(p), p % 2);
    histogram h;
    h.observe(0.002);
    metric_text::family(page, "carelog_wait_seconds", "histogram", "Waits.");
    h.render(page, "carelog_wait_seconds");

    CHECK(format_problem(page) == "");
    CHECK(page.starts_with("# HELP carelog_things_total Things.\n# TYPE carelog_things_total counter\n"));
    CHECK(metric_value(page, "carelog_things_total") == "3");
    CHECK(metric_value(page, R"(carelog_ready{partition="1"})") == "1");
    CHECK(metric_value(page, "carelog_wait_seconds_count") == "1");
}

TEST_CASE("metric text: the format check refuses what a scraper would misread", "[unit][base][metrics]") {
    const std::string ready = "# HELP carelog_ready R.\n# TYPE carelog_ready gauge\n";
    const std::string fenced = "# HELP carelog_fenced F.\n# TYPE carelog_fenced gauge\n";
    // Two families declared first and their samples after both: the first family's samples
    // stand under the second's TYPE.
    CHECK(format_problem(ready + fenced + "carelog_ready{partition=\"0\"} 1\ncarelog_fenced{partition=\"0\"} 0\n") !=
          "");
    CHECK(format_problem(ready + "carelog_ready{partition=\"0\"} 1\n" + fenced + "carelog_fenced{partition=\"0\"} 0\n") ==
          "");
    CHECK(format_problem(ready + "carelog_ready 1\n" + ready + "carelog_ready 1\n") != "");  // declared twice
    CHECK(format_problem("# TYPE carelog_ready gauge\ncarelog_ready 1\n") != "");             // no HELP
    CHECK(format_problem(ready + "carelog_ready\n") != "");                                   // no value
    CHECK(format_problem(ready + "carelog_ready{partition=\"0\"}\n") != "");
    CHECK(format_problem(ready + "carelog_ready_bucket{le=\"1\"} 1\n") != "");  // not a histogram
}
