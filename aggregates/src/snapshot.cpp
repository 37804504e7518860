// agency_state <-> JSON (the auditors' rebuild prints it) and `restore`, which puts one aggregate
// back into a state with the indexes derived from it (the writer's binary snapshots store each
// aggregate apart). Every field of the state is written, so from_json(to_json(s)) == s; JSON that
// does not parse is refused rather than trusted as half a state.
#include "carelog/aggregates/snapshot.hpp"

#include "carelog/events/event_json.hpp"

#include <boost/json.hpp>

#include "carelog/base/text.hpp"
#include "rules.hpp"

namespace carelog::aggregates {
namespace json = boost::json;

namespace {

// 2: staff credentials (identity). 3: clients. An older snapshot is refused and the agency
// replayed from the log.
constexpr std::int64_t snapshot_format = 3;

json::array to_array(const strings& v) {
    json::array a;
    for (const auto& x : v) a.emplace_back(x);
    return a;
}

json::object settings_json(const events::Settings& s) { return events::settings_to_json(s); }

json::object profile_json(const events::StaffCreated& p) {
    json::array phones;
    for (const auto& ph : p.phones) phones.emplace_back(json::object{{"kind", ph.kind}, {"number", ph.number}});
    return json::object{{"first_name", p.first_name},
                        {"middle_name", p.middle_name},
                        {"last_name", p.last_name},
                        {"gender", p.gender},
                        {"position", p.position},
                        {"email", p.email},
                        {"username", p.username},
                        {"role", p.role},
                        {"staff_type", p.staff_type},
                        {"location_ids", to_array(p.location_ids)},
                        {"program_ids", to_array(p.program_ids)},
                        {"hire_date", p.hire_date},
                        {"phones", std::move(phones)},
                        {"npi", p.npi},
                        {"supervisor_id", p.supervisor_id},
                        {"require_password_change", p.require_password_change},
                        {"password_hash", p.password_hash}};
}

json::object credentials_json(const credentials_state& c) {
    json::array sessions;
    for (const auto& [id, si] : c.sessions)
        sessions.emplace_back(json::object{{"id", id},
                                           {"created_at", si.created_at},
                                           {"last_seen", si.last_seen},
                                           {"ip", si.ip},
                                           {"mfa", si.mfa}});
    return json::object{{"password_changed_at", c.password_changed_at},
                        {"failed_attempts", c.failed_attempts},
                        {"locked", c.locked},
                        {"locked_until", c.locked_until},
                        {"mfa_secret_sealed", c.mfa_secret_sealed},
                        {"mfa_confirmed", c.mfa_confirmed},
                        {"last_totp_step", c.last_totp_step},
                        {"sessions", std::move(sessions)},
                        {"reset_token_hash", c.reset_token_hash},
                        {"reset_requested_at", c.reset_requested_at},
                        {"reset_expires_at", c.reset_expires_at},
                        {"last_login_at", c.last_login_at}};
}

std::string_view status_name(invitation_status st) {
    switch (st) {
        case invitation_status::sent: return "sent";
        case invitation_status::registered: return "registered";
        case invitation_status::revoked: return "revoked";
    }
    return "sent";
}

json::object client_json(const client_state& c) {
    const auto& p = c.profile;
    json::array staff, invitations, threads, kiosks;
    for (const auto& id : c.assigned_staff) staff.emplace_back(id);
    for (const auto& [id, i] : c.invitations)
        invitations.emplace_back(json::object{{"id", i.id},
                                              {"email", i.email},
                                              {"token_hash", i.token_hash},
                                              {"sent_at", i.sent_at},
                                              {"expires_at", i.expires_at},
                                              {"status", status_name(i.status)},
                                              {"portal_account_id", i.portal_account_id}});
    for (const auto& [id, t] : c.threads)
        threads.emplace_back(json::object{{"id", t.id},
                                          {"staff_id", t.staff_id},
                                          {"started_at", t.started_at},
                                          {"last_message_at", t.last_message_at},
                                          {"messages", t.messages}});
    for (const auto& [id, k] : c.kiosks)
        kiosks.emplace_back(json::object{{"id", k.id},
                                         {"form_id", k.form_id},
                                         {"document_id", k.document_id},
                                         {"appointment_id", k.appointment_id},
                                         {"token_hash", k.token_hash},
                                         {"started_at", k.started_at},
                                         {"expires_at", k.expires_at},
                                         {"started_by", k.started_by},
                                         {"submitted", k.submitted},
                                         {"submitted_at", k.submitted_at}});
    json::value portal = nullptr;
    if (c.portal) {
        const auto& a = *c.portal;
        json::array sessions;
        for (const auto& [sid, si] : a.sessions)
            sessions.emplace_back(
                json::object{{"id", sid}, {"created_at", si.created_at}, {"ip", si.ip}, {"last_seen", si.last_seen}});
        portal = json::object{{"id", a.id},
                              {"username", a.username},
                              {"password_hash", a.password_hash},
                              {"invitation_id", a.invitation_id},
                              {"created_at", a.created_at},
                              {"failed_attempts", a.failed_attempts},
                              {"locked", a.locked},
                              {"locked_until", a.locked_until},
                              {"last_login_at", a.last_login_at},
                              {"require_password_change", a.require_password_change},
                              {"reset_token_hash", a.reset_token_hash},
                              {"reset_requested_at", a.reset_requested_at},
                              {"reset_expires_at", a.reset_expires_at},
                              {"sessions", std::move(sessions)}};
    }
    return json::object{{"id", c.id},
                        {"version", c.version},
                        {"created_at", c.created_at},
                        {"profile", json::object{{"first_name", p.first_name},
                                                 {"last_name", p.last_name},
                                                 {"date_of_birth", p.date_of_birth},
                                                 {"email", p.email},
                                                 {"phone", p.phone},
                                                 {"external_id", p.external_id}}},
                        {"assigned_staff", std::move(staff)},
                        {"invitations", std::move(invitations)},
                        {"portal", std::move(portal)},
                        {"threads", std::move(threads)},
                        {"kiosks", std::move(kiosks)}};
}

// ---- reading: throws on any shape error; the public function turns that into an error value ----

std::string str(const json::object& o, const char* k) { return std::string(o.at(k).as_string()); }
bool boolean(const json::object& o, const char* k) { return o.at(k).as_bool(); }
std::uint64_t u64(const json::object& o, const char* k) { return json::value_to<std::uint64_t>(o.at(k)); }
strings strs(const json::value& v) {
    strings out;
    for (const auto& x : v.as_array()) out.emplace_back(x.as_string());
    return out;
}
template <class T>
void get(const json::object& o, const char* k, std::optional<T>& out) {
    if (auto* v = o.if_contains(k); v && !v->is_null()) out = json::value_to<T>(*v);
}
void get(const json::object& o, const char* k, std::optional<strings>& out) {
    if (auto* v = o.if_contains(k); v && !v->is_null()) out = strs(*v);
}

events::Settings settings_from(const json::object& o) {
    events::Settings s;
    get(o, "name", s.name);
    get(o, "client_portal_enabled", s.client_portal_enabled);
    get(o, "messaging_enabled", s.messaging_enabled);
    get(o, "password_min_length", s.password_min_length);
    get(o, "password_require_upper", s.password_require_upper);
    get(o, "password_require_lower", s.password_require_lower);
    get(o, "password_require_digit", s.password_require_digit);
    get(o, "password_require_symbol", s.password_require_symbol);
    get(o, "password_disallow_username", s.password_disallow_username);
    get(o, "lockout_threshold", s.lockout_threshold);
    get(o, "lockout_minutes", s.lockout_minutes);
    get(o, "session_idle_minutes", s.session_idle_minutes);
    get(o, "password_expiry_days", s.password_expiry_days);
    get(o, "mfa_required_roles", s.mfa_required_roles);
    get(o, "services", s.services);
    return s;
}

std::int64_t i64(const json::object& o, const char* k) { return json::value_to<std::int64_t>(o.at(k)); }

credentials_state credentials_from(const json::object& o) {
    credentials_state c;
    c.password_changed_at = i64(o, "password_changed_at");
    c.failed_attempts = json::value_to<int>(o.at("failed_attempts"));
    c.locked = boolean(o, "locked");
    c.locked_until = i64(o, "locked_until");
    c.mfa_secret_sealed = str(o, "mfa_secret_sealed");
    c.mfa_confirmed = boolean(o, "mfa_confirmed");
    c.last_totp_step = i64(o, "last_totp_step");
    for (const auto& x : o.at("sessions").as_array()) {
        const auto& so = x.as_object();
        c.sessions.emplace(str(so, "id"), session_info{i64(so, "created_at"), i64(so, "last_seen"), str(so, "ip"),
                                                       boolean(so, "mfa")});
    }
    c.reset_token_hash = str(o, "reset_token_hash");
    c.reset_requested_at = i64(o, "reset_requested_at");
    c.reset_expires_at = i64(o, "reset_expires_at");
    c.last_login_at = i64(o, "last_login_at");
    return c;
}

events::StaffCreated profile_from(const json::object& o) {
    events::StaffCreated p;
    p.first_name = str(o, "first_name");
    p.middle_name = str(o, "middle_name");
    p.last_name = str(o, "last_name");
    p.gender = str(o, "gender");
    p.position = str(o, "position");
    p.email = str(o, "email");
    p.username = str(o, "username");
    p.role = str(o, "role");
    p.staff_type = str(o, "staff_type");
    p.location_ids = strs(o.at("location_ids"));
    p.program_ids = strs(o.at("program_ids"));
    p.hire_date = str(o, "hire_date");
    for (const auto& ph : o.at("phones").as_array()) {
        const auto& po = ph.as_object();
        p.phones.push_back({str(po, "kind"), str(po, "number")});
    }
    p.npi = str(o, "npi");
    p.supervisor_id = str(o, "supervisor_id");
    p.require_password_change = boolean(o, "require_password_change");
    p.password_hash = str(o, "password_hash");
    return p;
}

client_state client_from(const json::object& o) {
    client_state c;
    c.id = str(o, "id");
    c.version = u64(o, "version");
    c.created_at = i64(o, "created_at");
    const auto& p = o.at("profile").as_object();
    c.profile = events::ClientAdded{str(p, "first_name"), str(p, "last_name"), str(p, "date_of_birth"),
                                    str(p, "email"),      str(p, "phone"),     str(p, "external_id")};
    for (const auto& x : o.at("assigned_staff").as_array()) c.assigned_staff.emplace(x.as_string());
    for (const auto& x : o.at("invitations").as_array()) {
        const auto& io = x.as_object();
        invitation_state i{str(io, "id"), str(io, "email"), str(io, "token_hash"), i64(io, "sent_at"),
                           i64(io, "expires_at"), invitation_status::sent, str(io, "portal_account_id")};
        auto st = str(io, "status");
        if (st == "registered")
            i.status = invitation_status::registered;
        else if (st == "revoked")
            i.status = invitation_status::revoked;
        else if (st != "sent")
            throw std::runtime_error("unknown invitation status '" + st + "'");
        c.invitations.emplace(i.id, std::move(i));
    }
    if (const auto& pv = o.at("portal"); !pv.is_null()) {
        const auto& po = pv.as_object();
        portal_account_state a;
        a.id = str(po, "id");
        a.username = str(po, "username");
        a.password_hash = str(po, "password_hash");
        a.invitation_id = str(po, "invitation_id");
        a.created_at = i64(po, "created_at");
        a.failed_attempts = json::value_to<int>(po.at("failed_attempts"));
        a.locked = boolean(po, "locked");
        a.locked_until = i64(po, "locked_until");
        a.last_login_at = i64(po, "last_login_at");
        a.require_password_change = po.contains("require_password_change") && boolean(po, "require_password_change");
        if (po.contains("reset_token_hash")) {
            a.reset_token_hash = str(po, "reset_token_hash");
            a.reset_requested_at = i64(po, "reset_requested_at");
            a.reset_expires_at = i64(po, "reset_expires_at");
        }
        for (const auto& x : po.at("sessions").as_array()) {
            const auto& so = x.as_object();
            a.sessions.emplace(str(so, "id"), portal_session_info{i64(so, "created_at"), str(so, "ip"),
                                                                  so.contains("last_seen") ? i64(so, "last_seen") : 0});
        }
        c.portal = std::move(a);
    }
    for (const auto& x : o.at("threads").as_array()) {
        const auto& to = x.as_object();
        thread_state t{str(to, "id"), str(to, "staff_id"), i64(to, "started_at"), i64(to, "last_message_at"),
                       u64(to, "messages")};
        c.threads.emplace(t.id, std::move(t));
    }
    for (const auto& x : o.at("kiosks").as_array()) {
        const auto& ko = x.as_object();
        kiosk_state k{str(ko, "id"),         str(ko, "form_id"),    str(ko, "document_id"), str(ko, "appointment_id"),
                      str(ko, "token_hash"), i64(ko, "started_at"), i64(ko, "expires_at"),  str(ko, "started_by"),
                      boolean(ko, "submitted"), i64(ko, "submitted_at")};
        c.kiosks.emplace(k.id, std::move(k));
    }
    return c;
}

}  // namespace

json::value to_json(const agency_state& s) {
    json::array locations, programs, staff;
    for (const auto& [id, l] : s.locations)
        locations.emplace_back(json::object{{"id", l.id}, {"name", l.name}, {"address", l.address}});
    for (const auto& [id, p] : s.programs) programs.emplace_back(json::object{{"id", p.id}, {"name", p.name}});
    for (const auto& [id, st] : s.staff) {
        json::array perms;
        for (const auto& p : st.permissions) perms.emplace_back(p);
        staff.emplace_back(json::object{{"id", st.id},
                                        {"version", st.version},
                                        {"active", st.active},
                                        {"permissions", std::move(perms)},
                                        {"profile", profile_json(st.profile)},
                                        {"credentials", credentials_json(st.credentials)}});
    }
    json::object usernames;
    for (const auto& [name, id] : s.usernames) usernames[name] = id;
    json::array clients;
    for (const auto& [id, c] : s.clients) clients.emplace_back(client_json(c));
    return json::object{{"format", snapshot_format},
                        {"id", s.id},
                        {"exists", s.exists},
                        {"version", s.version},
                        {"slug", s.slug},
                        {"settings", settings_json(s.settings)},
                        {"locations", std::move(locations)},
                        {"programs", std::move(programs)},
                        {"staff", std::move(staff)},
                        {"usernames", std::move(usernames)},
                        {"clients", std::move(clients)}};
}

result<agency_state> agency_state_from_json(const json::value& v) {
    try {
        const auto& o = v.as_object();
        if (json::value_to<std::int64_t>(o.at("format")) != snapshot_format)
            return fail(errc::malformed, "snapshot: unsupported format " + json::serialize(o.at("format")) +
                                             " (this build writes " + std::to_string(snapshot_format) +
                                             "); discard it and replay the agency from the log");
        agency_state s;
        s.id = str(o, "id");
        s.exists = boolean(o, "exists");
        s.version = u64(o, "version");
        s.slug = str(o, "slug");
        s.settings = settings_from(o.at("settings").as_object());
        for (const auto& x : o.at("locations").as_array()) {
            const auto& lo = x.as_object();
            location l{str(lo, "id"), str(lo, "name"), str(lo, "address")};
            s.locations.emplace(l.id, std::move(l));
        }
        for (const auto& x : o.at("programs").as_array()) {
            const auto& po = x.as_object();
            program p{str(po, "id"), str(po, "name")};
            s.programs.emplace(p.id, std::move(p));
        }
        for (const auto& x : o.at("staff").as_array()) {
            const auto& so = x.as_object();
            staff_state st;
            st.id = str(so, "id");
            st.version = u64(so, "version");
            st.active = boolean(so, "active");
            for (const auto& p : so.at("permissions").as_array()) st.permissions.emplace(p.as_string());
            st.profile = profile_from(so.at("profile").as_object());
            st.credentials = credentials_from(so.at("credentials").as_object());
            // The staff indexes are derived, not stored: they cannot disagree with the staff.
            detail::index_staff(s, st);
            s.staff.emplace(st.id, std::move(st));
        }
        for (const auto& [name, id] : o.at("usernames").as_object())
            s.usernames.emplace(std::string(name), std::string(id.as_string()));
        // The client indexes are derived, not stored: they cannot disagree with the clients.
        for (const auto& x : o.at("clients").as_array()) {
            auto c = client_from(x.as_object());
            detail::index_client(s, c);
            s.clients.emplace(c.id, std::move(c));
        }
        return s;
    } catch (const std::exception& e) {
        return fail(errc::malformed, std::string("snapshot: ") + e.what());
    }
}

void restore(agency_state& s, staff_state st) {
    detail::index_staff(s, st);
    auto id = st.id;
    s.staff.insert_or_assign(std::move(id), std::move(st));
}

void restore(agency_state& s, client_state c) {
    detail::index_client(s, c);
    auto id = c.id;
    s.clients.insert_or_assign(std::move(id), std::move(c));
}

void restore_indexes(agency_state& s, const staff_state& st) {
    detail::index_staff(s, st);
    s.staff.add_absent(st.id);
}

void restore_indexes(agency_state& s, const client_state& c) {
    detail::index_client(s, c);
    s.clients.add_absent(c.id);
}

}  // namespace carelog::aggregates
