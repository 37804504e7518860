// Prometheus's text format (0.0.4): a metric's HELP and TYPE lines, then its samples. Every
// /metrics section of carelogd writes its lines through these, so the format lives in one place.
#pragma once

#include <string>
#include <string_view>

namespace carelog::metric_text {

// "# HELP <name> <help>" and "# TYPE <name> <type>" (counter, gauge, histogram).
inline void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// "<name><labels> <value>"; `labels` as written, e.g. {partition="3"}, or empty.
template <class Number>
void sample(std::string& out, std::string_view name, std::string_view labels, Number value) {
    out.append(name).append(labels).append(" ").append(std::to_string(value)).append("\n");
}

// A family of one sample without labels.
template <class Number>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help, Number value) {
    family(out, name, type, help);
    sample(out, name, {}, value);
}

// {partition="<p>"}
inline std::string partition_label(int p) { return "{partition=\"" + std::to_string(p) + "\"}"; }

}  // namespace carelog::metric_text
