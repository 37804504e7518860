#include "browser_session.hpp"

#include <array>
#include <span>

#include <sodium.h>

#include "carelog/api/request.hpp"
#include "carelog/base/sha256.hpp"
#include "handlers.hpp"

namespace carelog::api {
namespace {

bool secure(const config& cfg) { return cfg.public_url.starts_with("https://"); }

std::string hex(const sha256_digest& d) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(d.size() * 2);
    for (auto b : d) {
        out += digits[b >> 4];
        out += digits[b & 0xf];
    }
    return out;
}

std::string attributes(const config& cfg) {
    std::string a = "; Path=/; HttpOnly; SameSite=Strict";
    if (secure(cfg)) a += "; Secure";
    return a;
}

}  // namespace

std::optional<std::string> cookie_value(const http_request& req, std::string_view name) {
    for (auto it = req.find(boost::beast::http::field::cookie); it != req.end() && it->name() == boost::beast::http::field::cookie;
         ++it) {
        std::string_view rest(it->value().data(), it->value().size());
        while (!rest.empty()) {
            auto semi = rest.find(';');
            auto pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
            while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
            auto eq = pair.find('=');
            if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
            auto value = pair.substr(eq + 1);
            while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
            if (!value.empty()) return std::string(value);
        }
    }
    return std::nullopt;
}

bool cookie_authenticated(const http_request& req, std::string_view name) {
    auto h = header(req, "Authorization");
    return (!h || h->empty()) && cookie_value(req, name).has_value();
}

result<credential> request_credential(const http_request& req, auth_kind kind) {
    auto h = header(req, "Authorization");
    if ((!h || h->empty()) && kind != auth_kind::kiosk) {
        if (auto c = cookie_value(req, kind == auth_kind::portal_session ? portal_cookie : staff_cookie))
            return credential{std::move(*c), true};
    }
    auto token = detail::bearer_token(req);
    if (!token) return std::unexpected(token.error());
    return credential{std::move(*token), false};
}

std::string csrf_token(const config& cfg, std::string_view session_id) {
    std::string msg = "carelog.csrf:";
    msg += session_id;
    const auto* m = reinterpret_cast<const std::uint8_t*>(msg.data());
    return hex(sha256(std::span<const std::uint8_t>(cfg.server_key.bytes), std::span<const std::uint8_t>(m, msg.size())));
}

result<void> check_csrf(const config& cfg, const http_request& req, const principal& who) {
    auto m = req.method();
    using boost::beast::http::verb;
    if (m == verb::get || m == verb::head || m == verb::options) return {};
    auto given = header(req, "X-CSRF-Token");
    const std::string want = csrf_token(cfg, who.session_id);
    if (!given || given->size() != want.size() || sodium_memcmp(given->data(), want.data(), want.size()) != 0)
        return fail(errc::forbidden, "a request authenticated by the session cookie needs the X-CSRF-Token header "
                                     "(csrf_token from the login)");
    return {};
}

std::string session_cookie(const config& cfg, std::string_view name, std::string_view token) {
    return std::string(name) + "=" + std::string(token) + attributes(cfg);
}

std::string cleared_cookie(const config& cfg, std::string_view name) {
    return std::string(name) + "=" + attributes(cfg) + "; Max-Age=0";
}

}  // namespace carelog::api
