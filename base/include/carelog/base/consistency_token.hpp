// Consistency tokens: "<partition>-<offset>" of a command's last record in the event topic. The
// write engine issues them; readers wait until their projections applied that position.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace carelog {

inline std::string make_token(int partition, std::int64_t offset) {
    return std::to_string(partition) + "-" + std::to_string(offset);
}

inline bool parse_token(std::string_view token, int& partition, std::int64_t& offset) {
    auto dash = token.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 >= token.size()) return false;
    auto r1 = std::from_chars(token.data(), token.data() + dash, partition);
    auto r2 = std::from_chars(token.data() + dash + 1, token.data() + token.size(), offset);
    return r1.ec == std::errc() && r1.ptr == token.data() + dash && r2.ec == std::errc() &&
           r2.ptr == token.data() + token.size() && partition >= 0 && offset >= 0;
}

}  // namespace carelog
