// The portal and kiosk read path (see portal.hpp): the folded client state and its cache, and the
// two principals that are not staff: a portal client behind a portal session (judged by the
// domain's check_portal_session) and a kiosk behind a kiosk token (find_live_kiosk).
#include "portal.hpp"

#include <spdlog/spdlog.h>

#include "carelog/aggregates/clients.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/base/secrets.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

folded_state client_state(app_context& ctx, const std::string& agency_id, const std::string& client_id) {
    return fold_state(ctx, agency_id, client_id, fold_kind::client);
}

namespace {
std::unexpected<error> no_portal_session() {
    return fail(errc::unauthenticated, "the portal session is not valid; log in again (POST /v1/portal/login)");
}
std::unexpected<error> kiosk_not_live() {
    return fail(errc::unauthenticated, "the kiosk session is not live (unknown or expired)");
}
}  // namespace

result<principal> portal_principal(app_context& ctx, const std::string& token) {
    const std::string sid = token_hash(token);
    auto ground = ground_of(ctx, 'p', token, sid);
    if (!ground) return no_portal_session();
    const std::string& agency = ground->agency_id;
    const auto& state = ground->state;
    const micros now = ctx.clock.now();
    auto chk = aggregates::check_portal_session(*state, sid, now);
    switch (chk.status) {
        case aggregates::portal_session_status::unknown: return no_portal_session();
        // The domain records the end (PortalSessionEnded{idle}) at the account's next login.
        case aggregates::portal_session_status::idle_expired:
            return fail(errc::unauthenticated, "the portal session expired after inactivity; log in again");
        case aggregates::portal_session_status::portal_disabled:
            return fail(errc::unauthenticated, "the agency's client portal is switched off");
        case aggregates::portal_session_status::active: break;
    }
    // Activity slides the session, recorded at most once per touch interval (as for staff).
    if (chk.touch_due) {
        auto r = ctx.commands.submit(agency, command_meta{chk.account->id, "", ctx.ids.next_uuid()},
                                     aggregates::touch_portal_session{sid, now});
        if (!r) spdlog::warn("portal: session activity for agency {} not recorded: {}", agency, r.error().detail);
    }
    principal p;
    p.agency_id = agency;
    p.session_id = sid;
    p.client_id = chk.client->id;
    p.portal_account_id = chk.account->id;
    // A temporary password: nothing but choosing one's own until then (router.cpp).
    if (chk.account->require_password_change) p.restriction = aggregates::session_restriction::change_password;
    return p;
}

result<principal> kiosk_principal(app_context& ctx, const std::string& token) {
    const std::string th = token_hash(token);
    auto ground = ground_of(ctx, 'k', token, th);
    if (!ground) return kiosk_not_live();
    const std::string& agency = ground->agency_id;
    const auto& state = ground->state;
    const micros now = ctx.clock.now();
    principal p;
    p.agency_id = agency;
    p.session_id = th;
    if (auto live = aggregates::find_live_kiosk(*state, th, now); live.kiosk) {
        p.client_id = live.client->id;
        p.kiosk_session_id = live.kiosk->id;
        return p;
    }
    // Submitted but not expired: the token still names its session, so that a second submit gets
    // the domain's 409 rather than a 401 (submit_kiosk_form checks expiry first, then submission).
    const auto& c = state->clients.at(ground->owner_id);
    for (const auto& [id, k] : c.kiosks) {
        if (k.token_hash != th || !k.submitted || now >= k.expires_at) continue;
        p.client_id = c.id;
        p.kiosk_session_id = k.id;
        p.kiosk_submitted = true;
        return p;
    }
    return kiosk_not_live();
}

}  // namespace carelog::api::detail
