// The writer's binary snapshot (see the header and writer/schema/writer_snapshot.fbs): one
// FlatBuffers value per aggregate and idempotency record. Every field of the state is written, so
// loading what take_changes wrote gives back the same agency_log; a value that does not verify
// makes the whole snapshot unusable (the writer then replays the partition from the log).
#include "carelog/writer/snapshot.hpp"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "carelog/aggregates/snapshot.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/writer/writer_snapshot_generated.h"

namespace carelog::writer {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::String;
using flatbuffers::Vector;
using string_list = Offset<Vector<Offset<String>>>;
using events::strings;

// ---- writing ----

template <class Range>
string_list string_vector(FlatBufferBuilder& b, const Range& items) {
    std::vector<Offset<String>> v;
    v.reserve(items.size());
    for (const auto& x : items) v.push_back(b.CreateString(x));
    return b.CreateVector(v);
}

template <class T>
std::string finish(FlatBufferBuilder& b, fb::Entry type, Offset<T> entry) {
    fb::FinishValueBuffer(b, fb::CreateValue(b, type, entry.Union()));
    return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

Offset<fb::Settings> settings_of(FlatBufferBuilder& b, const events::Settings& s) {
    Offset<String> name;
    string_list roles, services;
    if (s.name) name = b.CreateString(*s.name);
    if (s.mfa_required_roles) roles = string_vector(b, *s.mfa_required_roles);
    if (s.services) services = string_vector(b, *s.services);
    fb::SettingsBuilder sb(b);
    if (s.name) sb.add_name(name);
    if (s.client_portal_enabled) sb.add_client_portal_enabled(*s.client_portal_enabled);
    if (s.messaging_enabled) sb.add_messaging_enabled(*s.messaging_enabled);
    if (s.password_min_length) sb.add_password_min_length(*s.password_min_length);
    if (s.password_require_upper) sb.add_password_require_upper(*s.password_require_upper);
    if (s.password_require_lower) sb.add_password_require_lower(*s.password_require_lower);
    if (s.password_require_digit) sb.add_password_require_digit(*s.password_require_digit);
    if (s.password_require_symbol) sb.add_password_require_symbol(*s.password_require_symbol);
    if (s.password_disallow_username) sb.add_password_disallow_username(*s.password_disallow_username);
    if (s.lockout_threshold) sb.add_lockout_threshold(*s.lockout_threshold);
    if (s.lockout_minutes) sb.add_lockout_minutes(*s.lockout_minutes);
    if (s.session_idle_minutes) sb.add_session_idle_minutes(*s.session_idle_minutes);
    if (s.password_expiry_days) sb.add_password_expiry_days(*s.password_expiry_days);
    if (s.mfa_required_roles) sb.add_mfa_required_roles(roles);
    if (s.services) sb.add_services(services);
    return sb.Finish();
}

std::string encode_agency(const agency_log& log) {
    const auto& s = log.state;
    FlatBufferBuilder b(512);
    auto settings = settings_of(b, s.settings);
    std::vector<Offset<fb::Location>> locations;
    for (const auto& [id, l] : s.locations)
        locations.push_back(fb::CreateLocation(b, b.CreateString(l.id), b.CreateString(l.name), b.CreateString(l.address)));
    std::vector<Offset<fb::Program>> programs;
    for (const auto& [id, p] : s.programs)
        programs.push_back(fb::CreateProgram(b, b.CreateString(p.id), b.CreateString(p.name)));
    auto lv = b.CreateVector(locations);
    auto pv = b.CreateVector(programs);
    auto id = b.CreateString(s.id);
    auto slug = b.CreateString(s.slug);
    auto hash = b.CreateVector(log.last_hash.data(), log.last_hash.size());
    std::uint64_t first = log.next_ordinal;
    if (!log.command_order.empty())
        if (auto it = log.commands.find(log.command_order.front()); it != log.commands.end()) first = it->second->ordinal;
    fb::AgencyBuilder ab(b);
    ab.add_id(id);
    ab.add_exists(s.exists);
    ab.add_version(s.version);
    ab.add_slug(slug);
    ab.add_settings(settings);
    ab.add_locations(lv);
    ab.add_programs(pv);
    ab.add_sequence(log.sequence);
    ab.add_last_hash(hash);
    ab.add_first_command(first);
    ab.add_next_command(log.next_ordinal);
    ab.add_command_slots(snapshot_command_slots);
    ab.add_staff_count(s.staff.size());
    ab.add_client_count(s.clients.size());
    return finish(b, fb::Entry::Agency, ab.Finish());
}

std::string encode_staff(const aggregates::staff_state& st) {
    const auto& p = st.profile;
    const auto& c = st.credentials;
    FlatBufferBuilder b(1024);
    auto id = b.CreateString(st.id);
    auto permissions = string_vector(b, st.permissions);
    auto first_name = b.CreateString(p.first_name);
    auto middle_name = b.CreateString(p.middle_name);
    auto last_name = b.CreateString(p.last_name);
    auto gender = b.CreateString(p.gender);
    auto position = b.CreateString(p.position);
    auto email = b.CreateString(p.email);
    auto username = b.CreateString(p.username);
    auto role = b.CreateString(p.role);
    auto staff_type = b.CreateString(p.staff_type);
    auto location_ids = string_vector(b, p.location_ids);
    auto program_ids = string_vector(b, p.program_ids);
    auto hire_date = b.CreateString(p.hire_date);
    std::vector<Offset<fb::Phone>> phones;
    for (const auto& ph : p.phones) phones.push_back(fb::CreatePhone(b, b.CreateString(ph.kind), b.CreateString(ph.number)));
    auto phone_v = b.CreateVector(phones);
    auto npi = b.CreateString(p.npi);
    auto supervisor_id = b.CreateString(p.supervisor_id);
    auto password_hash = b.CreateString(p.password_hash);
    auto mfa_secret_sealed = b.CreateString(c.mfa_secret_sealed);
    std::vector<Offset<fb::StaffSession>> sessions;
    for (const auto& [sid, si] : c.sessions)
        sessions.push_back(
            fb::CreateStaffSession(b, b.CreateString(sid), si.created_at, si.last_seen, b.CreateString(si.ip), si.mfa));
    auto session_v = b.CreateVector(sessions);
    auto reset_token_hash = b.CreateString(c.reset_token_hash);

    fb::StaffBuilder sb(b);
    sb.add_id(id);
    sb.add_version(st.version);
    sb.add_active(st.active);
    sb.add_permissions(permissions);
    sb.add_first_name(first_name);
    sb.add_middle_name(middle_name);
    sb.add_last_name(last_name);
    sb.add_gender(gender);
    sb.add_position(position);
    sb.add_email(email);
    sb.add_username(username);
    sb.add_role(role);
    sb.add_staff_type(staff_type);
    sb.add_location_ids(location_ids);
    sb.add_program_ids(program_ids);
    sb.add_hire_date(hire_date);
    sb.add_phones(phone_v);
    sb.add_npi(npi);
    sb.add_supervisor_id(supervisor_id);
    sb.add_require_password_change(p.require_password_change);
    sb.add_password_hash(password_hash);
    sb.add_password_changed_at(c.password_changed_at);
    sb.add_failed_attempts(c.failed_attempts);
    sb.add_locked(c.locked);
    sb.add_locked_until(c.locked_until);
    sb.add_mfa_secret_sealed(mfa_secret_sealed);
    sb.add_mfa_confirmed(c.mfa_confirmed);
    sb.add_last_totp_step(c.last_totp_step);
    sb.add_sessions(session_v);
    sb.add_reset_token_hash(reset_token_hash);
    sb.add_reset_requested_at(c.reset_requested_at);
    sb.add_reset_expires_at(c.reset_expires_at);
    sb.add_last_login_at(c.last_login_at);
    return finish(b, fb::Entry::Staff, sb.Finish());
}

fb::InvitationStatus status_of(aggregates::invitation_status s) {
    switch (s) {
        case aggregates::invitation_status::sent: return fb::InvitationStatus::sent;
        case aggregates::invitation_status::registered: return fb::InvitationStatus::registered;
        case aggregates::invitation_status::revoked: return fb::InvitationStatus::revoked;
    }
    throw std::logic_error("unknown invitation status");
}

Offset<fb::PortalAccount> portal_of(FlatBufferBuilder& b, const aggregates::portal_account_state& a) {
    std::vector<Offset<fb::PortalSession>> sessions;
    for (const auto& [sid, si] : a.sessions)
        sessions.push_back(fb::CreatePortalSession(b, b.CreateString(sid), si.created_at, b.CreateString(si.ip), si.last_seen));
    auto session_v = b.CreateVector(sessions);
    auto id = b.CreateString(a.id);
    auto username = b.CreateString(a.username);
    auto password_hash = b.CreateString(a.password_hash);
    auto invitation_id = b.CreateString(a.invitation_id);
    auto reset_token_hash = b.CreateString(a.reset_token_hash);
    fb::PortalAccountBuilder pb(b);
    pb.add_id(id);
    pb.add_username(username);
    pb.add_password_hash(password_hash);
    pb.add_invitation_id(invitation_id);
    pb.add_created_at(a.created_at);
    pb.add_failed_attempts(a.failed_attempts);
    pb.add_locked(a.locked);
    pb.add_locked_until(a.locked_until);
    pb.add_last_login_at(a.last_login_at);
    pb.add_require_password_change(a.require_password_change);
    pb.add_reset_token_hash(reset_token_hash);
    pb.add_reset_requested_at(a.reset_requested_at);
    pb.add_reset_expires_at(a.reset_expires_at);
    pb.add_sessions(session_v);
    return pb.Finish();
}

std::string encode_client(const aggregates::client_state& c) {
    const auto& p = c.profile;
    FlatBufferBuilder b(1024);
    auto id = b.CreateString(c.id);
    auto first_name = b.CreateString(p.first_name);
    auto last_name = b.CreateString(p.last_name);
    auto date_of_birth = b.CreateString(p.date_of_birth);
    auto email = b.CreateString(p.email);
    auto phone = b.CreateString(p.phone);
    auto external_id = b.CreateString(p.external_id);
    auto assigned = string_vector(b, c.assigned_staff);
    std::vector<Offset<fb::Invitation>> invitations;
    for (const auto& [iid, i] : c.invitations)
        invitations.push_back(fb::CreateInvitation(b, b.CreateString(i.id), b.CreateString(i.email),
                                                   b.CreateString(i.token_hash), i.sent_at, i.expires_at,
                                                   status_of(i.status), b.CreateString(i.portal_account_id)));
    auto invitation_v = b.CreateVector(invitations);
    Offset<fb::PortalAccount> portal;
    if (c.portal) portal = portal_of(b, *c.portal);
    std::vector<Offset<fb::Thread>> threads;
    for (const auto& [tid, t] : c.threads)
        threads.push_back(fb::CreateThread(b, b.CreateString(t.id), b.CreateString(t.staff_id), t.started_at,
                                           t.last_message_at, t.messages));
    auto thread_v = b.CreateVector(threads);
    std::vector<Offset<fb::Kiosk>> kiosks;
    for (const auto& [kid, k] : c.kiosks)
        kiosks.push_back(fb::CreateKiosk(b, b.CreateString(k.id), b.CreateString(k.form_id),
                                         b.CreateString(k.document_id), b.CreateString(k.appointment_id),
                                         b.CreateString(k.token_hash), k.started_at, k.expires_at,
                                         b.CreateString(k.started_by), k.submitted, k.submitted_at));
    auto kiosk_v = b.CreateVector(kiosks);
    fb::ClientBuilder cb(b);
    cb.add_id(id);
    cb.add_version(c.version);
    cb.add_first_name(first_name);
    cb.add_last_name(last_name);
    cb.add_date_of_birth(date_of_birth);
    cb.add_email(email);
    cb.add_phone(phone);
    cb.add_external_id(external_id);
    cb.add_created_at(c.created_at);
    cb.add_assigned_staff(assigned);
    cb.add_invitations(invitation_v);
    if (c.portal) cb.add_portal(portal);
    cb.add_threads(thread_v);
    cb.add_kiosks(kiosk_v);
    return finish(b, fb::Entry::Client, cb.Finish());
}

std::string encode_command(const std::string& key, const idem_record& r) {
    FlatBufferBuilder b(1024);
    std::vector<Offset<fb::EncodedEvent>> evs;
    for (auto e : r.events) {  // a copy: encode() writes the hash it computes into the envelope
        auto bytes = events::encode(e);
        evs.push_back(fb::CreateEncodedEvent(b, b.CreateVector(bytes)));
    }
    auto ev = b.CreateVector(evs);
    auto k = b.CreateString(key);
    auto aggregate_id = b.CreateString(r.aggregate_id);
    auto token = b.CreateString(r.token);
    fb::CommandBuilder cb(b);
    cb.add_key(k);
    cb.add_ordinal(r.ordinal);
    cb.add_aggregate_id(aggregate_id);
    cb.add_version(r.version);
    cb.add_token(token);
    cb.add_at(r.at);
    cb.add_events(ev);
    return finish(b, fb::Entry::Command, cb.Finish());
}

// ---- reading (values are verified first; a shape the writer never writes throws) ----

std::string str(const String* s) { return s ? s->str() : std::string(); }

strings strs(const Vector<Offset<String>>* v) {
    strings out;
    if (!v) return out;
    out.reserve(v->size());
    for (const auto* s : *v) out.push_back(str(s));
    return out;
}

template <class T, class U>
void get(const flatbuffers::Optional<U>& in, std::optional<T>& out) {
    if (in.has_value()) out = static_cast<T>(*in);
}

events::Settings settings_from(const fb::Settings* f) {
    events::Settings s;
    if (!f) return s;
    if (f->name()) s.name = f->name()->str();
    get(f->client_portal_enabled(), s.client_portal_enabled);
    get(f->messaging_enabled(), s.messaging_enabled);
    get(f->password_min_length(), s.password_min_length);
    get(f->password_require_upper(), s.password_require_upper);
    get(f->password_require_lower(), s.password_require_lower);
    get(f->password_require_digit(), s.password_require_digit);
    get(f->password_require_symbol(), s.password_require_symbol);
    get(f->password_disallow_username(), s.password_disallow_username);
    get(f->lockout_threshold(), s.lockout_threshold);
    get(f->lockout_minutes(), s.lockout_minutes);
    get(f->session_idle_minutes(), s.session_idle_minutes);
    get(f->password_expiry_days(), s.password_expiry_days);
    if (f->mfa_required_roles()) s.mfa_required_roles = strs(f->mfa_required_roles());
    if (f->services()) s.services = strs(f->services());
    return s;
}

void agency_from(const fb::Agency& f, agency_log& log) {
    auto& s = log.state;
    s.id = str(f.id());
    s.exists = f.exists();
    s.version = f.version();
    s.slug = str(f.slug());
    s.settings = settings_from(f.settings());
    if (f.locations())
        for (const auto* l : *f.locations())
            s.locations[str(l->id())] = aggregates::location{str(l->id()), str(l->name()), str(l->address())};
    if (f.programs())
        for (const auto* p : *f.programs()) s.programs[str(p->id())] = aggregates::program{str(p->id()), str(p->name())};
    log.sequence = f.sequence();
    const auto* h = f.last_hash();
    if (!h || h->size() != log.last_hash.size()) throw std::runtime_error("last_hash is not 32 bytes");
    std::copy(h->begin(), h->end(), log.last_hash.begin());
}

aggregates::staff_state staff_from(const fb::Staff& f) {
    aggregates::staff_state st;
    st.id = str(f.id());
    st.version = f.version();
    st.active = f.active();
    for (auto& p : strs(f.permissions())) st.permissions.insert(std::move(p));
    auto& p = st.profile;
    p.first_name = str(f.first_name());
    p.middle_name = str(f.middle_name());
    p.last_name = str(f.last_name());
    p.gender = str(f.gender());
    p.position = str(f.position());
    p.email = str(f.email());
    p.username = str(f.username());
    p.role = str(f.role());
    p.staff_type = str(f.staff_type());
    p.location_ids = strs(f.location_ids());
    p.program_ids = strs(f.program_ids());
    p.hire_date = str(f.hire_date());
    if (f.phones())
        for (const auto* ph : *f.phones()) p.phones.push_back({str(ph->kind()), str(ph->number())});
    p.npi = str(f.npi());
    p.supervisor_id = str(f.supervisor_id());
    p.require_password_change = f.require_password_change();
    p.password_hash = str(f.password_hash());
    auto& c = st.credentials;
    c.password_changed_at = f.password_changed_at();
    c.failed_attempts = f.failed_attempts();
    c.locked = f.locked();
    c.locked_until = f.locked_until();
    c.mfa_secret_sealed = str(f.mfa_secret_sealed());
    c.mfa_confirmed = f.mfa_confirmed();
    c.last_totp_step = f.last_totp_step();
    if (f.sessions())
        for (const auto* si : *f.sessions())
            c.sessions.emplace(str(si->id()), aggregates::session_info{si->created_at(), si->last_seen(), str(si->ip()), si->mfa()});
    c.reset_token_hash = str(f.reset_token_hash());
    c.reset_requested_at = f.reset_requested_at();
    c.reset_expires_at = f.reset_expires_at();
    c.last_login_at = f.last_login_at();
    return st;
}

aggregates::invitation_status status_from(fb::InvitationStatus s) {
    switch (s) {
        case fb::InvitationStatus::sent: return aggregates::invitation_status::sent;
        case fb::InvitationStatus::registered: return aggregates::invitation_status::registered;
        case fb::InvitationStatus::revoked: return aggregates::invitation_status::revoked;
    }
    throw std::runtime_error("unknown invitation status " + std::to_string(static_cast<int>(s)));
}

aggregates::client_state client_from(const fb::Client& f) {
    aggregates::client_state c;
    c.id = str(f.id());
    c.version = f.version();
    c.profile = events::ClientAdded{str(f.first_name()), str(f.last_name()), str(f.date_of_birth()),
                                    str(f.email()),      str(f.phone()),     str(f.external_id())};
    c.created_at = f.created_at();
    for (auto& id : strs(f.assigned_staff())) c.assigned_staff.insert(std::move(id));
    if (f.invitations())
        for (const auto* i : *f.invitations())
            c.invitations[str(i->id())] = aggregates::invitation_state{
                str(i->id()), str(i->email()),       str(i->token_hash()),       i->sent_at(),
                i->expires_at(), status_from(i->status()), str(i->portal_account_id())};
    if (const auto* a = f.portal()) {
        aggregates::portal_account_state p;
        p.id = str(a->id());
        p.username = str(a->username());
        p.password_hash = str(a->password_hash());
        p.invitation_id = str(a->invitation_id());
        p.created_at = a->created_at();
        p.failed_attempts = a->failed_attempts();
        p.locked = a->locked();
        p.locked_until = a->locked_until();
        p.last_login_at = a->last_login_at();
        p.require_password_change = a->require_password_change();
        p.reset_token_hash = str(a->reset_token_hash());
        p.reset_requested_at = a->reset_requested_at();
        p.reset_expires_at = a->reset_expires_at();
        if (a->sessions())
            for (const auto* si : *a->sessions())
                p.sessions.emplace(str(si->id()), aggregates::portal_session_info{si->created_at(), str(si->ip()), si->last_seen()});
        c.portal = std::move(p);
    }
    if (f.threads())
        for (const auto* t : *f.threads())
            c.threads[str(t->id())] = aggregates::thread_state{str(t->id()), str(t->staff_id()), t->started_at(),
                                                               t->last_message_at(), t->messages()};
    if (f.kiosks())
        for (const auto* k : *f.kiosks())
            c.kiosks[str(k->id())] = aggregates::kiosk_state{
                str(k->id()),         str(k->form_id()), str(k->document_id()), str(k->appointment_id()),
                str(k->token_hash()), k->started_at(),   k->expires_at(),       str(k->started_by()),
                k->submitted(),       k->submitted_at()};
    return c;
}

// What the agency's indexes read of a staff member (detail::index_staff) and of a client
// (detail::index_client), without the rest: a restart builds the indexes of a million aggregates
// from these and keeps none of them (the writer's snapshot tests compare the indexes so built
// with those of the whole aggregates).
aggregates::staff_state staff_index_fields(const fb::Staff& f) {
    aggregates::staff_state st;
    st.id = str(f.id());
    st.active = f.active();
    st.profile.username = str(f.username());
    st.profile.role = str(f.role());
    if (f.sessions())
        for (const auto* si : *f.sessions()) st.credentials.sessions.emplace(str(si->id()), aggregates::session_info{});
    st.credentials.reset_token_hash = str(f.reset_token_hash());
    return st;
}

aggregates::client_state client_index_fields(const fb::Client& f) {
    aggregates::client_state c;
    c.id = str(f.id());
    c.profile.external_id = str(f.external_id());
    if (f.invitations())
        for (const auto* i : *f.invitations()) {
            aggregates::invitation_state inv;
            inv.id = str(i->id());
            inv.token_hash = str(i->token_hash());
            inv.status = status_from(i->status());
            c.invitations.emplace(inv.id, std::move(inv));
        }
    if (const auto* a = f.portal()) {
        aggregates::portal_account_state p;
        p.id = str(a->id());
        p.username = str(a->username());
        p.reset_token_hash = str(a->reset_token_hash());
        if (a->sessions())
            for (const auto* si : *a->sessions()) p.sessions.emplace(str(si->id()), aggregates::portal_session_info{});
        c.portal = std::move(p);
    }
    if (f.threads())
        for (const auto* t : *f.threads()) c.threads.emplace(str(t->id()), aggregates::thread_state{});
    if (f.kiosks())
        for (const auto* k : *f.kiosks()) {
            aggregates::kiosk_state ks;
            ks.token_hash = str(k->token_hash());
            c.kiosks.emplace(str(k->id()), std::move(ks));
        }
    return c;
}

std::shared_ptr<idem_record> command_from(const fb::Command& f) {
    auto r = std::make_shared<idem_record>();
    r->aggregate_id = str(f.aggregate_id());
    r->version = f.version();
    r->token = str(f.token());
    r->at = f.at();
    r->ordinal = f.ordinal();
    if (f.events())
        for (const auto* ev : *f.events()) {
            if (!ev->bytes()) throw std::runtime_error("an event without bytes");
            auto e = events::decode(std::span<const std::uint8_t>(ev->bytes()->data(), ev->bytes()->size()));
            if (!e) throw std::runtime_error(e.error().detail);
            r->events.push_back(std::move(*e));
        }
    return r;
}

// A stored value as the entry it must be, verified; throws when it is damaged or another kind.
const fb::Value& verified_value(std::string_view stored, std::vector<std::uint8_t>& aligned) {
    aligned.assign(stored.begin(), stored.end());  // FlatBuffers reads scalars in place
    flatbuffers::Verifier verifier(aligned.data(), aligned.size());
    if (aligned.size() < 8 || !fb::ValueBufferHasIdentifier(aligned.data()) || !fb::VerifyValueBuffer(verifier))
        throw std::runtime_error("the value does not verify");
    return *fb::GetValue(aligned.data());
}

// The same, naming the entry when it does not verify.
const fb::Value& verified_entry(const std::string& key, std::string_view stored, std::vector<std::uint8_t>& aligned) {
    try {
        return verified_value(stored, aligned);
    } catch (const std::exception& e) {
        throw std::runtime_error("snapshot entry " + key + ": " + e.what());
    }
}

}  // namespace

std::string staff_entry_key(const std::string& agency_id, const std::string& staff_id) {
    return std::string(snapshot_prefix) + agency_id + "/s/" + staff_id;
}
std::string client_entry_key(const std::string& agency_id, const std::string& client_id) {
    return std::string(snapshot_prefix) + agency_id + "/c/" + client_id;
}

namespace {
// The aggregate stored under `key` (decoded by `from` from the entry `as` picks), or nullopt when
// none is; throws when the entry is of another kind or another aggregate.
template <class Entry, class From>
auto stored_aggregate(const entry_reader& get, const std::string& key, const std::string& id, const char* what,
                      const Entry* (fb::Value::*as)() const, From from) -> std::optional<decltype(from(std::declval<const Entry&>()))> {
    auto stored = get(key);
    if (!stored) return std::nullopt;
    std::vector<std::uint8_t> aligned;
    const auto* f = (verified_entry(key, *stored, aligned).*as)();
    if (!f || str(f->id()) != id) throw std::runtime_error("snapshot entry " + key + " is not that " + what);
    return from(*f);
}
}  // namespace

void read_back_from(agency_log& log, const std::string& agency_id, entry_reader get) {
    auto reader = std::make_shared<entry_reader>(std::move(get));
    log.state.staff.set_source([reader, agency_id](const std::string& id) {
        return stored_aggregate(*reader, staff_entry_key(agency_id, id), id, "staff member", &fb::Value::entry_as_Staff,
                                staff_from);
    });
    log.state.clients.set_source([reader, agency_id](const std::string& id) {
        return stored_aggregate(*reader, client_entry_key(agency_id, id), id, "client", &fb::Value::entry_as_Client,
                                client_from);
    });
}

void take_changes(const std::string& agency_id, agency_log& log, snapshot_entries& out) {
    auto& m = log.changed;
    if (m.empty()) return;
    const std::string base = std::string(snapshot_prefix) + agency_id;
    out.emplace_back(base, encode_agency(log));  // the chain's end and the live record range, always
    // A changed aggregate stays in memory until it is taken here (the writer evicts none that
    // changed); the lookup falls back to reading one back only if that ever did not hold.
    auto changed_one = [](auto& map, const std::string& id) {
        auto it = map.find_resident(id);
        return it != map.end() ? it : map.find(id);
    };
    for (const auto& id : m.staff)
        if (auto it = changed_one(log.state.staff, id); it != log.state.staff.end())
            out.emplace_back(base + "/s/" + id, encode_staff(it->second));
    for (const auto& id : m.clients)
        if (auto it = changed_one(log.state.clients, id); it != log.state.clients.end())
            out.emplace_back(base + "/c/" + id, encode_client(it->second));
    for (const auto& key : m.commands)
        if (auto it = log.commands.find(key); it != log.commands.end())
            out.emplace_back(base + "/i/" + std::to_string(it->second->ordinal % snapshot_command_slots),
                             encode_command(key, *it->second));
    m = snapshot_marks{};
}

void mark_all_changed(agency_log& log) {
    log.changed.agency = true;
    for (const auto& [id, _] : log.state.staff) log.changed.staff.insert(id);
    for (const auto& [id, _] : log.state.clients) log.changed.clients.insert(id);
    for (const auto& [key, _] : log.commands) log.changed.commands.insert(key);
}

result<std::unordered_map<std::string, agency_log>> load_snapshot(const snapshot_entries& entries, snapshot_load what) {
    return load_snapshot(
        [&](const snapshot_visitor& visit) {
            for (const auto& [key, value] : entries) visit(key, value);
        },
        what);
}

result<std::unordered_map<std::string, agency_log>> load_snapshot(
    const std::function<void(const snapshot_visitor&)>& each, snapshot_load what) {
    const bool everything = what == snapshot_load::everything;
    // A reservation from an entry's count is capped: the count is read from disk.
    constexpr std::uint64_t most_reserved = 1u << 20;
    struct loading {
        agency_log log;
        bool has_agency = false;
        std::uint64_t first = 0, next = 0;
        std::vector<std::pair<std::string, std::shared_ptr<idem_record>>> commands;
        std::vector<std::uint64_t> damaged_slots;  // record slots whose value does not verify
    };
    std::unordered_map<std::string, loading> by_agency;
    std::string at_key;
    try {
        // Entries come sorted from the store, an agency's together: look its log up once per run.
        std::string current;
        loading* L_ = nullptr;
        std::vector<std::uint8_t> aligned;  // FlatBuffers reads scalars in place: one reused copy
        each([&](std::string_view key, std::string_view stored) {
            at_key = key;
            aligned.assign(stored.begin(), stored.end());
            const std::string_view value(reinterpret_cast<const char*>(aligned.data()), aligned.size());
            if (!key.starts_with(snapshot_prefix)) throw std::runtime_error("not a snapshot entry");
            const auto rest = key.substr(snapshot_prefix.size());
            const auto slash = rest.find('/');
            const auto agency = rest.substr(0, slash);
            if (!L_ || agency != current) {
                L_ = &by_agency[std::string(agency)];
                current.assign(agency);
            }
            auto& L = *L_;
            const auto* data = reinterpret_cast<const std::uint8_t*>(value.data());
            flatbuffers::Verifier verifier(data, value.size());
            if (value.size() < 8 || !fb::ValueBufferHasIdentifier(data) || !fb::VerifyValueBuffer(verifier)) {
                // A slot outside the live range is never read: its damage matters only if it is live.
                std::uint64_t slot = 0;
                const auto tail = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
                if (tail.starts_with("/i/") &&
                    std::from_chars(tail.data() + 3, tail.data() + tail.size(), slot).ec == std::errc{}) {
                    L.damaged_slots.push_back(slot);
                    return;
                }
                throw std::runtime_error("the value does not verify");
            }
            const auto* v = fb::GetValue(data);
            switch (v->entry_type()) {
                case fb::Entry::Agency: {
                    const auto* a = v->entry_as_Agency();
                    if (slash != std::string_view::npos) throw std::runtime_error("an agency entry under a sub-key");
                    if (a->command_slots() != snapshot_command_slots)
                        throw std::runtime_error("idempotency slots of another build");
                    agency_from(*a, L.log);
                    const auto staff = std::min<std::uint64_t>(a->staff_count(), most_reserved);
                    const auto clients = std::min<std::uint64_t>(a->client_count(), most_reserved);
                    if (everything) {
                        L.log.state.staff.reserve(staff);
                        L.log.state.clients.reserve(clients);
                    } else {
                        L.log.state.staff.reserve_ids(staff);
                        L.log.state.clients.reserve_ids(clients);
                    }
                    L.first = a->first_command();
                    L.next = a->next_command();
                    L.has_agency = true;
                    break;
                }
                case fb::Entry::Staff:
                    if (everything)
                        aggregates::restore(L.log.state, staff_from(*v->entry_as_Staff()));
                    else
                        aggregates::restore_indexes(L.log.state, staff_index_fields(*v->entry_as_Staff()));
                    break;
                case fb::Entry::Client:
                    if (everything)
                        aggregates::restore(L.log.state, client_from(*v->entry_as_Client()));
                    else
                        aggregates::restore_indexes(L.log.state, client_index_fields(*v->entry_as_Client()));
                    break;
                case fb::Entry::Command: {
                    const auto* c = v->entry_as_Command();
                    L.commands.emplace_back(str(c->key()), command_from(*c));
                    break;
                }
                default: throw std::runtime_error("an entry of an unknown kind");
            }
        });
        at_key.clear();
        std::unordered_map<std::string, agency_log> out;
        for (auto& [agency, L] : by_agency) {
            at_key = std::string(snapshot_prefix) + agency;
            if (!L.has_agency) throw std::runtime_error("entries without their agency entry");
            if (L.next < L.first || L.next - L.first > snapshot_command_slots)
                throw std::runtime_error("an impossible idempotency range");
            for (auto slot : L.damaged_slots)
                if ((slot + snapshot_command_slots - L.first % snapshot_command_slots) % snapshot_command_slots <
                    L.next - L.first)
                    throw std::runtime_error("the live idempotency slot " + std::to_string(slot) + " does not verify");
            // Slots outside the live range hold evicted records: they are not loaded.
            std::erase_if(L.commands, [&](const auto& c) { return c.second->ordinal < L.first || c.second->ordinal >= L.next; });
            if (L.commands.size() != L.next - L.first) throw std::runtime_error("live idempotency records missing");
            std::sort(L.commands.begin(), L.commands.end(),
                      [](const auto& a, const auto& b) { return a.second->ordinal < b.second->ordinal; });
            for (auto& [key, r] : L.commands) {
                if (!L.log.commands.emplace(key, std::move(r)).second)
                    throw std::runtime_error("an idempotency key twice");
                L.log.command_order.push_back(key);
            }
            L.log.next_ordinal = L.next;
            out.emplace(agency, std::move(L.log));
        }
        return out;
    } catch (const std::exception& e) {
        return fail(errc::malformed, "snapshot entry " + at_key + ": " + e.what());
    }
}

}  // namespace carelog::writer
