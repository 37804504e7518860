#include "carelog/writer/agency_log.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <cstring>

#include "carelog/aggregates/snapshot.hpp"
#include "carelog/events/envelope_codec.hpp"

namespace carelog::writer {
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

bool is_idempotency_key(std::string_view command_id) { return command_id.find(':') != std::string_view::npos; }

namespace {
void remember(agency_log& log, const events::envelope& e, const std::string& token) {
    if (!is_idempotency_key(e.command_id)) return;
    auto [it, fresh] = log.commands.try_emplace(e.command_id);
    if (fresh) {
        it->second = std::make_shared<idem_record>();
        it->second->aggregate_id = e.aggregate_id;
        it->second->at = e.occurred_at;
        log.command_order.push_back(e.command_id);
    }
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

namespace {
std::string hex_of(const std::vector<std::uint8_t>& bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 15]);
    }
    return out;
}
bool bytes_of(std::string_view hex, std::vector<std::uint8_t>& out) {
    if (hex.size() % 2) return false;
    out.resize(hex.size() / 2);
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}
}  // namespace

json::value to_json(const agency_log& log) {
    json::array cmds;
    for (const auto& key : log.command_order) {
        auto it = log.commands.find(key);
        if (it == log.commands.end()) continue;
        const auto& r = *it->second;
        json::array evs;
        for (auto e : r.events) evs.push_back(json::string(hex_of(events::encode(e))));
        cmds.push_back(json::object{{"key", key},
                                    {"aggregate_id", r.aggregate_id},
                                    {"version", r.version},
                                    {"token", r.token},
                                    {"events", std::move(evs)},
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
            auto r = std::make_shared<idem_record>();
            r->aggregate_id = std::string(co.at("aggregate_id").as_string());
            r->version = json::value_to<std::uint64_t>(co.at("version"));
            r->token = std::string(co.at("token").as_string());
            for (const auto& ev : co.at("events").as_array()) {
                std::vector<std::uint8_t> bytes;
                if (!bytes_of(ev.as_string(), bytes)) return fail(errc::internal, "snapshot: bad event bytes");
                auto e = events::decode(bytes);
                if (!e) return fail(errc::internal, "snapshot: " + e.error().detail);
                r->events.push_back(std::move(*e));
            }
            r->at = json::value_to<std::int64_t>(co.at("at"));
            log.commands.emplace(key, std::move(r));
            log.command_order.push_back(std::move(key));
        }
        return log;
    } catch (const std::exception& ex) {
        return fail(errc::internal, std::string("snapshot: ") + ex.what());
    }
}

}  // namespace carelog::writer
