// Snapshots: the writer's local copy of an agency's state must come back exactly as it was.
#include "fixtures.hpp"

#include <boost/json.hpp>

#include "carelog/aggregates/snapshot.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
namespace json = boost::json;

namespace {
agency_state rich_state() {
    agency_fixture f;
    change_settings cs;
    cs.patch.client_portal_enabled = true;
    cs.patch.mfa_required_roles = strings{"org_admin"};
    cs.patch.services = strings{"Individual therapy", "Group therapy"};
    cs.patch.password_expiry_days = 0;
    f.run(cs);
    auto c = staff_cmd("s1", "José", "Núñez", "Émile");
    c.location_ids = {"loc-main", "loc-north"};
    c.program_ids = {"prog-iop"};
    c.phones = {{"work", "555-0100"}, {"mobile", "555-0199"}};
    c.npi = "1234567893";
    c.hire_date = "2021-06-01";
    c.supervisor_id = "admin-1";
    c.require_password_change = false;
    f.hire(c);
    f.run(set_module_permissions{"s1", true, true});
    f.hire(staff_cmd("s2", "Todd", "Jones"));
    f.run(deactivate_staff{"s2", "moved away"});
    return f.s;
}
}  // namespace

TEST_CASE("snapshot: a complete state survives to_json and back unchanged", "[aggregates][snapshot]") {
    auto s = rich_state();
    auto text = json::serialize(to_json(s));
    auto back = agency_state_from_json(json::parse(text));
    REQUIRE(back.has_value());
    CHECK(*back == s);
    CHECK(back->staff.at("s1").permissions.size() == 2);
    CHECK_FALSE(back->staff.at("s2").active);
    CHECK(back->usernames.at("tjones") == "s2");
    CHECK(back->settings.services == strings{"Individual therapy", "Group therapy"});
}

TEST_CASE("snapshot: decisions against a restored state match decisions against the original",
          "[aggregates][snapshot]") {
    auto s = rich_state();
    auto back = agency_state_from_json(to_json(s));
    REQUIRE(back.has_value());
    auto a = decide(s, command{staff_cmd("s3", "Todd", "Jones", "Dale")});
    auto b = decide(*back, command{staff_cmd("s3", "Todd", "Jones", "Dale")});
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(std::get<events::StaffCreated>((*a)[0].data) == std::get<events::StaffCreated>((*b)[0].data));
    CHECK(std::get<events::StaffCreated>((*b)[0].data).username == "tdjones");
}

TEST_CASE("snapshot: an empty state round-trips", "[aggregates][snapshot]") {
    agency_state s;
    auto back = agency_state_from_json(to_json(s));
    REQUIRE(back.has_value());
    CHECK(*back == s);
}

TEST_CASE("snapshot: a damaged snapshot is refused, not half-loaded", "[aggregates][snapshot]") {
    auto good = to_json(rich_state());
    CHECK(agency_state_from_json(json::value(42)).error().code == errc::malformed);
    CHECK(agency_state_from_json(json::object{}).error().code == errc::malformed);

    auto wrong_format = good;
    wrong_format.as_object()["format"] = 99;
    CHECK(agency_state_from_json(wrong_format).error().detail.find("format") != std::string::npos);

    auto wrong_type = good;
    wrong_type.as_object()["version"] = "seven";
    CHECK_FALSE(agency_state_from_json(wrong_type).has_value());

    auto missing_profile = good;
    missing_profile.as_object()["staff"].as_array()[0].as_object().erase("profile");
    CHECK_FALSE(agency_state_from_json(missing_profile).has_value());

    auto negative = good;
    negative.as_object()["version"] = -1;
    CHECK_FALSE(agency_state_from_json(negative).has_value());
}

// ---- identity state (snapshot format 2) ----

#include "identity_fixtures.hpp"

TEST_CASE("snapshot: credentials, sessions, locks, TOTP and reset links survive to_json and back",
          "[aggregates][snapshot][identity]") {
    identity_fixture f;
    f.login_as("tjones", 1);
    f.now += 7 * minute;
    f.login_as("tjones", 2);
    f.run(touch_session{sid(1), f.now});
    f.run(enroll_mfa{"s1", sealed_text()});
    const auto spent = f.step();
    f.run(f.confirm_cmd(spent, sealed_text()));
    f.run(request_password_reset{"tjones", reset_hash(1), f.now});
    for (int i = 0; i < 5; ++i) f.bad_password("alovelace");
    f.bad_password("tjones");

    auto back = agency_state_from_json(json::parse(json::serialize(to_json(f.s))));
    REQUIRE(back.has_value());
    CHECK(*back == f.s);
    const auto& c = back->staff.at("s1").credentials;
    CHECK(c.sessions.size() == 2);
    CHECK(c.sessions.at(sid(1)).last_seen == f.now);
    CHECK(c.mfa_confirmed);
    CHECK(c.last_totp_step == spent);
    CHECK(c.reset_token_hash == reset_hash(1));
    CHECK(c.failed_attempts == 1);
    CHECK(back->staff.at("admin-1").credentials.locked);
    CHECK(back->session_owners.at(sid(2)) == "s1");  // the derived index is rebuilt

    // Decisions against the restored state match: the code already used stays used.
    auto replay = f.with_totp(f.attempt("tjones", true, sid(3)), true, spent);
    CHECK(std::get<events::LoginFailed>(accepted(decide(*back, command{replay}))[0].data).reason == "bad_totp");
    CHECK(check_session(*back, sid(1), f.now).status == session_status::active);
}

TEST_CASE("snapshot: a snapshot from before identity (format 1) is refused so the log is replayed",
          "[aggregates][snapshot][identity]") {
    identity_fixture f;
    auto v = to_json(f.s);
    v.as_object()["format"] = 1;
    auto r = agency_state_from_json(v);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::malformed);

    auto no_credentials = to_json(f.s);
    no_credentials.as_object()["staff"].as_array()[0].as_object().erase("credentials");
    CHECK_FALSE(agency_state_from_json(no_credentials).has_value());
}

// ---- clients and the client portal (snapshot format 3) ----

#include "client_fixtures.hpp"

TEST_CASE("snapshot: clients, invitations, portal accounts, threads and kiosks round-trip with their indexes",
          "[aggregates][snapshot][clients]") {
    client_fixture f;
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.invite("c2", "inv-2", 2));
    f.go(revoke_invitation{"inv-2", "admin-1"});
    f.go(f.invite("c2", "inv-3", 3));
    f.go(f.reg(1, "acct-1", "AnnLee"));
    f.go(record_portal_login{"annlee", true, portal_hash, th(50), "192.0.2.1", "ua", f.now});
    f.go(record_portal_login{"annlee", false, portal_hash, th(51), "192.0.2.1", "ua", f.now});
    f.go(send_message{"c1", "th-1", "m1", "staff", "t1", "", "Hello"});
    f.go(send_message{"c1", "th-1", "m2", "client", "acct-1", "", "Hi"});
    start_kiosk k;
    k.client_id = "c1";
    k.kiosk_session_id = "k1";
    k.actor_staff_id = "t1";
    k.document_id = "doc-1";
    k.token_hash = th(60);
    k.now = f.now;
    f.go(k);
    f.go(submit_kiosk_form{th(60), "{}", f.now});
    auto ext = client_cmd("c3");
    ext.external_id = "EXT-3";
    f.go(ext);

    auto text = json::serialize(to_json(f.s));
    CHECK(text.find("\"format\":3") != std::string::npos);
    auto back = agency_state_from_json(json::parse(text));
    REQUIRE(back.has_value());
    CHECK(back->clients == f.s.clients);
    CHECK(back->portal_usernames == f.s.portal_usernames);
    CHECK(back->portal_accounts == f.s.portal_accounts);
    CHECK(back->portal_session_owners == f.s.portal_session_owners);
    CHECK(back->invitation_owners == f.s.invitation_owners);
    CHECK(back->invitation_tokens == f.s.invitation_tokens);
    CHECK(back->thread_owners == f.s.thread_owners);
    CHECK(back->kiosk_owners == f.s.kiosk_owners);
    CHECK(back->kiosk_tokens == f.s.kiosk_tokens);
    CHECK(back->external_ids == f.s.external_ids);
    CHECK(*back == f.s);
}

TEST_CASE("snapshot: a snapshot from before clients (format 2) is refused so the log is replayed",
          "[aggregates][snapshot][clients]") {
    client_fixture f;
    auto v = to_json(f.s);
    v.as_object()["format"] = 2;
    auto r = agency_state_from_json(v);
    REQUIRE_FALSE(r);
    CHECK(r.error().detail.find("replay") != std::string::npos);
}
