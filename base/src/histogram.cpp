#include "carelog/base/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace carelog {

namespace {
// A number as this text prints it ("%.9g": 0.0025, 120, 1e-06).
std::string metric_number(double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", value);
    return buf;
}
}  // namespace

void histogram::observe(double value) noexcept {
    for (std::size_t i = 0; i < bounds_.size(); ++i)
        if (value <= bounds_[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    count_.fetch_add(1, std::memory_order_relaxed);
    if (value > 0) sum_millionths_.fetch_add(static_cast<std::uint64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
}

void histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
    const std::string sep = labels.empty() ? "" : ",";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.append(name).append("_bucket{").append(labels).append(sep);
        out.append("le=\"").append(metric_number(bounds_[i])).append("\"} ").append(std::to_string(cumulative)).append("\n");
    }
    // Read after the buckets: an observation between the two reads keeps +Inf >= every bucket.
    const auto count = std::max(count_.load(std::memory_order_relaxed), cumulative);
    out.append(name).append("_bucket{").append(labels).append(sep).append("le=\"+Inf\"} ");
    out.append(std::to_string(count)).append("\n");
    const std::string braced = labels.empty() ? "" : "{" + std::string(labels) + "}";
    out.append(name).append("_sum").append(braced).append(" ");
    out.append(metric_number(static_cast<double>(sum_millionths_.load(std::memory_order_relaxed)) / 1e6)).append("\n");
    out.append(name).append("_count").append(braced).append(" ").append(std::to_string(count)).append("\n");
}

}  // namespace carelog
