// Events as JSON for listings. Password hashes never leave the service, not even hashed; nor does
// the sealed TOTP secret.
#include "carelog/base/overloaded.hpp"
#include "carelog/events/event_json.hpp"

#include <boost/json.hpp>

namespace carelog::events {
namespace json = boost::json;
namespace {

using carelog::overloaded;

json::array arr(const strings& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}
json::array phones(const std::vector<Phone>& v) {
    json::array a;
    for (const auto& p : v) a.emplace_back(json::object{{"kind", p.kind}, {"number", p.number}});
    return a;
}
template <class T>
void put(json::object& o, const char* k, const std::optional<T>& v) {
    if (v) o[k] = json::value_from(*v);
}

}  // namespace

json::object settings_to_json(const Settings& s) {
    json::object o;
    put(o, "name", s.name);
    put(o, "client_portal_enabled", s.client_portal_enabled);
    put(o, "messaging_enabled", s.messaging_enabled);
    put(o, "password_min_length", s.password_min_length);
    put(o, "password_require_upper", s.password_require_upper);
    put(o, "password_require_lower", s.password_require_lower);
    put(o, "password_require_digit", s.password_require_digit);
    put(o, "password_require_symbol", s.password_require_symbol);
    put(o, "password_disallow_username", s.password_disallow_username);
    put(o, "lockout_threshold", s.lockout_threshold);
    put(o, "lockout_minutes", s.lockout_minutes);
    put(o, "session_idle_minutes", s.session_idle_minutes);
    put(o, "password_expiry_days", s.password_expiry_days);
    if (s.mfa_required_roles) o["mfa_required_roles"] = arr(*s.mfa_required_roles);
    if (s.services) o["services"] = arr(*s.services);
    return o;
}

namespace {

}  // namespace

json::object payload_to_json(const payload& p) {
    return std::visit(
        overloaded{
            [](const AgencyCreated& e) {
                return json::object{{"name", e.name}, {"slug", e.slug}, {"settings", settings_to_json(e.settings)}};
            },
            [](const AgencySettingsChanged& e) { return json::object{{"settings", settings_to_json(e.settings)}}; },
            [](const LocationAdded& e) {
                return json::object{{"location_id", e.location_id}, {"name", e.name}, {"address", e.address}};
            },
            [](const ProgramAdded& e) { return json::object{{"program_id", e.program_id}, {"name", e.name}}; },
            [](const StaffCreated& e) {
                return json::object{{"first_name", e.first_name},
                                    {"middle_name", e.middle_name},
                                    {"last_name", e.last_name},
                                    {"gender", e.gender},
                                    {"position", e.position},
                                    {"email", e.email},
                                    {"username", e.username},
                                    {"role", e.role},
                                    {"type", e.staff_type},
                                    {"location_ids", arr(e.location_ids)},
                                    {"program_ids", arr(e.program_ids)},
                                    {"hire_date", e.hire_date},
                                    {"phones", phones(e.phones)},
                                    {"npi", e.npi},
                                    {"supervisor_id", e.supervisor_id},
                                    {"require_password_change", e.require_password_change}};
            },
            [](const StaffProfileUpdated& e) {
                json::object o;
                put(o, "first_name", e.first_name);
                put(o, "middle_name", e.middle_name);
                put(o, "last_name", e.last_name);
                put(o, "gender", e.gender);
                put(o, "position", e.position);
                put(o, "email", e.email);
                put(o, "hire_date", e.hire_date);
                if (e.phones) o["phones"] = phones(*e.phones);
                put(o, "npi", e.npi);
                put(o, "supervisor_id", e.supervisor_id);
                return o;
            },
            [](const RoleAssigned& e) { return json::object{{"role", e.role}}; },
            [](const StaffTypeSet& e) { return json::object{{"type", e.staff_type}}; },
            [](const StaffLocationsSet& e) { return json::object{{"location_ids", arr(e.location_ids)}}; },
            [](const StaffProgramsSet& e) { return json::object{{"program_ids", arr(e.program_ids)}}; },
            [](const ModulePermissionGranted& e) { return json::object{{"permission", e.permission}}; },
            [](const ModulePermissionRevoked& e) { return json::object{{"permission", e.permission}}; },
            [](const StaffDeactivated& e) { return json::object{{"reason", e.reason}}; },
            // Identity: never the password hash nor the sealed TOTP secret. Session ids and reset
            // token hashes are SHA-256 of random 256-bit tokens: they identify, they do not open.
            [](const PasswordChanged& e) {
                json::object o{{"reason", e.reason}, {"require_change_next_logon", e.require_change_next_logon}};
                if (!e.reset_token_hash.empty()) o["reset_token_hash"] = e.reset_token_hash;
                return o;
            },
            [](const PasswordResetRequested& e) {
                return json::object{{"token_hash", e.token_hash}, {"expires_at", format_rfc3339(e.expires_at)}};
            },
            [](const LoginSucceeded& e) {
                json::object o{{"session_id", e.session_id}, {"ip", e.ip},   {"user_agent", e.user_agent},
                               {"mfa", e.mfa},               {"mfa_enrollment_required", e.mfa_enrollment_required}};
                if (e.totp_step != 0) o["totp_step"] = e.totp_step;
                return o;
            },
            [](const LoginFailed& e) {
                return json::object{{"username_tried", e.username_tried},
                                    {"ip", e.ip},
                                    {"user_agent", e.user_agent},
                                    {"reason", e.reason}};
            },
            [](const AccountLocked& e) {
                // until null: only an administrator unlocks
                json::value until = e.until == 0 ? json::value(nullptr) : json::value(format_rfc3339(e.until));
                return json::object{{"until", until}, {"failures", e.failures}};
            },
            [](const AccountUnlocked& e) { return json::object{{"by", e.by}}; },
            [](const MfaEnrolled&) { return json::object{{"method", "totp"}}; },
            [](const MfaConfirmed& e) { return json::object{{"step", e.step}}; },
            [](const MfaReset& e) { return json::object{{"by", e.by}}; },
            [](const SessionEnded& e) { return json::object{{"session_id", e.session_id}, {"reason", e.reason}}; },
            [](const SessionTouched& e) { return json::object{{"session_id", e.session_id}}; },
            // Clients and the client portal: never the portal password hash. Message bodies and kiosk
            // answers are part of the client's record, so the client's history shows them.
            [](const ClientAdded& e) {
                return json::object{{"first_name", e.first_name}, {"last_name", e.last_name},
                                    {"date_of_birth", e.date_of_birth}, {"email", e.email},
                                    {"phone", e.phone}, {"external_id", e.external_id}};
            },
            [](const StaffAssignedToClient& e) { return json::object{{"staff_id", e.staff_id}}; },
            [](const StaffUnassignedFromClient& e) { return json::object{{"staff_id", e.staff_id}}; },
            [](const InvitationSent& e) {
                return json::object{{"invitation_id", e.invitation_id}, {"email", e.email},
                                    {"expires_at", format_rfc3339(e.expires_at)}, {"token_hash", e.token_hash}};
            },
            [](const InvitationResent& e) {
                return json::object{{"invitation_id", e.invitation_id},
                                    {"expires_at", format_rfc3339(e.expires_at)},
                                    {"token_hash", e.token_hash}};
            },
            [](const InvitationRevoked& e) { return json::object{{"invitation_id", e.invitation_id}}; },
            [](const InvitationAccepted& e) {
                return json::object{{"invitation_id", e.invitation_id}, {"portal_account_id", e.portal_account_id}};
            },
            [](const PortalUsernameChosen& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"username", e.username}};
            },
            [](const PortalLoginSucceeded& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"session_id", e.session_id},
                                    {"ip", e.ip}, {"user_agent", e.user_agent}};
            },
            [](const PortalLoginFailed& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"username_tried", e.username_tried},
                                    {"ip", e.ip}, {"user_agent", e.user_agent}, {"reason", e.reason}};
            },
            [](const PortalAccountLocked& e) {
                json::value until = e.until == 0 ? json::value(nullptr) : json::value(format_rfc3339(e.until));
                return json::object{{"portal_account_id", e.portal_account_id}, {"until", until},
                                    {"failures", e.failures}};
            },
            [](const PortalAccountUnlocked& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"by", e.by}};
            },
            [](const PortalSessionTouched& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"session_id", e.session_id}};
            },
            [](const PortalPasswordChanged& e) {  // never the hash
                return json::object{{"portal_account_id", e.portal_account_id},
                                    {"require_change_next_logon", e.require_change_next_logon},
                                    {"reason", e.reason}, {"note", e.note}};
            },
            [](const PortalPasswordResetRequested& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"token_hash", e.token_hash},
                                    {"expires_at", format_rfc3339(e.expires_at)}};
            },
            [](const PortalSessionEnded& e) {
                return json::object{{"portal_account_id", e.portal_account_id}, {"session_id", e.session_id},
                                    {"reason", e.reason}};
            },
            [](const MessageSent& e) {
                return json::object{{"thread_id", e.thread_id}, {"message_id", e.message_id},
                                    {"sender_kind", e.sender_kind}, {"sender_id", e.sender_id},
                                    {"staff_id", e.staff_id}, {"body", e.body}};
            },
            [](const KioskSessionStarted& e) {
                return json::object{{"kiosk_session_id", e.kiosk_session_id},
                                    {"client_id", e.client_id},
                                    {"form_id", e.form_id.empty() ? json::value(nullptr) : json::value(e.form_id)},
                                    {"document_id", e.document_id.empty() ? json::value(nullptr) : json::value(e.document_id)},
                                    {"appointment_id",
                                     e.appointment_id.empty() ? json::value(nullptr) : json::value(e.appointment_id)},
                                    {"token_hash", e.token_hash},
                                    {"expires_at", format_rfc3339(e.expires_at)},
                                    {"started_by", e.started_by}};
            },
            [](const KioskFormSubmitted& e) {
                // The answers are JSON text; shown parsed when they parse (decide only accepts objects).
                boost::system::error_code ec;
                auto v = json::parse(e.answers, ec);
                return json::object{{"kiosk_session_id", e.kiosk_session_id},
                                    {"answers", ec ? json::value(e.answers) : std::move(v)}};
            },
        },
        p);
}

json::object listing_json(const envelope& e) {
    return json::object{
        {"event_type", event_type_name(e.data)},
        {"event_id", e.event_id},
        {"agency_id", e.agency_id},
        {"sequence", e.sequence},
        {"aggregate_type", e.aggregate_type},
        {"aggregate_id", e.aggregate_id},
        {"aggregate_version", e.aggregate_version},
        {"occurred_at", format_rfc3339(e.occurred_at)},
        {"actor_id", e.actor_id},
        {"command_id", e.command_id},
        {"correlation_id", e.correlation_id},
        {"causation_id", e.causation_id},
        {"prev_hash", to_hex(e.prev_hash)},
        {"hash", to_hex(e.hash)},
        {"data", payload_to_json(e.data)},
    };
}

}  // namespace carelog::events
