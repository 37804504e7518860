// Client decisions (clients, assignments, invitations, portal accounts and logins, messages, kiosk)
// and their evolve. The rules and the choices behind them are written down in clients.hpp.
#include "carelog/aggregates/clients.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "carelog/aggregates/access.hpp"
#include "carelog/aggregates/identity.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/base/text.hpp"
#include "rules.hpp"

namespace carelog::aggregates {
using detail::decision;
using detail::emitter;
using detail::field_errors;
using detail::check_new_password;
using detail::stale_password_check;
namespace why = events::portal_login_failure;

namespace {

std::unexpected<error> agency_not_found() { return fail(errc::not_found, "agency not found"); }
std::unexpected<error> client_not_found() { return fail(errc::not_found, "client not found"); }

template <class Map>
const client_state* client_via(const agency_state& s, const Map& index, std::string_view key) {
    auto it = index.find(std::string(key));
    if (it == index.end()) return nullptr;
    auto c = s.clients.find(it->second);
    return c == s.clients.end() ? nullptr : &c->second;
}

const client_state* client_by_id(const agency_state& s, const std::string& id) {
    auto it = s.clients.find(id);
    return it == s.clients.end() ? nullptr : &it->second;
}

const staff_state* staff_by_id(const agency_state& s, const std::string& id) {
    auto it = s.staff.find(id);
    return it == s.staff.end() ? nullptr : &it->second;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_valid_phone(std::string_view p) {
    if (p.size() > 32) return false;
    int digits = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (is_digit(c))
            ++digits;
        else if (c == '+' && i == 0)
            continue;
        else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '.')
            return false;
    }
    return digits >= 7 && digits <= 15;
}

// The forbidden answer for a module: names the agency switch and/or the staff grant that is missing.
std::optional<error> module_missing(const staff_state* actor, const char* module, bool agency_switch,
                                    const char* switch_name) {
    if (!actor || !actor->active) return error::make(errc::forbidden, "the acting staff member is not active");
    bool granted = actor->permissions.contains(module);
    if (agency_switch && granted) return std::nullopt;
    std::string detail;
    if (!agency_switch)
        detail = std::string("the agency's ") + switch_name + " is off";
    if (!granted)
        detail += (detail.empty() ? "" : "; ") + std::string("the staff member lacks the ") + module + " permission";
    return error::make(errc::forbidden, detail);
}

std::optional<error> portal_permission(const agency_state& s, const std::string& actor_id) {
    return module_missing(staff_by_id(s, actor_id), "client_portal", s.settings.client_portal_enabled.value_or(false),
                          "client_portal_enabled");
}

std::optional<error> expiry_problem(std::optional<micros> at, micros now, micros max) {
    if (at && (*at <= now || *at > now + max))
        return error::validation("expires_at", "must be in the future and at most " +
                                                   std::to_string(max / micros_per_hour) + " hours away");
    return std::nullopt;
}

// Request metadata as given: valid UTF-8 only, cut to max bytes at a code point boundary.
std::string clean_meta(std::string_view v, std::size_t max) {
    if (!is_valid_utf8(v)) return {};
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
        auto c = static_cast<unsigned char>(v[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        if (out.size() + len > max) break;
        if (!(c < 0x20 || c == 0x7F)) out.append(v.substr(i, len));
        i += len;
    }
    return out;
}

bool portal_idle(const agency_state& s, const portal_session_info& info, micros now) {
    return now - std::max(info.created_at, info.last_seen) >= idle_timeout(s);
}

const invitation_state* invitation_of(const agency_state& s, const std::string& id, const client_state** owner) {
    *owner = client_via(s, s.invitation_owners, id);
    if (!*owner) return nullptr;
    auto it = (*owner)->invitations.find(id);
    return it == (*owner)->invitations.end() ? nullptr : &it->second;
}

}  // namespace

// ---------------------------------------------------------------- queries

std::string_view invitation_state_name(const invitation_state& i, micros now) {
    switch (i.status) {
        case invitation_status::registered: return "registered";
        case invitation_status::revoked: return "revoked";
        case invitation_status::sent: return now >= i.expires_at ? "expired" : "sent";
    }
    return "sent";
}

bool staff_can_see_client(const staff_state& st, const client_state& c) {
    return st.active && access::can_see_client(st.profile.staff_type, c.assigned_staff.contains(st.id));
}

invitation_ref find_live_invitation(const agency_state& s, std::string_view token_hash, micros now) {
    if (token_hash.empty()) return {};
    const client_state* c = client_via(s, s.invitation_tokens, token_hash);
    if (!c || c->portal) return {};
    for (const auto& [id, inv] : c->invitations)
        if (inv.token_hash == token_hash && inv.status == invitation_status::sent && now < inv.expires_at)
            return {c, &inv};
    return {};
}

portal_account_ref find_portal_account_by_username(const agency_state& s, std::string_view username) {
    const client_state* c = client_via(s, s.portal_usernames, ascii_lower(trim(username)));
    if (!c || !c->portal) return {};
    return {c, &*c->portal};
}

portal_account_ref find_portal_account(const agency_state& s, std::string_view id) {
    const client_state* c = client_via(s, s.portal_accounts, id);
    if (!c || !c->portal || c->portal->id != id) return {};
    return {c, &*c->portal};
}

portal_account_ref find_portal_reset_token(const agency_state& s, std::string_view token_hash, micros now) {
    if (token_hash.empty()) return {};
    const client_state* c = client_via(s, s.portal_reset_tokens, token_hash);
    if (c && c->portal && c->portal->reset_token_hash == token_hash && now < c->portal->reset_expires_at)
        return {c, &*c->portal};
    return {};
}

portal_session_check check_portal_session(const agency_state& s, std::string_view session_id, micros now) {
    portal_session_check r;
    const client_state* c = client_via(s, s.portal_session_owners, session_id);
    if (!c || !c->portal) return r;
    auto it = c->portal->sessions.find(std::string(session_id));
    if (it == c->portal->sessions.end()) return r;
    r.client = c;
    r.account = &*c->portal;
    if (portal_idle(s, it->second, now)) {
        r.status = portal_session_status::idle_expired;
    } else if (!s.settings.client_portal_enabled.value_or(false)) {
        r.status = portal_session_status::portal_disabled;
    } else {
        r.status = portal_session_status::active;
        r.touch_due = now - std::max(it->second.created_at, it->second.last_seen) >= touch_interval(s);
    }
    return r;
}

kiosk_ref find_live_kiosk(const agency_state& s, std::string_view token_hash, micros now) {
    if (token_hash.empty()) return {};
    const client_state* c = client_via(s, s.kiosk_tokens, token_hash);
    if (!c) return {};
    for (const auto& [id, k] : c->kiosks)
        if (k.token_hash == token_hash && !k.submitted && now < k.expires_at) return {c, &k};
    return {};
}

bool is_portal_locked(const portal_account_state& a, micros now) {
    return a.locked && (a.locked_until == 0 || now < a.locked_until);
}

std::string portal_username_problem(std::string_view u) {
    if (u.find('@') != std::string_view::npos)
        return "must not be an e-mail address (choose a name that is not your e-mail)";
    if (u.size() < 3 || u.size() > 64) return "must be 3 to 64 characters";
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c); };
    if (!alnum(u.front())) return "must start with a letter or digit";
    if (!std::all_of(u.begin(), u.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; }))
        return "may contain only letters, digits, '.', '_' and '-'";
    return {};
}

result<client_fields> validate_client_fields(const client_fields& in, micros now) {
    field_errors errs;
    client_fields out;
    out.first_name = detail::check_text(errs, "first_name", in.first_name, true, 100);
    out.last_name = detail::check_text(errs, "last_name", in.last_name, true, 100);
    out.date_of_birth = std::string(trim(in.date_of_birth));
    if (out.date_of_birth.empty())
        errs.add("date_of_birth", "is required");
    else if (!detail::is_valid_date(out.date_of_birth))
        errs.add("date_of_birth", "must be a real date YYYY-MM-DD, 1900 or later");
    else if (out.date_of_birth > format_rfc3339(now).substr(0, 10))
        errs.add("date_of_birth", "must not be in the future");
    out.email = std::string(trim(in.email));
    if (!out.email.empty() && !detail::is_valid_email(out.email))
        errs.add("email", "must be an e-mail address like name@example.org (at most 254 characters)");
    out.phone = std::string(trim(in.phone));
    if (!out.phone.empty() && !is_valid_phone(out.phone))
        errs.add("phone", "must be a phone number of 7 to 15 digits (spaces, '-', '.', '(', ')' and a leading '+' allowed)");
    out.external_id = detail::check_text(errs, "external_id", in.external_id, false, 100);
    if (!errs.empty()) return fail(errs.to_error());
    return out;
}

// ---------------------------------------------------------------- clients and assignments

decision decide(const agency_state& s, const add_client& c) {
    if (!s.exists) return agency_not_found();
    if (c.client_id.empty()) return fail(error::validation("client_id", "is required"));
    auto f = validate_client_fields({c.first_name, c.last_name, c.date_of_birth, c.email, c.phone, c.external_id},
                                    c.now);
    if (!f) return std::unexpected(f.error());
    if (s.clients.contains(c.client_id)) return fail(errc::conflict, "client '" + c.client_id + "' already exists");
    if (!f->external_id.empty() && s.external_ids.contains(f->external_id))
        return fail(errc::conflict, "a client with external_id '" + f->external_id + "' already exists");
    std::vector<events::decided_event> out;
    out.push_back({c.client_id, 1,
                   events::ClientAdded{f->first_name, f->last_name, f->date_of_birth, f->email, f->phone,
                                       f->external_id}});
    return out;
}

decision decide(const agency_state& s, const assign_staff_to_client& c) {
    if (!s.exists) return agency_not_found();
    const client_state* cl = client_by_id(s, c.client_id);
    if (!cl) return client_not_found();
    const staff_state* st = staff_by_id(s, c.staff_id);
    if (!st) return fail(errc::not_found, "staff member not found");
    if (!st->active) return fail(errc::conflict, "staff member is deactivated");
    if (cl->assigned_staff.contains(c.staff_id)) return std::vector<events::decided_event>{};
    emitter em(*cl);
    em.add(events::StaffAssignedToClient{c.staff_id});
    return em.take();
}

decision decide(const agency_state& s, const unassign_staff_from_client& c) {
    if (!s.exists) return agency_not_found();
    const client_state* cl = client_by_id(s, c.client_id);
    if (!cl) return client_not_found();
    if (!s.staff.contains(c.staff_id)) return fail(errc::not_found, "staff member not found");
    if (!cl->assigned_staff.contains(c.staff_id)) return std::vector<events::decided_event>{};
    emitter em(*cl);
    em.add(events::StaffUnassignedFromClient{c.staff_id});
    return em.take();
}

// ---------------------------------------------------------------- invitations

decision decide(const agency_state& s, const send_invitation& c) {
    if (!s.exists) return agency_not_found();
    if (auto no = portal_permission(s, c.actor_staff_id)) return fail(*no);
    const client_state* cl = client_by_id(s, c.client_id);
    if (!cl || !staff_can_see_client(s.staff.at(c.actor_staff_id), *cl)) return client_not_found();
    if (cl->portal) return fail(errc::conflict, "the client already has a portal account");
    field_errors errs;
    if (c.invitation_id.empty()) errs.add("invitation_id", "is required");
    std::string email(trim(c.email));
    if (email.empty()) email = cl->profile.email;
    if (email.empty())
        errs.add("email", "is required (the client has no e-mail on file)");
    else if (!detail::is_valid_email(email))
        errs.add("email", "must be an e-mail address like name@example.org (at most 254 characters)");
    if (!is_token_hash(c.token_hash)) errs.add("token_hash", "must be the hex SHA-256 of the invitation token");
    if (auto e = expiry_problem(c.expires_at, c.now, max_invitation_lifetime)) errs.add("expires_at", e->fields[0].message);
    if (!errs.empty()) return fail(errs.to_error());
    if (s.invitation_owners.contains(c.invitation_id))
        return fail(errc::conflict, "invitation '" + c.invitation_id + "' already exists");
    if (s.invitation_tokens.contains(c.token_hash)) return fail(errc::conflict, "token hash already in use");
    emitter em(*cl);
    em.add(events::InvitationSent{c.invitation_id, email, c.expires_at.value_or(c.now + invitation_lifetime),
                                  c.token_hash});
    return em.take();
}

decision decide(const agency_state& s, const resend_invitation& c) {
    if (!s.exists) return agency_not_found();
    if (auto no = portal_permission(s, c.actor_staff_id)) return fail(*no);
    const client_state* cl = nullptr;
    const invitation_state* inv = invitation_of(s, c.invitation_id, &cl);
    if (!inv || !staff_can_see_client(s.staff.at(c.actor_staff_id), *cl))
        return fail(errc::not_found, "invitation not found");
    if (inv->status == invitation_status::registered)
        return fail(errc::conflict, "the invitation was used to register; it cannot be resent");
    if (inv->status == invitation_status::revoked)
        return fail(errc::conflict, "the invitation was revoked; send a new one");
    if (cl->portal) return fail(errc::conflict, "the client already has a portal account");
    field_errors errs;
    if (!is_token_hash(c.token_hash)) errs.add("token_hash", "must be the hex SHA-256 of the invitation token");
    if (auto e = expiry_problem(c.expires_at, c.now, max_invitation_lifetime)) errs.add("expires_at", e->fields[0].message);
    if (!errs.empty()) return fail(errs.to_error());
    if (s.invitation_tokens.contains(c.token_hash)) return fail(errc::conflict, "token hash already in use");
    emitter em(*cl);
    em.add(events::InvitationResent{c.invitation_id, c.expires_at.value_or(c.now + invitation_lifetime), c.token_hash});
    return em.take();
}

decision decide(const agency_state& s, const revoke_invitation& c) {
    if (!s.exists) return agency_not_found();
    if (auto no = portal_permission(s, c.actor_staff_id)) return fail(*no);
    const client_state* cl = nullptr;
    const invitation_state* inv = invitation_of(s, c.invitation_id, &cl);
    if (!inv || !staff_can_see_client(s.staff.at(c.actor_staff_id), *cl))
        return fail(errc::not_found, "invitation not found");
    if (inv->status == invitation_status::registered)
        return fail(errc::conflict, "the invitation was used to register; it cannot be revoked");
    if (inv->status == invitation_status::revoked) return std::vector<events::decided_event>{};
    emitter em(*cl);
    em.add(events::InvitationRevoked{c.invitation_id});
    return em.take();
}

// ---------------------------------------------------------------- portal accounts

decision decide(const agency_state& s, const register_portal_account& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_live_invitation(s, c.token_hash, c.now);
    if (!ref.client)
        return fail(error::validation("token", "the invitation link is invalid, replaced, revoked, used or expired"));
    field_errors errs;
    std::string username(trim(c.username));
    if (auto problem = portal_username_problem(username); !problem.empty()) errs.add("username", problem);
    if (c.password_hash.empty())
        errs.add("password", "is required");
    else if (!c.password_policy_ok)
        errs.add("password", "does not satisfy the agency's password policy");
    if (c.portal_account_id.empty()) errs.add("portal_account_id", "is required");
    if (!errs.empty()) return fail(errs.to_error());
    if (s.portal_usernames.contains(ascii_lower(username)))
        return fail(errc::conflict, "the portal username '" + username + "' is taken; choose another");
    if (s.portal_accounts.contains(c.portal_account_id)) return fail(errc::conflict, "portal account id already in use");
    emitter em(*ref.client);
    em.add(events::InvitationAccepted{ref.invitation->id, c.portal_account_id});
    em.add(events::PortalUsernameChosen{c.portal_account_id, username, c.password_hash});
    return em.take();
}

decision decide(const agency_state&, const change_portal_username&) {
    return fail(errc::conflict, "a portal username can never be changed once chosen");
}

decision decide(const agency_state& s, const record_portal_login& c) {
    if (!s.exists) return agency_not_found();
    if (!is_token_hash(c.session_id))
        return fail(error::validation("session_id", "must be the hex SHA-256 of the session token"));
    if (s.portal_session_owners.contains(c.session_id) || s.session_owners.contains(c.session_id))
        return fail(errc::conflict, "session id already in use");
    auto ip = clean_meta(c.ip, 64);
    auto ua = clean_meta(c.user_agent, 512);
    auto ref = find_portal_account_by_username(s, c.username);
    if (!ref.account) {
        std::string typed(trim(c.username));
        std::vector<events::decided_event> out;
        out.push_back({s.id, s.version + 1,
                       events::PortalLoginFailed{"", portal_username_problem(typed).empty() ? ascii_lower(typed) : "",
                                                 ip, ua, why::unknown_user},
                       "Agency"});
        return out;
    }
    const auto& acct = *ref.account;
    emitter em(*ref.client);
    auto failed = [&](const char* reason) { em.add(events::PortalLoginFailed{acct.id, acct.username, ip, ua, reason}); };
    // A portal the agency switched off lets nobody in (and counts no failure toward a lock).
    if (!s.settings.client_portal_enabled.value_or(false)) {
        failed(why::portal_disabled);
        return em.take();
    }
    int failures = acct.failed_attempts;
    if (acct.locked) {
        if (!is_portal_locked(acct, c.now)) {
            em.add(events::PortalAccountUnlocked{acct.id, "timeout"});
            failures = 0;
        } else {
            failed(why::locked);
            return em.take();
        }
    }
    if (c.checked_password_hash != acct.password_hash)
        return fail(errc::stale, "the password was verified against a hash that is no longer current; verify again");
    if (!c.password_ok) {
        failed(why::bad_password);
        int threshold = s.settings.lockout_threshold.value_or(5);
        if (threshold > 0 && ++failures >= threshold) {
            int minutes = s.settings.lockout_minutes.value_or(30);
            em.add(events::PortalAccountLocked{acct.id, minutes > 0 ? c.now + minutes * 60'000'000LL : 0, failures});
        }
        return em.take();
    }
    for (const auto& [sid, info] : acct.sessions)
        if (portal_idle(s, info, c.now)) em.add(events::PortalSessionEnded{acct.id, sid, events::portal_session_end::idle});
    em.add(events::PortalLoginSucceeded{acct.id, c.session_id, ip, ua});
    return em.take();
}

decision decide(const agency_state& s, const portal_logout& c) {
    if (!s.exists) return agency_not_found();
    const client_state* cl = client_via(s, s.portal_session_owners, c.session_id);
    if (!cl || !cl->portal) return std::vector<events::decided_event>{};
    emitter em(*cl);
    em.add(events::PortalSessionEnded{cl->portal->id, c.session_id, events::portal_session_end::logout});
    return em.take();
}

decision decide(const agency_state& s, const touch_portal_session& c) {
    if (!s.exists) return agency_not_found();
    auto chk = check_portal_session(s, c.session_id, c.now);
    if (chk.status != portal_session_status::active) return fail(errc::unauthenticated, "the portal session is not live");
    if (!chk.touch_due) return std::vector<events::decided_event>{};
    emitter em(*chk.client);
    em.add(events::PortalSessionTouched{chk.account->id, c.session_id});
    return em.take();
}

decision decide(const agency_state& s, const unlock_portal_account& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_portal_account(s, c.portal_account_id);
    if (!ref.account) return fail(errc::not_found, "portal account not found");
    if (!ref.account->locked) return std::vector<events::decided_event>{};
    emitter em(*ref.client);
    em.add(events::PortalAccountUnlocked{ref.account->id, "admin"});
    return em.take();
}

decision decide(const agency_state& s, const end_portal_sessions& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_portal_account(s, c.portal_account_id);
    if (!ref.account) return fail(errc::not_found, "portal account not found");
    emitter em(*ref.client);
    for (const auto& [sid, info] : ref.account->sessions)
        em.add(events::PortalSessionEnded{ref.account->id, sid, events::portal_session_end::admin});
    return em.take();
}

decision decide(const agency_state& s, const set_portal_temporary_password& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_portal_account(s, c.portal_account_id);
    if (!ref.account) return fail(errc::not_found, "portal account not found");
    field_errors errs;
    if (c.note.empty()) errs.add("reason", "is required: say why the client gets a temporary password");
    if (c.new_password_hash.empty()) errs.add("new_password", "is required");
    if (!errs.empty()) return fail(errs.to_error());
    emitter em(*ref.client);
    if (ref.account->locked) em.add(events::PortalAccountUnlocked{ref.account->id, "admin"});
    em.add(events::PortalPasswordChanged{ref.account->id, c.new_password_hash, true, "temporary", c.note});
    for (const auto& [sid, info] : ref.account->sessions)
        em.add(events::PortalSessionEnded{ref.account->id, sid, events::portal_session_end::password_changed});
    return em.take();
}

decision decide(const agency_state& s, const change_portal_password& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_portal_account(s, c.portal_account_id);
    if (!ref.account || !ref.account->sessions.contains(c.session_id))
        return fail(errc::unauthenticated, "the session is not a live session of this portal account");
    if (c.checked_password_hash != ref.account->password_hash) return stale_password_check();
    field_errors errs;
    if (!c.current_ok) errs.add("current_password", "is incorrect");
    check_new_password(errs, c.new_password_hash, c.new_password_policy_ok, c.new_same_as_current);
    if (!errs.empty()) return fail(errs.to_error());
    emitter em(*ref.client);
    em.add(events::PortalPasswordChanged{ref.account->id, c.new_password_hash, false, "changed", ""});
    for (const auto& [sid, info] : ref.account->sessions)
        if (sid != c.session_id)
            em.add(events::PortalSessionEnded{ref.account->id, sid, events::portal_session_end::password_changed});
    return em.take();
}

decision decide(const agency_state& s, const request_portal_password_reset& c) {
    if (!s.exists) return agency_not_found();
    if (!is_token_hash(c.token_hash))
        return fail(error::validation("token_hash", "must be the hex SHA-256 of the reset token"));
    auto ref = find_portal_account_by_username(s, c.username);
    if (!ref.account || !s.settings.client_portal_enabled.value_or(false))
        return std::vector<events::decided_event>{};  // no account enumeration
    const auto& a = *ref.account;
    if (!a.reset_token_hash.empty() && c.now < a.reset_expires_at && c.now - a.reset_requested_at < reset_request_interval)
        return std::vector<events::decided_event>{};  // the link just sent is still good
    emitter em(*ref.client);
    em.add(events::PortalPasswordResetRequested{a.id, c.token_hash, c.now + reset_token_lifetime});
    return em.take();
}

decision decide(const agency_state& s, const confirm_portal_password_reset& c) {
    if (!s.exists) return agency_not_found();
    auto ref = find_portal_reset_token(s, c.token_hash, c.now);
    if (!ref.account) return fail(error::validation("token", "the reset link is invalid, already used or expired"));
    field_errors errs;
    check_new_password(errs, c.new_password_hash, c.new_password_policy_ok, c.new_same_as_current);
    if (!errs.empty()) return fail(errs.to_error());
    emitter em(*ref.client);
    em.add(events::PortalPasswordChanged{ref.account->id, c.new_password_hash, false, "reset", ""});
    for (const auto& [sid, info] : ref.account->sessions)
        em.add(events::PortalSessionEnded{ref.account->id, sid, events::portal_session_end::password_changed});
    return em.take();
}

// ---------------------------------------------------------------- messages

decision decide(const agency_state& s, const send_message& c) {
    if (!s.exists) return agency_not_found();
    const bool messaging_on = s.settings.messaging_enabled.value_or(false);
    const client_state* cl = client_by_id(s, c.client_id);
    std::string thread_staff;
    if (c.sender_kind == events::sender_kind::staff) {
        if (auto no = module_missing(staff_by_id(s, c.sender_id), "messaging", messaging_on, "messaging_enabled"))
            return fail(*no);
        if (!cl || !staff_can_see_client(s.staff.at(c.sender_id), *cl)) return client_not_found();
        thread_staff = c.sender_id;
    } else if (c.sender_kind == events::sender_kind::client) {
        if (!messaging_on) return fail(errc::forbidden, "the agency's messaging_enabled is off");
        if (!cl || !cl->portal || cl->portal->id != c.sender_id) return client_not_found();
    } else {
        return fail(error::validation("sender_kind", "must be 'staff' or 'client'"));
    }

    field_errors errs;
    if (c.thread_id.empty()) errs.add("thread_id", "is required");
    if (c.message_id.empty()) errs.add("message_id", "is required");
    if (!is_valid_utf8(c.body))
        errs.add("body", "must be valid UTF-8");
    else if (trim(c.body).empty())
        errs.add("body", "is required");
    else if (detail::utf8_length(c.body) > max_message_chars)
        errs.add("body", "must be at most " + std::to_string(max_message_chars) + " characters");
    if (!errs.empty()) return fail(errs.to_error());

    auto owner = s.thread_owners.find(c.thread_id);
    if (owner != s.thread_owners.end()) {
        if (owner->second != cl->id) return fail(errc::not_found, "thread not found");
        thread_staff = cl->threads.at(c.thread_id).staff_id;
    } else if (c.sender_kind == events::sender_kind::client) {
        const staff_state* to = staff_by_id(s, c.to_staff_id);
        if (!to || !to->active || !cl->assigned_staff.contains(to->id))
            return fail(error::validation("to_staff_id", "must be a staff member assigned to you"));
        if (!to->permissions.contains("messaging"))
            return fail(error::validation("to_staff_id", "this staff member does not use messaging"));
        thread_staff = to->id;
    }
    emitter em(*cl);
    em.add(events::MessageSent{c.thread_id, c.message_id, c.sender_kind, c.sender_id, c.body, thread_staff});
    return em.take();
}

// ---------------------------------------------------------------- kiosk

decision decide(const agency_state& s, const start_kiosk& c) {
    if (!s.exists) return agency_not_found();
    const staff_state* actor = staff_by_id(s, c.actor_staff_id);
    if (!actor || !actor->active) return fail(errc::forbidden, "the acting staff member is not active");
    const client_state* cl = client_by_id(s, c.client_id);
    if (!cl || !staff_can_see_client(*actor, *cl)) return client_not_found();
    field_errors errs;
    if (c.kiosk_session_id.empty()) errs.add("kiosk_session_id", "is required");
    if (c.form_id.empty() == c.document_id.empty())
        errs.add("form_id", "give exactly one of form_id (a blank form) or document_id (an existing document)");
    if (!c.appointment_id.empty() && c.form_id.empty())
        errs.add("appointment_id", "is only for a blank form (form_id)");
    for (auto [field, v] : {std::pair{"form_id", &c.form_id}, std::pair{"document_id", &c.document_id},
                            std::pair{"appointment_id", &c.appointment_id}})
        detail::check_text(errs, field, *v, false, 200);
    if (!is_token_hash(c.token_hash)) errs.add("token_hash", "must be the hex SHA-256 of the kiosk token");
    if (auto e = expiry_problem(c.expires_at, c.now, max_kiosk_lifetime)) errs.add("expires_at", e->fields[0].message);
    if (!errs.empty()) return fail(errs.to_error());
    if (s.kiosk_owners.contains(c.kiosk_session_id)) return fail(errc::conflict, "kiosk session already exists");
    if (s.kiosk_tokens.contains(c.token_hash)) return fail(errc::conflict, "token hash already in use");
    emitter em(*cl);
    em.add(events::KioskSessionStarted{c.kiosk_session_id, cl->id, c.form_id, c.document_id, c.appointment_id,
                                       c.token_hash, c.expires_at.value_or(c.now + kiosk_lifetime), actor->id});
    return em.take();
}

decision decide(const agency_state& s, const submit_kiosk_form& c) {
    if (!s.exists) return agency_not_found();
    const client_state* cl = client_via(s, s.kiosk_tokens, c.token_hash);
    const kiosk_state* k = nullptr;
    if (cl)
        for (const auto& [id, ks] : cl->kiosks)
            if (ks.token_hash == c.token_hash) k = &ks;
    if (!k || c.now >= k->expires_at) return fail(errc::unauthenticated, "the kiosk session is not live");
    if (k->submitted) return fail(errc::conflict, "the kiosk form was already submitted");
    if (c.answers.size() > max_answers_bytes) return fail(error::validation("answers", "must be at most 1 MiB"));
    boost::system::error_code ec;
    auto v = boost::json::parse(c.answers, ec);
    if (ec || !v.is_object()) return fail(error::validation("answers", "must be a JSON object"));
    emitter em(*cl);
    em.add(events::KioskFormSubmitted{k->id, c.answers});
    return em.take();
}

// ---------------------------------------------------------------- evolve

void detail::evolve_client(agency_state& s, const std::string& client_id, std::uint64_t version,
                           const events::payload& e, micros at) {
    if (const auto* added = std::get_if<events::ClientAdded>(&e)) {
        if (s.clients.contains(client_id)) return;
        client_state c;
        c.id = client_id;
        c.version = version;
        c.profile = *added;
        c.created_at = at;
        if (!added->external_id.empty()) s.external_ids[added->external_id] = client_id;
        s.clients.emplace(client_id, std::move(c));
        return;
    }
    auto it = s.clients.find(client_id);
    if (it == s.clients.end()) return;
    auto& c = it->second;
    const std::string old_reset_token = c.portal ? c.portal->reset_token_hash : std::string();
    auto with_invitation = [&](const std::string& id, auto&& fn) {
        if (auto i = c.invitations.find(id); i != c.invitations.end()) fn(i->second);
    };
    std::visit(overloaded{
                   [&](const events::StaffAssignedToClient& x) { c.assigned_staff.insert(x.staff_id); },
                   [&](const events::StaffUnassignedFromClient& x) { c.assigned_staff.erase(x.staff_id); },
                   [&](const events::InvitationSent& x) {
                       c.invitations[x.invitation_id] =
                           invitation_state{x.invitation_id, x.email, x.token_hash, at, x.expires_at,
                                            invitation_status::sent, ""};
                       s.invitation_owners[x.invitation_id] = client_id;
                       s.invitation_tokens[x.token_hash] = client_id;
                   },
                   [&](const events::InvitationResent& x) {
                       with_invitation(x.invitation_id, [&](invitation_state& i) {
                           s.invitation_tokens.erase(i.token_hash);
                           i.token_hash = x.token_hash;
                           i.expires_at = x.expires_at;
                           i.sent_at = at;
                           s.invitation_tokens[x.token_hash] = client_id;
                       });
                   },
                   [&](const events::InvitationRevoked& x) {
                       with_invitation(x.invitation_id, [&](invitation_state& i) {
                           i.status = invitation_status::revoked;
                           s.invitation_tokens.erase(i.token_hash);
                       });
                   },
                   [&](const events::InvitationAccepted& x) {
                       with_invitation(x.invitation_id, [&](invitation_state& i) {
                           i.status = invitation_status::registered;
                           i.portal_account_id = x.portal_account_id;
                           s.invitation_tokens.erase(i.token_hash);
                       });
                       portal_account_state a;
                       a.id = x.portal_account_id;
                       a.invitation_id = x.invitation_id;
                       a.created_at = at;
                       c.portal = std::move(a);
                       s.portal_accounts[x.portal_account_id] = client_id;
                   },
                   [&](const events::PortalUsernameChosen& x) {
                       if (!c.portal || c.portal->id != x.portal_account_id) return;
                       c.portal->username = x.username;
                       c.portal->password_hash = x.password_hash;
                       s.portal_usernames[ascii_lower(x.username)] = client_id;
                   },
                   [&](const events::PortalLoginSucceeded& x) {
                       if (!c.portal) return;
                       c.portal->sessions[x.session_id] = portal_session_info{at, x.ip, at};
                       c.portal->failed_attempts = 0;
                       c.portal->last_login_at = at;
                       s.portal_session_owners[x.session_id] = client_id;
                   },
                   [&](const events::PortalLoginFailed& x) {
                       if (c.portal && x.reason == why::bad_password) ++c.portal->failed_attempts;
                   },
                   [&](const events::PortalAccountLocked& x) {
                       if (!c.portal) return;
                       c.portal->locked = true;
                       c.portal->locked_until = x.until;
                   },
                   [&](const events::PortalAccountUnlocked&) {
                       if (!c.portal) return;
                       c.portal->locked = false;
                       c.portal->locked_until = 0;
                       c.portal->failed_attempts = 0;
                   },
                   [&](const events::PortalPasswordChanged& x) {
                       if (!c.portal || c.portal->id != x.portal_account_id) return;
                       c.portal->password_hash = x.password_hash;
                       c.portal->require_password_change = x.require_change_next_logon;
                       c.portal->reset_token_hash.clear();
                       c.portal->reset_requested_at = c.portal->reset_expires_at = 0;
                   },
                   [&](const events::PortalPasswordResetRequested& x) {
                       if (!c.portal || c.portal->id != x.portal_account_id) return;
                       c.portal->reset_token_hash = x.token_hash;
                       c.portal->reset_expires_at = x.expires_at;
                       c.portal->reset_requested_at = x.expires_at - reset_token_lifetime;  // needs no occurred_at
                   },
                   [&](const events::PortalSessionTouched& x) {
                       if (!c.portal) return;
                       if (auto it = c.portal->sessions.find(x.session_id); it != c.portal->sessions.end())
                           it->second.last_seen = std::max(it->second.last_seen, at);
                   },
                   [&](const events::PortalSessionEnded& x) {
                       if (c.portal) c.portal->sessions.erase(x.session_id);
                       s.portal_session_owners.erase(x.session_id);
                   },
                   [&](const events::MessageSent& x) {
                       auto [t, fresh] = c.threads.try_emplace(x.thread_id);
                       if (fresh) {
                           t->second.id = x.thread_id;
                           t->second.staff_id = x.staff_id;
                           t->second.started_at = at;
                           s.thread_owners[x.thread_id] = client_id;
                       }
                       t->second.last_message_at = at;
                       ++t->second.messages;
                   },
                   [&](const events::KioskSessionStarted& x) {
                       c.kiosks[x.kiosk_session_id] =
                           kiosk_state{x.kiosk_session_id, x.form_id, x.document_id, x.appointment_id, x.token_hash,
                                       at, x.expires_at, x.started_by, false, 0};
                       s.kiosk_owners[x.kiosk_session_id] = client_id;
                       s.kiosk_tokens[x.token_hash] = client_id;
                   },
                   [&](const events::KioskFormSubmitted& x) {
                       if (auto k = c.kiosks.find(x.kiosk_session_id); k != c.kiosks.end()) {
                           k->second.submitted = true;
                           k->second.submitted_at = at;
                       }
                   },
                   [](const auto&) {},
               },
               e);
    c.version = version;
    const std::string reset_token = c.portal ? c.portal->reset_token_hash : std::string();
    if (reset_token != old_reset_token) {
        if (!old_reset_token.empty())
            if (auto r = s.portal_reset_tokens.find(old_reset_token); r != s.portal_reset_tokens.end() && r->second == c.id)
                s.portal_reset_tokens.erase(r);
        if (!reset_token.empty()) s.portal_reset_tokens[reset_token] = c.id;
    }
}

void detail::index_client(agency_state& s, const client_state& c) {
    if (!c.profile.external_id.empty()) s.external_ids[c.profile.external_id] = c.id;
    for (const auto& [id, i] : c.invitations) {
        s.invitation_owners[id] = c.id;
        if (i.status == invitation_status::sent) s.invitation_tokens[i.token_hash] = c.id;
    }
    if (c.portal) {
        s.portal_accounts[c.portal->id] = c.id;
        if (!c.portal->username.empty()) s.portal_usernames[ascii_lower(c.portal->username)] = c.id;
        for (const auto& [sid, info] : c.portal->sessions) s.portal_session_owners[sid] = c.id;
    }
    for (const auto& [id, t] : c.threads) s.thread_owners[id] = c.id;
    for (const auto& [id, k] : c.kiosks) {
        s.kiosk_owners[id] = c.id;
        s.kiosk_tokens[k.token_hash] = c.id;
    }
    if (c.portal && !c.portal->reset_token_hash.empty()) s.portal_reset_tokens[c.portal->reset_token_hash] = c.id;
}

}  // namespace carelog::aggregates
