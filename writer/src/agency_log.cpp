#include "carelog/writer/agency_log.hpp"

#include "carelog/events/envelope_codec.hpp"

namespace carelog::writer {

std::vector<stamped> stamp(const agency_log& log, std::vector<events::decided_event> decided,
                           const stamp_meta& meta, id_source& ids) {
    std::vector<stamped> out;
    out.reserve(decided.size());
    std::uint64_t seq = log.sequence;
    sha256_digest prev = log.last_hash;
    for (auto& d : decided) {
        stamped s;
        auto& e = s.env;
        e.event_id = ids.next_uuid();
        e.agency_id = meta.agency_id;
        e.aggregate_type = std::string(events::aggregate_type_of(d));
        e.aggregate_id = std::move(d.aggregate_id);
        e.aggregate_version = d.aggregate_version;
        e.sequence = ++seq;
        e.occurred_at = meta.now;
        e.actor_id = meta.actor_id;
        e.command_id = meta.command_id;
        e.correlation_id = meta.correlation_id;
        e.causation_id = meta.command_id;
        e.prev_hash = prev;
        e.data = std::move(d.data);
        s.bytes = events::encode(e);
        prev = e.hash;
        out.push_back(std::move(s));
    }
    return out;
}

bool is_idempotency_key(std::string_view command_id) { return command_id.find(':') != std::string_view::npos; }

namespace {
void remember(agency_log& log, const events::envelope& e, const std::string& token) {
    if (!is_idempotency_key(e.command_id)) return;
    auto [it, fresh] = log.commands.try_emplace(e.command_id);
    if (fresh) {
        it->second = std::make_shared<idem_record>();
        it->second->aggregate_id = e.aggregate_id;
        it->second->at = e.occurred_at;
        it->second->ordinal = log.next_ordinal++;
        log.command_order.push_back(e.command_id);
    }
    log.changed.commands.insert(e.command_id);
    auto& r = *it->second;
    if (e.aggregate_id == r.aggregate_id) r.version = e.aggregate_version;
    r.token = token;
    r.events.push_back(e);
    // Forget keys beyond the window or the cap, oldest first.
    while (!log.command_order.empty()) {
        const auto& oldest = log.command_order.front();
        auto o = log.commands.find(oldest);
        bool expired = o == log.commands.end() || o->second->at + idempotency_window < e.occurred_at ||
                       log.commands.size() > idempotency_max_keys;
        if (!expired) break;
        if (o != log.commands.end()) log.commands.erase(o);
        log.changed.commands.erase(oldest);  // the agency's live range drops it from the snapshot
        log.command_order.pop_front();
    }
}
}  // namespace

bool apply(agency_log& log, const events::envelope& e, const std::string& token) {
    if (e.sequence != log.sequence + 1 || e.prev_hash != log.last_hash) return false;
    // The aggregate the event changes, routed as evolve routes it: a Staff-type event addressed
    // to the agency itself (LoginFailed for an unknown username) changes the Agency aggregate.
    const bool on_agency = !log.state.id.empty() && e.aggregate_id == log.state.id;
    const auto type = events::aggregate_type_of(e.data);
    if (type == "Client" && !on_agency)
        log.changed.clients.insert(e.aggregate_id);
    else if (type != "Agency" && !on_agency)
        log.changed.staff.insert(e.aggregate_id);
    log.changed.agency = true;  // sequence and chain
    aggregates::evolve(log.state, e);  // the envelope: identity rules are dated by occurred_at
    if (log.state.id.empty()) log.state.id = e.agency_id;
    log.sequence = e.sequence;
    log.last_hash = e.hash;
    remember(log, e, token);
    return true;
}

}  // namespace carelog::writer
