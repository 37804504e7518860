// /v1/portal: login, logout and "me" for portal clients, and the administrators' unlock of a
// portal account. The portal login mirrors the staff login (auth_handler.cpp): the API verifies the
// password (Argon2id) against the client state folded from the read models (portal.hpp) and the
// domain's record_portal_login decides (lockout by the agency's policy, audit events for every
// attempt). Every refusal - unknown agency, unknown username, wrong password, locked account -
// answers the same 401 "invalid credentials"; the reason is only in PortalLoginFailed.
//
// Choices where SPEC is silent:
// - unlocking a portal account needs staff.unlock (administrators), as unlocking a staff account
//   does: SPEC's lockout is "until an admin unlocks it or 30 minutes pass". The administrator must
//   also be able to see the client (else 404, like any client of another agency).
// - a portal session lasts the agency's idle timeout from its last recorded activity (the domain
//   records it at most once per touch interval, as for staff); expires_at says when, as of now.
#include <algorithm>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "carelog/aggregates/clients.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "browser_session.hpp"
#include "fiber.hpp"
#include "handlers.hpp"
#include "identity.hpp"
#include "limits.hpp"
#include "credentials.hpp"
#include "portal.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

// A new portal password the agency's policy refuses: 422 naming each rule on "new_password".
std::optional<problem> portal_policy_problem(const events::Settings& policy, const std::string& password,
                                             const std::string& username) {
    const std::vector<std::string> usernames{username};
    auto violations = password_policy_violations(policy, password, usernames);
    if (violations.empty()) return std::nullopt;
    std::vector<field_error> errs;
    for (auto& v : violations) errs.push_back({"new_password", std::move(v)});
    return problem(error{errc::validation, "the new password does not satisfy the agency's policy", errs});
}

micros idle_of(const aggregates::agency_state& s) {
    return static_cast<micros>(s.settings.session_idle_minutes.value_or(30)) * 60'000'000;
}

json::object account_summary(const aggregates::client_state& c, const aggregates::portal_account_state& a) {
    return {{"id", a.id}, {"username", a.username}, {"client_id", c.id}};
}

}  // namespace

http_result<http_response> portal_login(request_context& rc) {
    auto known = [&](const std::string& agency, const std::string& username) {
        return rc.ctx.store.portal_account_by_username(agency, username).has_value();
    };
    return run_login(rc, login_kind::portal, known, [&](login_attempt& a) -> http_result<http_response> {
        folded_state state;
        aggregates::portal_account_ref ref;
        micros now = 0;
        auto build = [&]() -> http_result<aggregates::command> {
            now = rc.ctx.clock.now();
            state.reset();
            ref = {};
            if (auto account = rc.ctx.store.portal_account_by_username(a.agency_id, a.username)) {
                state = client_state(rc.ctx, a.agency_id, string_field(*account, "client_id"));
                if (state) ref = aggregates::find_portal_account_by_username(*state, a.username);
            }
            aggregates::record_portal_login c;
            if (auto ok = describe_attempt(rc, a, now, ref.account ? &ref.account->password_hash : nullptr, c); !ok)
                return std::unexpected(ok.error());
            return aggregates::command{std::move(c)};
        };
        auto res = submit_login(rc, a, "portal_login", build);
        if (!res) return std::unexpected(std::move(res.error()));
        if (!ref.account) return invalid_credentials();
        json::object out{{"expires_at", format_rfc3339(now + idle_of(*state))},
                         {"portal_account", account_summary(*ref.client, *ref.account)},
                         {"require_password_change", ref.account->require_password_change}};
        return login_succeeded(rc, a, std::move(out), portal_cookie, res->consistency_token);
    });
}

http_result<http_response> portal_logout(request_context& rc) {
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto res = submit_checked(
        rc, rc.who.agency_id, rc.who.portal_account_id,
        [&]() -> http_result<aggregates::command> { return aggregates::portal_logout{rc.who.session_id}; }, 200);
    if (res) res->set(boost::beast::http::field::set_cookie, cleared_cookie(rc.ctx.cfg, portal_cookie));
    return res;
}

http_result<http_response> portal_me(request_context& rc) {
    query_reader q(rc.url.params());
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto state = client_state(rc.ctx, rc.who.agency_id, rc.who.client_id);
    auto view = rc.ctx.store.client(rc.who.agency_id, rc.who.client_id);
    if (!state || !view) return fail(errc::unauthenticated, "the portal session is not valid; log in again");
    const auto& c = state->clients.at(rc.who.client_id);
    if (!c.portal) return fail(errc::unauthenticated, "the portal session is not valid; log in again");
    const auto& account = *c.portal;

    // Only what a client would see of themselves: no external id, no lock state, no staff ids
    // beyond the people they can write to.
    json::object client;
    for (const char* k : {"id", "first_name", "last_name", "date_of_birth", "email", "phone"})
        client[k] = view->contains(k) ? view->at(k) : json::value(nullptr);
    const bool messaging_on = state->settings.messaging_enabled.value_or(false);
    auto agency = rc.ctx.store.agency(rc.who.agency_id);
    json::array staff;
    for (const auto& id : c.assigned_staff) {
        auto st = rc.ctx.store.staff(rc.who.agency_id, id);
        if (!st) continue;
        auto* active = st->if_contains("active");
        if (active && active->is_bool() && !active->as_bool()) continue;
        bool messaging = false;
        if (auto* perms = st->if_contains("permissions"); perms && perms->is_object())
            if (auto* m = perms->as_object().if_contains("messaging"); m && m->is_bool()) messaging = m->as_bool();
        staff.push_back(json::object{{"id", id},
                                     {"first_name", string_field(*st, "first_name")},
                                     {"last_name", string_field(*st, "last_name")},
                                     {"position", string_field(*st, "position")},
                                     {"messaging", messaging && messaging_on}});
    }
    json::object out{{"client", std::move(client)},
                     {"portal_account",
                      json::object{{"id", account.id},
                                   {"username", account.username},
                                   {"created_at", format_rfc3339(account.created_at)},
                                   {"last_login_at", account.last_login_at ? json::value(format_rfc3339(account.last_login_at))
                                                                           : json::value(nullptr)},
                                   {"require_password_change", account.require_password_change}}},
                     {"agency", json::object{{"id", rc.who.agency_id}, {"slug", state->slug},
                                             {"name", agency ? string_field(*agency, "name") : std::string()},
                                             {"messaging_enabled", messaging_on}}},
                     {"staff", std::move(staff)}};
    if (auto s = account.sessions.find(rc.who.session_id); s != account.sessions.end())
        out["session"] = json::object{
            {"expires_at", format_rfc3339(std::max(s->second.created_at, s->second.last_seen) + idle_of(*state))}};
    if (cookie_authenticated(rc.req, portal_cookie)) out["csrf_token"] = csrf_token(rc.ctx.cfg, rc.who.session_id);
    return json_response(200, out);
}

http_result<http_response> unlock_portal(request_context& rc) {
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const std::string& id = rc.param("id");
    if (auto account = visible_account(rc); !account) return std::unexpected(account.error());
    return submit_checked(
        rc, rc.who.agency_id, rc.who.staff_id,
        [&]() -> http_result<aggregates::command> { return aggregates::unlock_portal_account{id}; }, 200);
}

// POST /v1/portal/accounts/{id}/sessions/end: an administrator ends every session of a portal
// account (a lost or stolen device), with an optional reason for the log, as for staff.
http_result<http_response> end_portal_sessions(request_context& rc) {
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto reason = read_reason(r);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const std::string& id = rc.param("id");
    if (auto account = visible_account(rc); !account) return std::unexpected(account.error());
    auto res = submit_checked(
        rc, rc.who.agency_id, rc.who.staff_id,
        [&]() -> http_result<aggregates::command> { return aggregates::end_portal_sessions{id}; }, 200);
    if (res)
        spdlog::info("recovery: all sessions ended of portal account {} by staff {} (agency {}): {}", id,
                     rc.who.staff_id, rc.who.agency_id, reason.empty() ? std::string("no reason given") : reason);
    return res;
}

// POST /v1/portal/accounts/{id}/temporary-password: an administrator gives a client who lost their
// password a temporary one (generated unless given, shown once), with a required reason kept in the
// event; the client must choose their own at the next login. Unlocks the account and ends its
// sessions (the domain's set_portal_temporary_password).
http_result<http_response> set_portal_temporary_password(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto temporary = r.optional_string("temporary_password");
    std::string reason = read_reason(r);
    const std::string& id = rc.param("id");
    auto account = visible_account(rc);
    if (!account) {
        if (auto f = r.finish(); !f) return std::unexpected(f.error());
        return std::unexpected(account.error());
    }
    const auto client_id = string_field(*account, "client_id");
    auto state = client_state(rc.ctx, rc.who.agency_id, client_id);
    if (!state) return fail(errc::not_found, "no such portal account");
    const std::vector<std::string> usernames{string_field(*account, "username")};
    if (reason.empty()) r.add_error("reason", "is required: say why the client gets a temporary password");
    check_temporary_password(r, state->settings, temporary, usernames);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    auto password = make_temporary_password(state->settings, temporary, usernames);
    if (!password) return std::unexpected(password.error());
    auto res = submit_command(rc, rc.who.agency_id, rc.who.staff_id,
                              aggregates::set_portal_temporary_password{id, password->hash, reason}, 200,
                              shown_once(*password));
    if (res)
        spdlog::info("recovery: temporary password set for portal account {} by staff {} (agency {})", id,
                     rc.who.staff_id, rc.who.agency_id);
    return res;
}

// POST /v1/portal/password: the client chooses their own password (the only thing a session opened
// with a temporary password may do, besides reading "me" and logging out).
http_result<http_response> change_portal_password(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string current = r.required_string("current_password");
    std::string fresh = r.required_string("new_password");
    const wiped guard{&current, &fresh};
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto build = [&]() -> http_result<aggregates::command> {
        auto state = client_state(rc.ctx, rc.who.agency_id, rc.who.client_id);
        if (!state) return fail(errc::unauthenticated, "the portal session is not valid; log in again");
        const auto& c = state->clients.at(rc.who.client_id);
        if (!c.portal) return fail(errc::unauthenticated, "the portal session is not valid; log in again");
        if (auto p = portal_policy_problem(state->settings, fresh, c.portal->username)) return std::unexpected(*p);
        aggregates::change_portal_password cmd;
        cmd.portal_account_id = c.portal->id;
        cmd.session_id = rc.who.session_id;
        cmd.checked_password_hash = c.portal->password_hash;
        auto current_ok = bounded_verify(rc.ctx, cmd.checked_password_hash, current);
        if (!current_ok) return std::unexpected(problem(current_ok.error()));
        cmd.current_ok = *current_ok;
        if (auto ok = set_new_password(rc.ctx, cmd, cmd.checked_password_hash, fresh); !ok)
            return std::unexpected(ok.error());
        cmd.now = rc.ctx.clock.now();
        return aggregates::command{std::move(cmd)};
    };
    return submit_checked(rc, rc.who.agency_id, rc.who.portal_account_id, build, 200);
}

namespace {
// The work behind a portal reset request, after the caller has its 202: record the request (the
// domain decides whether the account exists and is due a new link) and mail the link to the
// client's e-mail address.
void portal_reset_after_answer(app_context& ctx, const std::string& slug, const std::string& username) {
    auto link_for = record_link_request(
        ctx, slug,
        [&](const std::string& hash, micros now) {
            return aggregates::request_portal_password_reset{username, hash, now};
        },
        "a portal password reset request");
    if (!link_for) return;  // unknown account, portal off, or a link just sent
    const std::string& client_id = link_for->aggregate_id;
    const std::string& agency = link_for->agency_id;
    const std::string& token = link_for->token;
    const micros now = link_for->now;
    std::string email, first, agency_name;
    if (auto c = ctx.store.client(agency, client_id)) {
        email = string_field(*c, "email");
        first = string_field(*c, "first_name");
    }
    if (auto a = ctx.store.agency(agency)) agency_name = string_field(*a, "name");
    const std::string link = public_link(ctx, "/portal/reset?token=" + token);
    notify::notification n;
    n.id = ctx.ids.next_uuid();
    n.type = "portal_password_reset";
    n.agency_id = agency;
    n.client_id = client_id;
    n.created_at = now;
    n.expires_at = now + aggregates::reset_token_lifetime;
    n.content = json::object{
        {"to", email},
        {"subject", "Reset your carelog portal password"},
        {"text", "Hello " + first + ",\n\nsomeone (hopefully you) asked to reset your password for the " + agency_name +
                     " client portal. Open this link within one hour to choose a new one:\n\n" + link +
                     "\n\nIf you did not ask for it, ignore this message; your password stays as it is.\n"},
        {"link", link}};
    // Unsent, the request stays in the log; asking again after a minute sends a new link.
    publish_link(ctx, n, "portal reset link for client " + client_id);
}
}  // namespace

// POST /v1/portal/password-reset: answers 202 at once, the same way whether or not the account
// exists; everything that depends on the account runs after the answer.
http_result<http_response> request_portal_password_reset(request_context& rc) {
    return accept_link_request(rc, portal_reset_after_answer);
}

// POST /v1/portal/password-reset/confirm: a new password with the link's token; ends every session.
http_result<http_response> confirm_portal_password_reset(request_context& rc) {
    auto owner = [&](const std::string& agency, const std::string& hash) {
        return rc.ctx.store.portal_reset_token_client(agency, hash);
    };
    return run_reset_confirmation(rc, owner, [&](reset_confirmation& r) {
        std::string account_id;
        auto build = [&]() -> http_result<aggregates::command> {
            auto state = client_state(rc.ctx, r.agency_id, r.owner_id);
            const micros now = rc.ctx.clock.now();
            auto ref = state ? aggregates::find_portal_reset_token(*state, r.token_hash, now) : aggregates::portal_account_ref{};
            if (!ref.account) return bad_reset_link();
            account_id = ref.account->id;
            if (auto p = portal_policy_problem(state->settings, r.new_password, ref.account->username))
                return std::unexpected(*p);
            aggregates::confirm_portal_password_reset c;
            c.token_hash = r.token_hash;
            if (auto ok = set_new_password(rc.ctx, c, ref.account->password_hash, r.new_password); !ok)
                return std::unexpected(ok.error());
            c.now = now;
            return aggregates::command{std::move(c)};
        };
        auto res = submit_checked(rc, r.agency_id, "anonymous", build, 200);
        if (res && !account_id.empty())
            spdlog::info("portal: password reset with a link for portal account {} (agency {})", account_id, r.agency_id);
        return res;
    });
}

}  // namespace carelog::api::detail
