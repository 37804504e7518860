#include "carelog/api/agency_log.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cstring>

#include "carelog/aggregates/snapshot.hpp"
#include "carelog/events/envelope_codec.hpp"

namespace carelog::api {
namespace json = boost::json;

std::vector<stamped> stamp(const agency_log& log, const std::vector<events::decided_event>& decided,
                           const stamp_meta& meta, id_source& ids) {
    std::vector<stamped> out;
    out.reserve(decided.size());
    std::uint64_t seq = log.sequence;
    sha256_digest prev = log.last_hash;
    for (const auto& d : decided) {
        stamped s;
        auto& e = s.env;
        e.event_id = ids.next_uuid();
        e.agency_id = meta.agency_id;
        e.aggregate_type = std::string(events::aggregate_type_of(d));
        e.aggregate_id = d.aggregate_id;
        e.aggregate_version = d.aggregate_version;
        e.sequence = ++seq;
        e.occurred_at = meta.now;
        e.actor_id = meta.actor_id;
        e.command_id = meta.command_id;
        e.correlation_id = meta.correlation_id;
        e.causation_id = meta.command_id;
        e.prev_hash = prev;
        e.data = d.data;
        s.bytes = events::encode(e);
        prev = e.hash;
        out.push_back(std::move(s));
    }
    return out;
}

namespace {
void remember(agency_log& log, const events::envelope& e, const std::string& token) {
    if (e.command_id.empty()) return;
    auto [it, fresh] = log.commands.try_emplace(e.command_id);
    auto& r = it->second;
    if (fresh) {
        r.aggregate_id = e.aggregate_id;
        r.at = e.occurred_at;
        log.command_order.push_back(e.command_id);
    }
    if (e.aggregate_id == r.aggregate_id) r.version = e.aggregate_version;
    r.token = token;
    if (const auto* a = std::get_if<events::AgencyCreated>(&e.data)) {
        r.body["agency_id"] = e.aggregate_id;
        r.body["slug"] = a->slug;
    } else if (const auto* s = std::get_if<events::StaffCreated>(&e.data)) {
        if (r.body.contains("agency_id"))
            r.body["admin"] = json::object{{"staff_id", e.aggregate_id}, {"username", s->username}};
        else {
            r.body["id"] = e.aggregate_id;
            r.body["username"] = s->username;
        }
    } else if (!r.body.contains("id") && !r.body.contains("agency_id")) {
        r.body["id"] = e.aggregate_id;
    }
    // Invitations and registration: what their answers (and Idempotency-Key replays) name.
    if (const auto* i = std::get_if<events::InvitationSent>(&e.data)) {
        r.body["invitation_id"] = i->invitation_id;
        r.body["email"] = i->email;
        r.body["expires_at"] = format_rfc3339(i->expires_at);
    } else if (const auto* i = std::get_if<events::InvitationResent>(&e.data)) {
        r.body["invitation_id"] = i->invitation_id;
        r.body["expires_at"] = format_rfc3339(i->expires_at);
    } else if (const auto* i = std::get_if<events::InvitationRevoked>(&e.data)) {
        r.body["invitation_id"] = i->invitation_id;
    } else if (const auto* u = std::get_if<events::PortalUsernameChosen>(&e.data)) {
        r.body["portal_account_id"] = u->portal_account_id;
        r.body["username"] = u->username;
    }
    // A login's outcome, for the login handler (the reason of a refusal is never answered).
    if (const auto* ok = std::get_if<events::LoginSucceeded>(&e.data)) {
        r.body["login"] = "succeeded";
        r.body["staff_id"] = e.aggregate_id;
        r.body["mfa_enrollment_required"] = ok->mfa_enrollment_required;
    } else if (std::holds_alternative<events::LoginFailed>(e.data)) {
        r.body["login"] = "failed";
    }
    // The portal's: the portal login handler answers a token only for "succeeded"; a message's and
    // a kiosk session's ids, so that an Idempotency-Key replay answers them too.
    if (const auto* ok = std::get_if<events::PortalLoginSucceeded>(&e.data)) {
        r.body["portal_login"] = "succeeded";
        r.body["portal_account_id"] = ok->portal_account_id;
    } else if (std::holds_alternative<events::PortalLoginFailed>(e.data)) {
        r.body["portal_login"] = "failed";
    } else if (const auto* m = std::get_if<events::MessageSent>(&e.data)) {
        r.body["thread_id"] = m->thread_id;
        r.body["message_id"] = m->message_id;
    } else if (const auto* k = std::get_if<events::KioskSessionStarted>(&e.data)) {
        r.body["kiosk_session_id"] = k->kiosk_session_id;
        r.body["expires_at"] = format_rfc3339(k->expires_at);
    }
    // Forget keys beyond the window or the cap, oldest first.
    while (!log.command_order.empty()) {
        const auto& oldest = log.command_order.front();
        auto o = log.commands.find(oldest);
        bool expired = o == log.commands.end() || o->second.at + idempotency_window < e.occurred_at ||
                       log.commands.size() > idempotency_max_keys;
        if (!expired) break;
        if (o != log.commands.end()) log.commands.erase(o);
        log.command_order.pop_front();
    }
}
}  // namespace

bool apply(agency_log& log, const events::envelope& e, const std::string& token) {
    if (e.sequence != log.sequence + 1 || e.prev_hash != log.last_hash) return false;
    aggregates::evolve(log.state, e);  // the envelope: identity rules are dated by occurred_at
    if (log.state.id.empty()) log.state.id = e.agency_id;
    log.sequence = e.sequence;
    log.last_hash = e.hash;
    remember(log, e, token);
    return true;
}

std::string make_token(int partition, std::int64_t offset) {
    return std::to_string(partition) + "-" + std::to_string(offset);
}

bool parse_token(std::string_view token, int& partition, std::int64_t& offset) {
    auto dash = token.find('-');
    if (dash == std::string_view::npos || dash == 0 || dash + 1 >= token.size()) return false;
    auto r1 = std::from_chars(token.data(), token.data() + dash, partition);
    auto r2 = std::from_chars(token.data() + dash + 1, token.data() + token.size(), offset);
    return r1.ec == std::errc() && r1.ptr == token.data() + dash && r2.ec == std::errc() &&
           r2.ptr == token.data() + token.size() && partition >= 0 && offset >= 0;
}

json::value to_json(const agency_log& log) {
    json::array cmds;
    for (const auto& key : log.command_order) {
        auto it = log.commands.find(key);
        if (it == log.commands.end()) continue;
        const auto& r = it->second;
        cmds.push_back(json::object{{"key", key},
                                    {"aggregate_id", r.aggregate_id},
                                    {"version", r.version},
                                    {"token", r.token},
                                    {"body", r.body},
                                    {"at", r.at}});
    }
    return json::object{{"state", aggregates::to_json(log.state)},
                        {"sequence", log.sequence},
                        {"last_hash", to_hex(log.last_hash)},
                        {"commands", std::move(cmds)}};
}

result<agency_log> agency_log_from_json(const json::value& v) {
    try {
        const auto& o = v.as_object();
        agency_log log;
        auto st = aggregates::agency_state_from_json(o.at("state"));
        if (!st) return std::unexpected(st.error());
        log.state = std::move(*st);
        log.sequence = json::value_to<std::uint64_t>(o.at("sequence"));
        if (!from_hex(o.at("last_hash").as_string(), log.last_hash))
            return fail(errc::internal, "snapshot: bad last_hash");
        for (const auto& c : o.at("commands").as_array()) {
            const auto& co = c.as_object();
            std::string key(co.at("key").as_string());
            idem_record r;
            r.aggregate_id = std::string(co.at("aggregate_id").as_string());
            r.version = json::value_to<std::uint64_t>(co.at("version"));
            r.token = std::string(co.at("token").as_string());
            r.body = co.at("body").as_object();
            r.at = json::value_to<std::int64_t>(co.at("at"));
            log.commands.emplace(key, std::move(r));
            log.command_order.push_back(std::move(key));
        }
        return log;
    } catch (const std::exception& ex) {
        return fail(errc::internal, std::string("snapshot: ") + ex.what());
    }
}

}  // namespace carelog::api
