// Fixtures for the identity rules: an agency on a test clock with an org_admin (alovelace, admin-1)
// and a therapist (tjones, s1), and helpers that stand in for what the API computes (verdicts on
// passwords and TOTP codes, token hashes).
#pragma once

#include "fixtures.hpp"

#include "carelog/aggregates/identity.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/base/text.hpp"

namespace carelog::aggregates::testing {

inline constexpr micros t0 = 1'795'000'000'000'000;  // 2026-11-18T...Z
inline constexpr micros minute = 60'000'000;
inline constexpr micros day = 24 * 60 * minute;

inline const std::string admin_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
inline const std::string s1_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$dGVtcA";
inline const std::string new_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$bmV3cGFzcw";

// A session id / token hash the way the API makes them (token_hash of an opaque token).
inline std::string sid(int n) { return token_hash("session-token-" + std::to_string(n)); }
inline std::string reset_hash(int n) { return token_hash("reset-token-" + std::to_string(n)); }
// Sealed-looking text (the aggregate only checks its shape; base/secrets_test covers real sealing).
inline std::string sealed_text(char c = '5') { return "sb1:" + std::string(2 * (24 + 16 + 20), c); }

template <class T>
const T& as(const events::decided_event& e) {
    const T* p = std::get_if<T>(&e.data);
    if (!p) FAIL("event is " << events::event_type_name(e.data));
    return *p;
}

struct identity_fixture {
    agency_state s;
    micros now = t0;

    identity_fixture() {
        run(agency_cmd());
        auto c = staff_cmd("s1", "Todd", "Jones");
        c.require_password_change = false;
        run(c);
    }

    decision try_(const command& c) const { return decide(s, c); }
    std::vector<events::decided_event> run(const command& c) {
        auto evs = accepted(decide(s, c));
        fold_in(s, evs, now);
        return evs;
    }
    // Applies a decision that must succeed (any events, possibly a refused login).
    std::vector<events::decided_event> apply(const decision& d) {
        auto evs = accepted(d);
        fold_in(s, evs, now);
        return evs;
    }

    const staff_state& staff(const std::string& id) const { return s.staff.at(id); }
    const credentials_state& cred(const std::string& id) const { return s.staff.at(id).credentials; }

    // A login attempt as the API would submit it after checking the password.
    record_login attempt(std::string username, bool password_ok, std::string session_id) const {
        record_login c;
        c.username = std::move(username);
        c.password_ok = password_ok;
        auto st = s.usernames.find(ascii_lower(trim(c.username)));
        if (st != s.usernames.end()) {
            c.checked_password_hash = s.staff.at(st->second).profile.password_hash;
            c.checked_mfa_secret = s.staff.at(st->second).credentials.mfa_secret_sealed;
        }
        c.session_id = std::move(session_id);
        c.ip = "203.0.113.7";
        c.user_agent = "Mozilla/5.0 (test)";
        c.now = now;
        return c;
    }
    record_login with_totp(record_login c, bool ok, std::int64_t step) const {
        c.totp_provided = true;
        c.totp_ok = ok;
        c.totp_step = step;
        return c;
    }
    std::vector<events::decided_event> login_as(const std::string& username, int session) {
        auto evs = run(attempt(username, true, sid(session)));
        if (!outcome_of(evs).succeeded) FAIL("login of " << username << " refused");
        return evs;
    }
    std::vector<events::decided_event> bad_password(const std::string& username, int session = 900) {
        return run(attempt(username, false, sid(session)));
    }

    void settings(const events::Settings& patch) { run(change_settings{patch}); }

    // The TOTP step of the test clock (codes are accepted for step() - 1 .. step() + 1).
    std::int64_t step() const { return totp_step_at(now); }
    confirm_mfa confirm_cmd(std::int64_t step, std::string sealed, bool ok = true) const {
        return confirm_mfa{"s1", ok, step, std::move(sealed), now};
    }
    // s1 with a confirmed TOTP; returns the step its confirmation spent (the current one).
    std::int64_t confirm_totp_for_s1() {
        run(enroll_mfa{"s1", sealed_text()});
        run(confirm_cmd(step(), sealed_text()));
        return step();
    }

    change_password change_cmd(int session) const {
        change_password c;
        c.staff_id = "s1";
        c.session_id = sid(session);
        c.current_ok = true;
        c.checked_password_hash = s.staff.at("s1").profile.password_hash;
        c.new_password_hash = new_hash;
        c.new_password_policy_ok = true;
        c.now = now;
        return c;
    }
};

inline std::vector<std::string> type_names(const std::vector<events::decided_event>& evs) {
    std::vector<std::string> out;
    for (const auto& e : evs) out.emplace_back(events::event_type_name(e.data));
    return out;
}

}  // namespace carelog::aggregates::testing
