// Small Boost.JSON helpers for the stored views (private to projections/).
#pragma once

#include "carelog/base/overloaded.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <boost/json.hpp>

namespace carelog::projections {
namespace json = boost::json;

using carelog::overloaded;

inline std::string str_of(const json::object& o, std::string_view key) {
    if (const auto* v = o.if_contains(key); v && v->is_string()) return std::string(v->get_string());
    return {};
}

inline std::uint64_t u64_of(const json::object& o, std::string_view key) {
    if (const auto* v = o.if_contains(key)) {
        boost::system::error_code ec;
        auto n = v->to_number<std::uint64_t>(ec);
        if (!ec) return n;
    }
    return 0;
}

inline bool bool_of(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_bool() && v->get_bool();
}

// "" stands for "absent" in events; views show it as null.
inline json::value str_or_null(const std::string& s) {
    return s.empty() ? json::value(nullptr) : json::value(s);
}

// Stored views are our own serialization; event strings were never UTF-8 checked by the
// FlatBuffers verifier, so the parser must accept whatever bytes we wrote.
inline std::optional<json::object> parse_object(std::string_view text) {
    json::parse_options opts;
    opts.allow_invalid_utf8 = true;
    boost::system::error_code ec;
    auto v = json::parse(text, ec, {}, opts);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

}  // namespace carelog::projections
