// /v1/staff: create (username rule and temporary password), directory, one member (as of a
// time), profile, role, type, locations, programs, module permissions, deactivation, history.
// Value rules (NPI, username shape, dates, existence of ids) are the aggregate's; this file checks
// types, enumerations and id shapes so a bad request is refused before a command is built.
#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include "carelog/aggregates/access.hpp"
#include "carelog/aggregates/identity.hpp"
#include "carelog/aggregates/staff.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

template <std::size_t N>
std::optional<std::string> enum_field(body_reader& r, std::string_view key, const char* const (&allowed)[N],
                                      bool required) {
    auto v = r.optional_string(key);
    if (!v) {
        if (required && !r.has(key) && r.present()) r.add_error(key, "is required");
        return std::nullopt;
    }
    for (const char* a : allowed)
        if (*v == a) return v;
    std::string msg = "must be one of";
    for (std::size_t i = 0; i < N; ++i) msg += (i ? ", " : " ") + std::string(allowed[i]);
    r.add_error(key, std::move(msg));
    return std::nullopt;
}

void check_uuids(body_reader& r, std::string_view key, const std::vector<std::string>& ids) {
    for (std::size_t i = 0; i < ids.size(); ++i)
        if (!is_uuid(ids[i])) r.add_error(std::string(key) + "[" + std::to_string(i) + "]", "must be a UUID");
}

std::optional<std::vector<events::Phone>> read_phones(body_reader& r) {
    auto items = r.objects("phones");
    if (!items) return std::nullopt;
    std::vector<events::Phone> out;
    for (auto& item : *items) {
        events::Phone p;
        p.kind = item.required_string("kind");
        p.number = item.required_string("number");
        item.done();
        out.push_back(std::move(p));
    }
    return out;
}

// The route table checked the permission; managing another staff member also needs
// access::can_act_on (an admin never manages an org_admin).
http_result<void> staff_writer(request_context& rc) {
    const auto& id = rc.param("id");
    if (id.empty()) return {};
    if (auto ok = may_manage(rc, id); !ok) return std::unexpected(ok.error());
    return {};
}

http_result<void> may_grant_role(const request_context& rc, const std::optional<std::string>& role) {
    if (role && *role == "org_admin" && !rc.who.can(aggregates::access::staff_grant_org_admin))
        return fail(errc::forbidden, "only an organization administrator may make someone an organization administrator");
    return {};
}

http_result<http_response> submit_staff(request_context& rc, const aggregates::command& cmd) {
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id, cmd, 200);
}

}  // namespace

http_result<http_response> create_staff(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    aggregates::create_staff c;
    c.first_name = r.required_string("first_name");
    c.middle_name = r.optional_string("middle_name").value_or("");
    c.last_name = r.required_string("last_name");
    c.gender = r.required_string("gender");
    c.position = r.required_string("position");
    c.email = r.required_string("email");
    c.role = enum_field(r, "role", aggregates::role_values, true).value_or("");
    if (auto ok = may_grant_role(rc, c.role); !ok) return std::unexpected(ok.error());
    c.staff_type = enum_field(r, "type", aggregates::staff_type_values, true).value_or("");
    c.location_ids = r.optional_strings("location_ids").value_or(events::strings{});
    check_uuids(r, "location_ids", c.location_ids);
    c.program_ids = r.optional_strings("program_ids").value_or(events::strings{});
    check_uuids(r, "program_ids", c.program_ids);
    c.username = r.optional_string("username");
    auto temporary = r.optional_string("temporary_password");
    c.require_password_change = r.optional_bool("require_password_change").value_or(true);
    c.hire_date = r.optional_string("hire_date").value_or("");
    c.phones = read_phones(r).value_or(std::vector<events::Phone>{});
    c.npi = r.optional_string("npi").value_or("");
    c.supervisor_id = r.optional_string("supervisor_id").value_or("");
    if (!c.supervisor_id.empty() && !is_uuid(c.supervisor_id)) r.add_error("supervisor_id", "must be a UUID");

    // The password must not contain any username this member may get.
    std::vector<std::string> usernames;
    if (c.username && !c.username->empty()) usernames.push_back(*c.username);
    if (auto u = aggregates::base_username(c.first_name, c.last_name); !u.empty()) usernames.push_back(u);
    if (auto u = aggregates::middle_username(c.first_name, c.middle_name, c.last_name); !u.empty())
        usernames.push_back(u);
    events::Settings policy = agency_settings(rc.ctx, rc.who.agency_id);
    if (temporary)
        for (auto& v : password_policy_violations(policy, *temporary, usernames))
            r.add_error("temporary_password", std::move(v));
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    bool generated = !temporary;
    std::string password = generated ? generate_password(policy, usernames) : *temporary;
    auto hash = hash_password(password);
    if (!hash) return fail(errc::internal, "the password could not be hashed");
    c.password_hash = std::move(*hash);
    c.staff_id = rc.ctx.ids.next_uuid();

    json::object extra;
    if (generated) extra["temporary_password"] = password;  // shown once; only its hash is kept
    auto res = submit_command(rc, rc.who.agency_id, rc.who.staff_id, c, 201, std::move(extra));
    if (res) {
        std::string id = c.staff_id;
        if (res->find("Idempotent-Replayed") != res->end()) {
            // the first request's id, from the replayed body
            boost::system::error_code ec;
            auto v = json::parse(res->body(), ec);
            if (!ec && v.is_object())
                if (auto it = v.as_object().find("id"); it != v.as_object().end() && it->value().is_string())
                    id = std::string(it->value().as_string());
        }
        res->set(boost::beast::http::field::location, "/v1/staff/" + id);
    }
    return res;
}

http_result<http_response> list_staff(request_context& rc) {
    query_reader q(rc.url.params());
    projections::staff_filter f;
    f.role = q.one_of("role", aggregates::role_values);
    f.type = q.one_of("type", aggregates::staff_type_values);
    f.location_id = q.uuid("location_id");
    f.program_id = q.uuid("program_id");
    f.q = q.string("q");
    f.active = q.boolean("active");
    int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto page = rc.ctx.store.list_staff(rc.who.agency_id, f, limit, cursor);
    if (page) rc.viewed_items = page->stored.size() + page->items.size();
    return page_response(std::move(page));
}

// What the username rule gives for a name now (the console previews it while staff are added).
http_result<http_response> preview_staff_username(request_context& rc) {
    query_reader q(rc.url.params());
    auto first = q.string("first_name").value_or("");
    auto middle = q.string("middle_name").value_or("");
    auto last = q.string("last_name").value_or("");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto p = aggregates::preview_username(first, middle, last, [&](const std::string& name) {
        return rc.ctx.store.staff_id_by_username(rc.who.agency_id, name).has_value();
    });
    auto opt = [](const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); };
    return json_response(200, json::object{{"username", opt(p.username)},
                                           {"base", opt(p.base)},
                                           {"base_taken", p.base_taken},
                                           {"with_middle", opt(p.with_middle)},
                                           {"with_middle_taken", p.with_middle_taken},
                                           {"reason", opt(p.reason)}});
}

http_result<http_response> get_staff(request_context& rc) {
    query_reader q(rc.url.params());
    auto as_of = q.time("as_of");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    const std::string& id = rc.param("id");
    if (as_of) {
        auto past = rc.ctx.store.staff_as_of(rc.who.agency_id, id, *as_of);
        if (!past) return fail(errc::not_found, "no such staff member at that time");
        return json_response(200, *past);
    }
    // The stored view as it is, with the lock state after it for administrators only (SPEC §1:
    // others cannot tell a locked account).
    auto view = rc.ctx.store.staff_text(rc.who.agency_id, id);
    if (!view) return fail(errc::not_found, "no such staff member");
    if (rc.who.can(aggregates::access::staff_lock_state)) {
        if (auto st = identity_state(rc.ctx, rc.who.agency_id, id)) {
            const auto& member = st->staff.at(id);
            const micros now = rc.ctx.clock.now();
            const bool locked = aggregates::is_locked(member, now);
            append_members(*view, json::object{
                                      {"locked", locked},
                                      {"locked_until", locked && member.credentials.locked_until > 0
                                                           ? json::value(format_rfc3339(member.credentials.locked_until))
                                                           : json::value(nullptr)},
                                      {"failed_attempts", member.credentials.failed_attempts},
                                      {"mfa_enrolled", aggregates::mfa_enforced(member)}});
        }
    }
    return json_text_response(200, std::move(*view));
}

http_result<http_response> unlock_staff(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_staff(rc, aggregates::unlock_staff{rc.param("id")});
}

http_result<http_response> update_staff_profile(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    events::StaffProfileUpdated p;
    p.first_name = r.optional_string("first_name");
    p.middle_name = r.clearable_string("middle_name");
    p.last_name = r.optional_string("last_name");
    p.gender = r.optional_string("gender");
    p.position = r.optional_string("position");
    p.email = r.optional_string("email");
    p.hire_date = r.clearable_string("hire_date");
    bool phones_null = body->contains("phones") && body->at("phones").is_null();
    p.phones = read_phones(r);
    if (phones_null) p.phones = std::vector<events::Phone>{};  // null clears the list
    p.npi = r.clearable_string("npi");
    p.supervisor_id = r.clearable_string("supervisor_id");
    if (p.supervisor_id && !p.supervisor_id->empty() && !is_uuid(*p.supervisor_id))
        r.add_error("supervisor_id", "must be a UUID");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (p == events::StaffProfileUpdated{}) return fail(error::validation("", "give at least one profile field"));
    return submit_staff(rc, aggregates::update_staff_profile{rc.param("id"), std::move(p)});
}

http_result<http_response> assign_role(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto role = enum_field(r, "role", aggregates::role_values, true);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (auto ok = may_grant_role(rc, role); !ok) return std::unexpected(ok.error());
    return submit_staff(rc, aggregates::assign_role{rc.param("id"), *role});
}

http_result<http_response> set_staff_type(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto type = enum_field(r, "type", aggregates::staff_type_values, true);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_staff(rc, aggregates::set_staff_type{rc.param("id"), *type});
}

http_result<http_response> set_staff_locations(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto ids = r.required_strings("location_ids");
    check_uuids(r, "location_ids", ids);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_staff(rc, aggregates::set_staff_locations{rc.param("id"), std::move(ids)});
}

http_result<http_response> set_staff_programs(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto ids = r.required_strings("program_ids");
    check_uuids(r, "program_ids", ids);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_staff(rc, aggregates::set_staff_programs{rc.param("id"), std::move(ids)});
}

http_result<http_response> set_staff_permissions(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    aggregates::set_module_permissions c{rc.param("id"), r.optional_bool("client_portal"), r.optional_bool("messaging")};
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (!c.client_portal && !c.messaging) return fail(error::validation("", "give client_portal or messaging"));
    return submit_staff(rc, c);
}

http_result<http_response> deactivate_staff(request_context& rc) {
    if (auto ok = staff_writer(rc); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string reason = r.optional_string("reason").value_or("");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_staff(rc, aggregates::deactivate_staff{rc.param("id"), std::move(reason)});
}

http_result<http_response> staff_history(request_context& rc) {
    query_reader q(rc.url.params());
    const int limit = q.limit(100);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    const std::string& id = rc.param("id");
    if (!rc.ctx.store.staff(rc.who.agency_id, id)) return fail(errc::not_found, "no such staff member");
    return page_response(rc.ctx.store.staff_history_page(rc.who.agency_id, id, limit, cursor));
}

}  // namespace carelog::api::detail
