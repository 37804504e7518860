// Login: sessions by hash, the same refusal for every failure (the reason only in the event),
// lockout after consecutive failures with automatic and admin unlock, TOTP never accepted twice,
// and sessions restricted until the password is changed or MFA enrolled.
#include "identity_fixtures.hpp"

#include "carelog/aggregates/access.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
using strs = std::vector<std::string>;

TEST_CASE("login: the right password opens a session known by its hash, with ip and user agent",
          "[aggregates][identity][login]") {
    identity_fixture f;
    f.now = t0 + 10 * minute;
    auto evs = f.login_as("tjones", 1);
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "s1");
    CHECK(evs[0].aggregate_version == 2);
    CHECK(events::aggregate_type_of(evs[0]) == "Staff");
    const auto& ok = as<events::LoginSucceeded>(evs[0]);
    CHECK(ok.session_id == sid(1));
    CHECK(ok.ip == "203.0.113.7");
    CHECK(ok.user_agent == "Mozilla/5.0 (test)");
    CHECK_FALSE(ok.mfa);
    CHECK_FALSE(ok.mfa_enrollment_required);
    CHECK(ok.totp_step == 0);

    const auto& c = f.cred("s1");
    REQUIRE(c.sessions.contains(sid(1)));
    CHECK(c.sessions.at(sid(1)).created_at == f.now);
    CHECK(c.sessions.at(sid(1)).last_seen == f.now);
    CHECK(c.sessions.at(sid(1)).ip == "203.0.113.7");
    CHECK(c.last_login_at == f.now);
    CHECK(f.s.session_owners.at(sid(1)) == "s1");
    CHECK(f.staff("s1").version == 2);

    auto o = outcome_of(evs);
    CHECK(o.succeeded);
    CHECK(o.staff_id == "s1");
    CHECK(o.reason.empty());

    auto chk = check_session(f.s, sid(1), f.now);
    CHECK(chk.status == session_status::active);
    CHECK(chk.staff == &f.staff("s1"));
    CHECK(chk.restriction == session_restriction::none);
}

TEST_CASE("login: the username is matched case-insensitively, spaces trimmed", "[aggregates][identity][login]") {
    identity_fixture f;
    CHECK(outcome_of(f.run(f.attempt("  TJones ", true, sid(1)))).succeeded);
    CHECK(outcome_of(f.run(f.attempt("ALOVELACE", true, sid(2)))).staff_id == "admin-1");
}

TEST_CASE("login: an unknown username fails on the agency aggregate and keeps only username-shaped input",
          "[aggregates][identity][login]") {
    identity_fixture f;
    auto agency_version = f.s.version;
    auto evs = f.run(f.attempt("NoSuchUser", false, sid(1)));
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == f.s.id);
    CHECK(evs[0].aggregate_version == agency_version + 1);
    CHECK(events::aggregate_type_of(evs[0]) == "Agency");
    const auto& no = as<events::LoginFailed>(evs[0]);
    CHECK(no.reason == "unknown_user");
    CHECK(no.username_tried == "nosuchuser");
    CHECK(f.s.version == agency_version + 1);  // the agency's version moved with it

    auto o = outcome_of(evs);
    CHECK_FALSE(o.succeeded);
    CHECK(o.staff_id.empty());
    CHECK(o.reason == "unknown_user");

    // The next Agency event continues the agency's versions without a gap or a repeat.
    auto loc = f.run(add_location{"loc-x", "Annex", ""});
    CHECK(loc[0].aggregate_version == agency_version + 2);

    // A password typed into the username field is not recorded.
    const std::vector<std::string> not_usernames{"Tr0ub4dor&3-Horse!", "correct horse", "p@ss", std::string(65, 'a')};
    for (const auto& typed : not_usernames) {
        INFO(typed);
        auto e = f.run(f.attempt(typed, false, sid(2)));
        CHECK(as<events::LoginFailed>(e[0]).username_tried.empty());
    }
}

TEST_CASE("login: a deactivated staff member always fails, and it is not counted as a guess",
          "[aggregates][identity][login]") {
    identity_fixture f;
    f.run(deactivate_staff{"s1", "left"});
    for (int i = 0; i < 7; ++i) {
        auto evs = f.run(f.attempt("tjones", true, sid(i)));
        REQUIRE(evs.size() == 1);
        CHECK(as<events::LoginFailed>(evs[0]).reason == "deactivated");
    }
    CHECK(f.cred("s1").failed_attempts == 0);
    CHECK_FALSE(f.cred("s1").locked);
    CHECK(f.cred("s1").sessions.empty());
}

TEST_CASE("login: consecutive failures lock the account at the policy's threshold", "[aggregates][identity][lockout]") {
    identity_fixture f;
    for (int i = 1; i <= 4; ++i) {
        auto evs = f.bad_password("tjones");
        REQUIRE(evs.size() == 1);
        CHECK(as<events::LoginFailed>(evs[0]).reason == "bad_password");
        CHECK(as<events::LoginFailed>(evs[0]).username_tried == "tjones");
        CHECK(f.cred("s1").failed_attempts == i);
    }
    CHECK_FALSE(f.cred("s1").locked);
    auto evs = f.bad_password("tjones");
    CHECK(type_names(evs) == strs{"LoginFailed", "AccountLocked"});
    const auto& lock = as<events::AccountLocked>(evs[1]);
    CHECK(lock.until == f.now + 30 * minute);
    CHECK(lock.failures == 5);
    CHECK(outcome_of(evs).locked_now);
    CHECK(f.cred("s1").locked);
    CHECK(is_locked(f.staff("s1"), f.now));
    CHECK(evs[0].aggregate_version + 1 == evs[1].aggregate_version);
}

TEST_CASE("login: a locked account refuses even the right password, and the lock does not grow",
          "[aggregates][identity][lockout]") {
    identity_fixture f;
    for (int i = 0; i < 5; ++i) f.bad_password("tjones");
    auto until = f.cred("s1").locked_until;
    f.now += 29 * minute;
    for (bool right : {true, false}) {
        auto evs = f.run(f.attempt("tjones", right, sid(1)));
        REQUIRE(evs.size() == 1);
        CHECK(as<events::LoginFailed>(evs[0]).reason == "locked");
        CHECK_FALSE(outcome_of(evs).succeeded);
    }
    CHECK(f.cred("s1").locked_until == until);
    CHECK(f.cred("s1").failed_attempts == 5);
    CHECK(f.cred("s1").sessions.empty());
}

TEST_CASE("login: a lapsed lock unlocks by itself before the attempt is judged", "[aggregates][identity][lockout]") {
    identity_fixture f;
    for (int i = 0; i < 5; ++i) f.bad_password("tjones");
    auto until = f.cred("s1").locked_until;
    CHECK(is_locked(f.staff("s1"), until - 1));
    CHECK_FALSE(is_locked(f.staff("s1"), until));

    SECTION("then a right password logs in") {
        f.now = until;
        auto evs = f.run(f.attempt("tjones", true, sid(1)));
        CHECK(type_names(evs) == strs{"AccountUnlocked", "LoginSucceeded"});
        CHECK(as<events::AccountUnlocked>(evs[0]).by == "timeout");
        CHECK_FALSE(f.cred("s1").locked);
        CHECK(f.cred("s1").failed_attempts == 0);
    }
    SECTION("then a wrong password starts counting from one again") {
        f.now = until + day;
        auto evs = f.bad_password("tjones");
        CHECK(type_names(evs) == strs{"AccountUnlocked", "LoginFailed"});
        CHECK(f.cred("s1").failed_attempts == 1);
        CHECK_FALSE(f.cred("s1").locked);
    }
}

TEST_CASE("login: lockout_minutes 0 locks until an administrator unlocks", "[aggregates][identity][lockout]") {
    identity_fixture f;
    events::Settings p;
    p.lockout_minutes = 0;
    p.lockout_threshold = 3;
    f.settings(p);
    for (int i = 0; i < 2; ++i) f.bad_password("tjones");
    auto evs = f.bad_password("tjones");
    REQUIRE(evs.size() == 2);
    CHECK(as<events::AccountLocked>(evs[1]).until == 0);
    CHECK(as<events::AccountLocked>(evs[1]).failures == 3);
    f.now += 365 * day;
    CHECK(is_locked(f.staff("s1"), f.now));
    CHECK(as<events::LoginFailed>(f.run(f.attempt("tjones", true, sid(1)))[0]).reason == "locked");

    auto unlock = f.run(unlock_staff{"s1"});
    REQUIRE(unlock.size() == 1);
    CHECK(as<events::AccountUnlocked>(unlock[0]).by == "admin");
    CHECK_FALSE(is_locked(f.staff("s1"), f.now));
    CHECK(f.cred("s1").failed_attempts == 0);
    CHECK(outcome_of(f.run(f.attempt("tjones", true, sid(1)))).succeeded);
}

TEST_CASE("login: lockout_threshold 0 never locks", "[aggregates][identity][lockout]") {
    identity_fixture f;
    events::Settings p;
    p.lockout_threshold = 0;
    f.settings(p);
    for (int i = 0; i < 50; ++i) CHECK(f.bad_password("tjones").size() == 1);
    CHECK_FALSE(f.cred("s1").locked);
    CHECK(outcome_of(f.run(f.attempt("tjones", true, sid(1)))).succeeded);
}

TEST_CASE("login: a success resets the count of consecutive failures", "[aggregates][identity][lockout]") {
    identity_fixture f;
    for (int i = 0; i < 4; ++i) f.bad_password("tjones");
    f.login_as("tjones", 1);
    CHECK(f.cred("s1").failed_attempts == 0);
    for (int i = 0; i < 4; ++i) f.bad_password("tjones");
    CHECK_FALSE(f.cred("s1").locked);
    // Failures are per staff member: another account's guesses do not count.
    for (int i = 0; i < 4; ++i) f.bad_password("alovelace");
    CHECK(f.cred("s1").failed_attempts == 4);
    CHECK(f.cred("admin-1").failed_attempts == 4);
}

TEST_CASE("unlock: an administrator's unlock yields nothing for an account that is not locked",
          "[aggregates][identity][lockout]") {
    identity_fixture f;
    CHECK(f.run(unlock_staff{"s1"}).empty());
    CHECK(refused(f.try_(unlock_staff{"ghost"})).code == errc::not_found);
    // A recorded lock that has lapsed is still cleared by the admin (and named so in the log).
    for (int i = 0; i < 5; ++i) f.bad_password("tjones");
    f.now += 2 * 30 * minute;
    CHECK(as<events::AccountUnlocked>(f.run(unlock_staff{"s1"})[0]).by == "admin");
}

TEST_CASE("login: a password checked against a hash that changed meanwhile is sent back for a recheck",
          "[aggregates][identity][login]") {
    identity_fixture f;
    auto stale = f.attempt("tjones", true, sid(1));
    stale.checked_password_hash = admin_hash;
    CHECK(refused(f.try_(stale)).code == errc::stale);
    auto stale_wrong = f.attempt("tjones", false, sid(1));
    stale_wrong.checked_password_hash = "";
    CHECK(refused(f.try_(stale_wrong)).code == errc::stale);
    CHECK(f.cred("s1").failed_attempts == 0);
}

TEST_CASE("login: the session id must be a token hash that is not in use", "[aggregates][identity][login]") {
    identity_fixture f;
    auto raw_token = f.attempt("tjones", true, random_token());
    auto e = refused(f.try_(raw_token));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "session_id"));
    f.login_as("tjones", 1);
    CHECK(refused(f.try_(f.attempt("alovelace", true, sid(1)))).code == errc::conflict);
    agency_state none;
    CHECK(refused(decide(none, f.attempt("tjones", true, sid(2)))).code == errc::not_found);
}

TEST_CASE("login: ip and user agent are kept bounded and free of control characters", "[aggregates][identity][login]") {
    identity_fixture f;
    auto c = f.attempt("tjones", true, sid(1));
    c.user_agent = std::string(600, 'x') + "\n";
    c.ip = "203.0.113.7\r\nInjected: 1";
    auto evs = f.run(c);
    const auto& ok = as<events::LoginSucceeded>(evs[0]);
    CHECK(ok.user_agent == std::string(512, 'x'));
    CHECK(ok.ip == "203.0.113.7Injected: 1");

    auto d = f.attempt("tjones", true, sid(2));
    d.user_agent = "bad \xC3\x28 utf8";
    d.ip = std::string(100, '1');
    auto evs2 = f.run(d);
    CHECK(as<events::LoginSucceeded>(evs2[0]).user_agent.empty());
    CHECK(as<events::LoginSucceeded>(evs2[0]).ip.size() == 64);

    auto e = f.attempt("tjones", true, sid(3));
    e.user_agent = std::string(511, 'y') + "é";  // a two-byte character does not fit: cut before it
    CHECK(as<events::LoginSucceeded>(f.run(e)[0]).user_agent == std::string(511, 'y'));
}

TEST_CASE("login: a new login ends the staff member's sessions that are already idle", "[aggregates][identity][sessions]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.now += 20 * minute;
    f.login_as("tjones", 2);
    f.now += 15 * minute;  // session 1 idle 35 min, session 2 idle 15 min
    auto evs = f.login_as("tjones", 3);
    CHECK(type_names(evs) == strs{"SessionEnded", "LoginSucceeded"});
    CHECK(as<events::SessionEnded>(evs[0]).session_id == sid(1));
    CHECK(as<events::SessionEnded>(evs[0]).reason == "idle");
    CHECK(f.cred("s1").sessions.size() == 2);
    CHECK_FALSE(f.s.session_owners.contains(sid(1)));
}

TEST_CASE("login: with a confirmed TOTP a code is required, must be right, and is never accepted twice",
          "[aggregates][identity][totp]") {
    identity_fixture f;
    const auto s0 = f.confirm_totp_for_s1();
    auto code = [&](bool ok, std::int64_t step, int session = 1, bool password = true) {
        return f.run(f.with_totp(f.attempt("tjones", password, sid(session)), ok, step));
    };
    auto reason = [&](const std::vector<events::decided_event>& evs) {
        return as<events::LoginFailed>(evs[0]).reason;
    };
    CHECK(reason(f.run(f.attempt("tjones", true, sid(1)))) == "totp_required");
    CHECK(reason(code(false, 0)) == "bad_totp");
    // The confirmation's step, and any earlier one, are spent.
    CHECK(reason(code(true, s0)) == "bad_totp");
    CHECK(reason(code(true, s0 - 1)) == "bad_totp");
    CHECK(f.cred("s1").failed_attempts == 4);

    auto evs = code(true, s0 + 1);  // the next step: within ±1 of now
    REQUIRE(outcome_of(evs).succeeded);
    const auto& ok = as<events::LoginSucceeded>(evs.back());
    CHECK(ok.mfa);
    CHECK(ok.totp_step == s0 + 1);
    CHECK(f.cred("s1").last_totp_step == s0 + 1);
    CHECK(f.cred("s1").sessions.at(sid(1)).mfa);
    CHECK(f.cred("s1").failed_attempts == 0);

    // The same code replayed (another process, same state: one writer per agency) is refused.
    CHECK(reason(code(true, s0 + 1, 2)) == "bad_totp");
    f.now += totp_period;
    CHECK(outcome_of(code(true, s0 + 2, 2)).succeeded);

    // A wrong password is judged before the code: the code is not spent.
    f.now += totp_period;
    CHECK(reason(code(true, s0 + 3, 3, false)) == "bad_password");
    CHECK(f.cred("s1").last_totp_step == s0 + 2);
    CHECK(outcome_of(code(true, s0 + 3, 3)).succeeded);
}

TEST_CASE("login: a TOTP step more than one away from now is refused", "[aggregates][identity][totp]") {
    identity_fixture f;
    events::Settings no_lockout;  // five refusals below must not lock the account
    no_lockout.lockout_threshold = 0;
    f.settings(no_lockout);
    f.confirm_totp_for_s1();
    f.now += 10 * totp_period;
    const auto cur = f.step();
    auto reason = [&](std::int64_t step) {
        return outcome_of(f.run(f.with_totp(f.attempt("tjones", true, sid(1)), true, step))).reason;
    };
    CHECK(reason(cur + 2) == "bad_totp");  // a far-future step would spend every code until then
    CHECK(reason(cur - 2) == "bad_totp");
    CHECK(reason(1) == "bad_totp");  // liboath's window offset is not a step
    CHECK(reason(0) == "bad_totp");
    CHECK(reason(-1) == "bad_totp");
    CHECK(outcome_of(f.run(f.with_totp(f.attempt("tjones", true, sid(1)), true, cur - 1))).succeeded);
    CHECK(totp_step_at(0) == 0);
    CHECK(totp_step_at(totp_period - 1) == 0);
    CHECK(totp_step_at(totp_period) == 1);
    CHECK(totp_step_at(1'795'000'000'000'000) == 59'833'333);
}

TEST_CASE("login: wrong TOTP codes count toward the lockout", "[aggregates][identity][totp][lockout]") {
    identity_fixture f;
    f.confirm_totp_for_s1();
    std::vector<events::decided_event> last;
    for (int i = 0; i < 5; ++i) last = f.run(f.with_totp(f.attempt("tjones", true, sid(1)), false, 0));
    CHECK(type_names(last) == strs{"LoginFailed", "AccountLocked"});
    CHECK(is_locked(f.staff("s1"), f.now));
}

TEST_CASE("login: a code checked against a secret that changed meanwhile is sent back", "[aggregates][identity][totp]") {
    identity_fixture f;
    auto s0 = f.confirm_totp_for_s1();
    auto c = f.with_totp(f.attempt("tjones", true, sid(1)), true, s0 + 1);
    c.checked_mfa_secret = sealed_text('9');
    CHECK(refused(f.try_(c)).code == errc::stale);
}

TEST_CASE("login: an enrolled but unconfirmed TOTP is not asked for", "[aggregates][identity][totp]") {
    identity_fixture f;
    f.run(enroll_mfa{"s1", sealed_text()});
    auto evs = f.login_as("tjones", 1);
    CHECK_FALSE(as<events::LoginSucceeded>(evs[0]).mfa);
    CHECK_FALSE(mfa_enforced(f.staff("s1")));
}

TEST_CASE("login: a role that requires MFA logs in without TOTP, but only to enrol", "[aggregates][identity][totp]") {
    identity_fixture f;
    events::Settings p;
    p.mfa_required_roles = strings{"therapist"};
    f.settings(p);
    auto evs = f.login_as("tjones", 1);
    const auto& ok = as<events::LoginSucceeded>(evs[0]);
    CHECK(ok.mfa_enrollment_required);
    CHECK_FALSE(ok.mfa);
    CHECK(outcome_of(evs).mfa_enrollment_required);
    auto chk = check_session(f.s, sid(1), f.now);
    CHECK(chk.status == session_status::active);
    CHECK(chk.restriction == session_restriction::enrol_mfa);
    CHECK(access::allowed_during(chk.restriction, access::self_mfa));
    CHECK_FALSE(access::allowed_during(chk.restriction, access::clients_read));

    // Enrolling and confirming lifts the restriction at once, on the same session.
    f.confirm_totp_for_s1();
    CHECK(check_session(f.s, sid(1), f.now).restriction == session_restriction::none);
    // From then on the code is asked for.
    CHECK(as<events::LoginFailed>(f.run(f.attempt("tjones", true, sid(2)))[0]).reason == "totp_required");
    // Roles outside the list are not affected.
    CHECK_FALSE(as<events::LoginSucceeded>(f.login_as("alovelace", 3)[0]).mfa_enrollment_required);
}

TEST_CASE("login: a temporary password logs in restricted to changing it", "[aggregates][identity][password]") {
    identity_fixture f;
    auto c = staff_cmd("s2", "Maria", "Garcia");
    c.require_password_change = true;
    f.run(c);
    f.login_as("mgarcia", 1);
    auto chk = check_session(f.s, sid(1), f.now);
    CHECK(chk.restriction == session_restriction::change_password);
    CHECK(access::allowed_during(chk.restriction, access::self_password));
    CHECK(access::allowed_during(chk.restriction, access::self_sessions));
    CHECK_FALSE(access::allowed_during(chk.restriction, access::self_mfa));
    CHECK_FALSE(access::allowed_during(chk.restriction, access::staff_read));
}
