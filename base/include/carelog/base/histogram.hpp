// A Prometheus histogram: fixed upper bounds, with its buckets, count and sum in relaxed atomics,
// so recording takes no lock and allocates nothing, and any thread may observe while another
// renders the text.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace carelog {

// Durations in seconds, 1 ms to 5 s: requests, commits, waits for a writer.
inline constexpr std::array<double, 12> duration_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

class histogram {
public:
    static constexpr std::size_t max_bounds = 16;

    histogram() noexcept : histogram(duration_bounds) {}
    // `bounds` ascending, and kept as given (a constant that outlives the histogram); at most
    // max_bounds of them count.
    explicit histogram(std::span<const double> bounds) noexcept
        : bounds_(bounds.first(std::min(bounds.size(), max_bounds))) {}

    void observe(double value) noexcept;

    // The `<name>_bucket` lines (cumulative, then `le="+Inf"`), `<name>_sum` and `<name>_count`.
    // `labels` is `key="value",...` or empty. The HELP and TYPE lines are the caller's.
    void render(std::string& out, std::string_view name, std::string_view labels = {}) const;

private:
    std::span<const double> bounds_;
    std::array<std::atomic<std::uint64_t>, max_bounds> buckets_{};  // each its own range, not cumulative
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_millionths_{0};  // an integer sum: the same observations print the same sum
};

}  // namespace carelog
