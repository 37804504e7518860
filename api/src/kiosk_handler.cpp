// Kiosk (SPEC §1 "Client portal"): staff start a kiosk session for one client to fill out a blank
// form or an existing document; its token (shown once, only its hash is kept) opens that one form
// of that one client and nothing else, until it is submitted or expires. The domain decides
// (start_kiosk, submit_kiosk_form in aggregates/clients.hpp); the kiosk principal is portal.cpp's.
//
// Choices where SPEC is silent:
// - The kiosk sees the form or document reference and the client's first name only (enough to
//   greet the right person), never the rest of the record.
// - Once submitted the token answers 409 to everything (its work is done) until it expires, then 401.
// - expires_in_minutes: 1..1440 (the domain's cap of 24 hours); default 60.
// - Staff listing a client's kiosk sessions see the answers only with clinical.read (therapists and
//   administrators): what a client filled in at the kiosk is part of their clinical record.
#include <boost/json.hpp>

#include "carelog/aggregates/access.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "handlers.hpp"
#include "identity.hpp"
#include "portal.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

json::value or_null(const std::string& v) { return v.empty() ? json::value(nullptr) : json::value(v); }

std::unexpected<error> already_submitted() { return fail(errc::conflict, "the kiosk form was already submitted"); }

}  // namespace

http_result<http_response> start_kiosk_session(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string client_id = r.required_string("client_id");
    auto form_id = r.optional_string("form_id");
    auto document_id = r.optional_string("document_id");
    auto appointment_id = r.optional_string("appointment_id");
    auto minutes = r.optional_int("expires_in_minutes");
    if (!client_id.empty() && !is_uuid(client_id)) r.add_error("client_id", "must be a UUID");
    if (minutes && (*minutes < 1 || *minutes > aggregates::max_kiosk_lifetime / 60'000'000))
        r.add_error("expires_in_minutes", "must be from 1 to 1440");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    const std::string token = new_agency_token(rc.who.agency_id);
    aggregates::start_kiosk c;
    c.client_id = client_id;
    c.kiosk_session_id = rc.ctx.ids.next_uuid();
    c.actor_staff_id = rc.who.staff_id;
    c.form_id = form_id.value_or("");
    c.document_id = document_id.value_or("");
    c.appointment_id = appointment_id.value_or("");
    c.token_hash = token_hash(token);
    c.now = rc.ctx.clock.now();
    if (minutes) c.expires_at = c.now + *minutes * 60'000'000LL;
    json::object extra{{"kiosk_session_id", c.kiosk_session_id},
                       {"token", token},
                       {"expires_at", format_rfc3339(c.expires_at.value_or(c.now + aggregates::kiosk_lifetime))}};
    // Waits for this node's projections, so the token opens the form at once.
    return submit_checked(
        rc, rc.who.agency_id, rc.who.staff_id,
        [&]() -> http_result<aggregates::command> { return aggregates::command{c}; }, 201, std::move(extra));
}

http_result<http_response> get_kiosk_form(request_context& rc) {
    query_reader q(rc.url.params());
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    if (rc.who.kiosk_submitted) return already_submitted();
    auto state = client_state(rc.ctx, rc.who.agency_id, rc.who.client_id);
    if (!state) return fail(errc::unauthenticated, "the kiosk session is not live (unknown or expired)");
    const auto& c = state->clients.at(rc.who.client_id);
    const auto& k = c.kiosks.at(rc.who.kiosk_session_id);
    json::object out{{"kiosk_session_id", k.id},
                     {"form_id", or_null(k.form_id)},
                     {"document_id", or_null(k.document_id)},
                     {"appointment_id", or_null(k.appointment_id)},
                     {"expires_at", format_rfc3339(k.expires_at)},
                     {"client", json::object{{"first_name", c.profile.first_name}}}};
    return json_response(200, out);
}

http_result<http_response> submit_kiosk(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    (void)r.object("answers", true);  // must be an object; its own fields are the form's, not ours
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const std::string answers = json::serialize(body->at("answers"));
    // A submitted session still reaches the domain: its answer (409) is the authority.
    json::object extra{{"kiosk_session_id", rc.who.kiosk_session_id}, {"state", "submitted"}};
    return submit_checked(
        rc, rc.who.agency_id, rc.who.kiosk_session_id,
        [&]() -> http_result<aggregates::command> {
            return aggregates::submit_kiosk_form{rc.who.session_id, answers, rc.ctx.clock.now()};
        },
        200, std::move(extra));
}

http_result<http_response> list_client_kiosk_sessions(request_context& rc) {
    query_reader q(rc.url.params());
    int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    const std::string& id = rc.param("id");
    if (!rc.ctx.store.client_for(rc.who.agency_id, id, {rc.who.staff_id, rc.who.staff_type}))
        return fail(errc::not_found, "no such client");
    auto all = rc.ctx.store.client_kiosk_sessions(rc.who.agency_id, id, rc.ctx.clock.now());
    if (!rc.who.can(aggregates::access::clinical_read))
        for (auto& k : all) k.as_object().erase("answers");
    auto page = list_page(std::move(all), limit, cursor);
    if (!page) return std::unexpected(page.error());
    return json_response(200, *page);
}

}  // namespace carelog::api::detail
