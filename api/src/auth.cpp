// Who is calling: the operator key (constant-time compare) for the operator's routes, and for
// every agency route a bearer session (`Authorization: Bearer <agency id>.<random>`), resolved
// through the identity read path (identity.hpp) and judged by the domain's check_session: live,
// idle-expired (ended lazily with expire_session), or its staff member deactivated. Activity is
// recorded with touch_session at most once per touch interval, so idle expiry holds across
// processes. Then the route's permission: the session's restriction first (a forced password
// change or MFA enrolment allows only what access::allowed_during says), then the role.
#include <sodium.h>

#include <algorithm>
#include <array>

#include <spdlog/spdlog.h>

#include "carelog/aggregates/access.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace access = aggregates::access;

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

std::unexpected<error> no_session() { return fail(errc::unauthenticated, "the session is not valid; log in again"); }

// Records activity or expiry; failures only cost accuracy (the next request tries again).
void submit_quietly(app_context& ctx, const std::string& agency, const std::string& actor,
                    const aggregates::command& cmd, const char* what) {
    auto r = ctx.commands.submit(agency, command_meta{actor, "", ctx.ids.next_uuid()}, cmd);
    if (!r) spdlog::warn("auth: {} for agency {} not recorded: {}", what, agency, r.error().detail);
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

result<std::string> bearer_token(const http_request& req) {
    auto h = header(req, "Authorization");
    if (!h || h->empty()) return fail(errc::unauthenticated, "Authorization: Bearer <token> is required (POST /v1/auth/login)");
    constexpr std::string_view scheme = "bearer ";
    if (h->size() <= scheme.size()) return no_session();
    for (std::size_t i = 0; i < scheme.size(); ++i)
        if (static_cast<char>(std::tolower(static_cast<unsigned char>((*h)[i]))) != scheme[i]) return no_session();
    auto token = h->substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.empty()) return no_session();
    return std::string(token);
}

result<principal> session_principal(app_context& ctx, const std::string& token) {
    // A token seen before whose basis still holds skips the owner and state lookups (a digest
    // names one token: the basis was built from this very token).
    const sha256_digest digest = sha256(token);
    auto basis = cached_session(ctx, digest);
    if (!basis) {
        const std::string sid = to_hex(digest);
        auto ground = ground_of(ctx, 's', token, sid);
        if (!ground) return no_session();
        const auto& state = *ground->state;
        const auto& st = state.staff.at(ground->owner_id);  // the folded state holds the staff member it names
        auto b = std::make_shared<session_basis>();
        principal& p = b->who;
        p.agency_id = ground->agency_id;
        p.staff_id = st.id;
        p.role = st.profile.role;
        p.staff_type = st.profile.staff_type;
        p.session_id = sid;
        p.permissions = access::effective_permissions(state, st);
        p.client_portal = {state.settings.client_portal_enabled.value_or(false), st.permissions.contains("client_portal")};
        p.messaging = {state.settings.messaging_enabled.value_or(false), st.permissions.contains("messaging")};
        b->state = ground->state;
        remember_session(ctx, digest, ground->agency_id, ground->owner_id, b);
        basis = std::move(b);
    }
    const micros now = ctx.clock.now();
    auto chk = aggregates::check_session(*basis->state, basis->who.session_id, now);
    const principal& who = basis->who;
    switch (chk.status) {
        case aggregates::session_status::unknown:
        case aggregates::session_status::staff_inactive: return no_session();
        case aggregates::session_status::idle_expired:
            submit_quietly(ctx, who.agency_id, who.staff_id, aggregates::expire_session{who.session_id, now},
                           "idle expiry");
            return fail(errc::unauthenticated, "the session expired after inactivity; log in again");
        case aggregates::session_status::active: break;
    }
    if (chk.touch_due)
        submit_quietly(ctx, who.agency_id, who.staff_id, aggregates::touch_session{who.session_id, now},
                       "session activity");
    principal p = who;
    p.restriction = chk.restriction;
    return p;
}

result<void> check_permission(const principal& p, std::string_view permission) {
    if (permission.empty()) return {};
    if (!access::allowed_during(p.restriction, permission)) {
        if (p.restriction == aggregates::session_restriction::change_password)
            return fail(errc::forbidden,
                        "a password change is required before anything else: POST /v1/auth/password");
        return fail(errc::forbidden,
                    "TOTP enrolment is required for your role before anything else: POST /v1/auth/mfa/enroll");
    }
    if (!p.can(permission)) {
        // A module's permission: why, in the domain's words ("the agency's client_portal_enabled is
        // off; the staff member lacks the client_portal permission").
        const std::pair<const char*, principal::module_state> modules[] = {{"client_portal", p.client_portal},
                                                                          {"messaging", p.messaging}};
        for (const auto& [module, state] : modules) {
            auto grants = access::module_grants(module);
            if (std::none_of(grants.begin(), grants.end(), [&](const char* g) { return permission == g; })) continue;
            std::string why;
            if (!state.switched_on) why = std::string("the agency's ") + module + "_enabled is off";
            if (!state.granted)
                why += (why.empty() ? "" : "; ") + std::string("the staff member lacks the ") + module + " permission";
            if (!why.empty()) return fail(errc::forbidden, why);
        }
        return fail(errc::forbidden, "your role does not allow this");
    }
    return {};
}

result<void> may_manage(request_context& rc, const std::string& target_id) {
    auto target = rc.ctx.store.staff(rc.who.agency_id, target_id);
    if (!target) return {};  // the command's decision answers 404
    aggregates::staff_state actor, other;
    actor.profile.role = rc.who.role;
    if (auto it = target->find("role"); it != target->end() && it->value().is_string())
        other.profile.role = std::string(it->value().as_string());
    if (!access::can_act_on(actor, other))
        return fail(errc::forbidden, "only an organization administrator may manage an organization administrator");
    return {};
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
