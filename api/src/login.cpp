#include "login.hpp"

#include "carelog/aggregates/agency.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
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

}  // namespace carelog::api::detail
