// The route table: method + path template -> handler, with each endpoint's auth requirement and
// the facts /openapi.json is generated from. Unknown paths are 404, known paths with another
// method 405 + Allow. Order of checks for a matched route: credentials present (401),
// X-Consistency-Token wait (400/503), session (401), permission (403), path ids (404),
// Idempotency-Key (422), handler.
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "carelog/aggregates/access.hpp"
#include "carelog/api/request.hpp"
#include "carelog/api/static_files.hpp"
#include "browser_session.hpp"
#include "carelog/base/sha256.hpp"
#include "handlers.hpp"
#include "limits.hpp"
#include "router_internal.hpp"

namespace carelog::api {
namespace detail {
namespace {

struct route {
    route_info info;
    handler_fn fn;
};

// clang-format off
namespace P = aggregates::access;
constexpr auto none = auth_kind::none;
constexpr auto op = auth_kind::operator_key;
constexpr auto session = auth_kind::session;
constexpr auto portal = auth_kind::portal_session;
constexpr auto kiosk = auth_kind::kiosk;
const route routes[] = {
    {{"GET", "/healthz", none, "", 200, false, "healthz", "Liveness: the process answers", "ops", "", "Health", ""}, healthz},
    {{"GET", "/readyz", none, "", 200, false, "readyz", "Readiness: projections caught up with the log", "ops", "", "Health", ""}, readyz},
    {{"GET", "/metrics", none, "", 200, false, "metrics", "Prometheus metrics (text format)", "ops", "", "", ""}, metrics_text},
    {{"GET", "/openapi.json", none, "", 200, false, "openapi", "This OpenAPI 3 document", "ops", "", "", ""}, openapi},

    {{"POST", "/v1/auth/login", none, "", 200, false, "login", "Log in: agency slug + username + password (+ TOTP code when enrolled)", "auth", "LoginRequest", "LoginResult", ""}, login},
    {{"POST", "/v1/auth/logout", session, P::self_sessions, 200, true, "logout", "End this session", "auth", "", "CommandResult", ""}, logout},
    {{"GET", "/v1/auth/session", session, P::self_read, 200, false, "currentSession", "Who this session is and what it must do first", "auth", "", "SessionInfo", ""}, current_session},
    {{"POST", "/v1/auth/password", session, P::self_password, 200, true, "changePassword", "Change your own password (ends your other sessions)", "auth", "PasswordChange", "CommandResult", ""}, change_password},
    {{"POST", "/v1/auth/password-reset", none, "", 202, false, "requestPasswordReset", "Forgot password: a single-use link goes out as a notification (always 202)", "auth", "PasswordResetRequest", "Accepted", ""}, request_password_reset},
    {{"POST", "/v1/auth/password-reset/confirm", none, "", 200, false, "confirmPasswordReset", "Set a new password with a reset link's token (ends every session)", "auth", "PasswordResetConfirm", "CommandResult", ""}, confirm_password_reset},
    {{"POST", "/v1/auth/mfa/enroll", session, P::self_mfa, 200, true, "enrollMfa", "Start TOTP enrolment: the secret and otpauth:// URI, shown once", "auth", "", "MfaEnrollment", ""}, enroll_mfa},
    {{"POST", "/v1/auth/mfa/confirm", session, P::self_mfa, 200, true, "confirmMfa", "Confirm TOTP enrolment with a current code", "auth", "MfaCode", "CommandResult", ""}, confirm_mfa},

    {{"POST", "/v1/agencies", op, "", 201, true, "createAgency", "Create an agency and its first admin (operator only)", "agency", "NewAgency", "AgencyCreated", ""}, create_agency},
    {{"GET", "/v1/agency/settings", session, P::agency_read, 200, false, "getAgencySettings", "The agency's settings (as_of: as they were at that time)", "agency", "", "AgencySettings", "as_of"}, get_settings},
    {{"PATCH", "/v1/agency/settings", session, P::agency_settings, 200, true, "changeAgencySettings", "Change some of the agency's settings", "agency", "SettingsPatch", "CommandResult", ""}, change_settings},

    {{"POST", "/v1/locations", session, P::locations_manage, 201, true, "addLocation", "Add a location", "agency", "NewLocation", "CommandResult", ""}, add_location},
    {{"GET", "/v1/locations", session, P::agency_read, 200, false, "listLocations", "The agency's locations", "agency", "", "LocationList", "limit,cursor"}, list_locations},
    {{"POST", "/v1/programs", session, P::programs_manage, 201, true, "addProgram", "Add a program", "agency", "NewProgram", "CommandResult", ""}, add_program},
    {{"GET", "/v1/programs", session, P::agency_read, 200, false, "listPrograms", "The agency's programs", "agency", "", "ProgramList", "limit,cursor"}, list_programs},

    {{"POST", "/v1/staff", session, P::staff_create, 201, true, "createStaff", "Add a staff member (username rule, temporary password)", "staff", "NewStaff", "StaffCreated", ""}, create_staff},
    {{"GET", "/v1/staff", session, P::staff_read, 200, false, "listStaff", "Staff directory, filtered and paged", "staff", "", "StaffList", "role,type,location_id,program_id,q,active,limit,cursor"}, list_staff},
    {{"GET", "/v1/username-preview", session, P::staff_create, 200, false, "previewStaffUsername", "The username the rule gives a new staff member of these names now (null + reason when none)", "staff", "", "UsernamePreview", "first_name,middle_name,last_name"}, preview_staff_username},
    {{"GET", "/v1/staff/{id}", session, P::staff_read, 200, false, "getStaff", "A staff member (as_of: the state at that time); administrators also see the lock state", "staff", "", "Staff", "as_of"}, get_staff},
    {{"PATCH", "/v1/staff/{id}", session, P::staff_update, 200, true, "updateStaffProfile", "Change profile fields", "staff", "StaffProfilePatch", "CommandResult", ""}, update_staff_profile},
    {{"PUT", "/v1/staff/{id}/role", session, P::staff_roles, 200, true, "assignRole", "Assign the staff member's role", "staff", "RoleBody", "CommandResult", ""}, assign_role},
    {{"PUT", "/v1/staff/{id}/type", session, P::staff_update, 200, true, "setStaffType", "Set the staff type", "staff", "TypeBody", "CommandResult", ""}, set_staff_type},
    {{"PUT", "/v1/staff/{id}/locations", session, P::staff_update, 200, true, "setStaffLocations", "Set the staff member's locations", "staff", "LocationIdsBody", "CommandResult", ""}, set_staff_locations},
    {{"PUT", "/v1/staff/{id}/programs", session, P::staff_update, 200, true, "setStaffPrograms", "Set the staff member's programs", "staff", "ProgramIdsBody", "CommandResult", ""}, set_staff_programs},
    {{"PUT", "/v1/staff/{id}/permissions", session, P::staff_permissions, 200, true, "setStaffPermissions", "Grant or revoke module permissions", "staff", "PermissionsBody", "CommandResult", ""}, set_staff_permissions},
    {{"POST", "/v1/staff/{id}/deactivate", session, P::staff_deactivate, 200, true, "deactivateStaff", "Deactivate a staff member (the username stays taken)", "staff", "DeactivateBody", "CommandResult", ""}, deactivate_staff},
    {{"POST", "/v1/staff/{id}/unlock", session, P::staff_unlock, 200, true, "unlockStaff", "Unlock an account locked after failed logins", "staff", "", "CommandResult", ""}, unlock_staff},
    {{"POST", "/v1/staff/{id}/mfa/reset", session, P::staff_mfa_reset, 200, true, "resetStaffMfa", "Remove the staff member's TOTP (lost device): they enrol again at their next login", "staff", "RecoveryBody", "CommandResult", ""}, reset_staff_mfa},
    {{"POST", "/v1/staff/{id}/temporary-password", session, P::staff_password_reset, 200, true, "setStaffTemporaryPassword", "Give the staff member a temporary password (generated unless given; shown once): unlocks the account, ends every session, must be changed at the next login", "staff", "TemporaryPasswordBody", "CommandResult", ""}, set_staff_temporary_password},
    {{"POST", "/v1/staff/{id}/sessions/end", session, P::staff_sessions, 200, true, "endStaffSessions", "End every session of the staff member", "staff", "RecoveryBody", "CommandResult", ""}, end_staff_sessions},
    {{"GET", "/v1/staff/{id}/history", session, P::events_read, 200, false, "staffHistory", "The staff member's events, oldest first, paged (100 by default)", "staff", "", "EventList", "limit,cursor"}, staff_history},

    // the client portal, messaging and kiosk (portal_handler.cpp, message_handler.cpp, kiosk_handler.cpp)
    {{"POST", "/v1/portal/login", none, "", 200, false, "portalLogin", "Portal login: agency slug + portal username + password", "portal", "PortalLoginRequest", "PortalLoginResult", ""}, portal_login},
    {{"POST", "/v1/portal/logout", portal, "", 200, true, "portalLogout", "End this portal session", "portal", "", "CommandResult", ""}, portal_logout},
    {{"GET", "/v1/portal/me", portal, "", 200, false, "portalMe", "The portal client's own profile, account and the staff they may write to", "portal", "", "PortalMe", ""}, portal_me},
    {{"POST", "/v1/portal/accounts/{id}/unlock", session, P::staff_unlock, 200, true, "unlockPortalAccount", "Unlock a portal account locked after failed logins (administrators)", "portal", "", "CommandResult", ""}, unlock_portal},
    {{"POST", "/v1/portal/accounts/{id}/temporary-password", session, P::staff_password_reset, 200, true, "setPortalTemporaryPassword", "Give a portal account a temporary password (generated and shown once unless given), with a reason; the client must choose their own at the next login; unlocks the account and ends its sessions (administrators)", "portal", "PortalTemporaryPassword", "CommandResult", ""}, set_portal_temporary_password},
    {{"POST", "/v1/portal/password-reset", none, "", 202, false, "requestPortalPasswordReset", "Portal forgot password: a single-use link goes out to the client's e-mail address (always 202)", "portal", "PasswordResetRequest", "Accepted", ""}, request_portal_password_reset},
    {{"POST", "/v1/portal/password-reset/confirm", none, "", 200, false, "confirmPortalPasswordReset", "Set a new portal password with a reset link's token (ends every session of the account)", "portal", "PasswordResetConfirm", "CommandResult", ""}, confirm_portal_password_reset},
    {{"POST", "/v1/portal/password", portal, "", 200, true, "changePortalPassword", "The portal client chooses their own password (required after a temporary one); ends their other sessions", "portal", "PasswordChange", "CommandResult", ""}, change_portal_password},
    {{"POST", "/v1/portal/accounts/{id}/sessions/end", session, P::staff_sessions, 200, true, "endPortalSessions", "End every session of a portal account (a lost or stolen device; administrators)", "portal", "RecoveryBody", "CommandResult", ""}, end_portal_sessions},
    {{"GET", "/v1/portal/threads", portal, "", 200, false, "listPortalThreads", "The portal client's own message threads, oldest first", "messaging", "", "ThreadList", "limit,cursor"}, list_portal_threads},
    {{"GET", "/v1/portal/threads/{id}/messages", portal, "", 200, false, "listPortalThreadMessages", "The messages of one of the portal client's own threads, oldest first", "messaging", "", "MessageList", "limit,cursor"}, list_portal_thread_messages},
    {{"POST", "/v1/portal/messages", portal, "", 201, true, "sendPortalMessage", "Write into an own thread (thread_id) or start one with an assigned staff member (to_staff_id)", "messaging", "PortalMessage", "MessageResult", ""}, send_portal_message},
    {{"POST", "/v1/messages", session, P::clients_read, 201, true, "sendMessage", "Write to a client (a new thread, or thread_id); needs the messaging module: 403 names what is missing", "messaging", "StaffMessage", "MessageResult", ""}, send_staff_message},
    {{"GET", "/v1/messages/threads", session, P::messaging_use, 200, false, "listMessageThreads", "Your threads, or a client's threads (client_id) if you may see the client", "messaging", "", "ThreadList", "client_id,limit,cursor"}, list_message_threads},
    {{"GET", "/v1/messages/threads/{id}", session, P::clients_read, 200, false, "getMessageThread", "A thread with a page of its messages, oldest first (404 unless you may see its client; 403 without the messaging module)", "messaging", "", "ThreadWithMessages", "limit,cursor"}, get_message_thread},
    {{"POST", "/v1/kiosk/sessions", session, P::kiosk_start, 201, true, "startKioskSession", "Start a kiosk session for one client: its token is shown once", "kiosk", "NewKioskSession", "KioskSessionStarted", ""}, start_kiosk_session},
    {{"GET", "/v1/kiosk/form", kiosk, "", 200, false, "getKioskForm", "The kiosk session's form or document and the client's first name", "kiosk", "", "KioskForm", ""}, get_kiosk_form},
    {{"POST", "/v1/kiosk/form", kiosk, "", 200, true, "submitKioskForm", "Submit the kiosk form's answers, once", "kiosk", "KioskAnswers", "CommandResult", ""}, submit_kiosk},
    {{"GET", "/v1/clients/{id}/kiosk-sessions", session, P::clients_read, 200, false, "listClientKioskSessions", "The client's kiosk sessions (answers for clinical.read holders only)", "kiosk", "", "KioskSessionList", "limit,cursor"}, list_client_kiosk_sessions},

    // clients, portal invitations and registration (client_handler.cpp, invitation_handler.cpp)
    {{"POST", "/v1/clients", session, P::clients_create, 201, true, "createClient", "Add a client", "clients", "NewClient", "ClientCreated", ""}, create_client},
    {{"GET", "/v1/clients", session, P::clients_read, 200, false, "listClients", "Clients the caller may see (therapy_counseling staff: assigned only), in name order", "clients", "", "ClientList", "q,limit,cursor"}, list_clients},
    {{"POST", "/v1/clients/import", session, P::clients_import, 200, true, "importClients", "Import clients from CSV (text/csv, up to 16 MiB): a report per row; dry_run appends nothing", "clients", "ClientsCsv", "ImportReport", "dry_run"}, import_clients},
    {{"GET", "/v1/clients/{id}", session, P::clients_read, 200, false, "getClient", "A client (404 when the caller may not see it; as_of: the client as it was at that time)", "clients", "", "Client", "as_of"}, get_client},
    {{"PUT", "/v1/clients/{id}/staff/{staff_id}", session, P::clients_assign_staff, 200, true, "assignClientStaff", "Assign a staff member to the client", "clients", "", "CommandResult", ""}, assign_client_staff},
    {{"DELETE", "/v1/clients/{id}/staff/{staff_id}", session, P::clients_assign_staff, 200, true, "unassignClientStaff", "Unassign a staff member from the client", "clients", "", "CommandResult", ""}, unassign_client_staff},
    {{"GET", "/v1/clients/{id}/history", session, P::events_read, 200, false, "clientHistory", "The client's events, oldest first, paged (100 by default)", "clients", "", "EventList", "limit,cursor"}, client_history},
    {{"POST", "/v1/clients/{id}/portal/invitations", session, P::portal_invite, 201, true, "sendPortalInvitation", "Invite the client to the portal: the link goes out as a notification", "portal", "NewInvitation", "InvitationResult", ""}, send_portal_invitation},
    {{"GET", "/v1/clients/{id}/portal/invitations", session, P::clients_read, 200, false, "listPortalInvitations", "The client's invitations with their state (sent, registered, expired, revoked)", "portal", "", "InvitationList", "limit,cursor"}, list_portal_invitations},
    {{"POST", "/v1/portal/invitations/{id}/resend", session, P::portal_invite, 200, true, "resendPortalInvitation", "Send a new link (the old one stops working)", "portal", "InvitationResend", "InvitationResult", ""}, resend_portal_invitation},
    {{"POST", "/v1/portal/invitations/{id}/revoke", session, P::portal_invite, 200, true, "revokePortalInvitation", "Revoke an invitation (its link stops working)", "portal", "", "InvitationResult", ""}, revoke_portal_invitation},
    {{"POST", "/v1/portal/register", none, "", 201, true, "registerPortalAccount", "Register with an invitation link's token: choose a portal username (never changes) and password", "portal", "PortalRegistration", "PortalRegistered", ""}, portal_register},
    {{"GET", "/v1/portal/accounts/{id}", session, P::clients_read, 200, false, "getPortalAccount", "A portal account, for staff who may see its client", "portal", "", "PortalAccount", ""}, get_portal_account},
    {{"GET", "/v1/audit/events", session, P::audit_read, 200, false, "auditEvents", "The audit trail: changes (events) and record views (who read which record, when, from where), filtered, newest or oldest first, over any span; format=csv for a spreadsheet (up to 50,000 rows, the rest's cursor in X-Next-Cursor)", "audit", "", "AuditList", "subject_id,actor_id,type,kind,from,to,order,format,limit,cursor"}, audit_events},
    {{"PUT", "/v1/portal/accounts/{id}/username", session, P::clients_update, 200, true, "changePortalUsername", "Always 409: a portal username never changes", "portal", "UsernameBody", "CommandResult", ""}, change_portal_account_username},
};
// clang-format on

const std::vector<route_info>& infos() {
    static const std::vector<route_info> v = [] {
        std::vector<route_info> out;
        for (const auto& r : routes) out.push_back(r.info);
        return out;
    }();
    return v;
}

std::vector<std::string_view> split_pattern(std::string_view p) {
    std::vector<std::string_view> out;
    std::size_t i = 1;  // skip the leading '/'
    while (i <= p.size()) {
        auto j = p.find('/', i);
        if (j == std::string_view::npos) j = p.size();
        out.push_back(p.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

bool is_param(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

// Each route's template split into segments once, in the order of `routes`: a request is matched
// against these without allocating.
const std::vector<std::vector<std::string_view>>& route_segments() {
    static const std::vector<std::vector<std::string_view>> v = [] {
        std::vector<std::vector<std::string_view>> out;
        for (const auto& r : routes) out.push_back(split_pattern(r.info.pattern));
        return out;
    }();
    return v;
}

// Whether decoded path segments fit a template (a parameter takes any non-empty segment).
bool matches(std::span<const std::string_view> pattern, std::span<const std::string> segs) {
    if (pattern.size() != segs.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (is_param(pattern[i])) {
            if (segs[i].empty()) return false;
        } else if (pattern[i] != segs[i]) {
            return false;
        }
    }
    return true;
}

// The path parameters of a matching template, by name (views into the route table).
std::vector<std::pair<std::string_view, std::string>> params_of(std::span<const std::string_view> pattern,
                                                                std::span<const std::string> segs) {
    std::vector<std::pair<std::string_view, std::string>> out;
    for (std::size_t i = 0; i < pattern.size(); ++i)
        if (is_param(pattern[i])) out.emplace_back(pattern[i].substr(1, pattern[i].size() - 2), segs[i]);
    return out;
}

routed fail_with(const problem& p, std::string_view route) { return {problem_response(p), route}; }

// Who an Idempotency-Key belongs to: the operator, a staff member, a portal account, a kiosk
// session, or (registration through a link) nobody in particular.
std::string idempotency_scope(const principal& p) {
    if (p.is_operator) return "operator";
    if (!p.staff_id.empty()) return "staff/" + p.staff_id;
    if (!p.portal_account_id.empty()) return "portal/" + p.portal_account_id;
    if (!p.kiosk_session_id.empty()) return "kiosk/" + p.kiosk_session_id;
    return "anonymous";
}

// A token the read models do not know yet may belong to a session this node just created (or one
// the caller waits for with X-Consistency-Token): catch up and look again. Tokens start with
// their agency's id, which names the partition to wait for; nothing is waited for before that.
bool wait_for_session(app_context& ctx, const http_request& req, const std::string& token) {
    auto dot = token.find('.');
    if (dot == std::string::npos || !is_uuid(token.substr(0, dot))) return false;
    bool waited = catch_up(ctx, token.substr(0, dot));
    if (header(req, "X-Consistency-Token")) {
        if (auto r = await_consistency(ctx, req); r) waited = true;
    }
    return waited;
}

// After authentication, before the handler: the session's own earlier writes are visible, and so
// is the command an X-Consistency-Token names. Returns whether anything was waited for (the
// principal is then read again: the wait may have been for a change to its own roles).
result<bool> settle(app_context& ctx, const http_request& req, const principal& who, bool command) {
    auto own = await_own_writes(ctx, who, /*principal_only=*/command);
    if (!own && !command) return std::unexpected(own.error());
    bool waited = !own || *own;
    if (header(req, "X-Consistency-Token")) {
        if (auto r = await_consistency(ctx, req); !r) return std::unexpected(r.error());
        waited = true;
    }
    return waited;
}

// Whether a command on this route may change its caller's principal (what settle waits for
// before the caller's next command): the caller's own staff record, the agency's settings (module
// switches, MFA by role), the caller's own credentials and sessions; for a portal or kiosk session,
// anything (each of its commands changes its one client).
bool writes_principal(const route_info& info, const request_context& rc) {
    if (info.auth != auth_kind::session) return true;
    const std::string_view pattern = info.pattern;
    if (pattern.starts_with("/v1/auth/") || pattern.starts_with("/v1/agency")) return true;
    return pattern.starts_with("/v1/staff/{id}") && rc.param("id") == rc.who.staff_id;
}

// The reads that are recorded as record views (HIPAA: who looked at which record), by operation:
// whose data it is (the path's {id} names the subject unless the handler named it in
// rc.viewed_subject) and what kind of record was read. Lists of many have no subject.
struct audited_read {
    std::string_view operation_id;
    std::string_view subject_type;  // "Client" | "Staff" | "" (a list of many)
    std::string_view record_type;
    bool id_is_subject;             // the path's {id} is the subject (else it is the record's id)
};
constexpr audited_read audited_reads[] = {
    {"getClient", "Client", "client", true},
    {"clientHistory", "Client", "client_history", true},
    {"listClientKioskSessions", "Client", "kiosk_sessions", true},
    {"listPortalInvitations", "Client", "portal_invitations", true},
    {"getPortalAccount", "Client", "portal_account", false},
    {"getMessageThread", "Client", "thread", false},
    {"listMessageThreads", "Client", "thread_list", false},
    {"listClients", "", "client_list", false},
    {"getStaff", "Staff", "staff", true},
    {"staffHistory", "Staff", "staff_history", true},
    {"listStaff", "", "staff_list", false},
};

const audited_read* audited(const route_info& info) {
    for (const auto& a : audited_reads)
        if (a.operation_id == info.operation_id) return &a;
    return nullptr;
}

// At most `n` bytes of printable ASCII (anything else becomes '?'): header text in a record.
// At most `n` bytes of `s`, bytes outside printable ASCII as '?': `s` itself when it already is
// (no copy), else the cleaned copy in `storage`.
std::string_view printable(std::string_view s, std::size_t n, std::string& storage) {
    auto bad = [](char c) { return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e; };
    s = s.substr(0, n);
    if (std::none_of(s.begin(), s.end(), bad)) return s;
    storage.assign(s);
    for (char& c : storage)
        if (bad(c)) c = '?';
    return storage;
}

// Records the view of a read that answered 2xx; errc::unavailable when the sink refuses it. The view
// points into the request (the sink copies it, and gives it its view_id off this thread).
result<void> record_view(const request_context& rc, const audited_read& a) {
    if (!rc.ctx.views) return {};
    events::record_viewed_ref v;
    v.agency_id = rc.who.agency_id;
    v.occurred_at = rc.ctx.clock.now();
    if (!rc.who.staff_id.empty()) {
        v.actor_kind = "staff";
        v.actor_id = rc.who.staff_id;
    } else if (!rc.who.portal_account_id.empty()) {
        v.actor_kind = "portal";
        v.actor_id = rc.who.portal_account_id;
    } else {
        v.actor_kind = "kiosk";
        v.actor_id = rc.who.kiosk_session_id;
    }
    const std::string& id = rc.param("id");
    v.subject_id = a.id_is_subject ? std::string_view(id) : std::string_view(rc.viewed_subject);
    v.subject_type = v.subject_id.empty() ? std::string_view() : a.subject_type;
    v.record_type = a.record_type;
    v.record_id = a.id_is_subject ? std::string_view() : std::string_view(id);
    thread_local std::string resource;  // reused: no allocation per read
    resource.assign(rc.route.method).append(" ").append(rc.route.pattern);
    v.resource = resource;
    std::string query, agent, request_id;  // only when a value needs cleaning
    v.query = printable(std::string_view(rc.url.encoded_query().data(), rc.url.encoded_query().size()), 512, query);
    v.item_count = static_cast<int>(rc.viewed_items);
    v.address = rc.peer;
    if (auto ua = header(rc.req, "User-Agent")) v.user_agent = printable(*ua, 256, agent);
    if (auto rid = header(rc.req, "X-Request-Id")) v.request_id = printable(*rid, 200, request_id);
    auto r = rc.ctx.views->record(v);
    if (!r) return fail(errc::unavailable, "this read could not be recorded in the audit trail, so it is not answered; try again shortly");
    return {};
}

}  // namespace

const std::string& request_context::param(std::string_view name) const {
    static const std::string none;
    for (const auto& [k, v] : params)
        if (k == name) return v;
    return none;
}

routed route_request(app_context& ctx, const http_request& req, std::string_view peer) {
    auto target = std::string_view(req.target().data(), req.target().size());
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return fail_with(error::make(errc::malformed, "the request target is not a valid path"), "-");
    boost::urls::url_view url = *parsed;

    // Decoded into strings kept per thread: their capacity is reused, so matching allocates
    // nothing once warm (nothing below suspends before the segments are done with).
    thread_local std::vector<std::string> segs;
    std::size_t n = 0;
    for (auto seg : url.encoded_segments()) {
        if (n == segs.size()) segs.emplace_back();
        segs[n].clear();
        seg.decode({}, boost::urls::string_token::append_to(segs[n]));
        ++n;
    }
    const auto path = std::span<const std::string>(segs).first(n);
    if (!url.is_path_absolute()) return fail_with(error::make(errc::not_found, "no such resource"), "-");

    const std::string_view method(req.method_string().data(), req.method_string().size());
    const auto& patterns = route_segments();
    const route* found = nullptr;
    const route* same_path = nullptr;
    std::size_t found_at = 0;
    for (std::size_t i = 0; i < std::size(routes); ++i) {
        if (!matches(patterns[i], path)) continue;
        if (!same_path) same_path = &routes[i];
        if (routes[i].info.method == method) {
            found = &routes[i];
            found_at = i;
            break;
        }
    }
    if (!same_path) {
        // Not the API: the web console's files (and its pages' index.html), when it is served.
        if (ctx.web)
            if (auto page = ctx.web->answer(req)) return {std::move(*page), "static"};
        return fail_with(error::make(errc::not_found, "no such resource"), "-");
    }
    if (!found) {
        std::string allow;
        for (std::size_t i = 0; i < std::size(routes); ++i) {
            if (!matches(patterns[i], path)) continue;
            if (!allow.empty()) allow += ", ";
            allow += routes[i].info.method;
        }
        auto res = problem_response(
            problem(http_problem::method_not_allowed, std::string(method) + " is not allowed here; use " + allow));
        res.set(boost::beast::http::field::allow, allow);
        return {std::move(res), same_path->info.pattern};
    }
    auto params = params_of(patterns[found_at], path);
    const route_info& info = found->info;

    if (auto wait = admit_anonymous(ctx, info, peer)) return {rate_limited(*wait, "requests from this address"), info.pattern};
    request_context rc{ctx, req, info, url, std::move(params), principal{}, std::string(), std::string(peer)};
    switch (info.auth) {
        case auth_kind::none: break;
        case auth_kind::operator_key:
            if (auto r = check_operator_key(ctx, req); !r) return fail_with(r.error(), info.pattern);
            rc.who = principal{"", "operator", "", "", true};
            break;
        case auth_kind::session:
        case auth_kind::portal_session:
        case auth_kind::kiosk: {
            auto cred = request_credential(req, info.auth);
            if (!cred) return fail_with(cred.error(), info.pattern);
            const std::string* token = &cred->token;
            // Each token kind is looked up in its own index: a staff token on a portal or kiosk
            // route is 401, and theirs on a staff route is 401.
            auto resolve = [&] {
                switch (info.auth) {
                    case auth_kind::kiosk: return kiosk_principal(ctx, *token);
                    case auth_kind::portal_session: return portal_principal(ctx, *token);
                    default: return session_principal(ctx, *token);
                }
            };
            auto p = resolve();
            if (!p && p.error().code == errc::unauthenticated && wait_for_session(ctx, req, *token)) p = resolve();
            if (!p) return fail_with(p.error(), info.pattern);
            auto waited = settle(ctx, req, *p, info.command);
            if (!waited) return fail_with(waited.error(), info.pattern);
            if (*waited) {
                p = resolve();
                if (!p) return fail_with(p.error(), info.pattern);
            }
            rc.who = std::move(*p);
            if (cred->from_cookie)
                if (auto r = check_csrf(ctx.cfg, req, rc.who); !r) return fail_with(r.error(), info.pattern);
            if (info.auth == auth_kind::session)
                if (auto r = check_permission(rc.who, info.permission); !r) return fail_with(r.error(), info.pattern);
            if (info.auth == auth_kind::portal_session && rc.who.restriction != aggregates::session_restriction::none &&
                info.operation_id != "changePortalPassword" && info.operation_id != "portalMe" &&
                info.operation_id != "portalLogout")
                return fail_with(error::make(errc::forbidden, "this account has a temporary password: choose your own "
                                                              "first (POST /v1/portal/password)"),
                                 info.pattern);
            break;
        }
    }
    // Every path parameter of this API is a UUID; anything else names nothing.
    for (const auto& [name, value] : rc.params)
        if (!is_uuid(value)) return fail_with(error::make(errc::not_found, "no such " + std::string(name)), info.pattern);
    std::string request_digest, idempotency_seen;
    if (info.command) {
        auto key = idempotency_key(req);
        if (!key) return fail_with(key.error(), info.pattern);
        // A key is its caller's own and names one request: scoped by who calls, so one caller's key
        // never replays (and so never shows) another caller's answer; and bound to the route and a
        // digest of the body, so it never replays the answer to another request (a guessed key
        // without the exact body, e.g. a registration's invitation token, replays nothing). A key
        // this node saw for another request is refused (422) rather than run as a new command.
        if (!key->empty()) {
            const std::string scoped = idempotency_scope(rc.who) + ":" + *key;
            const std::string body_digest = to_hex(sha256(req.body())).substr(0, 32);
            request_digest = std::string(method) + " " + std::string(info.pattern) + ":" + body_digest;
            if (ctx.limits && ctx.limits->keys.conflicts(scoped, request_digest))
                return fail_with(error::validation("Idempotency-Key", "was already used for another request (another "
                                                                      "route or another body); use a new key"),
                                 info.pattern);
            idempotency_seen = scoped;
            rc.idempotency_key = idempotency_scope(rc.who) + ":" + request_digest + ":" + *key;
        }
    }
    auto run = [&]() -> http_result<http_response> {
        try {
            return found->fn(rc);
        } catch (const std::exception& e) {
            spdlog::error("api: {} {} threw: {}", info.method, info.pattern, e.what());
            return fail(errc::internal, "the server failed to answer this request");
        }
    };
    http_result<http_response> res = run();
    // A command waited only for the session's writes to its principal (settle): if it found
    // nothing where it looked in the projections (a client this session just added, say), it runs
    // again once they hold the rest of its writes, or is a 503 if they do not get there in time
    // (never a 404 for what the session itself created). A 404 appended nothing, so this is safe.
    if (!res && info.command && res.error().spec.status == 404) {
        auto own = await_own_writes(ctx, rc.who);
        if (!own) return fail_with(own.error(), info.pattern);
        if (*own) res = run();
    }
    if (!res) return fail_with(res.error(), info.pattern);
    if (const auto* a = audited(info); a && res->result_int() / 100 == 2)
        if (auto r = record_view(rc, *a); !r) return fail_with(r.error(), info.pattern);
    if (info.command) remember_own_write(ctx, rc.who, *res, writes_principal(info, rc));
    if (!idempotency_seen.empty() && ctx.limits && res->result_int() / 100 == 2)
        ctx.limits->keys.remember(idempotency_seen, request_digest);
    return {std::move(*res), info.pattern};
}

}  // namespace detail

std::span<const route_info> route_table() noexcept { return detail::infos(); }

std::size_t body_limit_for(const config& cfg, std::string_view method, std::string_view target) {
    // Only the CSV import takes more than the default: 10,000 rows and their quoting fit 16 MiB.
    auto q = target.find('?');
    auto path = target.substr(0, q);
    if (method == "POST" && path == "/v1/clients/import") return std::max(cfg.body_limit, cfg.import_body_limit);
    return cfg.body_limit;
}

std::size_t max_body_limit(const config& cfg) { return std::max(cfg.body_limit, cfg.import_body_limit); }

}  // namespace carelog::api
