// The identity read path (see identity.hpp): tokens, the folded staff identity state and its cache,
// TOTP with liboath, the dummy password check.
#include "identity.hpp"

#include <liboath/oath.h>
#include <sodium.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "carelog/api/password_policy.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "handlers.hpp"

namespace carelog::api {

// Staff members' folded state by "agency/staff", and clients' (portal.cpp) by "agency/client": ids
// are UUIDs, so the two never collide. Each lookup folds only the events after the cached version;
// entries are dropped wholesale past a bound (a cold fold is only slower).
class identity_cache {
public:
    std::optional<aggregates::agency_state> get(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = states_.find(key);
        if (it == states_.end()) return std::nullopt;
        return it->second;
    }
    void put(const std::string& key, const aggregates::agency_state& s, std::uint64_t version) {
        std::lock_guard lock(mu_);
        if (states_.size() > max_entries) states_.clear();
        auto it = states_.find(key);
        if (it != states_.end() && version_of(it->second, key) >= version) return;
        states_[key] = s;
    }

private:
    static constexpr std::size_t max_entries = 100000;
    static std::uint64_t version_of(const aggregates::agency_state& s, const std::string& key) {
        auto id = key.substr(key.find('/') + 1);
        if (auto it = s.staff.find(id); it != s.staff.end()) return it->second.version;
        if (auto it = s.clients.find(id); it != s.clients.end()) return it->second.version;
        return 0;
    }
    std::mutex mu_;
    std::unordered_map<std::string, aggregates::agency_state> states_;
};

std::shared_ptr<identity_cache> make_identity_cache() { return std::make_shared<identity_cache>(); }

namespace detail {

std::string new_agency_token(const std::string& agency_id) { return agency_id + "." + random_token(); }

std::optional<std::string> token_agency(std::string_view token) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos || token.size() > 200) return std::nullopt;
    std::string agency(token.substr(0, dot));
    if (!is_uuid(agency) || dot + 1 >= token.size()) return std::nullopt;
    return agency;
}

std::optional<aggregates::agency_state> identity_state(app_context& ctx, const std::string& agency_id,
                                                       const std::string& staff_id) {
    auto view = ctx.store.agency(agency_id);
    if (!view) return std::nullopt;
    const std::string key = agency_id + "/" + staff_id;
    auto cached = ctx.identity ? ctx.identity->get(key) : std::nullopt;
    aggregates::agency_state s = cached ? std::move(*cached) : aggregates::agency_state{};
    s.id = agency_id;
    s.exists = true;
    std::uint64_t from = 0;
    if (auto it = s.staff.find(staff_id); it != s.staff.end()) from = it->second.version;
    auto fresh = ctx.store.staff_events(agency_id, staff_id, from);
    for (const auto& e : fresh) aggregates::evolve(s, e);
    auto it = s.staff.find(staff_id);
    if (it == s.staff.end()) return std::nullopt;
    if (ctx.identity && !fresh.empty()) ctx.identity->put(key, s, it->second.version);
    if (auto st = view->find("settings"); st != view->end() && st->value().is_object())
        s.settings = settings_from_view(st->value().as_object());
    else
        s.settings = settings_from_view(boost::json::object{});
    if (auto slug = view->find("slug"); slug != view->end() && slug->value().is_string())
        s.slug = std::string(slug->value().as_string());
    return s;
}

std::optional<aggregates::agency_state> cached_state(app_context& ctx, const std::string& key) {
    return ctx.identity ? ctx.identity->get(key) : std::nullopt;
}

void cache_state(app_context& ctx, const std::string& key, const aggregates::agency_state& s, std::uint64_t version) {
    if (ctx.identity) ctx.identity->put(key, s, version);
}

namespace {
bool oath_ready() {
    static const bool ok = oath_init() == OATH_OK;
    return ok;
}
}  // namespace

totp_match check_totp(std::string_view secret, std::string_view code, micros now) {
    if (!oath_ready() || code.size() != 6) return {};
    for (char c : code)
        if (c < '0' || c > '9') return {};
    std::string otp(code);
    int pos = 0;
    auto r = oath_totp_validate2(secret.data(), secret.size(), static_cast<time_t>(now / 1'000'000), 30, 0, 1, &pos,
                                 otp.c_str());
    if (r < 0) return {};
    return {true, aggregates::totp_step_at(now) + pos};
}

totp_secret new_totp_secret() {
    totp_secret s;
    s.raw.resize(20);
    randombytes_buf(s.raw.data(), s.raw.size());
    char* out = nullptr;
    size_t len = 0;
    if (oath_ready() && oath_base32_encode(s.raw.data(), s.raw.size(), &out, &len) == OATH_OK && out) {
        s.base32.assign(out, len);
        sodium_memzero(out, len);
        std::free(out);
    }
    while (!s.base32.empty() && s.base32.back() == '=') s.base32.pop_back();
    return s;
}

void wipe(std::string& s) {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
    s.clear();
}

bool is_stale_check(const error& e) { return e.code == errc::stale; }

}  // namespace detail
}  // namespace carelog::api
