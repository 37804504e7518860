// Messaging (switch + permission, clients only in their own threads, staff only to clients they may
// see) and kiosk sessions (scope, expiry, one submission).
#include "client_fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

namespace {
send_message staff_msg(std::string client, std::string thread, std::string staff, std::string id = "m1") {
    return send_message{std::move(client), std::move(thread), std::move(id), "staff", std::move(staff), "", "Hello"};
}
send_message client_msg(std::string client, std::string thread, std::string account, std::string to = "",
                        std::string id = "m2") {
    return send_message{std::move(client), std::move(thread), std::move(id), "client", std::move(account),
                        std::move(to), "Hi there"};
}
// c1 registered as acct-1, c2 as acct-2.
void register_both(client_fixture& f) {
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.invite("c2", "inv-2", 2));
    f.go(f.reg(1, "acct-1", "annlee"));
    f.go(f.reg(2, "acct-2", "bodiaz"));
}
}  // namespace

TEST_CASE("messaging: staff with the permission start a thread with a client they may see",
          "[aggregates][messaging]") {
    client_fixture f;
    auto evs = f.go(staff_msg("c1", "th-1", "t1"));
    REQUIRE(evs.size() == 1);
    auto m = std::get<events::MessageSent>(evs[0].data);
    CHECK(m.sender_kind == "staff");
    CHECK(m.staff_id == "t1");
    CHECK(evs[0].aggregate_id == "c1");
    CHECK(f.client("c1").threads.at("th-1").staff_id == "t1");
    CHECK(f.client("c1").threads.at("th-1").messages == 1);
}

TEST_CASE("messaging: staff need the agency switch and their permission, named when missing",
          "[aggregates][messaging]") {
    client_fixture off(true, false);
    auto e = refused(off.try_(staff_msg("c1", "th-1", "t1")));
    CHECK(e.code == errc::forbidden);
    CHECK(e.detail.find("messaging_enabled") != std::string::npos);

    client_fixture f;
    f.go(assign_staff_to_client{"c1", "t2"});
    auto p = refused(f.try_(staff_msg("c1", "th-1", "t2")));
    CHECK(p.code == errc::forbidden);
    CHECK(p.detail.find("messaging permission") != std::string::npos);
}

TEST_CASE("messaging: a therapist cannot write to a client they are not assigned to", "[aggregates][messaging]") {
    client_fixture f;
    CHECK(refused(f.try_(staff_msg("c2", "th-1", "t1"))).code == errc::not_found);
    CHECK(f.try_(staff_msg("c2", "th-1", "admin-1")).has_value());  // administration sees everyone
}

TEST_CASE("messaging: a client writes only into their own threads", "[aggregates][messaging]") {
    client_fixture f;
    register_both(f);
    f.go(staff_msg("c1", "th-1", "t1"));
    f.go(staff_msg("c2", "th-2", "admin-1"));
    CHECK(f.try_(client_msg("c1", "th-1", "acct-1")).has_value());
    // another client's thread: not found, whether addressed through c1 or c2
    CHECK(refused(f.try_(client_msg("c1", "th-2", "acct-1"))).code == errc::not_found);
    // pretending to be another client's account
    CHECK(refused(f.try_(client_msg("c2", "th-2", "acct-1"))).code == errc::not_found);
    // a staff member writing to c1 cannot use c2's thread id either
    CHECK(refused(f.try_(staff_msg("c1", "th-2", "admin-1"))).code == errc::not_found);
}

TEST_CASE("messaging: a client starts a thread only with an assigned staff member who uses messaging",
          "[aggregates][messaging]") {
    client_fixture f;
    register_both(f);
    auto evs = f.go(client_msg("c1", "th-new", "acct-1", "t1"));
    CHECK(std::get<events::MessageSent>(evs[0].data).staff_id == "t1");
    CHECK(has_field(refused(f.try_(client_msg("c1", "th-x", "acct-1", "t2"))), "to_staff_id"));  // not assigned
    f.go(assign_staff_to_client{"c1", "t2"});
    CHECK(has_field(refused(f.try_(client_msg("c1", "th-x", "acct-1", "t2"))), "to_staff_id"));  // no permission
    CHECK(has_field(refused(f.try_(client_msg("c1", "th-x", "acct-1", ""))), "to_staff_id"));
}

TEST_CASE("messaging: clients need the agency switch; bodies are checked", "[aggregates][messaging]") {
    client_fixture f;
    register_both(f);
    f.go(staff_msg("c1", "th-1", "t1"));
    f.go(change_settings{[] {
        events::Settings p;
        p.messaging_enabled = false;
        return p;
    }()});
    CHECK(refused(f.try_(client_msg("c1", "th-1", "acct-1"))).code == errc::forbidden);

    client_fixture g;
    auto empty = staff_msg("c1", "th-1", "t1");
    empty.body = "   ";
    CHECK(has_field(refused(g.try_(empty)), "body"));
    auto huge = staff_msg("c1", "th-1", "t1");
    huge.body = std::string(10'001, 'x');
    CHECK(has_field(refused(g.try_(huge)), "body"));
    auto bad = staff_msg("c1", "th-1", "t1");
    bad.body = "\xff\xfe";
    CHECK(has_field(refused(g.try_(bad)), "body"));
    auto kind = staff_msg("c1", "th-1", "t1");
    kind.sender_kind = "robot";
    CHECK(has_field(refused(g.try_(kind)), "sender_kind"));
}

namespace {
start_kiosk kiosk(const client_fixture& f, std::string client, std::string id, int token, std::string staff = "t1") {
    start_kiosk c;
    c.client_id = std::move(client);
    c.kiosk_session_id = std::move(id);
    c.actor_staff_id = std::move(staff);
    c.form_id = "intake-form";
    c.appointment_id = "appt-1";
    c.token_hash = th(token);
    c.now = f.now;
    return c;
}
}  // namespace

TEST_CASE("kiosk: staff start a session for one client with a blank form or a document", "[aggregates][kiosk]") {
    client_fixture f;
    auto evs = f.go(kiosk(f, "c1", "k1", 1));
    REQUIRE(evs.size() == 1);
    auto k = std::get<events::KioskSessionStarted>(evs[0].data);
    CHECK(k.client_id == "c1");
    CHECK(k.form_id == "intake-form");
    CHECK(k.expires_at == now0 + hour);
    CHECK(k.started_by == "t1");
    auto doc = kiosk(f, "c1", "k2", 2);
    doc.form_id = "";
    doc.appointment_id = "";
    doc.document_id = "doc-7";
    f.go(doc);
    auto ref = find_live_kiosk(f.s, th(2), f.now);
    REQUIRE(ref.kiosk);
    CHECK(ref.kiosk->document_id == "doc-7");
    CHECK(ref.client == &f.client("c1"));
}

TEST_CASE("kiosk: exactly one of form and document; appointments only with a form; visibility",
          "[aggregates][kiosk]") {
    client_fixture f;
    auto both = kiosk(f, "c1", "k1", 1);
    both.document_id = "doc-1";
    CHECK(has_field(refused(f.try_(both)), "form_id"));
    auto none = kiosk(f, "c1", "k1", 1);
    none.form_id = "";
    none.appointment_id = "";
    CHECK(has_field(refused(f.try_(none)), "form_id"));
    auto appt = kiosk(f, "c1", "k1", 1);
    appt.form_id = "";
    appt.document_id = "doc-1";
    CHECK(has_field(refused(f.try_(appt)), "appointment_id"));
    auto long_ = kiosk(f, "c1", "k1", 1);
    long_.expires_at = f.now + 25 * hour;
    CHECK(has_field(refused(f.try_(long_)), "expires_at"));
    CHECK(refused(f.try_(kiosk(f, "c2", "k1", 1))).code == errc::not_found);  // t1 is not assigned to c2
}

TEST_CASE("kiosk: the token opens only its session, once, until it expires", "[aggregates][kiosk]") {
    client_fixture f;
    f.go(kiosk(f, "c1", "k1", 1));
    f.go(kiosk(f, "c1", "k2", 2));
    CHECK(find_live_kiosk(f.s, th(99), f.now).kiosk == nullptr);
    CHECK(refused(f.try_(submit_kiosk_form{th(99), "{}", f.now})).code == errc::unauthenticated);
    CHECK(has_field(refused(f.try_(submit_kiosk_form{th(1), "[1,2]", f.now})), "answers"));
    CHECK(has_field(refused(f.try_(submit_kiosk_form{th(1), "{not json", f.now})), "answers"));
    auto evs = f.go(submit_kiosk_form{th(1), R"({"q1":"yes"})", f.now});
    REQUIRE(evs.size() == 1);
    CHECK(std::get<events::KioskFormSubmitted>(evs[0].data).kiosk_session_id == "k1");  // not k2
    CHECK(f.client("c1").kiosks.at("k1").submitted);
    CHECK_FALSE(f.client("c1").kiosks.at("k2").submitted);
    CHECK(refused(f.try_(submit_kiosk_form{th(1), "{}", f.now})).code == errc::conflict);
    CHECK(find_live_kiosk(f.s, th(1), f.now).kiosk == nullptr);
    f.now += hour;
    CHECK(find_live_kiosk(f.s, th(2), f.now).kiosk == nullptr);
    CHECK(refused(f.try_(submit_kiosk_form{th(2), "{}", f.now})).code == errc::unauthenticated);
}
