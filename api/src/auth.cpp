// Auth until the identity issue lands: the operator key (constant-time compare) and, for agency
// endpoints, X-Agency naming the agency whose first admin the operator acts as. Handlers only see
// a `principal`, so real sessions replace agency_principal() and nothing else.
#include <sodium.h>

#include <array>

#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace {
bool sodium_ready() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

// Equal-length digests first, so sodium_memcmp's constant time covers keys of any length.
bool keys_equal(std::string_view a, std::string_view b) {
    std::array<unsigned char, crypto_generichash_BYTES> ha{}, hb{};
    crypto_generichash(ha.data(), ha.size(), reinterpret_cast<const unsigned char*>(a.data()), a.size(), nullptr, 0);
    crypto_generichash(hb.data(), hb.size(), reinterpret_cast<const unsigned char*>(b.data()), b.size(), nullptr, 0);
    return sodium_memcmp(ha.data(), hb.data(), ha.size()) == 0;
}
}  // namespace

result<void> check_operator_key(const app_context& ctx, const http_request& req) {
    if (!sodium_ready()) return fail(errc::internal, "libsodium failed to initialise");
    auto key = header(req, "X-Operator-Key");
    if (!key || key->empty()) return fail(errc::unauthenticated, "X-Operator-Key is required");
    // An unconfigured key accepts nothing.
    if (ctx.cfg.operator_key.empty() || !keys_equal(*key, ctx.cfg.operator_key))
        return fail(errc::unauthenticated, "X-Operator-Key is not valid");
    return {};
}

result<principal> agency_principal(app_context& ctx, const http_request& req) {
    auto agency = header(req, "X-Agency");
    if (!agency || agency->empty()) return fail(errc::unauthenticated, "X-Agency (the agency id) is required");
    std::string id(*agency);
    if (!is_uuid(id)) return fail(errc::not_found, "no such agency");
    auto view = ctx.store.agency(id);
    if (!view) return fail(errc::not_found, "no such agency");
    std::string staff = "operator";
    if (auto it = view->find("admin_staff_id"); it != view->end() && it->value().is_string() &&
                                                 !it->value().as_string().empty())
        staff = std::string(it->value().as_string());
    return principal{id, staff, "org_admin", "administration", true};
}

result<void> require_role(const principal& p, std::initializer_list<std::string_view> roles) {
    for (auto r : roles)
        if (p.role == r) return {};
    return fail(errc::forbidden, "your role does not allow this");
}

events::Settings agency_settings(app_context& ctx, const std::string& agency_id) {
    auto view = ctx.store.agency(agency_id);
    if (view) {
        if (auto it = view->find("settings"); it != view->end() && it->value().is_object())
            return settings_from_view(it->value().as_object());
    }
    return settings_from_view(boost::json::object{});
}

}  // namespace carelog::api::detail
