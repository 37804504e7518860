// The client portal: invitations (switch + permission, resend, revoke, expiry), registration with an
// immutable, agency-unique portal username, portal login with lockout.
#include "client_fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

TEST_CASE("portal: an invitation carries the e-mail, a 72 hour expiry and only the token hash",
          "[aggregates][portal]") {
    client_fixture f;
    auto evs = f.go(f.invite("c1", "inv-1", 1));
    REQUIRE(evs.size() == 1);
    auto sent = std::get<events::InvitationSent>(evs[0].data);
    CHECK(sent.email == "family@example.org");  // the client's
    CHECK(sent.expires_at == now0 + 72 * hour);
    CHECK(sent.token_hash == th(1));
    CHECK(invitation_state_name(f.client("c1").invitations.at("inv-1"), now0) == "sent");
    auto other = f.invite("c2", "inv-2", 2);
    other.email = "other@example.org";
    other.expires_at = now0 + 2 * hour;
    auto e2 = std::get<events::InvitationSent>(f.go(other)[0].data);
    CHECK(e2.email == "other@example.org");
    CHECK(e2.expires_at == now0 + 2 * hour);
}

TEST_CASE("portal: inviting without the agency switch is forbidden and says so", "[aggregates][portal]") {
    client_fixture f(false, true);
    auto e = refused(f.try_(f.invite("c1", "inv-1", 1)));
    CHECK(e.code == errc::forbidden);
    CHECK(e.detail.find("client_portal_enabled") != std::string::npos);
    CHECK(e.detail.find("permission") == std::string::npos);
}

TEST_CASE("portal: inviting without the staff permission is forbidden and says so", "[aggregates][portal]") {
    client_fixture f;
    f.go(assign_staff_to_client{"c1", "t2"});
    auto e = refused(f.try_(f.invite("c1", "inv-1", 1, "t2")));
    CHECK(e.code == errc::forbidden);
    CHECK(e.detail.find("client_portal permission") != std::string::npos);
    CHECK(e.detail.find("client_portal_enabled") == std::string::npos);
}

TEST_CASE("portal: inviting without either names both", "[aggregates][portal]") {
    client_fixture f(false, false);
    auto e = refused(f.try_(f.invite("c1", "inv-1", 1, "t2")));
    CHECK(e.code == errc::forbidden);
    CHECK(e.detail.find("client_portal_enabled") != std::string::npos);
    CHECK(e.detail.find("client_portal permission") != std::string::npos);
}

TEST_CASE("portal: a therapist invites only clients they may see", "[aggregates][portal]") {
    client_fixture f;
    CHECK(f.try_(f.invite("c1", "inv-1", 1, "t1")).has_value());
    CHECK(refused(f.try_(f.invite("c2", "inv-2", 2, "t1"))).code == errc::not_found);
}

TEST_CASE("portal: invitation fields are validated", "[aggregates][portal]") {
    client_fixture f;
    auto no_mail = client_cmd("c9");
    no_mail.email = "";
    f.go(no_mail);
    CHECK(has_field(refused(f.try_(f.invite("c9", "inv-9", 9))), "email"));
    auto bad = f.invite("c1", "inv-1", 1);
    bad.token_hash = "the-token-itself";
    CHECK(has_field(refused(f.try_(bad)), "token_hash"));
    auto past = f.invite("c1", "inv-1", 1);
    past.expires_at = now0;
    CHECK(has_field(refused(f.try_(past)), "expires_at"));
}

TEST_CASE("portal: a resend gives a new token and the old one stops working", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.now += hour;
    auto evs = f.go(resend_invitation{"inv-1", "admin-1", th(2), f.now, std::nullopt});
    REQUIRE(evs.size() == 1);
    auto re = std::get<events::InvitationResent>(evs[0].data);
    CHECK(re.token_hash == th(2));
    CHECK(re.expires_at == f.now + 72 * hour);
    CHECK(find_live_invitation(f.s, th(1), f.now).client == nullptr);
    CHECK(find_live_invitation(f.s, th(2), f.now).client != nullptr);
    auto old = refused(f.try_(f.reg(1, "acct-1", "annlee")));
    CHECK(old.code == errc::validation);
    CHECK(has_field(old, "token"));
    CHECK(f.try_(f.reg(2, "acct-1", "annlee")).has_value());
}

TEST_CASE("portal: a resend revives an expired invitation, never a revoked or used one", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.now += 73 * hour;
    CHECK(invitation_state_name(f.client("c1").invitations.at("inv-1"), f.now) == "expired");
    f.go(resend_invitation{"inv-1", "admin-1", th(2), f.now, std::nullopt});
    CHECK(invitation_state_name(f.client("c1").invitations.at("inv-1"), f.now) == "sent");
    f.go(revoke_invitation{"inv-1", "admin-1"});
    CHECK(refused(f.try_(resend_invitation{"inv-1", "admin-1", th(3), f.now, std::nullopt})).code == errc::conflict);
    CHECK(refused(f.try_(resend_invitation{"nope", "admin-1", th(3), f.now, std::nullopt})).code == errc::not_found);
}

TEST_CASE("portal: resend and revoke need the same switch and permission", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(assign_staff_to_client{"c1", "t2"});
    CHECK(refused(f.try_(resend_invitation{"inv-1", "t2", th(2), f.now, std::nullopt})).code == errc::forbidden);
    CHECK(refused(f.try_(revoke_invitation{"inv-1", "t2"})).code == errc::forbidden);
}

TEST_CASE("portal: a revoked token is refused; revoking twice changes nothing", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    auto evs = f.go(revoke_invitation{"inv-1", "admin-1"});
    REQUIRE(evs.size() == 1);
    CHECK(invitation_state_name(f.client("c1").invitations.at("inv-1"), f.now) == "revoked");
    CHECK(f.go(revoke_invitation{"inv-1", "admin-1"}).empty());
    CHECK(has_field(refused(f.try_(f.reg(1, "acct-1", "annlee"))), "token"));
}

TEST_CASE("portal: an expired token is refused", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.now += 72 * hour;
    CHECK(has_field(refused(f.try_(f.reg(1, "acct-1", "annlee"))), "token"));
    f.now -= 1;
    CHECK(f.try_(f.reg(1, "acct-1", "annlee")).has_value());
}

TEST_CASE("portal: registration accepts the invitation and chooses the username", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    auto evs = f.go(f.reg(1, "acct-1", " AnnLee "));
    REQUIRE(evs.size() == 2);
    CHECK(std::get<events::InvitationAccepted>(evs[0].data) == events::InvitationAccepted{"inv-1", "acct-1"});
    auto chosen = std::get<events::PortalUsernameChosen>(evs[1].data);
    CHECK(chosen.username == "AnnLee");
    CHECK(chosen.password_hash == portal_hash);
    CHECK(evs[0].aggregate_id == "c1");
    CHECK(evs[1].aggregate_version == evs[0].aggregate_version + 1);
    CHECK(invitation_state_name(f.client("c1").invitations.at("inv-1"), f.now) == "registered");
    REQUIRE(f.client("c1").portal);
    CHECK(find_portal_account_by_username(f.s, "annlee").client == &f.client("c1"));
    CHECK(find_portal_account(f.s, "acct-1").account == &*f.client("c1").portal);
    // the token is used
    CHECK(has_field(refused(f.try_(f.reg(1, "acct-2", "other"))), "token"));
    // the client cannot be invited again; the used invitation can be neither resent nor revoked
    CHECK(refused(f.try_(f.invite("c1", "inv-9", 9))).code == errc::conflict);
    CHECK(refused(f.try_(revoke_invitation{"inv-1", "admin-1"})).code == errc::conflict);
    CHECK(refused(f.try_(resend_invitation{"inv-1", "admin-1", th(5), f.now, std::nullopt})).code == errc::conflict);
}

TEST_CASE("portal: an e-mail shaped username is refused with 422", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    auto e = refused(f.try_(f.reg(1, "acct-1", "ann@example.org")));
    CHECK(e.code == errc::validation);
    CHECK(field_message(e, "username").find("e-mail") != std::string::npos);
    for (auto bad : {"ab", "-ann", "ann lee", "ännlee", std::string(65, 'a').c_str()}) {
        INFO(bad);
        CHECK(has_field(refused(f.try_(f.reg(1, "acct-1", bad))), "username"));
    }
    for (auto good : {"ann.lee", "Ann_Lee-2", "a12"}) {
        INFO(good);
        CHECK(portal_username_problem(good).empty());
    }
}

TEST_CASE("portal: the password must be given and satisfy the policy", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    auto r = f.reg(1, "acct-1", "annlee");
    r.password_policy_ok = false;
    CHECK(has_field(refused(f.try_(r)), "password"));
    r.password_hash = "";
    CHECK(has_field(refused(f.try_(r)), "password"));
}

TEST_CASE("portal: 50 registrations of one username decided one after another: exactly one wins",
          "[aggregates][portal]") {
    client_fixture f;
    for (int i = 0; i < 50; ++i) {
        auto id = "k" + std::to_string(i);
        f.go(client_cmd(id));
        f.go(f.invite(id, "inv-" + id, 100 + i));
    }
    int accepted_count = 0, conflicts = 0;
    for (int i = 0; i < 50; ++i) {
        // alternate the case: uniqueness is case-insensitive
        auto d = f.try_(f.reg(100 + i, "acct-" + std::to_string(i), i % 2 ? "SameName" : "samename"));
        if (d) {
            ++accepted_count;
            fold_in(f.s, *d, f.now);
        } else {
            CHECK(d.error().code == errc::conflict);
            ++conflicts;
        }
    }
    CHECK(accepted_count == 1);
    CHECK(conflicts == 49);
    CHECK(f.s.portal_usernames.size() == 1);
}

TEST_CASE("portal: the same e-mail may serve several portal accounts", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.invite("c2", "inv-2", 2));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(f.reg(2, "acct-2", "bodiaz"));
    CHECK(f.client("c1").invitations.at("inv-1").email == f.client("c2").invitations.at("inv-2").email);
}

TEST_CASE("portal: a portal username can never be changed: always 409, never an event", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    auto before = f.s;
    for (auto name : {"annlee2", "annlee", "ANNLEE", ""}) {
        auto e = refused(f.try_(change_portal_username{"acct-1", name}));
        CHECK(e.code == errc::conflict);
    }
    CHECK(refused(f.try_(change_portal_username{"unknown", "x"})).code == errc::conflict);
    CHECK(f.s == before);
    CHECK(f.client("c1").portal->username == "annlee");
}

TEST_CASE("portal: a username is taken forever, also by another case", "[aggregates][portal]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.invite("c2", "inv-2", 2));
    f.go(f.reg(1, "acct-1", "AnnLee"));
    auto e = refused(f.try_(f.reg(2, "acct-2", "annlee")));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("taken") != std::string::npos);
}

namespace {
record_portal_login login(const client_fixture& f, std::string user, bool ok, int session) {
    record_portal_login c;
    c.username = std::move(user);
    c.password_ok = ok;
    c.checked_password_hash = portal_hash;
    c.session_id = th(1000 + session);
    c.ip = "192.0.2.1";
    c.user_agent = "Safari";
    c.now = f.now;
    return c;
}
}  // namespace

TEST_CASE("portal: login succeeds with the right password and opens a session of that client",
          "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    auto evs = f.go(login(f, "ANNLEE", true, 1));
    REQUIRE(evs.size() == 1);
    auto ok = std::get<events::PortalLoginSucceeded>(evs[0].data);
    CHECK(ok.portal_account_id == "acct-1");
    auto chk = check_portal_session(f.s, th(1001), f.now);
    CHECK(chk.status == portal_session_status::active);
    CHECK(chk.client == &f.client("c1"));
    f.go(portal_logout{th(1001)});
    CHECK(check_portal_session(f.s, th(1001), f.now).status == portal_session_status::unknown);
    CHECK(f.go(portal_logout{th(1001)}).empty());
}

TEST_CASE("portal: an unknown username fails on the agency", "[aggregates][portal][login]") {
    client_fixture f;
    auto evs = f.go(login(f, "ghost", false, 1));
    REQUIRE(evs.size() == 1);
    CHECK(events::aggregate_type_of(evs[0]) == "Agency");
    auto no = std::get<events::PortalLoginFailed>(evs[0].data);
    CHECK(no.reason == "unknown_user");
    CHECK(no.username_tried == "ghost");
    auto typed_password = f.go(login(f, "Secret pass!", false, 2));
    CHECK(std::get<events::PortalLoginFailed>(typed_password[0].data).username_tried == "");
}

TEST_CASE("portal: failed logins lock the account at the agency's threshold; it lapses", "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    for (int i = 0; i < 4; ++i) CHECK(f.go(login(f, "annlee", false, i)).size() == 1);
    auto fifth = f.go(login(f, "annlee", false, 4));
    REQUIRE(fifth.size() == 2);
    auto locked = std::get<events::PortalAccountLocked>(fifth[1].data);
    CHECK(locked.until == f.now + 30 * 60'000'000LL);
    CHECK(locked.failures == 5);
    // the right password while locked still fails
    auto while_locked = f.go(login(f, "annlee", true, 5));
    CHECK(std::get<events::PortalLoginFailed>(while_locked[0].data).reason == "locked");
    f.now += 31 * 60'000'000LL;
    auto after = f.go(login(f, "annlee", true, 6));
    REQUIRE(after.size() == 2);
    CHECK(std::get<events::PortalAccountUnlocked>(after[0].data).by == "timeout");
    CHECK(std::holds_alternative<events::PortalLoginSucceeded>(after[1].data));
}

TEST_CASE("portal: an administrator unlocks a portal account", "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    for (int i = 0; i < 5; ++i) f.go(login(f, "annlee", false, i));
    CHECK(is_portal_locked(*f.client("c1").portal, f.now));
    f.go(unlock_portal_account{"acct-1"});
    CHECK_FALSE(is_portal_locked(*f.client("c1").portal, f.now));
    CHECK(f.go(unlock_portal_account{"acct-1"}).empty());
    CHECK(refused(f.try_(unlock_portal_account{"nope"})).code == errc::not_found);
}

TEST_CASE("portal: an administrator ends every live session of a portal account, and only those",
          "[aggregates][portal][recovery]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(login(f, "annlee", true, 1));
    f.go(login(f, "annlee", true, 2));
    REQUIRE(f.client("c1").portal->sessions.size() == 2);
    auto ended = f.go(end_portal_sessions{"acct-1"});
    REQUIRE(ended.size() == 2);
    for (const auto& e : ended) {
        auto x = std::get<events::PortalSessionEnded>(e.data);
        CHECK(x.portal_account_id == "acct-1");
        CHECK(x.reason == "admin");
    }
    CHECK(f.client("c1").portal->sessions.empty());
    CHECK(f.go(end_portal_sessions{"acct-1"}).empty());  // none live: nothing appended
    CHECK(refused(f.try_(end_portal_sessions{"nope"})).code == errc::not_found);
    CHECK(f.go(login(f, "annlee", true, 3)).size() == 1);  // the client logs in again
}

TEST_CASE("portal: a stale password check is refused; a portal session expires when idle",
          "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    auto stale = login(f, "annlee", true, 1);
    stale.checked_password_hash = "$argon2id$old";
    CHECK(refused(f.try_(stale)).code == errc::stale);
    f.go(login(f, "annlee", true, 2));
    f.now += 30 * 60'000'000LL;
    CHECK(check_portal_session(f.s, th(1002), f.now).status == portal_session_status::idle_expired);
    auto again = f.go(login(f, "annlee", true, 3));
    REQUIRE(again.size() == 2);
    CHECK(std::get<events::PortalSessionEnded>(again[0].data).reason == "idle");
}

TEST_CASE("portal: a portal session slides with use, recorded once per touch interval",
          "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(login(f, "annlee", true, 2));
    const auto sid = th(1002);
    // Not due yet: no event, nothing to record.
    CHECK_FALSE(check_portal_session(f.s, sid, f.now).touch_due);
    CHECK(f.go(touch_portal_session{sid, f.now}).empty());
    // Twenty minutes on (the default idle timeout is 30, the touch interval 5): due, recorded.
    f.now += 20 * 60'000'000LL;
    REQUIRE(check_portal_session(f.s, sid, f.now).touch_due);
    auto touched = f.go(touch_portal_session{sid, f.now});
    REQUIRE(touched.size() == 1);
    CHECK(std::get<events::PortalSessionTouched>(touched[0].data).portal_account_id == "acct-1");
    CHECK(touched[0].aggregate_id == "c1");
    CHECK_FALSE(check_portal_session(f.s, sid, f.now).touch_due);
    // Twenty-nine minutes after the touch (49 after login) it is still live; thirty after, idle.
    f.now += 29 * 60'000'000LL;
    CHECK(check_portal_session(f.s, sid, f.now).status == portal_session_status::active);
    f.now += 60'000'000LL;
    CHECK(check_portal_session(f.s, sid, f.now).status == portal_session_status::idle_expired);
    CHECK(refused(f.try_(touch_portal_session{sid, f.now})).code == errc::unauthenticated);
}

TEST_CASE("portal: switching the portal off refuses logins and suspends sessions; no lock is counted",
          "[aggregates][portal][login]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(login(f, "annlee", true, 1));
    REQUIRE(check_portal_session(f.s, th(1001), f.now).status == portal_session_status::active);

    change_settings off;
    off.patch.client_portal_enabled = false;
    f.go(off);
    CHECK(check_portal_session(f.s, th(1001), f.now).status == portal_session_status::portal_disabled);
    for (int i = 0; i < 6; ++i) {
        auto evs = f.go(login(f, "annlee", true, 10 + i));
        REQUIRE(evs.size() == 1);
        CHECK(std::get<events::PortalLoginFailed>(evs[0].data).reason == "portal_disabled");
    }
    CHECK_FALSE(f.client("c1").portal->locked);

    change_settings on;
    on.patch.client_portal_enabled = true;
    f.go(on);
    CHECK(check_portal_session(f.s, th(1001), f.now).status == portal_session_status::active);
    auto evs = f.go(login(f, "annlee", true, 20));
    CHECK(std::holds_alternative<events::PortalLoginSucceeded>(evs.back().data));
}

TEST_CASE("portal: a temporary password unlocks, ends every session and requires a change; the client's own change "
          "keeps the asking session and clears the requirement",
          "[aggregates][portal][recovery]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(login(f, "annlee", true, 1));
    for (int i = 0; i < 5; ++i) f.go(login(f, "annlee", false, 10 + i));
    REQUIRE(f.client("c1").portal->locked);
    CHECK(refused(f.try_(set_portal_temporary_password{"acct-1", "$argon2id$temp", ""})).code == errc::validation);
    CHECK(refused(f.try_(set_portal_temporary_password{"nope", "$argon2id$temp", "lost"})).code == errc::not_found);
    auto set = f.go(set_portal_temporary_password{"acct-1", "$argon2id$temp", "lost it"});
    REQUIRE(set.size() == 3);
    CHECK(std::holds_alternative<events::PortalAccountUnlocked>(set[0].data));
    auto changed = std::get<events::PortalPasswordChanged>(set[1].data);
    CHECK(changed.require_change_next_logon);
    CHECK(changed.reason == "temporary");
    CHECK(changed.note == "lost it");
    CHECK(std::get<events::PortalSessionEnded>(set[2].data).reason == "password_changed");
    const auto& account = *f.client("c1").portal;
    CHECK(account.require_password_change);
    CHECK(account.password_hash == "$argon2id$temp");
    CHECK(account.sessions.empty());
    CHECK_FALSE(account.locked);

    // two sessions with the temporary password; the change is asked from the first
    auto temp_login = [&](int session) {
        auto c = login(f, "annlee", true, session);
        c.checked_password_hash = "$argon2id$temp";
        return c;
    };
    f.go(temp_login(20));
    f.go(temp_login(21));
    change_portal_password c{"acct-1", th(1020), true, "$argon2id$temp", "$argon2id$own", true, false, f.now};
    auto stale = c;
    stale.checked_password_hash = portal_hash;
    CHECK(refused(f.try_(stale)).code == errc::stale);
    auto wrong = c;
    wrong.current_ok = false;
    CHECK(refused(f.try_(wrong)).code == errc::validation);
    auto same = c;
    same.new_same_as_current = true;
    CHECK(refused(f.try_(same)).code == errc::validation);
    auto elsewhere = c;
    elsewhere.session_id = th(9999);
    CHECK(refused(f.try_(elsewhere)).code == errc::unauthenticated);
    auto own = f.go(c);
    REQUIRE(own.size() == 2);
    CHECK(std::get<events::PortalPasswordChanged>(own[0].data).reason == "changed");
    CHECK(std::get<events::PortalSessionEnded>(own[1].data).session_id == th(1021));
    CHECK_FALSE(f.client("c1").portal->require_password_change);
    CHECK(f.client("c1").portal->sessions.contains(th(1020)));
}

TEST_CASE("portal: a forgotten password is reset with a link that works once, within its hour, and ends every "
          "session; asking again within a minute sends nothing",
          "[aggregates][portal][recovery]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(login(f, "annlee", true, 1));
    f.go(login(f, "annlee", true, 2));

    // unknown usernames and malformed hashes
    CHECK(f.go(request_portal_password_reset{"nobody", th(50), f.now}).empty());
    CHECK(refused(f.try_(request_portal_password_reset{"annlee", "short", f.now})).code == errc::validation);

    auto asked = f.go(request_portal_password_reset{"  AnnLee ", th(50), f.now});
    REQUIRE(asked.size() == 1);
    auto req = std::get<events::PortalPasswordResetRequested>(asked[0].data);
    CHECK(req.portal_account_id == "acct-1");
    CHECK(req.token_hash == th(50));
    CHECK(req.expires_at == f.now + reset_token_lifetime);
    CHECK(asked[0].aggregate_id == "c1");
    // a second request within the minute: the link just sent is still good
    CHECK(f.go(request_portal_password_reset{"annlee", th(51), f.now + 30 * 1'000'000}).empty());
    // a minute later a new link voids the first
    f.now += reset_request_interval;
    REQUIRE(f.go(request_portal_password_reset{"annlee", th(52), f.now}).size() == 1);
    confirm_portal_password_reset c{th(52), "$argon2id$new", true, false, f.now};
    auto first = c;
    first.token_hash = th(50);
    CHECK(refused(f.try_(first)).code == errc::validation);
    auto weak = c;
    weak.new_password_policy_ok = false;
    CHECK(refused(f.try_(weak)).code == errc::validation);
    auto same = c;
    same.new_same_as_current = true;
    CHECK(refused(f.try_(same)).code == errc::validation);
    auto late = c;
    late.now = f.now + reset_token_lifetime;
    CHECK(refused(f.try_(late)).code == errc::validation);

    auto done = f.go(c);
    REQUIRE(done.size() == 3);
    auto changed = std::get<events::PortalPasswordChanged>(done[0].data);
    CHECK(changed.reason == "reset");
    CHECK_FALSE(changed.require_change_next_logon);
    CHECK(std::get<events::PortalSessionEnded>(done[1].data).reason == "password_changed");
    CHECK(std::get<events::PortalSessionEnded>(done[2].data).reason == "password_changed");
    const auto& account = *f.client("c1").portal;
    CHECK(account.password_hash == "$argon2id$new");
    CHECK(account.sessions.empty());
    CHECK(account.reset_token_hash.empty());
    // used once
    CHECK(refused(f.try_(c)).code == errc::validation);
}

TEST_CASE("portal: with the portal switched off a reset request records nothing", "[aggregates][portal][recovery]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "annlee"));
    change_settings off;
    off.patch.client_portal_enabled = false;
    f.go(off);
    CHECK(f.go(request_portal_password_reset{"annlee", th(50), f.now}).empty());
}
