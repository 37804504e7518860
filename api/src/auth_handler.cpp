// /v1/auth: login, logout, the current session, password change, forgotten password (reset link
// as a notification), TOTP enrolment. The API owns every secret and clock (aggregates/identity.hpp
// says what it computes): it verifies passwords (Argon2id) and TOTP codes (liboath) against the
// identity state folded from the read models, hashes tokens, seals secrets, and lets the domain
// decide. Every refused login answers the same 401 "invalid credentials"; the reason is only in
// the LoginFailed event.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "carelog/aggregates/identity.hpp"
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

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

const aggregates::staff_state* member_of(const folded_state& s, const std::string& id) {
    if (!s) return nullptr;
    auto it = s->staff.find(id);
    return it == s->staff.end() ? nullptr : &it->second;
}

// Opens the staff member's sealed TOTP secret and checks `code` at `now`.
totp_match verify_code(const app_context& ctx, const aggregates::staff_state& st, std::string_view code, micros now) {
    const auto& sealed = st.credentials.mfa_secret_sealed;
    if (sealed.empty()) return {};
    auto secret = open_sealed(ctx.cfg.server_key, st.id, sealed);
    if (!secret) {
        spdlog::error("auth: the TOTP secret of staff {} does not open with this server key", st.id);
        return {};
    }
    auto m = check_totp(*secret, code, now);
    wipe(*secret);
    return m;
}

json::object staff_summary(const aggregates::staff_state& st) {
    return {{"id", st.id}, {"username", st.profile.username}, {"role", st.profile.role}, {"type", st.profile.staff_type}};
}

std::vector<std::string> usernames_of(const aggregates::staff_state& st) { return {st.profile.username}; }

// Policy violations of a new password as field errors on `field` (empty = acceptable).
std::optional<problem> policy_problem(const events::Settings& policy, std::string_view password,
                                      const aggregates::staff_state& st, const std::string& field) {
    auto names = usernames_of(st);
    auto v = password_policy_violations(policy, password, names);
    if (v.empty()) return std::nullopt;
    error e{errc::validation, "the request has invalid fields", {}};
    for (auto& m : v) e.fields.push_back({field, std::move(m)});
    return problem(e);
}

}  // namespace

// ---------------------------------------------------------------- login / logout

http_result<http_response> login(request_context& rc) {
    auto known = [&](const std::string& agency, const std::string& username) {
        return rc.ctx.store.staff_id_by_username(agency, username).has_value();
    };
    return run_login(rc, login_kind::staff, known, [&](login_attempt& a) -> http_result<http_response> {
        folded_state state;
        std::string staff_id;
        micros now = 0;
        auto build = [&]() -> http_result<aggregates::command> {
            now = rc.ctx.clock.now();
            staff_id = rc.ctx.store.staff_id_by_username(a.agency_id, a.username).value_or("");
            state = staff_id.empty() ? nullptr : identity_state(rc.ctx, a.agency_id, staff_id);
            const auto* member = member_of(state, staff_id);
            aggregates::record_login c;
            if (auto ok = describe_attempt(rc, a, now, member ? &member->profile.password_hash : nullptr, c); !ok)
                return std::unexpected(ok.error());
            if (a.totp && !a.totp->empty()) {
                c.totp_provided = true;
                if (member) {
                    c.checked_mfa_secret = member->credentials.mfa_secret_sealed;
                    auto m = verify_code(rc.ctx, *member, trimmed(*a.totp), now);
                    c.totp_ok = m.ok;
                    c.totp_step = m.step;
                }
            }
            return aggregates::command{std::move(c)};
        };
        auto res = submit_login(rc, a, "login", build);
        if (!res) return std::unexpected(std::move(res.error()));
        const auto* member = member_of(state, staff_id);
        if (!member) return invalid_credentials();
        bool enrol = false;
        if (auto e = res->body.if_contains("mfa_enrollment_required"); e && e->is_bool()) enrol = e->as_bool();
        json::object out;
        // The session ends after this much inactivity (each request moves it on).
        out["expires_at"] = format_rfc3339(now + aggregates::idle_timeout(*state));
        out["password_change_required"] =
            aggregates::restriction_of(*state, *member, now) == aggregates::session_restriction::change_password;
        out["mfa_enrollment_required"] = enrol;
        out["staff"] = staff_summary(*member);
        return login_succeeded(rc, a, std::move(out), staff_cookie, res->consistency_token);
    });
}

http_result<http_response> logout(request_context& rc) {
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto res = submit_checked(rc, rc.who.agency_id, rc.who.staff_id,
                              [&]() -> http_result<aggregates::command> { return aggregates::logout{rc.who.session_id}; },
                              200);
    if (res) res->set(boost::beast::http::field::set_cookie, cleared_cookie(rc.ctx.cfg, staff_cookie));
    return res;
}

http_result<http_response> current_session(request_context& rc) {
    auto state = identity_state(rc.ctx, rc.who.agency_id, rc.who.staff_id);
    const auto* member = member_of(state, rc.who.staff_id);
    if (!member) return fail(errc::unauthenticated, "the session is not valid; log in again");
    const char* must = rc.who.restriction == aggregates::session_restriction::change_password ? "change_password"
                       : rc.who.restriction == aggregates::session_restriction::enrol_mfa    ? "enrol_mfa"
                                                                                           : nullptr;
    json::array perms;
    for (const auto& p : rc.who.permissions) perms.emplace_back(p);
    json::object out{{"agency_id", rc.who.agency_id},
                     {"staff", staff_summary(*member)},
                     {"permissions", std::move(perms)},
                     {"mfa_enrolled", aggregates::mfa_enforced(*member)}};
    if (must)
        out["required_action"] = must;
    else
        out["required_action"] = nullptr;
    // A page reloaded in the browser learns its CSRF token again here.
    if (cookie_authenticated(rc.req, staff_cookie)) out["csrf_token"] = csrf_token(rc.ctx.cfg, rc.who.session_id);
    return json_response(200, out);
}

// ---------------------------------------------------------------- passwords

http_result<http_response> change_password(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string current = r.required_string("current_password");
    std::string fresh = r.required_string("new_password");
    const wiped guard{&current, &fresh};
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    auto build = [&]() -> http_result<aggregates::command> {
        auto state = identity_state(rc.ctx, rc.who.agency_id, rc.who.staff_id);
        const auto* member = member_of(state, rc.who.staff_id);
        if (!member) return fail(errc::unauthenticated, "the session is not valid; log in again");
        if (auto p = policy_problem(state->settings, fresh, *member, "new_password")) return std::unexpected(*p);
        aggregates::change_password c;
        c.staff_id = rc.who.staff_id;
        c.session_id = rc.who.session_id;
        c.checked_password_hash = member->profile.password_hash;
        auto current_ok = bounded_verify(rc.ctx, c.checked_password_hash, current);
        if (!current_ok) return std::unexpected(problem(current_ok.error()));
        c.current_ok = *current_ok;
        if (auto ok = set_new_password(rc.ctx, c, c.checked_password_hash, fresh); !ok)
            return std::unexpected(ok.error());
        c.now = rc.ctx.clock.now();
        return aggregates::command{std::move(c)};
    };
    return submit_checked(rc, rc.who.agency_id, rc.who.staff_id, build, 200);
}

namespace {
// The work behind a reset request, after the caller has its 202: record the request (the domain
// decides whether the account exists, is active and due a new link) and send the link.
void reset_after_answer(app_context& ctx, const std::string& slug, const std::string& username) {
    auto link_for = record_link_request(
        ctx, slug,
        [&](const std::string& hash, micros now) { return aggregates::request_password_reset{username, hash, now}; },
        "a password reset request");
    if (!link_for) return;  // unknown, inactive or just sent
    // The request is durable: now the link goes out. The e-mail address comes from the staff view.
    const std::string& staff_id = link_for->aggregate_id;
    const std::string& agency = link_for->agency_id;
    const std::string& token = link_for->token;
    const micros now = link_for->now;
    auto view = ctx.store.staff(agency, staff_id);
    std::string email, first;
    if (view) {
        if (auto e = view->if_contains("email"); e && e->is_string()) email = std::string(e->as_string());
        if (auto f = view->if_contains("first_name"); f && f->is_string()) first = std::string(f->as_string());
    }
    const std::string link = public_link(ctx, "/reset?token=" + token);
    notify::notification n;
    n.id = ctx.ids.next_uuid();
    n.type = "password_reset";
    n.agency_id = agency;
    n.staff_id = staff_id;
    n.created_at = now;
    n.expires_at = now + aggregates::reset_token_lifetime;
    n.content = json::object{
        {"to", email},
        {"subject", "Reset your carelog password"},
        {"text", "Hello " + first + ",\n\nsomeone (hopefully you) asked to reset your carelog password. Open this link "
                                    "within one hour to choose a new one:\n\n" +
                     link + "\n\nIf you did not ask for it, ignore this message; your password stays as it is.\n"},
        {"link", link}};
    // Unsent, the request stays in the log; asking again after a minute sends a new link.
    publish_link(ctx, n, "reset link for staff " + staff_id);
}
}  // namespace

// Answers 202 at once, the same way whether or not the account exists: everything that depends on
// the account (the command, the projection wait, the notification) runs after the answer.
http_result<http_response> request_password_reset(request_context& rc) {
    return accept_link_request(rc, reset_after_answer);
}

http_result<http_response> confirm_password_reset(request_context& rc) {
    auto owner = [&](const std::string& agency, const std::string& hash) { return rc.ctx.store.reset_token_staff(agency, hash); };
    return run_reset_confirmation(rc, owner, [&](reset_confirmation& r) {
        auto build = [&]() -> http_result<aggregates::command> {
            auto state = identity_state(rc.ctx, r.agency_id, r.owner_id);
            micros now = rc.ctx.clock.now();
            const auto* member = state ? aggregates::find_reset_token(*state, r.token_hash, now) : nullptr;
            if (!member) return bad_reset_link();
            if (auto p = policy_problem(state->settings, r.new_password, *member, "new_password")) return std::unexpected(*p);
            aggregates::confirm_password_reset c;
            c.token_hash = r.token_hash;
            if (auto ok = set_new_password(rc.ctx, c, member->profile.password_hash, r.new_password); !ok)
                return std::unexpected(ok.error());
            c.now = now;
            return aggregates::command{std::move(c)};
        };
        return submit_checked(rc, r.agency_id, r.owner_id, build, 200);
    });
}

// ---------------------------------------------------------------- TOTP

http_result<http_response> enroll_mfa(request_context& rc) {
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto state = identity_state(rc.ctx, rc.who.agency_id, rc.who.staff_id);
    const auto* member = member_of(state, rc.who.staff_id);
    if (!member) return fail(errc::unauthenticated, "the session is not valid; log in again");

    auto secret = new_totp_secret();
    if (secret.base32.empty()) return fail(errc::internal, "the TOTP secret could not be encoded");
    std::string sealed = seal(rc.ctx.cfg.server_key, rc.who.staff_id, secret.raw);
    wipe(secret.raw);
    auto enc = [](std::string_view v) {
        static const char* hex = "0123456789ABCDEF";
        std::string out;
        for (unsigned char c : v) {
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                c == '_' || c == '~')
                out.push_back(static_cast<char>(c));
            else {
                out.push_back('%');
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            }
        }
        return out;
    };
    const std::string issuer = "carelog " + state->slug;
    std::string uri = "otpauth://totp/" + enc(issuer) + ":" + enc(member->profile.username) + "?secret=" +
                      secret.base32 + "&issuer=" + enc(issuer) + "&algorithm=SHA1&digits=6&period=30";
    json::object extra{{"secret", secret.base32}, {"otpauth_uri", uri}};
    return submit_checked(
        rc, rc.who.agency_id, rc.who.staff_id,
        [&]() -> http_result<aggregates::command> { return aggregates::enroll_mfa{rc.who.staff_id, sealed}; }, 200,
        std::move(extra));
}

http_result<http_response> confirm_mfa(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string code = trimmed(r.required_string("code"));
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto build = [&]() -> http_result<aggregates::command> {
        auto state = identity_state(rc.ctx, rc.who.agency_id, rc.who.staff_id);
        const auto* member = member_of(state, rc.who.staff_id);
        if (!member) return fail(errc::unauthenticated, "the session is not valid; log in again");
        aggregates::confirm_mfa c;
        c.staff_id = rc.who.staff_id;
        c.now = rc.ctx.clock.now();
        c.checked_mfa_secret = member->credentials.mfa_secret_sealed;
        auto m = verify_code(rc.ctx, *member, code, c.now);
        c.totp_ok = m.ok;
        c.totp_step = m.step;
        return aggregates::command{std::move(c)};
    };
    return submit_checked(rc, rc.who.agency_id, rc.who.staff_id, build, 200);
}

}  // namespace carelog::api::detail
