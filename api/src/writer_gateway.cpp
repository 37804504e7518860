#include "carelog/api/writer_gateway.hpp"

#include <boost/json.hpp>

#include "carelog/base/consistency_token.hpp"
#include "fiber.hpp"

namespace carelog::api {
namespace json = boost::json;

json::object body_of(const std::vector<events::envelope>& evs, const std::string& aggregate_id) {
    json::object body;
    for (const auto& e : evs) {
        if (const auto* a = std::get_if<events::AgencyCreated>(&e.data)) {
            body["agency_id"] = e.aggregate_id;
            body["slug"] = a->slug;
        } else if (const auto* s = std::get_if<events::StaffCreated>(&e.data)) {
            if (body.contains("agency_id"))
                body["admin"] = json::object{{"staff_id", e.aggregate_id}, {"username", s->username}};
            else {
                body["id"] = e.aggregate_id;
                body["username"] = s->username;
            }
        } else if (const auto* l = std::get_if<events::LocationAdded>(&e.data)) {
            // A location or program is part of the Agency aggregate: its own id is what was created.
            body["id"] = l->location_id;
            body["name"] = l->name;
            body["address"] = l->address;
        } else if (const auto* p = std::get_if<events::ProgramAdded>(&e.data)) {
            body["id"] = p->program_id;
            body["name"] = p->name;
        } else if (!body.contains("id") && !body.contains("agency_id")) {
            body["id"] = e.aggregate_id;
        }
        if (const auto* i = std::get_if<events::InvitationSent>(&e.data)) {
            body["invitation_id"] = i->invitation_id;
            body["email"] = i->email;
            body["expires_at"] = format_rfc3339(i->expires_at);
        } else if (const auto* i = std::get_if<events::InvitationResent>(&e.data)) {
            body["invitation_id"] = i->invitation_id;
            body["expires_at"] = format_rfc3339(i->expires_at);
        } else if (const auto* i = std::get_if<events::InvitationRevoked>(&e.data)) {
            body["invitation_id"] = i->invitation_id;
        } else if (const auto* u = std::get_if<events::PortalUsernameChosen>(&e.data)) {
            body["portal_account_id"] = u->portal_account_id;
            body["username"] = u->username;
        }
        // A login's outcome, for the login handler (the reason of a refusal is never answered).
        if (const auto* ok = std::get_if<events::LoginSucceeded>(&e.data)) {
            body["login"] = "succeeded";
            body["staff_id"] = e.aggregate_id;
            body["mfa_enrollment_required"] = ok->mfa_enrollment_required;
        } else if (std::holds_alternative<events::LoginFailed>(e.data)) {
            body["login"] = "failed";
        }
        if (const auto* ok = std::get_if<events::PortalLoginSucceeded>(&e.data)) {
            body["portal_login"] = "succeeded";
            body["portal_account_id"] = ok->portal_account_id;
        } else if (std::holds_alternative<events::PortalLoginFailed>(e.data)) {
            body["portal_login"] = "failed";
        } else if (const auto* m = std::get_if<events::MessageSent>(&e.data)) {
            body["thread_id"] = m->thread_id;
            body["message_id"] = m->message_id;
        } else if (const auto* k = std::get_if<events::KioskSessionStarted>(&e.data)) {
            body["kiosk_session_id"] = k->kiosk_session_id;
            body["expires_at"] = format_rfc3339(k->expires_at);
        }
    }
    if (body.empty()) body["id"] = aggregate_id;  // a command that changed nothing names its target
    return body;
}

namespace {
command_result shaped(writer::command_result&& w) {
    command_result r;
    r.aggregate_id = std::move(w.aggregate_id);
    r.version = w.version;
    r.consistency_token = std::move(w.consistency_token);
    r.replayed = w.replayed;
    r.body = body_of(w.events, r.aggregate_id);
    r.events = std::move(w.events);
    return r;
}
}  // namespace

result<command_result> writer_gateway::submit(const std::string& agency_id, const command_meta& meta,
                                              const aggregates::command& cmd) {
    auto r = fiber::await<result<writer::command_result>>(
        [&](std::function<void(result<writer::command_result>)> done) {
            engine_.submit(agency_id, meta, cmd, std::move(done));
        });
    if (!r) return std::unexpected(std::move(r.error()));
    return shaped(std::move(*r));
}

result<std::vector<result<command_result>>> writer_gateway::submit_batch(const std::string& agency_id,
                                                                         const command_meta& meta,
                                                                         const std::vector<aggregates::command>& cmds,
                                                                         bool dry_run) {
    auto r = fiber::await<writer::batch_answer>([&](std::function<void(writer::batch_answer)> done) {
        engine_.submit_batch(agency_id, meta, cmds, dry_run, std::move(done));
    });
    if (!r) return std::unexpected(std::move(r.error()));
    std::vector<result<command_result>> out;
    out.reserve(r->size());
    for (auto& x : *r) {
        if (x)
            out.push_back(shaped(std::move(*x)));
        else
            out.push_back(std::unexpected(std::move(x.error())));
    }
    return out;
}

std::string writer_gateway::committed_position(const std::string& agency_id) const {
    int p = engine_.partition_of(agency_id);
    auto end = engine_.committed_end(p);
    if (end <= 0) return {};
    return make_token(p, end - 1);
}

}  // namespace carelog::api
