// Password policy checks, strong temporary passwords and Argon2id hashing. The policy is an
// agency's events::Settings, so the operator's default policy and each agency's own go through
// the same function.
#include "carelog/api/password_policy.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <semaphore>

#include "carelog/base/text.hpp"
#include "fiber.hpp"

namespace carelog::api {
namespace {

bool sodium_ready() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

constexpr std::size_t max_password_chars = 256;
constexpr std::ptrdiff_t hash_concurrency = 4;

}  // namespace

std::vector<std::string> password_policy_violations(const events::Settings& policy, std::string_view password,
                                                    std::span<const std::string> usernames) {
    std::vector<std::string> out;
    auto min_len = static_cast<std::size_t>(std::max(1, policy.password_min_length.value_or(12)));
    auto len = code_points(password);
    if (len < min_len) out.push_back("must be at least " + std::to_string(min_len) + " characters long");
    if (len > max_password_chars) out.push_back("must be at most " + std::to_string(max_password_chars) + " characters long");
    bool upper = false, lower = false, digit = false, symbol = false;
    for (char c : password) {
        if (is_upper(c)) upper = true;
        else if (is_lower(c)) lower = true;
        else if (is_digit(c)) digit = true;
        else symbol = true;  // punctuation, space or any non-ASCII character
    }
    if (policy.password_require_upper.value_or(true) && !upper) out.push_back("must contain an upper-case letter");
    if (policy.password_require_lower.value_or(true) && !lower) out.push_back("must contain a lower-case letter");
    if (policy.password_require_digit.value_or(true) && !digit) out.push_back("must contain a digit");
    if (policy.password_require_symbol.value_or(true) && !symbol) out.push_back("must contain a symbol");
    if (policy.password_disallow_username.value_or(true)) {
        std::string lowered = ascii_lower(password);
        for (const auto& u : usernames) {
            if (!u.empty() && lowered.find(ascii_lower(u)) != std::string::npos) {
                out.push_back("must not contain the username");
                break;
            }
        }
    }
    return out;
}

std::string generate_password(const events::Settings& policy, std::span<const std::string> usernames) {
    sodium_ready();
    // No look-alikes (0/O, 1/l/I) and no quotes or backslashes: it is read and typed by people.
    static constexpr std::string_view upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    static constexpr std::string_view lower = "abcdefghijkmnopqrstuvwxyz";
    static constexpr std::string_view digits = "23456789";
    static constexpr std::string_view symbols = "!#$%*+-=?@^_~";
    static const std::string all = std::string(upper) + std::string(lower) + std::string(digits) + std::string(symbols);
    auto pick = [](std::string_view from) {
        return from[randombytes_uniform(static_cast<std::uint32_t>(from.size()))];
    };
    std::size_t length = std::max<std::size_t>(20, static_cast<std::size_t>(policy.password_min_length.value_or(0)));
    length = std::min(length, max_password_chars);
    for (;;) {
        std::string pw;
        pw.push_back(pick(upper));
        pw.push_back(pick(lower));
        pw.push_back(pick(digits));
        pw.push_back(pick(symbols));
        while (pw.size() < length) pw.push_back(pick(all));
        for (std::size_t i = pw.size() - 1; i > 0; --i)
            std::swap(pw[i], pw[randombytes_uniform(static_cast<std::uint32_t>(i + 1))]);
        if (password_policy_violations(policy, pw, usernames).empty()) return pw;
    }
}

namespace {
std::optional<std::string> hash_password_here(std::string_view password);
}

std::optional<std::string> hash_password(std::string_view password) {
    if (!sodium_ready()) return std::nullopt;
    std::optional<std::string> out;
    // On a request fiber the hash runs on the blocking pool: an io thread never spends 50 ms on it.
    fiber::run_blocking([&] { out = hash_password_here(password); });
    return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
    if (!sodium_ready()) return false;
    bool ok = false;
    fiber::run_blocking([&] { ok = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0; });
    return ok;
}

namespace {
std::optional<std::string> hash_password_here(std::string_view password) {
    // Each Argon2id hash takes MEMLIMIT_INTERACTIVE (64 MiB): bound how many run at once so a burst
    // of staff creations on a large worker pool cannot take gigabytes.
    static std::counting_semaphore<> slots(hash_concurrency);
    slots.acquire();
    struct release {
        ~release() { slots.release(); }
    } guard;
    std::array<char, crypto_pwhash_STRBYTES> out{};
    if (crypto_pwhash_str(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return std::nullopt;
    return std::string(out.data());
}
}  // namespace

events::Settings settings_from_view(const boost::json::object& v) {
    events::Settings s = events::default_settings("");
    s.name.reset();
    auto boolean = [](const boost::json::object& o, std::string_view k, std::optional<bool>& out) {
        if (auto it = o.find(k); it != o.end() && it->value().is_bool()) out = it->value().as_bool();
    };
    auto integer = [](const boost::json::object& o, std::string_view k, std::optional<int>& out) {
        if (auto it = o.find(k); it != o.end() && it->value().is_int64()) out = static_cast<int>(it->value().as_int64());
        else if (it != o.end() && it->value().is_uint64()) out = static_cast<int>(it->value().as_uint64());
    };
    auto strings = [](const boost::json::object& o, std::string_view k, std::optional<events::strings>& out) {
        auto it = o.find(k);
        if (it == o.end() || !it->value().is_array()) return;
        events::strings v;
        for (const auto& e : it->value().as_array())
            if (e.is_string()) v.emplace_back(e.as_string());
        out = std::move(v);
    };
    if (auto it = v.find("name"); it != v.end() && it->value().is_string()) s.name = std::string(it->value().as_string());
    boolean(v, "client_portal_enabled", s.client_portal_enabled);
    boolean(v, "messaging_enabled", s.messaging_enabled);
    if (auto it = v.find("password_policy"); it != v.end() && it->value().is_object()) {
        const auto& p = it->value().as_object();
        integer(p, "min_length", s.password_min_length);
        boolean(p, "require_upper", s.password_require_upper);
        boolean(p, "require_lower", s.password_require_lower);
        boolean(p, "require_digit", s.password_require_digit);
        boolean(p, "require_symbol", s.password_require_symbol);
        boolean(p, "disallow_username", s.password_disallow_username);
    }
    if (auto it = v.find("lockout"); it != v.end() && it->value().is_object()) {
        integer(it->value().as_object(), "threshold", s.lockout_threshold);
        integer(it->value().as_object(), "minutes", s.lockout_minutes);
    }
    integer(v, "session_idle_minutes", s.session_idle_minutes);
    integer(v, "password_expiry_days", s.password_expiry_days);
    strings(v, "mfa_required_roles", s.mfa_required_roles);
    strings(v, "services", s.services);
    return s;
}

}  // namespace carelog::api
