// Order-preserving key encoding for the read models (private to projections/).
//
// A key is a tuple of string components. Each component is written with its NUL bytes escaped
// (0x00 -> 0x00 0xFF) and ends with the terminator 0x00 0x01, so that
//   * any string, even one holding '/' or NUL, is a valid component (odd but valid event data
//     never breaks a key), and
//   * byte order of encoded tuples equals the lexicographic order of the component lists
//     ("a" < "ab" because the terminator 0x00 sorts below every real byte).
// A prefix scan on "every key whose next component starts with p" is the encoded components so
// far followed by escape(p) without a terminator.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace carelog::projections::keys {

inline constexpr std::string_view terminator{"\x00\x01", 2};

// escape(s): the component without its terminator.
std::string escape(std::string_view s);

class tuple {
public:
    tuple() = default;
    tuple& add(std::string_view component);
    // Raw bytes, not a component (big-endian numbers at the end of a key).
    tuple& raw(std::string_view bytes);
    const std::string& str() const& noexcept { return key_; }
    std::string str() && noexcept { return std::move(key_); }

private:
    std::string key_;
};

template <class... S>
std::string make(const S&... components) {
    tuple t;
    (t.add(components), ...);
    return std::move(t).str();
}

// Splits encoded bytes into components; nullopt when the bytes are not a whole tuple.
std::optional<std::vector<std::string>> parse(std::string_view encoded);

// The smallest key greater than every key starting with `prefix` ("" when there is none).
std::string prefix_successor(std::string_view prefix);

std::string be32(std::uint32_t v);
std::string be64(std::uint64_t v);
std::uint64_t read_be64(std::string_view s);  // s.size() must be 8

// URL-safe base64 without padding (opaque list cursors).
std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace carelog::projections::keys
