// FlatBuffers <-> C++ for the envelope and every payload. Decoding runs the verifier first and
// then checks what the schema cannot say (32-byte hashes, a known payload, ids present).
#include "carelog/base/overloaded.hpp"
#include "carelog/events/envelope_codec.hpp"

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "carelog/events/carelog_events_generated.h"

namespace carelog::events {
namespace {

namespace fb = carelog::fb;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::String;
using flatbuffers::Vector;

using carelog::overloaded;

// ---------- encode ----------

Offset<String> str(FlatBufferBuilder& b, const std::string& s) { return b.CreateString(s); }
Offset<String> opt_str(FlatBufferBuilder& b, const std::optional<std::string>& s) {
    return s ? b.CreateString(*s) : 0;
}
Offset<Vector<Offset<String>>> strs(FlatBufferBuilder& b, const strings& v) { return b.CreateVectorOfStrings(v); }
Offset<Vector<Offset<String>>> opt_strs(FlatBufferBuilder& b, const std::optional<strings>& v) {
    return v ? b.CreateVectorOfStrings(*v) : 0;
}
template <class T>
flatbuffers::Optional<T> opt(const std::optional<T>& v) {
    return v ? flatbuffers::Optional<T>(*v) : flatbuffers::nullopt;
}
Offset<Vector<Offset<fb::Phone>>> phones(FlatBufferBuilder& b, const std::vector<Phone>& v) {
    std::vector<Offset<fb::Phone>> out;
    out.reserve(v.size());
    for (const auto& p : v) out.push_back(fb::CreatePhone(b, str(b, p.kind), str(b, p.number)));
    return b.CreateVector(out);
}

Offset<fb::Settings> settings(FlatBufferBuilder& b, const Settings& s) {
    auto name = opt_str(b, s.name);
    auto mfa = opt_strs(b, s.mfa_required_roles);
    auto services = opt_strs(b, s.services);
    return fb::CreateSettings(b, name, opt(s.client_portal_enabled), opt(s.messaging_enabled),
                              opt(s.password_min_length), opt(s.password_require_upper),
                              opt(s.password_require_lower), opt(s.password_require_digit),
                              opt(s.password_require_symbol), opt(s.password_disallow_username),
                              opt(s.lockout_threshold), opt(s.lockout_minutes), opt(s.session_idle_minutes),
                              opt(s.password_expiry_days), mfa, services);
}

std::pair<fb::Payload, Offset<void>> encode_payload(FlatBufferBuilder& b, const payload& p) {
    return std::visit(
        overloaded{
            [&](const AgencyCreated& e) -> std::pair<fb::Payload, Offset<void>> {
                auto n = str(b, e.name), s = str(b, e.slug);
                auto st = settings(b, e.settings);
                return {fb::Payload::AgencyCreated, fb::CreateAgencyCreated(b, n, s, st).Union()};
            },
            [&](const AgencySettingsChanged& e) -> std::pair<fb::Payload, Offset<void>> {
                auto st = settings(b, e.settings);
                return {fb::Payload::AgencySettingsChanged, fb::CreateAgencySettingsChanged(b, st).Union()};
            },
            [&](const LocationAdded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.location_id), n = str(b, e.name), a = str(b, e.address);
                return {fb::Payload::LocationAdded, fb::CreateLocationAdded(b, i, n, a).Union()};
            },
            [&](const ProgramAdded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.program_id), n = str(b, e.name);
                return {fb::Payload::ProgramAdded, fb::CreateProgramAdded(b, i, n).Union()};
            },
            [&](const StaffCreated& e) -> std::pair<fb::Payload, Offset<void>> {
                auto fn = str(b, e.first_name), mn = str(b, e.middle_name), ln = str(b, e.last_name);
                auto g = str(b, e.gender), pos = str(b, e.position), em = str(b, e.email);
                auto un = str(b, e.username), r = str(b, e.role), t = str(b, e.staff_type);
                auto locs = strs(b, e.location_ids), progs = strs(b, e.program_ids);
                auto hd = str(b, e.hire_date);
                auto ph = phones(b, e.phones);
                auto npi = str(b, e.npi), sup = str(b, e.supervisor_id), pw = str(b, e.password_hash);
                return {fb::Payload::StaffCreated,
                        fb::CreateStaffCreated(b, fn, mn, ln, g, pos, em, un, r, t, locs, progs, hd, ph, npi, sup,
                                               e.require_password_change, pw)
                            .Union()};
            },
            [&](const StaffProfileUpdated& e) -> std::pair<fb::Payload, Offset<void>> {
                auto fn = opt_str(b, e.first_name), mn = opt_str(b, e.middle_name), ln = opt_str(b, e.last_name);
                auto g = opt_str(b, e.gender), pos = opt_str(b, e.position), em = opt_str(b, e.email);
                auto hd = opt_str(b, e.hire_date);
                Offset<Vector<Offset<fb::Phone>>> ph = e.phones ? phones(b, *e.phones) : 0;
                auto npi = opt_str(b, e.npi), sup = opt_str(b, e.supervisor_id);
                return {fb::Payload::StaffProfileUpdated,
                        fb::CreateStaffProfileUpdated(b, fn, mn, ln, g, pos, em, hd, ph, npi, sup).Union()};
            },
            [&](const RoleAssigned& e) -> std::pair<fb::Payload, Offset<void>> {
                auto r = str(b, e.role);
                return {fb::Payload::RoleAssigned, fb::CreateRoleAssigned(b, r).Union()};
            },
            [&](const StaffTypeSet& e) -> std::pair<fb::Payload, Offset<void>> {
                auto t = str(b, e.staff_type);
                return {fb::Payload::StaffTypeSet, fb::CreateStaffTypeSet(b, t).Union()};
            },
            [&](const StaffLocationsSet& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = strs(b, e.location_ids);
                return {fb::Payload::StaffLocationsSet, fb::CreateStaffLocationsSet(b, v).Union()};
            },
            [&](const StaffProgramsSet& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = strs(b, e.program_ids);
                return {fb::Payload::StaffProgramsSet, fb::CreateStaffProgramsSet(b, v).Union()};
            },
            [&](const ModulePermissionGranted& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.permission);
                return {fb::Payload::ModulePermissionGranted, fb::CreateModulePermissionGranted(b, v).Union()};
            },
            [&](const ModulePermissionRevoked& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.permission);
                return {fb::Payload::ModulePermissionRevoked, fb::CreateModulePermissionRevoked(b, v).Union()};
            },
            [&](const StaffDeactivated& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.reason);
                return {fb::Payload::StaffDeactivated, fb::CreateStaffDeactivated(b, v).Union()};
            },
            [&](const PasswordChanged& e) -> std::pair<fb::Payload, Offset<void>> {
                auto h = str(b, e.password_hash), r = str(b, e.reason), t = str(b, e.reset_token_hash);
                return {fb::Payload::PasswordChanged,
                        fb::CreatePasswordChanged(b, h, e.require_change_next_logon, r, t).Union()};
            },
            [&](const PasswordResetRequested& e) -> std::pair<fb::Payload, Offset<void>> {
                auto t = str(b, e.token_hash);
                return {fb::Payload::PasswordResetRequested,
                        fb::CreatePasswordResetRequested(b, t, e.expires_at).Union()};
            },
            [&](const LoginSucceeded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto sid = str(b, e.session_id), ip = str(b, e.ip), ua = str(b, e.user_agent);
                return {fb::Payload::LoginSucceeded,
                        fb::CreateLoginSucceeded(b, sid, ip, ua, e.mfa, e.mfa_enrollment_required, e.totp_step)
                            .Union()};
            },
            [&](const LoginFailed& e) -> std::pair<fb::Payload, Offset<void>> {
                auto u = str(b, e.username_tried), ip = str(b, e.ip), ua = str(b, e.user_agent);
                auto r = str(b, e.reason);
                return {fb::Payload::LoginFailed, fb::CreateLoginFailed(b, u, ip, ua, r).Union()};
            },
            [&](const AccountLocked& e) -> std::pair<fb::Payload, Offset<void>> {
                return {fb::Payload::AccountLocked, fb::CreateAccountLocked(b, e.until, e.failures).Union()};
            },
            [&](const AccountUnlocked& e) -> std::pair<fb::Payload, Offset<void>> {
                auto by = str(b, e.by);
                return {fb::Payload::AccountUnlocked, fb::CreateAccountUnlocked(b, by).Union()};
            },
            [&](const MfaEnrolled& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.secret_sealed);
                return {fb::Payload::MfaEnrolled, fb::CreateMfaEnrolled(b, v).Union()};
            },
            [&](const MfaConfirmed& e) -> std::pair<fb::Payload, Offset<void>> {
                return {fb::Payload::MfaConfirmed, fb::CreateMfaConfirmed(b, e.step).Union()};
            },
            [&](const MfaReset& e) -> std::pair<fb::Payload, Offset<void>> {
                auto by = str(b, e.by);
                return {fb::Payload::MfaReset, fb::CreateMfaReset(b, by).Union()};
            },
            [&](const SessionEnded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto sid = str(b, e.session_id), r = str(b, e.reason);
                return {fb::Payload::SessionEnded, fb::CreateSessionEnded(b, sid, r).Union()};
            },
            [&](const SessionTouched& e) -> std::pair<fb::Payload, Offset<void>> {
                auto sid = str(b, e.session_id);
                return {fb::Payload::SessionTouched, fb::CreateSessionTouched(b, sid).Union()};
            },
            // ---- clients and the client portal ----
            [&](const ClientAdded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto fn = str(b, e.first_name), ln = str(b, e.last_name), dob = str(b, e.date_of_birth);
                auto em = str(b, e.email), ph = str(b, e.phone), ext = str(b, e.external_id);
                return {fb::Payload::ClientAdded, fb::CreateClientAdded(b, fn, ln, dob, em, ph, ext).Union()};
            },
            [&](const StaffAssignedToClient& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.staff_id);
                return {fb::Payload::StaffAssignedToClient, fb::CreateStaffAssignedToClient(b, v).Union()};
            },
            [&](const StaffUnassignedFromClient& e) -> std::pair<fb::Payload, Offset<void>> {
                auto v = str(b, e.staff_id);
                return {fb::Payload::StaffUnassignedFromClient, fb::CreateStaffUnassignedFromClient(b, v).Union()};
            },
            [&](const InvitationSent& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.invitation_id), em = str(b, e.email), t = str(b, e.token_hash);
                return {fb::Payload::InvitationSent, fb::CreateInvitationSent(b, i, em, e.expires_at, t).Union()};
            },
            [&](const InvitationResent& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.invitation_id), t = str(b, e.token_hash);
                return {fb::Payload::InvitationResent, fb::CreateInvitationResent(b, i, e.expires_at, t).Union()};
            },
            [&](const InvitationRevoked& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.invitation_id);
                return {fb::Payload::InvitationRevoked, fb::CreateInvitationRevoked(b, i).Union()};
            },
            [&](const InvitationAccepted& e) -> std::pair<fb::Payload, Offset<void>> {
                auto i = str(b, e.invitation_id), a = str(b, e.portal_account_id);
                return {fb::Payload::InvitationAccepted, fb::CreateInvitationAccepted(b, i, a).Union()};
            },
            [&](const PortalUsernameChosen& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), u = str(b, e.username), h = str(b, e.password_hash);
                return {fb::Payload::PortalUsernameChosen, fb::CreatePortalUsernameChosen(b, a, u, h).Union()};
            },
            [&](const PortalLoginSucceeded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), sid = str(b, e.session_id), ip = str(b, e.ip);
                auto ua = str(b, e.user_agent);
                return {fb::Payload::PortalLoginSucceeded, fb::CreatePortalLoginSucceeded(b, a, sid, ip, ua).Union()};
            },
            [&](const PortalLoginFailed& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), u = str(b, e.username_tried), ip = str(b, e.ip);
                auto ua = str(b, e.user_agent), r = str(b, e.reason);
                return {fb::Payload::PortalLoginFailed, fb::CreatePortalLoginFailed(b, a, u, ip, ua, r).Union()};
            },
            [&](const PortalAccountLocked& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id);
                return {fb::Payload::PortalAccountLocked,
                        fb::CreatePortalAccountLocked(b, a, e.until, e.failures).Union()};
            },
            [&](const PortalAccountUnlocked& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), by = str(b, e.by);
                return {fb::Payload::PortalAccountUnlocked, fb::CreatePortalAccountUnlocked(b, a, by).Union()};
            },
            [&](const PortalSessionTouched& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), sid = str(b, e.session_id);
                return {fb::Payload::PortalSessionTouched, fb::CreatePortalSessionTouched(b, a, sid).Union()};
            },
            [&](const PortalPasswordChanged& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), h = str(b, e.password_hash), r = str(b, e.reason),
                     n = str(b, e.note);
                return {fb::Payload::PortalPasswordChanged,
                        fb::CreatePortalPasswordChanged(b, a, h, e.require_change_next_logon, r, n).Union()};
            },
            [&](const PortalPasswordResetRequested& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), t = str(b, e.token_hash);
                return {fb::Payload::PortalPasswordResetRequested,
                        fb::CreatePortalPasswordResetRequested(b, a, t, e.expires_at).Union()};
            },
            [&](const PortalSessionEnded& e) -> std::pair<fb::Payload, Offset<void>> {
                auto a = str(b, e.portal_account_id), sid = str(b, e.session_id), r = str(b, e.reason);
                return {fb::Payload::PortalSessionEnded, fb::CreatePortalSessionEnded(b, a, sid, r).Union()};
            },
            [&](const MessageSent& e) -> std::pair<fb::Payload, Offset<void>> {
                auto t = str(b, e.thread_id), m = str(b, e.message_id), k = str(b, e.sender_kind);
                auto sid = str(b, e.sender_id), body = str(b, e.body), st = str(b, e.staff_id);
                return {fb::Payload::MessageSent, fb::CreateMessageSent(b, t, m, k, sid, body, st).Union()};
            },
            [&](const KioskSessionStarted& e) -> std::pair<fb::Payload, Offset<void>> {
                auto k = str(b, e.kiosk_session_id), c = str(b, e.client_id), f = str(b, e.form_id);
                auto d = str(b, e.document_id), a = str(b, e.appointment_id), t = str(b, e.token_hash);
                auto by = str(b, e.started_by);
                return {fb::Payload::KioskSessionStarted,
                        fb::CreateKioskSessionStarted(b, k, c, f, d, a, t, e.expires_at, by).Union()};
            },
            [&](const KioskFormSubmitted& e) -> std::pair<fb::Payload, Offset<void>> {
                auto k = str(b, e.kiosk_session_id), a = str(b, e.answers);
                return {fb::Payload::KioskFormSubmitted, fb::CreateKioskFormSubmitted(b, k, a).Union()};
            },
        },
        p);
}

// ---------- decode ----------

std::string s(const String* v) { return v ? v->str() : std::string(); }
std::optional<std::string> os(const String* v) { return v ? std::optional(v->str()) : std::nullopt; }
strings ss(const Vector<Offset<String>>* v) {
    strings out;
    if (v) {
        out.reserve(v->size());
        for (auto x : *v) out.push_back(x ? x->str() : std::string());
    }
    return out;
}
std::optional<strings> oss(const Vector<Offset<String>>* v) { return v ? std::optional(ss(v)) : std::nullopt; }
template <class T>
std::optional<T> o(flatbuffers::Optional<T> v) {
    return v ? std::optional<T>(*v) : std::nullopt;
}
std::vector<Phone> ph(const Vector<Offset<fb::Phone>>* v) {
    std::vector<Phone> out;
    if (v)
        for (auto p : *v)
            if (p) out.push_back(Phone{s(p->kind()), s(p->number())});
    return out;
}
Settings st(const fb::Settings* x) {
    Settings r;
    if (!x) return r;
    r.name = os(x->name());
    r.client_portal_enabled = o(x->client_portal_enabled());
    r.messaging_enabled = o(x->messaging_enabled());
    r.password_min_length = o(x->password_min_length());
    r.password_require_upper = o(x->password_require_upper());
    r.password_require_lower = o(x->password_require_lower());
    r.password_require_digit = o(x->password_require_digit());
    r.password_require_symbol = o(x->password_require_symbol());
    r.password_disallow_username = o(x->password_disallow_username());
    r.lockout_threshold = o(x->lockout_threshold());
    r.lockout_minutes = o(x->lockout_minutes());
    r.session_idle_minutes = o(x->session_idle_minutes());
    r.password_expiry_days = o(x->password_expiry_days());
    r.mfa_required_roles = oss(x->mfa_required_roles());
    r.services = oss(x->services());
    return r;
}

result<payload> decode_payload(const fb::Envelope* env) {
    switch (env->payload_type()) {
        case fb::Payload::AgencyCreated: {
            auto x = env->payload_as_AgencyCreated();
            return AgencyCreated{s(x->name()), s(x->slug()), st(x->settings())};
        }
        case fb::Payload::AgencySettingsChanged:
            return AgencySettingsChanged{st(env->payload_as_AgencySettingsChanged()->settings())};
        case fb::Payload::LocationAdded: {
            auto x = env->payload_as_LocationAdded();
            return LocationAdded{s(x->location_id()), s(x->name()), s(x->address())};
        }
        case fb::Payload::ProgramAdded: {
            auto x = env->payload_as_ProgramAdded();
            return ProgramAdded{s(x->program_id()), s(x->name())};
        }
        case fb::Payload::StaffCreated: {
            auto x = env->payload_as_StaffCreated();
            StaffCreated e;
            e.first_name = s(x->first_name());
            e.middle_name = s(x->middle_name());
            e.last_name = s(x->last_name());
            e.gender = s(x->gender());
            e.position = s(x->position());
            e.email = s(x->email());
            e.username = s(x->username());
            e.role = s(x->role());
            e.staff_type = s(x->staff_type());
            e.location_ids = ss(x->location_ids());
            e.program_ids = ss(x->program_ids());
            e.hire_date = s(x->hire_date());
            e.phones = ph(x->phones());
            e.npi = s(x->npi());
            e.supervisor_id = s(x->supervisor_id());
            e.require_password_change = x->require_password_change();
            e.password_hash = s(x->password_hash());
            return e;
        }
        case fb::Payload::StaffProfileUpdated: {
            auto x = env->payload_as_StaffProfileUpdated();
            StaffProfileUpdated e;
            e.first_name = os(x->first_name());
            e.middle_name = os(x->middle_name());
            e.last_name = os(x->last_name());
            e.gender = os(x->gender());
            e.position = os(x->position());
            e.email = os(x->email());
            e.hire_date = os(x->hire_date());
            if (x->phones()) e.phones = ph(x->phones());
            e.npi = os(x->npi());
            e.supervisor_id = os(x->supervisor_id());
            return e;
        }
        case fb::Payload::RoleAssigned: return RoleAssigned{s(env->payload_as_RoleAssigned()->role())};
        case fb::Payload::StaffTypeSet: return StaffTypeSet{s(env->payload_as_StaffTypeSet()->staff_type())};
        case fb::Payload::StaffLocationsSet:
            return StaffLocationsSet{ss(env->payload_as_StaffLocationsSet()->location_ids())};
        case fb::Payload::StaffProgramsSet:
            return StaffProgramsSet{ss(env->payload_as_StaffProgramsSet()->program_ids())};
        case fb::Payload::ModulePermissionGranted:
            return ModulePermissionGranted{s(env->payload_as_ModulePermissionGranted()->permission())};
        case fb::Payload::ModulePermissionRevoked:
            return ModulePermissionRevoked{s(env->payload_as_ModulePermissionRevoked()->permission())};
        case fb::Payload::StaffDeactivated:
            return StaffDeactivated{s(env->payload_as_StaffDeactivated()->reason())};
        case fb::Payload::PasswordChanged: {
            auto x = env->payload_as_PasswordChanged();
            return PasswordChanged{s(x->password_hash()), x->require_change_next_logon(), s(x->reason()),
                                   s(x->reset_token_hash())};
        }
        case fb::Payload::PasswordResetRequested: {
            auto x = env->payload_as_PasswordResetRequested();
            return PasswordResetRequested{s(x->token_hash()), x->expires_at()};
        }
        case fb::Payload::LoginSucceeded: {
            auto x = env->payload_as_LoginSucceeded();
            return LoginSucceeded{s(x->session_id()), s(x->ip()), s(x->user_agent()), x->mfa(),
                                  x->mfa_enrollment_required(), x->totp_step()};
        }
        case fb::Payload::LoginFailed: {
            auto x = env->payload_as_LoginFailed();
            return LoginFailed{s(x->username_tried()), s(x->ip()), s(x->user_agent()), s(x->reason())};
        }
        case fb::Payload::AccountLocked: {
            auto x = env->payload_as_AccountLocked();
            return AccountLocked{x->until(), x->failures()};
        }
        case fb::Payload::AccountUnlocked: return AccountUnlocked{s(env->payload_as_AccountUnlocked()->by())};
        case fb::Payload::MfaEnrolled: return MfaEnrolled{s(env->payload_as_MfaEnrolled()->secret_sealed())};
        case fb::Payload::MfaConfirmed: return MfaConfirmed{env->payload_as_MfaConfirmed()->step()};
        case fb::Payload::MfaReset: return MfaReset{s(env->payload_as_MfaReset()->by())};
        case fb::Payload::SessionEnded: {
            auto x = env->payload_as_SessionEnded();
            return SessionEnded{s(x->session_id()), s(x->reason())};
        }
        case fb::Payload::SessionTouched: return SessionTouched{s(env->payload_as_SessionTouched()->session_id())};
        case fb::Payload::ClientAdded: {
            auto x = env->payload_as_ClientAdded();
            return ClientAdded{s(x->first_name()), s(x->last_name()), s(x->date_of_birth()),
                               s(x->email()),      s(x->phone()),     s(x->external_id())};
        }
        case fb::Payload::StaffAssignedToClient:
            return StaffAssignedToClient{s(env->payload_as_StaffAssignedToClient()->staff_id())};
        case fb::Payload::StaffUnassignedFromClient:
            return StaffUnassignedFromClient{s(env->payload_as_StaffUnassignedFromClient()->staff_id())};
        case fb::Payload::InvitationSent: {
            auto x = env->payload_as_InvitationSent();
            return InvitationSent{s(x->invitation_id()), s(x->email()), x->expires_at(), s(x->token_hash())};
        }
        case fb::Payload::InvitationResent: {
            auto x = env->payload_as_InvitationResent();
            return InvitationResent{s(x->invitation_id()), x->expires_at(), s(x->token_hash())};
        }
        case fb::Payload::InvitationRevoked:
            return InvitationRevoked{s(env->payload_as_InvitationRevoked()->invitation_id())};
        case fb::Payload::InvitationAccepted: {
            auto x = env->payload_as_InvitationAccepted();
            return InvitationAccepted{s(x->invitation_id()), s(x->portal_account_id())};
        }
        case fb::Payload::PortalUsernameChosen: {
            auto x = env->payload_as_PortalUsernameChosen();
            return PortalUsernameChosen{s(x->portal_account_id()), s(x->username()), s(x->password_hash())};
        }
        case fb::Payload::PortalLoginSucceeded: {
            auto x = env->payload_as_PortalLoginSucceeded();
            return PortalLoginSucceeded{s(x->portal_account_id()), s(x->session_id()), s(x->ip()),
                                        s(x->user_agent())};
        }
        case fb::Payload::PortalLoginFailed: {
            auto x = env->payload_as_PortalLoginFailed();
            return PortalLoginFailed{s(x->portal_account_id()), s(x->username_tried()), s(x->ip()),
                                     s(x->user_agent()), s(x->reason())};
        }
        case fb::Payload::PortalAccountLocked: {
            auto x = env->payload_as_PortalAccountLocked();
            return PortalAccountLocked{s(x->portal_account_id()), x->until(), x->failures()};
        }
        case fb::Payload::PortalAccountUnlocked: {
            auto x = env->payload_as_PortalAccountUnlocked();
            return PortalAccountUnlocked{s(x->portal_account_id()), s(x->by())};
        }
        case fb::Payload::PortalSessionTouched: {
            auto x = env->payload_as_PortalSessionTouched();
            return PortalSessionTouched{s(x->portal_account_id()), s(x->session_id())};
        }
        case fb::Payload::PortalPasswordChanged: {
            auto x = env->payload_as_PortalPasswordChanged();
            return PortalPasswordChanged{s(x->portal_account_id()), s(x->password_hash()),
                                         x->require_change_next_logon(), s(x->reason()), s(x->note())};
        }
        case fb::Payload::PortalPasswordResetRequested: {
            auto x = env->payload_as_PortalPasswordResetRequested();
            return PortalPasswordResetRequested{s(x->portal_account_id()), s(x->token_hash()), x->expires_at()};
        }
        case fb::Payload::PortalSessionEnded: {
            auto x = env->payload_as_PortalSessionEnded();
            return PortalSessionEnded{s(x->portal_account_id()), s(x->session_id()), s(x->reason())};
        }
        case fb::Payload::MessageSent: {
            auto x = env->payload_as_MessageSent();
            return MessageSent{s(x->thread_id()), s(x->message_id()), s(x->sender_kind()),
                               s(x->sender_id()), s(x->body()),       s(x->staff_id())};
        }
        case fb::Payload::KioskSessionStarted: {
            auto x = env->payload_as_KioskSessionStarted();
            return KioskSessionStarted{s(x->kiosk_session_id()), s(x->client_id()),  s(x->form_id()),
                                       s(x->document_id()),      s(x->appointment_id()), s(x->token_hash()),
                                       x->expires_at(),          s(x->started_by())};
        }
        case fb::Payload::KioskFormSubmitted: {
            auto x = env->payload_as_KioskFormSubmitted();
            return KioskFormSubmitted{s(x->kiosk_session_id()), s(x->answers())};
        }
        case fb::Payload::NONE: break;
    }
    return fail(errc::malformed, "unknown or missing payload type " +
                                     std::to_string(static_cast<int>(env->payload_type())));
}

result<const fb::Envelope*> verified(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 8 || bytes.size() > (64u << 20))
        return fail(errc::malformed, "buffer size " + std::to_string(bytes.size()) + " out of range");
    flatbuffers::Verifier v(bytes.data(), bytes.size());
    if (!fb::VerifyEnvelopeBuffer(v)) return fail(errc::malformed, "FlatBuffers verifier rejected the envelope");
    const auto* env = fb::GetEnvelope(bytes.data());
    if (!env->hash() || env->hash()->size() != 32) return fail(errc::malformed, "hash is not 32 bytes");
    if (!env->prev_hash() || env->prev_hash()->size() != 32)
        return fail(errc::malformed, "prev_hash is not 32 bytes");
    if (!env->agency_id() || env->agency_id()->size() == 0) return fail(errc::malformed, "agency_id missing");
    if (!env->event_id() || !env->aggregate_id()) return fail(errc::malformed, "event_id or aggregate_id missing");
    // The verifier accepts a union whose type is set and whose table is absent.
    if (env->payload_type() != fb::Payload::NONE && !env->payload())
        return fail(errc::malformed, "payload type set but payload missing");
    return env;
}

}  // namespace

std::vector<std::uint8_t> encode(envelope& e) {
    // One builder per thread, cleared and reused: the writer's lane encodes every event it
    // decides, and a new builder would allocate (and free) its 1 KiB buffer for each. A builder
    // that grew past 64 KiB (a kiosk form's event) lets its buffer go after use.
    thread_local FlatBufferBuilder b(1024);
    struct let_go_of_large {
        FlatBufferBuilder& b;
        ~let_go_of_large() {
            if (b.GetSize() > 64 * 1024) b.Reset();
        }
    } after{b};
    b.Clear();
    auto [ptype, poff] = encode_payload(b, e.data);
    auto event_id = str(b, e.event_id), agency = str(b, e.agency_id), atype = str(b, e.aggregate_type);
    auto aid = str(b, e.aggregate_id), actor = str(b, e.actor_id), cmd = str(b, e.command_id);
    auto corr = str(b, e.correlation_id), caus = str(b, e.causation_id);
    auto prev = b.CreateVector(e.prev_hash.data(), e.prev_hash.size());
    sha256_digest zero{};
    auto hash = b.CreateVector(zero.data(), zero.size());
    auto root = fb::CreateEnvelope(b, event_id, agency, atype, aid, e.aggregate_version, e.sequence, e.occurred_at,
                                   actor, cmd, corr, caus, prev, hash, e.schema_version, ptype, poff);
    b.Finish(root, fb::EnvelopeIdentifier());
    std::vector<std::uint8_t> out(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    e.hash = sha256(std::span<const std::uint8_t>(out));
    auto* mut = fb::GetMutableEnvelope(out.data())->mutable_hash();
    std::memcpy(mut->data(), e.hash.data(), e.hash.size());
    return out;
}

namespace {
// The chain hash of a verified, 8-byte aligned buffer, in place: SHA-256 of the bytes before the
// hash field, 32 zero bytes where it is, the bytes after it.
sha256_digest hash_of(std::span<const std::uint8_t> bytes, const fb::Envelope* env) {
    const auto* h = env->hash();
    const auto at = static_cast<std::size_t>(h->data() - bytes.data());
    static constexpr sha256_digest zero{};
    return sha256({bytes.first(at), std::span<const std::uint8_t>(zero), bytes.subspan(at + zero.size())});
}

result<envelope> decode_verified(const fb::Envelope* env) {
    auto p = decode_payload(env);
    if (!p) return std::unexpected(p.error());
    envelope e{};
    e.event_id = s(env->event_id());
    e.agency_id = s(env->agency_id());
    e.aggregate_type = s(env->aggregate_type());
    e.aggregate_id = s(env->aggregate_id());
    e.aggregate_version = env->aggregate_version();
    e.sequence = env->sequence();
    e.occurred_at = env->occurred_at();
    e.actor_id = s(env->actor_id());
    e.command_id = s(env->command_id());
    e.correlation_id = s(env->correlation_id());
    e.causation_id = s(env->causation_id());
    std::memcpy(e.prev_hash.data(), env->prev_hash()->data(), 32);
    std::memcpy(e.hash.data(), env->hash()->data(), 32);
    e.schema_version = env->schema_version();
    e.data = std::move(*p);
    return e;
}

// FlatBuffers reads scalars (8 bytes at most) in place: a buffer at an address that is not 8-byte
// aligned (a Kafka payload, a RocksDB value) is read from an aligned copy rather than with
// undefined behaviour. `fn` gets the aligned bytes.
template <class Fn>
auto on_aligned(std::span<const std::uint8_t> bytes, Fn&& fn) {
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) return fn(bytes);
    std::vector<std::uint8_t> aligned(bytes.begin(), bytes.end());  // operator new: 16-byte aligned
    return fn(std::span<const std::uint8_t>(aligned));
}
}  // namespace

result<sha256_digest> compute_hash(std::span<const std::uint8_t> bytes) {
    return on_aligned(bytes, [](std::span<const std::uint8_t> b) -> result<sha256_digest> {
        auto env = verified(b);
        if (!env) return std::unexpected(env.error());
        return hash_of(b, *env);
    });
}

result<envelope> decode(std::span<const std::uint8_t> bytes) {
    return on_aligned(bytes, [](std::span<const std::uint8_t> b) -> result<envelope> {
        auto env = verified(b);
        if (!env) return std::unexpected(env.error());
        return decode_verified(*env);
    });
}

result<hashed_envelope> decode_and_hash(std::span<const std::uint8_t> bytes) {
    return on_aligned(bytes, [](std::span<const std::uint8_t> b) -> result<hashed_envelope> {
        auto env = verified(b);
        if (!env) return std::unexpected(env.error());
        auto e = decode_verified(*env);
        if (!e) return std::unexpected(e.error());
        return hashed_envelope{std::move(*e), hash_of(b, *env)};
    });
}

}  // namespace carelog::events
