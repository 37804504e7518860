// POST /v1/agencies (operator), GET|PATCH /v1/agency/settings.
#include <climits>

#include <boost/json/array.hpp>

#include "carelog/aggregates/staff.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

std::optional<int> bounded_int(body_reader& r, std::string_view key, int lo, int hi) {
    auto v = r.optional_int(key);
    if (!v) return std::nullopt;
    if (*v < lo || *v > hi) {
        r.add_error(key, "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
        return std::nullopt;
    }
    return static_cast<int>(*v);
}

bool known_role(std::string_view r) {
    for (const char* v : aggregates::role_values)
        if (r == v) return true;
    return false;
}

}  // namespace

http_result<http_response> create_agency(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string name = r.required_string("name");
    std::string slug = r.required_string("slug");
    body_reader admin = r.object("admin", true);
    std::string first = admin.required_string("first_name");
    std::string last = admin.required_string("last_name");
    std::string email = admin.required_string("email");
    std::string password = admin.required_string("password");
    const wiped guard{&password};
    if (r.has("slug") && !slug.empty() && !aggregates::is_valid_slug(slug))
        r.add_error("slug", "must be 3 to 63 lower-case letters, digits or hyphens");
    std::vector<std::string> usernames;
    if (auto u = aggregates::base_username(first, last); !u.empty()) usernames.push_back(u);
    if (admin.has("password") && !password.empty())
        for (auto& v : password_policy_violations(events::default_settings(name), password, usernames))
            admin.add_error("password", std::move(v));
    admin.done();
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    // The agency id is derived from the slug (base uuid_v5): two creations of one slug land on one
    // partition, whose writer refuses the second. The directory lookup answers the common case
    // early; with an Idempotency-Key the bus decides (a retry gets the first result).
    std::string agency_id = uuid_v5(slug);
    std::string admin_id = rc.ctx.ids.next_uuid();
    if (rc.idempotency_key.empty() && rc.ctx.store.agency_id_by_slug(slug))
        return fail(error{errc::conflict, "the slug '" + slug + "' is taken", {{"slug", "is taken"}}});

    auto hash = hash_password(password);
    if (!hash) return fail(errc::internal, "the password could not be hashed");
    aggregates::create_agency cmd{agency_id, name, slug, admin_id, first, last, email, std::move(*hash)};
    return submit_command(rc, agency_id, "operator", cmd, 201);
}

http_result<http_response> get_settings(request_context& rc) {
    query_reader q(rc.url.params());
    auto as_of = q.time("as_of");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto view = as_of ? rc.ctx.store.agency_as_of(rc.who.agency_id, *as_of) : rc.ctx.store.agency(rc.who.agency_id);
    if (!view) return fail(errc::not_found, as_of ? "the agency did not exist at that time" : "no such agency");
    json::object out;
    if (auto it = view->find("settings"); it != view->end() && it->value().is_object()) out = it->value().as_object();
    for (std::string_view k : {"id", "name", "slug", "version"})
        if (auto it = view->find(k); it != view->end()) out[k] = it->value();
    return json_response(200, out);
}

http_result<http_response> change_settings(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    events::Settings s;
    s.name = r.optional_string("name");
    s.client_portal_enabled = r.optional_bool("client_portal_enabled");
    s.messaging_enabled = r.optional_bool("messaging_enabled");
    body_reader pp = r.object("password_policy", false);
    s.password_min_length = bounded_int(pp, "min_length", 8, 128);
    s.password_require_upper = pp.optional_bool("require_upper");
    s.password_require_lower = pp.optional_bool("require_lower");
    s.password_require_digit = pp.optional_bool("require_digit");
    s.password_require_symbol = pp.optional_bool("require_symbol");
    s.password_disallow_username = pp.optional_bool("disallow_username");
    pp.done();
    body_reader lockout = r.object("lockout", false);
    s.lockout_threshold = bounded_int(lockout, "threshold", 1, 100);
    s.lockout_minutes = bounded_int(lockout, "minutes", 1, 10080);
    lockout.done();
    s.session_idle_minutes = bounded_int(r, "session_idle_minutes", 1, 1440);
    s.password_expiry_days = bounded_int(r, "password_expiry_days", 0, 3650);
    s.mfa_required_roles = r.optional_strings("mfa_required_roles");
    if (s.mfa_required_roles)
        for (const auto& role : *s.mfa_required_roles)
            if (!known_role(role)) r.add_error("mfa_required_roles", "'" + role + "' is not a role");
    s.services = r.optional_strings("services");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (s == events::Settings{})
        return fail(error::validation("", "give at least one setting to change"));
    aggregates::change_settings cmd{std::move(s)};
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id, cmd, 200);
}

}  // namespace carelog::api::detail
