// Field checks shared by the Agency and Staff decisions (see rules.hpp).
#include "rules.hpp"

#include <algorithm>

#include "carelog/base/text.hpp"

namespace carelog::aggregates::detail {
namespace {

// Decodes one code point of valid UTF-8 at s[i] and advances i.
std::uint32_t next_cp(std::string_view s, std::size_t& i) noexcept {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    return cp;
}

bool has_control(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        auto cp = next_cp(s, i);
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) return true;
    }
    return false;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::string check_text(field_errors& errs, const std::string& field, std::string_view value, bool required,
                       std::size_t max_chars) {
    if (!is_valid_utf8(value)) {
        errs.add(field, "must be valid UTF-8");
        return std::string(value);
    }
    std::string t(trim(value));
    if (has_control(t))
        errs.add(field, "must not contain control characters");
    else if (required && t.empty())
        errs.add(field, "is required");
    else if (utf8_length(t) > max_chars)
        errs.add(field, "must be at most " + std::to_string(max_chars) + " characters");
    return t;
}

bool is_valid_email(std::string_view e) noexcept {
    if (e.empty() || e.size() > 254 || !is_valid_utf8(e) || has_control(e)) return false;
    auto at = e.find('@');
    if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) return false;
    if (at > 64) return false;
    auto domain = e.substr(at + 1);
    auto dot = domain.find('.');
    if (dot == std::string_view::npos || dot == 0 || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos)
        return false;
    for (char c : e)
        if (c == ' ' || c == '\t' || c == ',' || c == ';' || c == '<' || c == '>' || c == '"' || c == '(' ||
            c == ')' || c == '[' || c == ']' || c == '\\')
            return false;
    return true;
}

std::string check_email(field_errors& errs, const std::string& field, std::string_view value) {
    std::string t(trim(value));
    if (t.empty())
        errs.add(field, "is required");
    else if (!is_valid_email(t))
        errs.add(field, "must be an e-mail address like name@example.org (at most 254 characters)");
    return t;
}

bool is_valid_date(std::string_view d) noexcept {
    if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (!is_digit(d[i])) return false;
    auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) v = v * 10 + (d[i] - '0');
        return v;
    };
    int y = num(0, 4), m = num(5, 2), day = num(8, 2);
    if (y < 1900 || m < 1 || m > 12 || day < 1) return false;
    static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = days[m - 1] + (m == 2 && leap ? 1 : 0);
    return day <= max;
}

bool is_one_of(std::string_view v, std::span<const char* const> values) noexcept {
    return std::any_of(values.begin(), values.end(), [&](const char* x) { return v == x; });
}

std::string joined(std::span<const char* const> values) {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::string(values[i]);
    return out;
}

strings canonical_set(strings v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

std::unexpected<error> stale_password_check() {
    return fail(errc::stale, "the password was verified against a hash that is no longer current; verify again");
}

void check_new_password(field_errors& errs, const std::string& hash, bool policy_ok, bool same_as_current) {
    if (hash.empty())
        errs.add("new_password", "is required");
    else if (!policy_ok)
        errs.add("new_password", "does not satisfy the agency's password policy");
    else if (same_as_current)
        errs.add("new_password", "must differ from the current password");
}

}  // namespace carelog::aggregates::detail
