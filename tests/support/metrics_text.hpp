// Reading Prometheus text (GET /metrics, or a component's metrics_text()) in tests.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace carelog::testing {

// The value of one series, `name` or `name{labels}` exactly as printed, as printed; empty when the
// text has no such line.
inline std::string metric_value(std::string_view text, std::string_view series) {
    for (std::size_t at = 0; at < text.size();) {
        const auto end = std::min(text.find('\n', at), text.size());
        const auto line = text.substr(at, end - at);
        if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
            return std::string(line.substr(series.size() + 1));
        at = end + 1;
    }
    return "";
}

}  // namespace carelog::testing
