// Identity decisions (login, sessions, passwords, lockout, TOTP) and their evolve. The rules and the
// division of labour with the API are written down in identity.hpp.
#include "carelog/aggregates/identity.hpp"

#include <algorithm>

#include "carelog/base/secrets.hpp"
#include "carelog/base/text.hpp"
#include "rules.hpp"

namespace carelog::aggregates {
using detail::decision;
using detail::emitter;
using detail::field_errors;
using detail::check_new_password;
using detail::stale_password_check;
namespace end = events::session_end;
namespace why = events::login_failure;

namespace {

std::unexpected<error> agency_not_found() { return fail(errc::not_found, "agency not found"); }

result<const staff_state*> active_staff(const agency_state& s, const std::string& id) {
    if (!s.exists) return agency_not_found();
    auto it = s.staff.find(id);
    if (it == s.staff.end()) return fail(errc::not_found, "staff member not found");
    if (!it->second.active) return fail(errc::conflict, "staff member is deactivated");
    return &it->second;
}

const staff_state* by_username(const agency_state& s, std::string_view typed) {
    auto it = s.usernames.find(ascii_lower(trim(typed)));
    if (it == s.usernames.end()) return nullptr;
    auto st = s.staff.find(it->second);
    return st == s.staff.end() ? nullptr : &st->second;
}

// What a username can look like (the rule's output: lower-case letters, digits, inner hyphens).
// Anything else typed into the username field is not recorded: people type passwords there.
bool username_shaped(std::string_view u) {
    if (u.empty() || u.size() > 64) return false;
    return std::all_of(u.begin(), u.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Request metadata as given by the client: valid UTF-8 without control characters, cut at a code
// point boundary to `max` bytes. Invalid UTF-8 is dropped entirely.
std::string clean_meta(std::string_view v, std::size_t max) {
    if (!is_valid_utf8(v)) return {};
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
        auto c = static_cast<unsigned char>(v[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        if (out.size() + len > max) break;
        bool control = c < 0x20 || c == 0x7F || (c == 0xC2 && i + 1 < v.size() &&
                                                 static_cast<unsigned char>(v[i + 1]) <= 0x9F);
        if (!control) out.append(v.substr(i, len));
        i += len;
    }
    return out;
}

bool is_sealed_text(std::string_view v) {
    constexpr std::string_view prefix = "sb1:";
    if (!v.starts_with(prefix) || v.size() > 8192) return false;
    auto hex = v.substr(prefix.size());
    if (hex.size() % 2 != 0 || hex.size() < 2 * (24 + 16 + 1)) return false;
    return std::all_of(hex.begin(), hex.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool idle(const agency_state& s, const session_info& info, micros now) {
    return now - info.last_seen >= idle_timeout(s);
}

std::unexpected<error> stale_mfa_check() {
    return fail(errc::stale, "the TOTP code was checked against a secret that is no longer current; check again");
}


void end_all(emitter& em, const staff_state& st, const char* reason, std::string_view except = {}) {
    for (const auto& [sid, info] : st.credentials.sessions)
        if (sid != except) em.add(events::SessionEnded{sid, reason});
}

bool counts_as_failure(std::string_view reason) {
    return reason == why::bad_password || reason == why::bad_totp || reason == why::totp_required;
}

}  // namespace

// ---------------------------------------------------------------- queries

micros idle_timeout(const agency_state& s) {
    return static_cast<micros>(s.settings.session_idle_minutes.value_or(30)) * micros_per_minute;
}

micros touch_interval(const agency_state& s) { return std::min(max_touch_interval, idle_timeout(s) / 6); }

bool totp_step_in_window(std::int64_t step, micros now) {
    auto current = totp_step_at(now);
    return step > 0 && step >= current - 1 && step <= current + 1;
}

bool is_locked(const staff_state& st, micros now) {
    const auto& c = st.credentials;
    return c.locked && (c.locked_until == 0 || now < c.locked_until);
}

bool password_expired(const agency_state& s, const staff_state& st, micros now) {
    auto days = s.settings.password_expiry_days.value_or(90);
    if (days <= 0) return false;
    return now - st.credentials.password_changed_at >= static_cast<micros>(days) * 24 * 60 * micros_per_minute;
}

bool mfa_required_by_role(const agency_state& s, const staff_state& st) {
    const auto& roles = s.settings.mfa_required_roles;
    return roles && std::find(roles->begin(), roles->end(), st.profile.role) != roles->end();
}

bool mfa_enforced(const staff_state& st) {
    return st.credentials.mfa_confirmed && !st.credentials.mfa_secret_sealed.empty();
}

session_restriction restriction_of(const agency_state& s, const staff_state& st, micros now) {
    if (st.profile.require_password_change || password_expired(s, st, now)) return session_restriction::change_password;
    if (mfa_required_by_role(s, st) && !st.credentials.mfa_confirmed) return session_restriction::enrol_mfa;
    return session_restriction::none;
}

session_check check_session(const agency_state& s, std::string_view session_id, micros now) {
    session_check r;
    auto owner = s.session_owners.find(std::string(session_id));
    if (owner == s.session_owners.end()) return r;
    auto st = s.staff.find(owner->second);
    if (st == s.staff.end()) return r;
    auto info = st->second.credentials.sessions.find(owner->first);
    if (info == st->second.credentials.sessions.end()) return r;
    r.staff = &st->second;
    if (!st->second.active) {
        r.status = session_status::staff_inactive;
    } else if (idle(s, info->second, now)) {
        r.status = session_status::idle_expired;
    } else {
        r.status = session_status::active;
        r.touch_due = now - info->second.last_seen >= touch_interval(s);
        r.restriction = restriction_of(s, st->second, now);
    }
    return r;
}

const staff_state* find_reset_token(const agency_state& s, std::string_view token_hash, micros now) {
    if (token_hash.empty()) return nullptr;
    auto owner = s.reset_token_owners.find(std::string(token_hash));
    if (owner == s.reset_token_owners.end()) return nullptr;
    auto it = s.staff.find(owner->second);
    if (it == s.staff.end()) return nullptr;
    const auto& st = it->second;
    const auto& c = st.credentials;
    if (st.active && c.reset_token_hash == token_hash && now < c.reset_expires_at) return &st;
    return nullptr;
}

login_outcome outcome_of(const std::vector<events::decided_event>& decided) {
    login_outcome o;
    for (const auto& d : decided) {
        if (const auto* ok = std::get_if<events::LoginSucceeded>(&d.data)) {
            o.succeeded = true;
            o.staff_id = d.aggregate_id;
            o.mfa_enrollment_required = ok->mfa_enrollment_required;
        } else if (const auto* no = std::get_if<events::LoginFailed>(&d.data)) {
            o.reason = no->reason;
            o.staff_id = events::aggregate_type_of(d) == "Agency" ? "" : d.aggregate_id;
        } else if (std::holds_alternative<events::AccountLocked>(d.data)) {
            o.locked_now = true;
        }
    }
    return o;
}

// ---------------------------------------------------------------- login

decision decide(const agency_state& s, const record_login& c) {
    if (!s.exists) return agency_not_found();
    if (!is_token_hash(c.session_id))
        return fail(error::validation("session_id", "must be the hex SHA-256 of the session token"));
    if (s.session_owners.contains(c.session_id)) return fail(errc::conflict, "session id already in use");
    auto ip = clean_meta(c.ip, max_ip_bytes);
    auto ua = clean_meta(c.user_agent, max_user_agent_bytes);

    const staff_state* found = by_username(s, c.username);
    if (!found) {
        auto typed = ascii_lower(trim(c.username));
        std::vector<events::decided_event> out;
        out.push_back({s.id, s.version + 1,
                       events::LoginFailed{username_shaped(typed) ? typed : "", ip, ua, why::unknown_user}, "Agency"});
        return out;
    }
    const staff_state& st = *found;
    const auto& cred = st.credentials;
    emitter em(st);
    auto failed = [&](const char* reason) { em.add(events::LoginFailed{st.profile.username, ip, ua, reason}); };

    if (!st.active) {
        failed(why::deactivated);
        return em.take();
    }
    int failures = cred.failed_attempts;
    if (cred.locked) {
        if (!is_locked(st, c.now)) {
            em.add(events::AccountUnlocked{"timeout"});  // the lock lapsed: judge this attempt afresh
            failures = 0;
        } else {
            failed(why::locked);
            return em.take();
        }
    }
    if (c.checked_password_hash != st.profile.password_hash) return stale_password_check();

    auto refuse = [&](const char* reason) {
        failed(reason);
        int threshold = s.settings.lockout_threshold.value_or(5);
        if (threshold > 0 && ++failures >= threshold) {
            int minutes = s.settings.lockout_minutes.value_or(30);
            em.add(events::AccountLocked{minutes > 0 ? c.now + minutes * micros_per_minute : 0, failures});
        }
        return em.take();
    };
    if (!c.password_ok) return refuse(why::bad_password);

    bool with_totp = mfa_enforced(st);
    if (with_totp) {
        if (!c.totp_provided) return refuse(why::totp_required);
        if (c.checked_mfa_secret != cred.mfa_secret_sealed) return stale_mfa_check();
        if (!c.totp_ok || !totp_step_in_window(c.totp_step, c.now) || c.totp_step <= cred.last_totp_step)
            return refuse(why::bad_totp);
    }

    for (const auto& [sid, info] : cred.sessions)
        if (idle(s, info, c.now)) em.add(events::SessionEnded{sid, end::idle});
    bool enrol = mfa_required_by_role(s, st) && !cred.mfa_confirmed;
    em.add(events::LoginSucceeded{c.session_id, ip, ua, with_totp, enrol, with_totp ? c.totp_step : 0});
    return em.take();
}

// ---------------------------------------------------------------- passwords

decision decide(const agency_state& s, const change_password& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    const auto& cred = (*st)->credentials;
    auto session = cred.sessions.find(c.session_id);
    if (session == cred.sessions.end() || idle(s, session->second, c.now))
        return fail(errc::unauthenticated, "the session is not a live session of this staff member");
    if (c.checked_password_hash != (*st)->profile.password_hash) return stale_password_check();
    field_errors errs;
    if (!c.current_ok) errs.add("current_password", "is incorrect");
    check_new_password(errs, c.new_password_hash, c.new_password_policy_ok, c.new_same_as_current);
    if (!errs.empty()) return fail(errs.to_error());

    emitter em(**st);
    em.add(events::PasswordChanged{c.new_password_hash, false, events::password_change_reason::self, ""});
    end_all(em, **st, end::password_changed, c.session_id);
    return em.take();
}

decision decide(const agency_state& s, const set_temporary_password& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    field_errors errs;
    check_new_password(errs, c.new_password_hash, c.new_password_policy_ok, false);
    if (!errs.empty()) return fail(errs.to_error());

    emitter em(**st);
    if ((*st)->credentials.locked) em.add(events::AccountUnlocked{"admin"});
    em.add(events::PasswordChanged{c.new_password_hash, c.require_change, events::password_change_reason::admin, ""});
    end_all(em, **st, end::password_changed);
    return em.take();
}

decision decide(const agency_state& s, const request_password_reset& c) {
    if (!s.exists) return agency_not_found();
    if (!is_token_hash(c.token_hash))
        return fail(error::validation("token_hash", "must be the hex SHA-256 of the reset token"));
    const staff_state* st = by_username(s, c.username);
    if (!st || !st->active) return std::vector<events::decided_event>{};  // no account enumeration
    const auto& cred = st->credentials;
    if (!cred.reset_token_hash.empty() && c.now < cred.reset_expires_at &&
        c.now - cred.reset_requested_at < reset_request_interval)
        return std::vector<events::decided_event>{};  // the link just sent is still good
    emitter em(*st);
    em.add(events::PasswordResetRequested{c.token_hash, c.now + reset_token_lifetime});
    return em.take();
}

decision decide(const agency_state& s, const confirm_password_reset& c) {
    if (!s.exists) return agency_not_found();
    const staff_state* st = find_reset_token(s, c.token_hash, c.now);
    if (!st) return fail(error::validation("token", "the reset link is invalid, already used or expired"));
    field_errors errs;
    check_new_password(errs, c.new_password_hash, c.new_password_policy_ok, c.new_same_as_current);
    if (!errs.empty()) return fail(errs.to_error());

    emitter em(*st);
    em.add(events::PasswordChanged{c.new_password_hash, false, events::password_change_reason::reset, c.token_hash});
    end_all(em, *st, end::password_changed);
    return em.take();
}

// ---------------------------------------------------------------- lockout

decision decide(const agency_state& s, const unlock_staff& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    if (!(*st)->credentials.locked) return std::vector<events::decided_event>{};
    emitter em(**st);
    em.add(events::AccountUnlocked{"admin"});
    return em.take();
}

// ---------------------------------------------------------------- TOTP

decision decide(const agency_state& s, const enroll_mfa& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    if (mfa_enforced(**st))
        return fail(errc::conflict, "TOTP is already enrolled and confirmed; an administrator must reset it first");
    if (!is_sealed_text(c.secret_sealed))
        return fail(error::validation("secret_sealed", "must be a sealed secret (sb1:<hex>), never the secret"));
    emitter em(**st);
    em.add(events::MfaEnrolled{c.secret_sealed});
    return em.take();
}

decision decide(const agency_state& s, const confirm_mfa& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    const auto& cred = (*st)->credentials;
    if (cred.mfa_secret_sealed.empty()) return fail(errc::conflict, "no TOTP enrolment to confirm");
    if (cred.mfa_confirmed) return fail(errc::conflict, "TOTP is already confirmed");
    if (c.checked_mfa_secret != cred.mfa_secret_sealed) return stale_mfa_check();
    if (!c.totp_ok || !totp_step_in_window(c.totp_step, c.now)) return fail(error::validation("code", "is incorrect"));
    if (c.totp_step <= cred.last_totp_step)
        return fail(error::validation("code", "was already used; wait for the next one"));
    emitter em(**st);
    em.add(events::MfaConfirmed{c.totp_step});
    return em.take();
}

decision decide(const agency_state& s, const reset_mfa& c) {
    auto st = active_staff(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    if ((*st)->credentials.mfa_secret_sealed.empty()) return std::vector<events::decided_event>{};
    emitter em(**st);
    em.add(events::MfaReset{"admin"});
    return em.take();
}

// ---------------------------------------------------------------- sessions

decision decide(const agency_state& s, const logout& c) {
    if (!s.exists) return agency_not_found();
    auto owner = s.session_owners.find(c.session_id);
    if (owner == s.session_owners.end()) return std::vector<events::decided_event>{};
    auto st = s.staff.find(owner->second);
    if (st == s.staff.end()) return std::vector<events::decided_event>{};
    emitter em(st->second);
    em.add(events::SessionEnded{c.session_id, end::logout});
    return em.take();
}

decision decide(const agency_state& s, const end_sessions& c) {
    if (!s.exists) return agency_not_found();
    auto st = s.staff.find(c.staff_id);
    if (st == s.staff.end()) return fail(errc::not_found, "staff member not found");
    const auto& sessions = st->second.credentials.sessions;
    emitter em(st->second);
    if (c.session_id.empty()) {
        end_all(em, st->second, end::admin);
    } else {
        if (!sessions.contains(c.session_id)) return fail(errc::not_found, "session not found");
        em.add(events::SessionEnded{c.session_id, end::admin});
    }
    return em.take();
}

decision decide(const agency_state& s, const touch_session& c) {
    if (!s.exists) return agency_not_found();
    auto chk = check_session(s, c.session_id, c.now);
    if (chk.status != session_status::active) return fail(errc::unauthenticated, "the session is not live");
    if (!chk.touch_due) return std::vector<events::decided_event>{};
    emitter em(*chk.staff);
    em.add(events::SessionTouched{c.session_id});
    return em.take();
}

decision decide(const agency_state& s, const expire_session& c) {
    if (!s.exists) return agency_not_found();
    auto chk = check_session(s, c.session_id, c.now);
    if (chk.status != session_status::idle_expired) return std::vector<events::decided_event>{};
    emitter em(*chk.staff);
    em.add(events::SessionEnded{c.session_id, end::idle});
    return em.take();
}

// ---------------------------------------------------------------- evolve

void detail::evolve_identity(agency_state& s, staff_state& st, const events::payload& e, micros at) {
    auto& c = st.credentials;
    std::visit(overloaded{
                   [&](const events::PasswordChanged& x) {
                       st.profile.password_hash = x.password_hash;
                       st.profile.require_password_change = x.require_change_next_logon;
                       c.password_changed_at = at;
                       c.failed_attempts = 0;
                       c.reset_token_hash.clear();
                       c.reset_requested_at = c.reset_expires_at = 0;
                   },
                   [&](const events::PasswordResetRequested& x) {
                       c.reset_token_hash = x.token_hash;
                       c.reset_expires_at = x.expires_at;
                       c.reset_requested_at = x.expires_at - reset_token_lifetime;  // needs no occurred_at
                   },
                   [&](const events::LoginSucceeded& x) {
                       c.sessions[x.session_id] = session_info{at, at, x.ip, x.mfa};
                       s.session_owners[x.session_id] = st.id;
                       c.failed_attempts = 0;
                       c.last_totp_step = std::max(c.last_totp_step, x.totp_step);
                       c.last_login_at = at;
                   },
                   [&](const events::LoginFailed& x) {
                       if (counts_as_failure(x.reason)) ++c.failed_attempts;
                   },
                   [&](const events::AccountLocked& x) {
                       c.locked = true;
                       c.locked_until = x.until;
                   },
                   [&](const events::AccountUnlocked&) {
                       c.locked = false;
                       c.locked_until = 0;
                       c.failed_attempts = 0;
                   },
                   [&](const events::MfaEnrolled& x) {
                       c.mfa_secret_sealed = x.secret_sealed;
                       c.mfa_confirmed = false;
                       c.last_totp_step = 0;  // steps are per secret
                   },
                   [&](const events::MfaConfirmed& x) {
                       c.mfa_confirmed = true;
                       c.last_totp_step = std::max(c.last_totp_step, x.step);
                   },
                   [&](const events::MfaReset&) {
                       c.mfa_secret_sealed.clear();
                       c.mfa_confirmed = false;
                   },
                   [&](const events::SessionEnded& x) {
                       c.sessions.erase(x.session_id);
                       s.session_owners.erase(x.session_id);
                   },
                   [&](const events::SessionTouched& x) {
                       if (auto it = c.sessions.find(x.session_id); it != c.sessions.end())
                           it->second.last_seen = std::max(it->second.last_seen, at);
                   },
                   [](const auto&) {},
               },
               e);
}

}  // namespace carelog::aggregates
