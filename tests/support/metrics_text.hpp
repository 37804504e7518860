// Reading Prometheus text (GET /metrics, or a component's metrics_text()) in tests.
#pragma once

#include <algorithm>
#include <set>
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

// What keeps `text` from being a valid page of Prometheus's text format (0.0.4) as a scraper
// groups it; empty when it is one. Every family is declared once, HELP then TYPE, and its samples
// follow its TYPE line before the next family's (a histogram's as `_bucket`, `_sum` and `_count`);
// every sample line is `<name>[{labels}] <value>`.
inline std::string format_problem(std::string_view text) {
    std::set<std::string, std::less<>> declared;
    std::string family, type, helped;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = std::min(text.find('\n', at), text.size());
        const auto line = text.substr(at, end - at);
        at = end + 1;
        if (line.empty()) continue;
        auto word = [&](std::size_t from) {
            if (from >= line.size()) return std::string();
            const auto stop = std::min(line.find(' ', from), line.size());
            return std::string(line.substr(from, stop - from));
        };
        if (line.starts_with("# HELP ")) {
            helped = word(7);
            if (declared.contains(helped)) return "family " + helped + " declared twice";
            continue;
        }
        if (line.starts_with("# TYPE ")) {
            family = word(7);
            if (family != helped) return "TYPE of " + family + " does not follow its HELP";
            declared.insert(family);
            type = word(7 + family.size() + 1);
            if (type != "counter" && type != "gauge" && type != "histogram") return family + ": type " + type;
            continue;
        }
        if (line.starts_with('#')) continue;
        const auto name_end = line.find_first_of("{ ");
        if (name_end == std::string_view::npos) return "no value: " + std::string(line);
        const auto name = line.substr(0, name_end);
        const auto value_at = line[name_end] == '{' ? line.find("} ", name_end) : name_end;
        if (value_at == std::string_view::npos ||
            line.substr(value_at).find_first_not_of("} ") == std::string_view::npos)
            return "no value: " + std::string(line);
        bool ours = name == family;
        if (type == "histogram")
            for (std::string_view suffix : {"_bucket", "_sum", "_count"})
                ours = ours || (name.starts_with(family) && name.substr(family.size()) == suffix);
        if (!ours) return "sample " + std::string(line) + " outside its family (after " + family + ")";
    }
    return "";
}

}  // namespace carelog::testing
