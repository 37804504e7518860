#include "keys.hpp"

#include <array>

namespace carelog::projections::keys {

namespace {
// Appends s with every NUL followed by 0xFF, a run at a time (ids and names have no NUL: one append).
void append_escaped(std::string& out, std::string_view s) {
    for (auto z = s.find('\0'); z != std::string_view::npos; z = s.find('\0')) {
        out.append(s.substr(0, z + 1));
        out.push_back('\xFF');
        s.remove_prefix(z + 1);
    }
    out.append(s);
}
}  // namespace

std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    append_escaped(out, s);
    return out;
}

tuple& tuple::add(std::string_view component) {
    append_escaped(key_, component);
    key_ += terminator;
    return *this;
}

tuple& tuple::raw(std::string_view bytes) {
    key_ += bytes;
    return *this;
}

std::optional<std::vector<std::string>> parse(std::string_view encoded) {
    std::vector<std::string> out;
    std::string cur;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        char c = encoded[i];
        if (c != '\0') {
            cur.push_back(c);
            continue;
        }
        if (i + 1 >= encoded.size()) return std::nullopt;
        char next = encoded[++i];
        if (next == '\xFF') {
            cur.push_back('\0');
        } else if (next == '\x01') {
            out.push_back(std::move(cur));
            cur.clear();
        } else {
            return std::nullopt;
        }
    }
    if (!cur.empty()) return std::nullopt;  // a component without its terminator
    return out;
}

std::string prefix_successor(std::string_view prefix) {
    std::string s(prefix);
    while (!s.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(s.back());
        if (last != 0xFF) {
            ++last;
            return s;
        }
        s.pop_back();
    }
    return s;
}

std::string be32(std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 3; i >= 0; --i, v >>= 8) s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    return s;
}

std::string be64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
    return s;
}

std::uint64_t read_be64(std::string_view s) {
    std::uint64_t v = 0;
    for (unsigned char c : s.substr(0, 8)) v = (v << 8) | c;
    return v;
}

namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 0x3F]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3F]);
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    static const std::array<int, 256> table = [] {
        std::array<int, 256> t{};
        t.fill(-1);
        for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
        return t;
    }();
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : text) {
        int v = table[c];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    // Leftover bits must be zero, so every byte string has exactly one spelling.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

}  // namespace carelog::projections::keys
