// Client portal invitations and registration: send (POST /v1/clients/{id}/portal/invitations),
// list, resend (a new token; the old one is dead), revoke, and POST /v1/portal/register with the
// link's token. Tokens are "<agency id>.<random>" (new_agency_token) so registration finds the
// agency; only token_hash enters a command. The link goes out as a `portal_invitation`
// notification (docs/architecture.md "Notifications") after the command is durable, as the
// password-reset link does. The module rules (the agency's client_portal_enabled, the staff
// member's client_portal permission) are the route's permission and the domain's; the 403 names
// whichever is missing.
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "carelog/aggregates/clients.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/secrets.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

// Publishes the invitation link once its command is durable. The e-mail and expiry come from the
// invitation's view once the projections have applied the command (or the command's answer).
void publish_invitation(request_context& rc, const std::string& client_id, const std::string& invitation_id,
                        const std::string& token, const command_result& done, micros now) {
    (void)wait_applied(rc.ctx, done.consistency_token, rc.ctx.cfg.read_wait);
    const std::string agency = rc.who.agency_id;
    std::string email = string_field(done.body, "email");
    micros expires = 0;
    if (auto inv = rc.ctx.store.invitation(agency, invitation_id, now)) {
        if (auto e = string_field(*inv, "email"); !e.empty()) email = e;
    }
    if (auto t = string_field(done.body, "expires_at"); !t.empty() && !parse_rfc3339(t, expires)) expires = 0;
    std::string first, agency_name;
    if (auto c = rc.ctx.store.client(agency, client_id)) {
        first = string_field(*c, "first_name");
        if (email.empty()) email = string_field(*c, "email");
    }
    if (auto a = rc.ctx.store.agency(agency)) agency_name = string_field(*a, "name");
    const std::string link = public_link(rc.ctx, "/portal/register?token=" + token);
    notify::notification n;
    n.id = rc.ctx.ids.next_uuid();
    n.type = "portal_invitation";
    n.agency_id = agency;
    n.staff_id = rc.who.staff_id;
    n.client_id = client_id;
    n.invitation_id = invitation_id;
    n.created_at = now;
    n.expires_at = expires;
    n.content = json::object{
        {"to", email},
        {"subject", "Your invitation to the " + agency_name + " client portal"},
        {"text", "Hello " + first + ",\n\n" + agency_name +
                     " invites you to its client portal. Open this link to choose your portal username and "
                     "password:\n\n" +
                     link + "\n\nThe link works once and expires on " + (expires ? format_rfc3339(expires) : "") +
                     ". If you did not expect it, ignore this message.\n"},
        {"link", link}};
    // Unsent, the invitation stays in the log; resending issues a new link.
    publish_link(rc.ctx, n, "invitation " + invitation_id);
}

std::optional<micros> read_expiry(body_reader& r) {
    auto at = r.optional_string("expires_at");
    if (!at) return std::nullopt;
    micros t = 0;
    if (!parse_rfc3339(*at, t)) {
        r.add_error("expires_at", "must be an RFC 3339 time");
        return std::nullopt;
    }
    return t;
}

// The invitation named by {id}, when the caller may see its client (else 404).
http_result<json::object> visible_invitation(request_context& rc, micros now) {
    auto inv = rc.ctx.store.invitation(rc.who.agency_id, rc.param("id"), now);
    if (!inv || !visible_client(rc, string_field(*inv, "client_id"))) return fail(errc::not_found, "no such invitation");
    return *inv;
}

}  // namespace

http_result<http_response> send_portal_invitation(request_context& rc) {
    const auto& client_id = rc.param("id");
    if (!visible_client(rc, client_id)) return fail(errc::not_found, "no such client");
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    const micros now = rc.ctx.clock.now();
    aggregates::send_invitation c;
    c.client_id = client_id;
    c.email = r.optional_string("email").value_or("");
    c.expires_at = read_expiry(r);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const std::string token = new_agency_token(rc.who.agency_id);
    c.invitation_id = rc.ctx.ids.next_uuid();
    c.actor_staff_id = rc.who.staff_id;
    c.token_hash = token_hash(token);
    c.now = now;
    auto done = rc.ctx.commands.submit(rc.who.agency_id,
                                       command_meta{rc.who.staff_id, rc.idempotency_key, rc.ctx.ids.next_uuid()}, c);
    if (!done) return std::unexpected(problem(done.error()));
    // A replay answers the first result; its link went out with the first request.
    if (!done->replayed && !done->consistency_token.empty())
        publish_invitation(rc, client_id, string_field(done->body, "invitation_id"), token, *done, now);
    return committed_response(201, std::move(*done));
}

http_result<http_response> list_portal_invitations(request_context& rc) {
    query_reader q(rc.url.params());
    const int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    const auto& client_id = rc.param("id");
    if (!visible_client(rc, client_id)) return fail(errc::not_found, "no such client");
    auto page = list_page(rc.ctx.store.client_invitations(rc.who.agency_id, client_id, rc.ctx.clock.now()), limit, cursor);
    if (!page) return std::unexpected(page.error());
    return json_response(200, *page);
}

http_result<http_response> resend_portal_invitation(request_context& rc) {
    const micros now = rc.ctx.clock.now();
    auto inv = visible_invitation(rc, now);
    if (!inv) return std::unexpected(inv.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    aggregates::resend_invitation c;
    c.expires_at = read_expiry(r);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const std::string token = new_agency_token(rc.who.agency_id);
    c.invitation_id = rc.param("id");
    c.actor_staff_id = rc.who.staff_id;
    c.token_hash = token_hash(token);
    c.now = now;
    auto done = rc.ctx.commands.submit(rc.who.agency_id,
                                       command_meta{rc.who.staff_id, rc.idempotency_key, rc.ctx.ids.next_uuid()}, c);
    if (!done) return std::unexpected(problem(done.error()));
    if (!done->replayed && !done->consistency_token.empty())
        publish_invitation(rc, string_field(*inv, "client_id"), c.invitation_id, token, *done, now);
    return committed_response(200, std::move(*done));
}

http_result<http_response> revoke_portal_invitation(request_context& rc) {
    auto inv = visible_invitation(rc, rc.ctx.clock.now());
    if (!inv) return std::unexpected(inv.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto done = rc.ctx.commands.submit(rc.who.agency_id,
                                       command_meta{rc.who.staff_id, rc.idempotency_key, rc.ctx.ids.next_uuid()},
                                       aggregates::revoke_invitation{rc.param("id"), rc.who.staff_id});
    if (!done) return std::unexpected(problem(done.error()));
    if (!done->body.contains("invitation_id")) done->body["invitation_id"] = rc.param("id");  // already revoked
    return committed_response(200, std::move(*done));
}

// POST /v1/portal/register {token, username, password}: no session; the token names the agency.
// Every refusal of the token itself is the same 422 on "token" (unknown, replaced, revoked,
// expired, used); usernames are the domain's rule (422 e-mail shaped, 409 taken).
http_result<http_response> portal_register(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string token = r.required_string("token");
    std::string username = r.required_string("username");
    std::string password = r.required_string("password");
    const wiped guard{&password};
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const auto bad_link = [] {
        return fail(error::validation("token", "the invitation link is invalid, replaced, revoked, expired or already used"));
    };
    auto agency = token_agency(token);
    if (agency) catch_up(rc.ctx, *agency);
    if (!agency || !rc.ctx.store.agency(*agency)) return bad_link();

    error invalid{errc::validation, "the request has invalid fields", {}};
    if (auto p = aggregates::portal_username_problem(username); !p.empty()) invalid.fields.push_back({"username", p});
    events::Settings policy = agency_settings(rc.ctx, *agency);
    for (auto& v : password_policy_violations(policy, password, std::vector<std::string>{username}))
        invalid.fields.push_back({"password", std::move(v)});
    if (!invalid.fields.empty()) return std::unexpected(problem(invalid));

    auto hash = hash_password(password);
    if (!hash) return fail(errc::internal, "the password could not be hashed");
    aggregates::register_portal_account c;
    c.token_hash = token_hash(token);
    c.portal_account_id = rc.ctx.ids.next_uuid();
    c.username = username;
    c.password_hash = std::move(*hash);
    c.password_policy_ok = true;
    c.now = rc.ctx.clock.now();
    auto res = submit_checked(
        rc, *agency, "anonymous", [&]() -> http_result<aggregates::command> { return aggregates::command{c}; }, 201);
    if (res && res->find("Idempotent-Replayed") == res->end())
        res->set(boost::beast::http::field::location, "/v1/portal/accounts/" + c.portal_account_id);
    return res;
}

}  // namespace carelog::api::detail
