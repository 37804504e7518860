// Sessions (logout, idle expiry across processes through SessionTouched, admin and deactivation
// endings) and TOTP enrolment (sealed secrets only, confirmation, admin reset).
#include "identity_fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
using strs = std::vector<std::string>;

TEST_CASE("sessions: logout ends the session and is idempotent", "[aggregates][identity][sessions]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    auto evs = f.run(logout{sid(1)});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "s1");
    CHECK(as<events::SessionEnded>(evs[0]).session_id == sid(1));
    CHECK(as<events::SessionEnded>(evs[0]).reason == "logout");
    CHECK(check_session(f.s, sid(1), f.now).status == session_status::unknown);
    CHECK(check_session(f.s, sid(2), f.now).status == session_status::active);
    CHECK(f.run(logout{sid(1)}).empty());
    CHECK(f.run(logout{sid(99)}).empty());
}

TEST_CASE("sessions: idle expiry is judged from the last recorded activity and the agency's timeout",
          "[aggregates][identity][sessions]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    const micros start = f.now;
    CHECK(idle_timeout(f.s) == 30 * minute);
    CHECK(touch_interval(f.s) == 5 * minute);

    auto at = [&](micros t) { return check_session(f.s, sid(1), t); };
    CHECK_FALSE(at(start + 5 * minute - 1).touch_due);
    CHECK(at(start + 5 * minute).touch_due);

    // Activity before a touch is due changes nothing (no event per request).
    f.now = start + 4 * minute;
    CHECK(f.run(touch_session{sid(1), f.now}).empty());

    f.now = start + 20 * minute;
    auto touched = f.run(touch_session{sid(1), f.now});
    REQUIRE(touched.size() == 1);
    CHECK(as<events::SessionTouched>(touched[0]).session_id == sid(1));
    CHECK(f.cred("s1").sessions.at(sid(1)).last_seen == f.now);
    CHECK(f.cred("s1").sessions.at(sid(1)).created_at == start);
    CHECK_FALSE(at(f.now).touch_due);

    // Idle is measured from the touch, not from the login.
    CHECK(at(start + 49 * minute).status == session_status::active);
    CHECK(at(start + 50 * minute).status == session_status::idle_expired);
    CHECK(f.run(expire_session{sid(1), start + 49 * minute}).empty());
    f.now = start + 50 * minute;
    CHECK(refused(f.try_(touch_session{sid(1), f.now})).code == errc::unauthenticated);
    auto ended = f.run(expire_session{sid(1), f.now});
    REQUIRE(ended.size() == 1);
    CHECK(as<events::SessionEnded>(ended[0]).reason == "idle");
    CHECK(at(f.now).status == session_status::unknown);
    CHECK(f.run(expire_session{sid(1), f.now}).empty());
    CHECK(refused(f.try_(touch_session{sid(1), f.now})).code == errc::unauthenticated);
}

TEST_CASE("sessions: the idle timeout follows the agency's setting; touches come at most every sixth of it",
          "[aggregates][identity][sessions]") {
    identity_fixture f;
    events::Settings p;
    p.session_idle_minutes = 6;
    f.settings(p);
    CHECK(idle_timeout(f.s) == 6 * minute);
    CHECK(touch_interval(f.s) == minute);
    f.login_as("tjones", 1);
    CHECK(check_session(f.s, sid(1), f.now + minute).touch_due);
    CHECK(check_session(f.s, sid(1), f.now + 6 * minute).status == session_status::idle_expired);
    p.session_idle_minutes = 240;
    f.settings(p);
    CHECK(touch_interval(f.s) == 5 * minute);  // capped
    CHECK(check_session(f.s, sid(1), f.now + 6 * minute).status == session_status::active);
}

TEST_CASE("sessions: an administrator ends one session or all of a staff member's", "[aggregates][identity][sessions]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    f.login_as("tjones", 3);
    auto one = f.run(end_sessions{"s1", sid(2)});
    REQUIRE(one.size() == 1);
    CHECK(as<events::SessionEnded>(one[0]).reason == "admin");
    CHECK(refused(f.try_(end_sessions{"s1", sid(2)})).code == errc::not_found);
    CHECK(refused(f.try_(end_sessions{"admin-1", sid(1)})).code == errc::not_found);  // not theirs
    CHECK(refused(f.try_(end_sessions{"ghost", ""})).code == errc::not_found);
    auto all = f.run(end_sessions{"s1", ""});
    CHECK(type_names(all) == strs{"SessionEnded", "SessionEnded"});
    CHECK(f.cred("s1").sessions.empty());
    CHECK(f.run(end_sessions{"s1", ""}).empty());
}

TEST_CASE("sessions: deactivation ends every session in the same decision", "[aggregates][identity][sessions]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    auto evs = f.run(deactivate_staff{"s1", "left"});
    CHECK(type_names(evs) == strs{"StaffDeactivated", "SessionEnded", "SessionEnded"});
    for (std::size_t i = 1; i < evs.size(); ++i) CHECK(as<events::SessionEnded>(evs[i]).reason == "deactivated");
    CHECK(check_session(f.s, sid(1), f.now).status == session_status::unknown);
    CHECK(f.s.session_owners.empty());
}

TEST_CASE("sessions: a session of one agency is unknown to another", "[aggregates][identity][sessions][tenancy]") {
    identity_fixture a;
    identity_fixture b;  // same ids and usernames, a different tenant's state
    a.login_as("tjones", 1);
    CHECK(check_session(a.s, sid(1), a.now).status == session_status::active);
    CHECK(check_session(b.s, sid(1), b.now).status == session_status::unknown);
    CHECK(b.run(logout{sid(1)}).empty());
    CHECK(refused(b.try_(touch_session{sid(1), b.now})).code == errc::unauthenticated);
}

TEST_CASE("sessions: a session whose staff member was deactivated without ending it is refused",
          "[aggregates][identity][sessions]") {
    // A chain from before deactivation ended sessions: evolve a StaffDeactivated on its own.
    identity_fixture f;
    f.login_as("tjones", 1);
    evolve(f.s, "s1", f.staff("s1").version + 1, events::StaffDeactivated{""}, f.now);
    auto chk = check_session(f.s, sid(1), f.now);
    CHECK(chk.status == session_status::staff_inactive);
    CHECK(refused(f.try_(touch_session{sid(1), f.now})).code == errc::unauthenticated);
}

TEST_CASE("mfa: enrolment takes only sealed text, and confirming needs a right, fresh code", "[aggregates][identity][totp]") {
    identity_fixture f;
    auto plain = refused(f.try_(enroll_mfa{"s1", "JBSWY3DPEHPK3PXP"}));
    CHECK(plain.code == errc::validation);
    CHECK(has_field(plain, "secret_sealed"));
    CHECK(has_field(refused(f.try_(enroll_mfa{"s1", "sb1:abc"})), "secret_sealed"));
    CHECK(has_field(refused(f.try_(enroll_mfa{"s1", "sb1:" + std::string(120, 'G')})), "secret_sealed"));

    CHECK(refused(f.try_(f.confirm_cmd(f.step(), ""))).code == errc::conflict);  // nothing to confirm

    auto evs = f.run(enroll_mfa{"s1", sealed_text()});
    CHECK(as<events::MfaEnrolled>(evs[0]).secret_sealed == sealed_text());
    CHECK(f.cred("s1").mfa_secret_sealed == sealed_text());
    CHECK_FALSE(f.cred("s1").mfa_confirmed);

    auto wrong = refused(f.try_(f.confirm_cmd(f.step(), sealed_text(), false)));
    CHECK(wrong.code == errc::validation);
    CHECK(has_field(wrong, "code"));
    CHECK(has_field(refused(f.try_(f.confirm_cmd(f.step() + 2, sealed_text()))), "code"));  // outside ±1
    CHECK(has_field(refused(f.try_(f.confirm_cmd(0, sealed_text()))), "code"));
    CHECK(refused(f.try_(f.confirm_cmd(f.step(), sealed_text('9')))).code == errc::stale);  // stale

    auto ok = f.run(f.confirm_cmd(f.step() - 1, sealed_text()));
    CHECK(as<events::MfaConfirmed>(ok[0]).step == f.step() - 1);
    CHECK(f.cred("s1").mfa_confirmed);
    CHECK(f.cred("s1").last_totp_step == f.step() - 1);
    CHECK(mfa_enforced(f.staff("s1")));

    CHECK(refused(f.try_(f.confirm_cmd(f.step(), sealed_text()))).code == errc::conflict);  // already
    CHECK(refused(f.try_(enroll_mfa{"s1", sealed_text('6')})).code == errc::conflict);      // reset first
}

TEST_CASE("mfa: re-enrolling before confirming replaces the pending secret", "[aggregates][identity][totp]") {
    identity_fixture f;
    f.run(enroll_mfa{"s1", sealed_text('1')});
    f.run(enroll_mfa{"s1", sealed_text('2')});
    CHECK(refused(f.try_(f.confirm_cmd(f.step(), sealed_text('1')))).code == errc::stale);
    CHECK(f.run(f.confirm_cmd(f.step(), sealed_text('2'))).size() == 1);
}

TEST_CASE("mfa: an administrator's reset removes TOTP; the staff member may enrol again", "[aggregates][identity][totp]") {
    identity_fixture f;
    CHECK(f.run(reset_mfa{"s1"}).empty());
    f.confirm_totp_for_s1();
    auto evs = f.run(reset_mfa{"s1"});
    REQUIRE(evs.size() == 1);
    CHECK(as<events::MfaReset>(evs[0]).by == "admin");
    CHECK(f.cred("s1").mfa_secret_sealed.empty());
    CHECK_FALSE(mfa_enforced(f.staff("s1")));
    CHECK(outcome_of(f.run(f.attempt("tjones", true, sid(1)))).succeeded);  // no code asked
    f.run(enroll_mfa{"s1", sealed_text('3')});
    CHECK(f.cred("s1").last_totp_step == 0);  // steps are per secret
    CHECK(f.run(f.confirm_cmd(f.step(), sealed_text('3'))).size() == 1);  // same step, new secret
}

TEST_CASE("identity: commands on a deactivated or unknown staff member are refused", "[aggregates][identity]") {
    identity_fixture f;
    f.run(deactivate_staff{"s1", ""});
    for (const command& c : std::vector<command>{
             unlock_staff{"s1"}, enroll_mfa{"s1", sealed_text()}, f.confirm_cmd(f.step(), sealed_text()),
             reset_mfa{"s1"}, set_temporary_password{"s1", new_hash, true, true, f.now}}) {
        INFO("command #" << c.index());
        CHECK(refused(f.try_(c)).code == errc::conflict);
    }
    for (const command& c : std::vector<command>{unlock_staff{"nobody"}, enroll_mfa{"nobody", sealed_text()},
                                                 reset_mfa{"nobody"}}) {
        INFO("command #" << c.index());
        CHECK(refused(f.try_(c)).code == errc::not_found);
    }
}
