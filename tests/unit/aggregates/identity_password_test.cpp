// Password lifecycle: changing one's own password ends the other sessions, administrators set
// temporary passwords, passwords expire by the agency's policy, and forgot-password links are
// single-use, hashed, and valid one hour.
#include "identity_fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
using strs = std::vector<std::string>;

TEST_CASE("password: changing it ends every other session and keeps the one that asked",
          "[aggregates][identity][password]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    f.login_as("tjones", 3);
    f.login_as("alovelace", 4);
    f.now += 5 * minute;
    auto evs = f.run(f.change_cmd(2));
    CHECK(type_names(evs) == strs{"PasswordChanged", "SessionEnded", "SessionEnded"});
    const auto& pc = as<events::PasswordChanged>(evs[0]);
    CHECK(pc.password_hash == new_hash);
    CHECK(pc.reason == "self");
    CHECK_FALSE(pc.require_change_next_logon);
    CHECK(pc.reset_token_hash.empty());
    for (std::size_t i = 1; i < evs.size(); ++i) {
        CHECK(as<events::SessionEnded>(evs[i]).reason == "password_changed");
        CHECK(as<events::SessionEnded>(evs[i]).session_id != sid(2));
        CHECK(evs[i].aggregate_version == evs[i - 1].aggregate_version + 1);
    }
    CHECK(f.staff("s1").profile.password_hash == new_hash);
    CHECK(f.cred("s1").password_changed_at == f.now);
    CHECK(f.cred("s1").sessions.size() == 1);
    CHECK(f.cred("s1").sessions.contains(sid(2)));
    CHECK(check_session(f.s, sid(1), f.now).status == session_status::unknown);
    CHECK(check_session(f.s, sid(2), f.now).status == session_status::active);
    CHECK(check_session(f.s, sid(4), f.now).status == session_status::active);  // other staff untouched

    // The old password's check is now stale; the new hash is the one to verify against.
    auto old = f.attempt("tjones", true, sid(5));
    old.checked_password_hash = s1_hash;
    CHECK(refused(f.try_(old)).code == errc::stale);
    CHECK(outcome_of(f.run(f.attempt("tjones", true, sid(5)))).succeeded);
}

TEST_CASE("password: the current password must be right and the new one acceptable and different",
          "[aggregates][identity][password]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    auto c = f.change_cmd(1);
    c.current_ok = false;
    auto e = refused(f.try_(c));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "current_password"));

    c = f.change_cmd(1);
    c.new_password_policy_ok = false;
    CHECK(field_message(refused(f.try_(c)), "new_password").find("policy") != std::string::npos);
    c = f.change_cmd(1);
    c.new_same_as_current = true;
    CHECK(field_message(refused(f.try_(c)), "new_password").find("differ") != std::string::npos);
    c = f.change_cmd(1);
    c.new_password_hash.clear();
    CHECK(field_message(refused(f.try_(c)), "new_password") == "is required");
    // All problems at once.
    c = f.change_cmd(1);
    c.current_ok = false;
    c.new_password_policy_ok = false;
    CHECK(refused(f.try_(c)).fields.size() == 2);
    CHECK(f.staff("s1").profile.password_hash == s1_hash);
}

TEST_CASE("password: only a live session of the staff member may change the password", "[aggregates][identity][password]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("alovelace", 2);
    auto other = f.change_cmd(2);  // alovelace's session used for tjones
    CHECK(refused(f.try_(other)).code == errc::unauthenticated);
    CHECK(refused(f.try_(f.change_cmd(7))).code == errc::unauthenticated);
    f.now += 31 * minute;
    CHECK(refused(f.try_(f.change_cmd(1))).code == errc::unauthenticated);  // idle
    f.run(deactivate_staff{"s1", ""});
    CHECK(refused(f.try_(f.change_cmd(1))).code == errc::conflict);
}

TEST_CASE("password: the forced change after a temporary password lifts the restriction",
          "[aggregates][identity][password]") {
    identity_fixture f;
    f.run(set_temporary_password{"s1", new_hash, true, true, f.now});
    f.login_as("tjones", 1);
    CHECK(check_session(f.s, sid(1), f.now).restriction == session_restriction::change_password);
    auto c = f.change_cmd(1);
    c.new_password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$b3du";
    f.run(c);
    CHECK_FALSE(f.staff("s1").profile.require_password_change);
    CHECK(check_session(f.s, sid(1), f.now).restriction == session_restriction::none);
}

TEST_CASE("password: it expires after the agency's expiry days; 0 means never", "[aggregates][identity][password]") {
    identity_fixture f;
    const auto& st = f.staff("s1");
    CHECK(f.cred("s1").password_changed_at == t0);  // StaffCreated dates it
    CHECK_FALSE(password_expired(f.s, st, t0 + 90 * day - 1));
    CHECK(password_expired(f.s, st, t0 + 90 * day));

    f.now = t0 + 91 * day;
    f.login_as("tjones", 1);  // an expired password still logs in, to change it
    CHECK(check_session(f.s, sid(1), f.now).restriction == session_restriction::change_password);
    f.run(f.change_cmd(1));
    CHECK_FALSE(password_expired(f.s, f.staff("s1"), f.now + 89 * day));
    CHECK(password_expired(f.s, f.staff("s1"), f.now + 90 * day));
    CHECK(check_session(f.s, sid(1), f.now).restriction == session_restriction::none);

    events::Settings never;
    never.password_expiry_days = 0;
    f.settings(never);
    CHECK_FALSE(password_expired(f.s, f.staff("s1"), f.now + 10 * 365 * day));
    events::Settings short_expiry;
    short_expiry.password_expiry_days = 1;
    f.settings(short_expiry);
    CHECK(password_expired(f.s, f.staff("s1"), f.now + day));
}

TEST_CASE("password: an administrator's temporary password unlocks, forces a change and ends every session",
          "[aggregates][identity][password][lockout]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    for (int i = 0; i < 5; ++i) f.bad_password("tjones");
    REQUIRE(f.cred("s1").locked);
    auto evs = f.run(set_temporary_password{"s1", new_hash, true, true, f.now});
    CHECK(type_names(evs) == strs{"AccountUnlocked", "PasswordChanged", "SessionEnded", "SessionEnded"});
    CHECK(as<events::AccountUnlocked>(evs[0]).by == "admin");
    CHECK(as<events::PasswordChanged>(evs[1]).reason == "admin");
    CHECK(as<events::PasswordChanged>(evs[1]).require_change_next_logon);
    CHECK(f.cred("s1").sessions.empty());
    CHECK_FALSE(f.cred("s1").locked);
    CHECK(f.staff("s1").profile.require_password_change);

    CHECK(has_field(refused(f.try_(set_temporary_password{"s1", new_hash, false, true, f.now})), "new_password"));
    CHECK(refused(f.try_(set_temporary_password{"ghost", new_hash, true, true, f.now})).code == errc::not_found);
    // Without require_change the admin's password is final.
    f.run(set_temporary_password{"s1", new_hash, true, false, f.now});
    CHECK_FALSE(f.staff("s1").profile.require_password_change);
}

TEST_CASE("reset: a request records only the token's hash, valid for one hour", "[aggregates][identity][reset]") {
    identity_fixture f;
    auto evs = f.run(request_password_reset{"TJones", reset_hash(1), f.now});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "s1");
    const auto& r = as<events::PasswordResetRequested>(evs[0]);
    CHECK(r.token_hash == reset_hash(1));
    CHECK(r.expires_at == f.now + 60 * minute);
    CHECK(find_reset_token(f.s, reset_hash(1), f.now) == &f.staff("s1"));
    CHECK(find_reset_token(f.s, reset_hash(1), f.now + 60 * minute) == nullptr);
    CHECK(find_reset_token(f.s, reset_hash(2), f.now) == nullptr);

    // The raw token is refused: only its hash may enter the log.
    auto e = refused(f.try_(request_password_reset{"tjones", "reset-token-1", f.now}));
    CHECK(has_field(e, "token_hash"));
}

TEST_CASE("reset: unknown and deactivated usernames yield nothing, so the 202 tells nothing",
          "[aggregates][identity][reset]") {
    identity_fixture f;
    CHECK(f.run(request_password_reset{"nobody", reset_hash(1), f.now}).empty());
    f.run(staff_cmd("s2", "Maria", "Garcia"));
    f.run(deactivate_staff{"s2", ""});
    CHECK(f.run(request_password_reset{"mgarcia", reset_hash(1), f.now}).empty());
}

TEST_CASE("reset: a repeat within a minute is absorbed; a later one replaces the link", "[aggregates][identity][reset]") {
    identity_fixture f;
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    f.now += 30'000'000;
    CHECK(f.run(request_password_reset{"tjones", reset_hash(2), f.now}).empty());
    CHECK(find_reset_token(f.s, reset_hash(1), f.now) != nullptr);
    f.now += 31'000'000;
    CHECK(f.run(request_password_reset{"tjones", reset_hash(3), f.now}).size() == 1);
    CHECK(find_reset_token(f.s, reset_hash(1), f.now) == nullptr);  // superseded
    CHECK(find_reset_token(f.s, reset_hash(3), f.now) != nullptr);
    auto e = refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, true, false, f.now}));
    CHECK(has_field(e, "token"));
}

TEST_CASE("reset: confirming sets the password, ends every session, and the link works once",
          "[aggregates][identity][reset]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.login_as("tjones", 2);
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    f.now += 59 * minute;
    auto evs = f.run(confirm_password_reset{reset_hash(1), new_hash, true, false, f.now});
    CHECK(type_names(evs) == strs{"PasswordChanged", "SessionEnded", "SessionEnded"});
    const auto& pc = as<events::PasswordChanged>(evs[0]);
    CHECK(pc.reason == "reset");
    CHECK(pc.reset_token_hash == reset_hash(1));
    CHECK_FALSE(pc.require_change_next_logon);
    CHECK(f.cred("s1").sessions.empty());
    CHECK(f.staff("s1").profile.password_hash == new_hash);
    CHECK(f.cred("s1").reset_token_hash.empty());

    auto again = refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, true, false, f.now}));
    CHECK(again.code == errc::validation);
    CHECK(has_field(again, "token"));
}

TEST_CASE("reset: an expired link is refused; the new password must still be acceptable", "[aggregates][identity][reset]") {
    identity_fixture f;
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    auto expires = f.cred("s1").reset_expires_at;
    CHECK(has_field(refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, true, false, expires})), "token"));
    CHECK(has_field(refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, false, false, expires - 1})),
                    "new_password"));
    CHECK(has_field(refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, true, true, expires - 1})),
                    "new_password"));
    CHECK(has_field(refused(f.try_(confirm_password_reset{"", new_hash, true, false, f.now})), "token"));
    CHECK(f.run(confirm_password_reset{reset_hash(1), new_hash, true, false, expires - 1}).size() == 1);
}

TEST_CASE("reset: any password change voids a pending link", "[aggregates][identity][reset]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    f.run(f.change_cmd(1));
    CHECK(find_reset_token(f.s, reset_hash(1), f.now) == nullptr);
    f.run(request_password_reset{"tjones", reset_hash(2), f.now + 2 * minute});
    f.run(set_temporary_password{"s1", admin_hash, true, true, f.now});
    CHECK(find_reset_token(f.s, reset_hash(2), f.now) == nullptr);
}

TEST_CASE("reset: a deactivated staff member's link stops working", "[aggregates][identity][reset]") {
    identity_fixture f;
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    f.run(deactivate_staff{"s1", ""});
    CHECK(has_field(refused(f.try_(confirm_password_reset{reset_hash(1), new_hash, true, false, f.now})), "token"));
}

TEST_CASE("reset: a locked account stays locked after a reset (only an admin or the timeout unlocks)",
          "[aggregates][identity][reset][lockout]") {
    identity_fixture f;
    for (int i = 0; i < 5; ++i) f.bad_password("tjones");
    CHECK(f.run(request_password_reset{"tjones", reset_hash(1), f.now}).size() == 1);
    f.run(confirm_password_reset{reset_hash(1), new_hash, true, false, f.now});
    CHECK(is_locked(f.staff("s1"), f.now));
    CHECK(as<events::LoginFailed>(f.run(f.attempt("tjones", true, sid(1)))[0]).reason == "locked");
}
