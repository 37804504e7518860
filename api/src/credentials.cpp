#include "credentials.hpp"

#include "carelog/aggregates/agency.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
#include "browser_session.hpp"
#include "limits.hpp"

namespace carelog::api::detail {

std::unexpected<error> invalid_credentials() { return fail(errc::unauthenticated, "invalid credentials"); }

std::string trimmed(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return std::string(v);
}

http_result<http_response> run_login(request_context& rc, login_kind kind,
                                     const std::function<bool(const std::string&, const std::string&)>& known,
                                     const std::function<http_result<http_response>(login_attempt&)>& decide) {
    const std::string_view kind_name = kind == login_kind::staff ? "staff" : "portal";
    login_attempt a;
    {
        auto body = parse_json_body(rc.req);
        if (!body) return std::unexpected(body.error());
        body_reader r(*body);
        std::string slug = r.required_string("agency");
        a.username = trimmed(r.required_string("username"));
        a.password = r.required_string("password");
        if (kind == login_kind::staff) a.totp = r.optional_string("totp");
        a.cookie = r.optional_bool("cookie").value_or(false);
        if (auto f = r.finish(); !f) return std::unexpected(f.error());
        if (auto wait = admit_login(rc.ctx, kind_name, slug, a.username))
            return rate_limited(*wait, "login attempts for this account");
        // A login right after the command that created the account (read-your-writes).
        if (auto ok = await_consistency(rc.ctx, rc.req); !ok) return std::unexpected(ok.error());

        const bool valid_slug = aggregates::is_valid_slug(slug);
        if (valid_slug) catch_up(rc.ctx, uuid_v5(slug));
        auto agency = valid_slug ? rc.ctx.store.agency_id_by_slug(slug) : std::nullopt;
        if (!agency || (!known(*agency, a.username) && !record_unknown_login(rc.ctx, kind_name, *agency))) {
            if (auto d = bounded_dummy_check(rc.ctx, a.password); !d) return std::unexpected(problem(d.error()));
            return invalid_credentials();
        }
        a.agency_id = std::move(*agency);
    }
    a.token = new_agency_token(a.agency_id);
    a.session_id = token_hash(a.token);
    if (auto ua = header(rc.req, "User-Agent")) a.user_agent = std::string(*ua);
    return decide(a);
}

std::unexpected<error> bad_reset_link() {
    return fail(error::validation("token", "the reset link is invalid, already used or expired"));
}

http_result<http_response> run_reset_confirmation(
    request_context& rc, const std::function<std::optional<std::string>(const std::string&, const std::string&)>& owner,
    const std::function<http_result<http_response>(reset_confirmation&)>& decide) {
    reset_confirmation c;
    std::string token;
    {
        auto body = parse_json_body(rc.req);
        if (!body) return std::unexpected(body.error());
        body_reader r(*body);
        token = trimmed(r.required_string("token"));
        c.new_password = r.required_string("new_password");
        if (auto f = r.finish(); !f) return std::unexpected(f.error());
    }
    auto agency = token_agency(token);
    if (!agency) return bad_reset_link();
    catch_up(rc.ctx, *agency);
    c.token_hash = token_hash(token);
    auto who = owner(*agency, c.token_hash);
    if (!who) return bad_reset_link();
    c.agency_id = std::move(*agency);
    c.owner_id = std::move(*who);
    return decide(c);
}

http_result<command_result> submit_login(request_context& rc, const login_attempt& a, std::string_view outcome_field,
                                         const std::function<http_result<aggregates::command>()>& build) {
    std::optional<problem> refused;
    auto res = submit_retrying(rc, a.agency_id, "anonymous", build, refused);
    if (refused) return std::unexpected(std::move(*refused));
    if (!res) {
        if (res.error().code == errc::unavailable) return std::unexpected(problem(res.error()));
        return invalid_credentials();
    }
    auto outcome = res->body.if_contains(outcome_field);
    if (!outcome || !outcome->is_string() || outcome->as_string() != "succeeded") return invalid_credentials();
    // The session is usable at once on this node: wait until the login's events are applied
    // (durable either way; a lagging node only delays the session's first request).
    (void)wait_applied(rc.ctx, res->consistency_token, rc.ctx.cfg.read_wait);
    return std::move(*res);
}

http_response login_succeeded(request_context& rc, const login_attempt& a, boost::json::object out,
                              std::string_view cookie_name, const std::string& consistency_token) {
    // A browser keeps the token in an HttpOnly cookie, out of the page's reach, and proves its
    // unsafe requests with the CSRF token instead.
    if (a.cookie)
        out["csrf_token"] = csrf_token(rc.ctx.cfg, a.session_id);
    else
        out["token"] = a.token;
    auto http = json_response(200, out);
    http.set("X-Consistency-Token", consistency_token);
    if (a.cookie) http.set(boost::beast::http::field::set_cookie, session_cookie(rc.ctx.cfg, cookie_name, a.token));
    return http;
}

}  // namespace carelog::api::detail
