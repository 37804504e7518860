// Clients and the client portal against a real broker and a real carelogd: create / list / get with
// and without a consistency token, what a therapy_counseling therapist sees, assignment, the CSV
// import (report by line, dry run appending nothing, 10,000 rows in one request), invitations
// (403 naming the missing switch or permission, the sealed link on the notifications topic,
// resend killing the old token, revoke), registration (e-mail usernames, one e-mail for two
// accounts, the username that never changes) and 50 concurrent registrations of one username.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "carelog/notify/notifications.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/kafka/kafka.hpp"
#include "metrics_text.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

const std::string portal_password = "Blue-Harbor-2024!";
const std::string staff_password = "Fresh-Start-2026!x";

// The agency's portal_invitation records, waiting up to 20 s for `count` of them.
std::vector<json::object> invitation_notes(const carelogd& d, const std::string& agency_id, std::size_t count) {
    std::vector<json::object> out;
    for (int i = 0; i < 100; ++i) {
        out.clear();
        for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "notifications")) {
            auto v = json::parse(rec).as_object();
            if (str(v, "agency_id") == agency_id && str(v, "type") == "portal_invitation") out.push_back(v);
        }
        if (out.size() >= count) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
}

// The token of the invitation link in a notification record (opened with the server key).
std::string token_of(const carelogd& d, const json::object& note) {
    auto content = notify::open_notification(server_key(d), note);
    REQUIRE(content.has_value());
    auto link = str(*content, "link");
    auto at = link.find("/portal/register?token=");
    REQUIRE(at != std::string::npos);
    return link.substr(at + std::string("/portal/register?token=").size());
}

// The token of the newest notification of one invitation.
std::string token_for(const carelogd& d, const std::string& agency_id, const std::string& invitation_id,
                      std::size_t notes_expected) {
    auto notes = invitation_notes(d, agency_id, notes_expected);
    std::string token;
    for (const auto& n : notes)
        if (n.contains("invitation_id") && str(n, "invitation_id") == invitation_id) token = token_of(d, n);
    REQUIRE(!token.empty());
    return token;
}

// An agency, its org_admin's session and id; the portal switch and the admin's permission on request.
struct agency_fixture {
    std::string slug, agency_id, admin_id;
    std::map<std::string, std::string> admin;
    agency_fixture(http_client& c, const carelogd& d, const std::string& prefix) {
        slug = prefix + "-" + fresh_suffix();
        auto created = create_agency(c, d.options().operator_key, slug);
        agency_id = str(created, "agency_id");
        admin_id = str(created.at("admin"), "staff_id");
        admin = as_agency(c, agency_id);
    }
    std::map<std::string, std::string> admin_after(const http_reply& r) const {
        auto h = admin;
        h["X-Consistency-Token"] = str(r.json(), "consistency_token");
        return h;
    }
    void enable_portal(http_client& c, bool switch_on, bool grant) {
        if (switch_on) {
            auto r = c.patch("/v1/agency/settings", json::object{{"client_portal_enabled", true}}, admin);
            INFO(r.body);
            REQUIRE(r.status == 200);
            admin = admin_after(r);
        }
        if (grant) {
            auto r = c.put("/v1/staff/" + admin_id + "/permissions", json::object{{"client_portal", true}}, admin);
            INFO(r.body);
            REQUIRE(r.status == 200);
            admin = admin_after(r);
        }
    }
    // Adds a client; returns its id (the next read with admin headers sees it).
    std::string client(http_client& c, const std::string& first, const std::string& last,
                       const std::string& email = "client@example.org") {
        auto r = c.post("/v1/clients",
                        json::object{{"first_name", first}, {"last_name", last}, {"date_of_birth", "1988-07-14"},
                                     {"email", email}},
                        admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        admin = admin_after(r);
        return str(r.json(), "id");
    }
    // Invites a client; returns the invitation id.
    std::string invite(http_client& c, const std::string& client_id) {
        auto r = c.post("/v1/clients/" + client_id + "/portal/invitations", json::object{}, admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        admin = admin_after(r);
        return str(r.json(), "invitation_id");
    }
};

std::vector<std::string> ids_of(const http_reply& r) {
    std::vector<std::string> out;
    const auto body = r.json();
    for (const auto& item : body.at("items").as_array()) out.push_back(str(item, "id"));
    return out;
}

http_reply register_account(http_client& c, const std::string& token, const std::string& username,
                            const std::string& password = portal_password) {
    return c.post("/v1/portal/register", json::object{{"token", token}, {"username", username}, {"password", password}});
}

}  // namespace

TEST_CASE("clients: create, list and get with and without a consistency token / a therapist sees assigned clients only",
          "[integration][clients]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "clients");
    const auto plain_admin = a.admin;

    auto created = c.post("/v1/clients",
                          json::object{{"first_name", "Ann"}, {"last_name", "Able"}, {"date_of_birth", "1990-01-02"},
                                       {"email", "ann@example.org"}, {"external_id", "MRN-1"}},
                          a.admin);
    INFO(created.body);
    REQUIRE(created.status == 201);
    const auto ann = str(created.json(), "id");
    CHECK(created.json().at("version").as_int64() == 1);
    CHECK(created.header("x-consistency-token") == str(created.json(), "consistency_token"));
    // with the token: visible at once
    auto h = a.admin_after(created);
    auto got = c.get("/v1/clients/" + ann, h);
    REQUIRE(got.status == 200);
    CHECK(str(got.json(), "last_name") == "Able");
    CHECK(str(got.json(), "external_id") == "MRN-1");
    // without a token: eventually the same
    http_reply plain;
    for (int i = 0; i < 50; ++i) {
        plain = c.get("/v1/clients/" + ann, plain_admin);
        if (plain.status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(plain.status == 200);
    // a taken external_id is a conflict; bad fields are 422
    auto dup = c.post("/v1/clients",
                      json::object{{"first_name", "Other"}, {"last_name", "Person"}, {"date_of_birth", "1990-01-02"},
                                   {"external_id", "MRN-1"}},
                      a.admin);
    CHECK(dup.status == 409);
    CHECK(c.post("/v1/clients", json::object{{"first_name", "X"}, {"last_name", "Y"}, {"date_of_birth", "tomorrow"}},
                 a.admin)
              .status == 422);

    a.admin = h;
    const auto bob = a.client(c, "Bob", "Baker");
    auto listed = c.get("/v1/clients", a.admin);
    REQUIRE(listed.status == 200);
    CHECK(ids_of(listed) == std::vector<std::string>{ann, bob});
    CHECK(ids_of(c.get("/v1/clients?q=bak", a.admin)) == std::vector<std::string>{bob});
    auto page = c.get("/v1/clients?limit=1", a.admin);
    REQUIRE(page.json().at("next_cursor").is_string());
    CHECK(ids_of(c.get("/v1/clients?limit=1&cursor=" + str(page.json(), "next_cursor"), a.admin)) ==
          std::vector<std::string>{bob});
    // A first page kept in memory never hides a client added since: ten times over, the page is
    // read twice (the second answer is the kept page), a client is added, and the very next read
    // names it.
    for (int i = 0; i < 10; ++i) {
        auto before = ids_of(c.get("/v1/clients?limit=500", a.admin));
        CHECK(ids_of(c.get("/v1/clients?limit=500", a.admin)) == before);
        before.push_back(a.client(c, "Zed" + std::to_string(i), "Zulu"));  // last in name order
        CHECK(ids_of(c.get("/v1/clients?limit=500", a.admin)) == before);
    }
    const auto hits = carelog::testing::metric_value(c.get("/metrics").body,
                                                     "carelog_projection_page_cache_lookups_total{outcome=\"hit\"}");
    REQUIRE(!hits.empty());
    CHECK(std::stol(hits) >= 10);

    // a therapy_counseling therapist
    auto staff = c.post("/v1/staff",
                        json::object{{"first_name", "Tara"}, {"last_name", "Thera"}, {"gender", "female"},
                                     {"position", "Counselor"}, {"role", "therapist"}, {"type", "therapy_counseling"},
                                     {"email", "tara@example.org"}, {"temporary_password", "Temp-Pass-123!x"}},
                        a.admin);
    REQUIRE(staff.status == 201);
    const auto tara = str(staff.json(), "id");
    auto s = login(c, a.slug, str(staff.json(), "username"), "Temp-Pass-123!x");
    auto therapist = bearer(str(s, "token"));
    REQUIRE(c.post("/v1/auth/password", json::object{{"current_password", "Temp-Pass-123!x"}, {"new_password", staff_password}},
                   therapist)
                .status == 200);
    CHECK(ids_of(c.get("/v1/clients", therapist)).empty());
    CHECK(c.get("/v1/clients/" + bob, therapist).status == 404);

    auto assigned = c.request("PUT", "/v1/clients/" + bob + "/staff/" + tara, "", a.admin);
    INFO(assigned.body);
    REQUIRE(assigned.status == 200);
    therapist["X-Consistency-Token"] = str(assigned.json(), "consistency_token");
    CHECK(ids_of(c.get("/v1/clients", therapist)) == std::vector<std::string>{bob});
    CHECK(c.get("/v1/clients/" + bob, therapist).status == 200);
    CHECK(c.get("/v1/clients/" + ann, therapist).status == 404);
    auto viewed = c.get("/v1/clients/" + bob, a.admin_after(assigned));
    CHECK(viewed.json().at("staff_ids").as_array() == json::array{json::value(tara)});
    // assigning twice changes nothing
    auto again = c.request("PUT", "/v1/clients/" + bob + "/staff/" + tara, "", a.admin);
    CHECK(again.status == 200);
    CHECK(again.json().at("consistency_token").is_null());

    auto unassigned = c.request("DELETE", "/v1/clients/" + bob + "/staff/" + tara, "", a.admin);
    REQUIRE(unassigned.status == 200);
    therapist["X-Consistency-Token"] = str(unassigned.json(), "consistency_token");
    CHECK(c.get("/v1/clients/" + bob, therapist).status == 404);
    auto history = c.get("/v1/clients/" + bob + "/history", a.admin_after(unassigned));
    REQUIRE(history.status == 200);
    std::vector<std::string> types;
    const auto events = history.json();
    for (const auto& e : events.at("items").as_array()) types.push_back(str(e, "event_type"));
    CHECK(types == std::vector<std::string>{"ClientAdded", "StaffAssignedToClient", "StaffUnassignedFromClient"});
    // the therapist may not read histories (events.read)
    CHECK(c.get("/v1/clients/" + bob + "/history", therapist).status == 403);
}

TEST_CASE("clients: a CSV import reports malformed rows by line, imports the good ones / a dry run appends nothing",
          "[integration][clients][import]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "import");
    const std::string csv =
        "first_name,last_name,date_of_birth,email,phone,external_id\r\n"
        "Ann,Able,1990-01-01,ann@example.org,555-123-4567,A1\r\n"
        "Bob,Baker,not-a-date,,,A2\r\n"          // line 3: bad date
        "Cy,Cole,1990-01-01,,,A1\r\n"            // line 4: repeats A1 of line 2
        "\"Dee, Jr\",Dunn,1991-02-03,,,A4\r\n"   // line 5: quoted comma
        "Eve,Evans,1992-03-04,,\r\n";            // line 6: a field short
    auto csv_headers = a.admin;

    auto dry = c.request("POST", "/v1/clients/import?dry_run=true", csv, csv_headers, "text/csv");
    INFO(dry.body);
    REQUIRE(dry.status == 200);
    auto report = dry.json().as_object();
    CHECK(report.at("dry_run").as_bool());
    CHECK(report.at("valid").as_int64() == 2);
    CHECK(report.at("failed").as_int64() == 3);
    CHECK(report.at("consistency_token").is_null());
    std::map<std::int64_t, std::string> status_by_line;
    for (const auto& row : report.at("rows").as_array()) status_by_line[row.at("line").as_int64()] = str(row, "status");
    CHECK(status_by_line == std::map<std::int64_t, std::string>{
                                {2, "valid"}, {3, "failed"}, {4, "failed"}, {5, "valid"}, {6, "failed"}});
    // nothing was appended: after a later command is applied, the list is still empty
    auto marker = c.post("/v1/locations", json::object{{"name", "Main office"}}, a.admin);
    REQUIRE(marker.status == 201);
    CHECK(ids_of(c.get("/v1/clients", a.admin_after(marker))).empty());

    auto real = c.request("POST", "/v1/clients/import", csv, csv_headers, "text/csv");
    INFO(real.body);
    REQUIRE(real.status == 200);
    report = real.json().as_object();
    CHECK_FALSE(report.at("dry_run").as_bool());
    CHECK(report.at("imported").as_int64() == 2);
    std::vector<std::string> imported_ids;
    for (const auto& row : report.at("rows").as_array()) {
        if (str(row, "status") == "imported") imported_ids.push_back(str(row, "id"));
        if (row.at("line").as_int64() == 4)
            CHECK(str(row.at("errors").as_array()[0], "field") == "external_id");
        if (row.at("line").as_int64() == 3)
            CHECK(str(row.at("errors").as_array()[0], "field") == "date_of_birth");
    }
    REQUIRE(imported_ids.size() == 2);
    auto after = a.admin;
    after["X-Consistency-Token"] = str(report, "consistency_token");
    auto listed = c.get("/v1/clients", after);
    auto names = listed.json().at("items").as_array();
    REQUIRE(names.size() == 2);
    CHECK(str(names[0], "first_name") == "Ann");
    CHECK(str(names[1], "first_name") == "Dee, Jr");
    auto history = c.get("/v1/clients/" + imported_ids[0] + "/history", after);
    CHECK(history.json().at("items").as_array().size() == 1);

    // the same file again: every row now conflicts on its external_id, nothing new
    auto repeat = c.request("POST", "/v1/clients/import", csv, csv_headers, "text/csv");
    REQUIRE(repeat.status == 200);
    CHECK(repeat.json().at("imported").as_int64() == 0);
    // not CSV: 415; a bad header: 422
    CHECK(c.request("POST", "/v1/clients/import", csv, csv_headers, "application/json").status == 415);
    CHECK(c.request("POST", "/v1/clients/import", "name,dob\r\nAnn,1990-01-01\r\n", csv_headers, "text/csv").status == 422);
    // other routes keep the 1 MiB limit
    std::string big(2u << 20, 'x');
    auto too_big = c.request("POST", "/v1/clients", "{\"first_name\":\"" + big + "\"}", a.admin);
    CHECK(too_big.status == 413);
}

TEST_CASE("clients: 10,000 rows import in one request", "[integration][clients][import]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "bulk");
    constexpr int rows = 10'000;
    std::string csv = "first_name,last_name,date_of_birth,email,phone,external_id\n";
    for (int i = 0; i < rows; ++i) {
        char line[256];
        std::snprintf(line, sizeof line,
                      "Clientfirstname%05d,Bulkimportfamily%05d,19%02d-%02d-%02d,client.%05d@bulk-import.example.org,"
                      "555-010-%04d,EXTERNAL-%05d\n",
                      i, i, 50 + i % 50, 1 + i % 12, 1 + i % 28, i, i % 10000, i);
        csv += line;
    }
    REQUIRE(csv.size() > (1u << 20));  // over the default body limit: this route allows 16 MiB

    auto t0 = std::chrono::steady_clock::now();
    auto r = c.request("POST", "/v1/clients/import", csv, a.admin, "text/csv");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::printf("10,000-row CSV import (%zu bytes): %lld ms\n", csv.size(), static_cast<long long>(took.count()));
    INFO(r.body.substr(0, 2000));
    REQUIRE(r.status == 200);
    auto report = r.json().as_object();
    CHECK(report.at("imported").as_int64() == rows);
    CHECK(report.at("failed").as_int64() == 0);

    // every row is readable once the token is applied: page through the list
    auto h = a.admin;
    h["X-Consistency-Token"] = str(report, "consistency_token");
    std::size_t seen = 0;
    std::string cursor;
    for (int pages = 0; pages < 30; ++pages) {
        auto page = c.get("/v1/clients?limit=500" + (cursor.empty() ? std::string() : "&cursor=" + cursor), h);
        REQUIRE(page.status == 200);
        seen += page.json().at("items").as_array().size();
        if (page.json().at("next_cursor").is_null()) break;
        cursor = str(page.json(), "next_cursor");
    }
    CHECK(seen == static_cast<std::size_t>(rows));
}

TEST_CASE("portal: inviting without the agency's switch or the staff member's permission is 403 naming it",
          "[integration][portal]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "noportal");
    const auto client = a.client(c, "Ann", "Able");
    const std::string path = "/v1/clients/" + client + "/portal/invitations";

    auto neither = c.post(path, json::object{}, a.admin);
    INFO(neither.body);
    REQUIRE(neither.status == 403);
    CHECK(str(neither.json(), "detail") ==
          "the agency's client_portal_enabled is off; the staff member lacks the client_portal permission");

    a.enable_portal(c, false, true);  // granted, switch still off
    auto switch_off = c.post(path, json::object{}, a.admin);
    REQUIRE(switch_off.status == 403);
    CHECK(str(switch_off.json(), "detail") == "the agency's client_portal_enabled is off");

    auto revoke = c.put("/v1/staff/" + a.admin_id + "/permissions", json::object{{"client_portal", false}}, a.admin);
    REQUIRE(revoke.status == 200);
    a.admin = a.admin_after(revoke);
    a.enable_portal(c, true, false);  // switch on, not granted
    auto no_grant = c.post(path, json::object{}, a.admin);
    REQUIRE(no_grant.status == 403);
    CHECK(str(no_grant.json(), "detail") == "the staff member lacks the client_portal permission");
    // nothing was sent
    CHECK(c.get(path, a.admin).json().at("items").as_array().empty());
}

TEST_CASE("portal: an invitation link from the notifications topic registers / resend kills the old token / revoke / "
          "the username never changes",
          "[integration][portal]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "portal");
    a.enable_portal(c, true, true);
    // two clients with the same e-mail: it serves both accounts
    const auto ann = a.client(c, "Ann", "Able", "family@example.org");
    const auto bob = a.client(c, "Bob", "Able", "family@example.org");

    const auto inv = a.invite(c, ann);
    auto first_token = token_for(d, a.agency_id, inv, 1);
    CHECK(first_token.starts_with(a.agency_id + "."));
    auto notes = invitation_notes(d, a.agency_id, 1);
    CHECK(str(notes[0], "client_id") == ann);
    CHECK(str(notes[0], "staff_id") == a.admin_id);
    CHECK(json::serialize(notes[0]).find(first_token) == std::string::npos);  // sealed
    auto content = notify::open_notification(server_key(d), notes[0]);
    CHECK(str(*content, "to") == "family@example.org");
    CHECK(str(*content, "text").find(first_token) != std::string::npos);

    auto listed = c.get("/v1/clients/" + ann + "/portal/invitations", a.admin);
    REQUIRE(listed.status == 200);
    CHECK(str(listed.json().at("items").as_array()[0], "state") == "sent");

    // resend: a new token; the old one is dead
    auto resent = c.post("/v1/portal/invitations/" + inv + "/resend", json::object{}, a.admin);
    INFO(resent.body);
    REQUIRE(resent.status == 200);
    a.admin = a.admin_after(resent);
    auto second_token = token_for(d, a.agency_id, inv, 2);
    CHECK(second_token != first_token);
    auto dead = register_account(c, first_token, "annable");
    CHECK(dead.status == 422);
    // e-mail-shaped usernames: 422
    auto email_name = register_account(c, second_token, "ann@example.org");
    CHECK(email_name.status == 422);
    CHECK(email_name.body.find("username") != std::string::npos);
    // a weak password: 422
    CHECK(register_account(c, second_token, "annable", "weak").status == 422);

    auto reg = register_account(c, second_token, "annable");
    INFO(reg.body);
    REQUIRE(reg.status == 201);
    const auto account = str(reg.json(), "portal_account_id");
    CHECK(str(reg.json(), "username") == "annable");
    // the token is used up
    CHECK(register_account(c, second_token, "annable2").status == 422);

    auto h = a.admin;
    h["X-Consistency-Token"] = str(reg.json(), "consistency_token");
    auto seen = c.get("/v1/portal/accounts/" + account, h);
    REQUIRE(seen.status == 200);
    CHECK(str(seen.json(), "username") == "annable");
    CHECK(str(c.get("/v1/clients/" + ann + "/portal/invitations", h).json().at("items").as_array()[0], "state") ==
          "registered");

    // the username never changes, and the history shows no attempt
    auto before = c.get("/v1/clients/" + ann + "/history", h).json().at("items").as_array();
    auto change = c.put("/v1/portal/accounts/" + account + "/username", json::object{{"username", "ann2"}}, h);
    CHECK(change.status == 409);
    auto same = c.put("/v1/portal/accounts/" + account + "/username", json::object{{"username", "annable"}}, h);
    CHECK(same.status == 409);
    auto marker = c.post("/v1/locations", json::object{{"name", "Marker"}}, h);
    REQUIRE(marker.status == 201);
    auto after = c.get("/v1/clients/" + ann + "/history", a.admin_after(marker)).json().at("items").as_array();
    CHECK(after == before);
    CHECK(str(c.get("/v1/portal/accounts/" + account, a.admin_after(marker)).json(), "username") == "annable");

    // the same e-mail serves a second account; its username is unique case-insensitively
    const auto inv_bob = a.invite(c, bob);
    auto bob_token = token_for(d, a.agency_id, inv_bob, 3);
    CHECK(register_account(c, bob_token, "ANNABLE").status == 409);
    auto bob_reg = register_account(c, bob_token, "bobable");
    INFO(bob_reg.body);
    CHECK(bob_reg.status == 201);

    // revoke: the link stops working; revoking again changes nothing
    const auto carl = a.client(c, "Carl", "Able", "family@example.org");
    const auto inv_carl = a.invite(c, carl);
    auto carl_token = token_for(d, a.agency_id, inv_carl, 4);
    auto revoked = c.post("/v1/portal/invitations/" + inv_carl + "/revoke", json::object{}, a.admin);
    INFO(revoked.body);
    REQUIRE(revoked.status == 200);
    CHECK(register_account(c, carl_token, "carlable").status == 422);
    auto h2 = a.admin_after(revoked);
    CHECK(str(c.get("/v1/clients/" + carl + "/portal/invitations", h2).json().at("items").as_array()[0], "state") ==
          "revoked");
    CHECK(c.post("/v1/portal/invitations/" + inv_carl + "/revoke", json::object{}, a.admin).status == 200);
    // a registered invitation can be neither resent nor revoked
    CHECK(c.post("/v1/portal/invitations/" + inv + "/resend", json::object{}, a.admin).status == 409);
    // an inviter from another agency sees nothing of these
    agency_fixture other(c, d, "other");
    other.enable_portal(c, true, true);
    CHECK(c.post("/v1/clients/" + ann + "/portal/invitations", json::object{}, other.admin).status == 404);
    CHECK(c.post("/v1/portal/invitations/" + inv_carl + "/resend", json::object{}, other.admin).status == 404);
    CHECK(c.get("/v1/portal/accounts/" + account, other.admin).status == 404);
}

TEST_CASE("portal: 50 concurrent registrations of one username from 50 invitations: exactly one 201",
          "[integration][portal]") {
    // All 50 come from one address: past the per-address registration limit, which is not tested here.
    carelogd_options o;
    o.extra_env["CARELOG_LIMIT_REGISTRATION_ADDRESS"] = "0/0";
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "race");
    a.enable_portal(c, true, true);
    constexpr int n = 50;
    std::vector<std::string> invitations;
    for (int i = 0; i < n; ++i) {
        auto client = a.client(c, "Racer", "Number" + std::to_string(i), "same@example.org");
        invitations.push_back(a.invite(c, client));
    }
    auto notes = invitation_notes(d, a.agency_id, n);
    REQUIRE(notes.size() == static_cast<std::size_t>(n));
    std::vector<std::string> tokens;
    for (const auto& note : notes) tokens.push_back(token_of(d, note));

    std::atomic<int> created{0}, conflicts{0}, other{0};
    std::vector<std::thread> threads;
    std::atomic<bool> go{false};
    for (int i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            http_client own = d.client();
            while (!go) std::this_thread::yield();
            auto r = register_account(own, tokens[static_cast<std::size_t>(i)], i % 2 ? "SameName" : "samename");
            if (r.status == 201)
                ++created;
            else if (r.status == 409)
                ++conflicts;
            else
                ++other;
        });
    }
    go = true;
    for (auto& t : threads) t.join();
    CHECK(created.load() == 1);
    CHECK(conflicts.load() == n - 1);
    CHECK(other.load() == 0);
}

TEST_CASE("clients: as_of answers a client and the agency's settings as they were at that time",
          "[integration][clients][as_of]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "asof");
    const auto now_rfc3339 = [] {
        return carelog::format_rfc3339(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
    };
    const auto before_client = now_rfc3339();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto ann = a.client(c, "Ann", "Past");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto added = now_rfc3339();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto assigned = c.request("PUT", "/v1/clients/" + ann + "/staff/" + a.admin_id, "", a.admin);
    REQUIRE(assigned.status == 200);
    auto h = a.admin_after(assigned);
    auto settings_before = c.get("/v1/agency/settings", h);
    REQUIRE(settings_before.status == 200);
    const auto minutes_before = settings_before.json().at("session_idle_minutes").as_int64();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto before_change = now_rfc3339();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto changed = c.patch("/v1/agency/settings", json::object{{"session_idle_minutes", minutes_before + 5}}, h);
    REQUIRE(changed.status == 200);
    h = a.admin_after(changed);

    auto now = c.get("/v1/clients/" + ann, h);
    REQUIRE(now.status == 200);
    CHECK(now.json().at("staff_ids").as_array().size() == 1);
    auto then = c.get("/v1/clients/" + ann + "?as_of=" + added, h);
    INFO(then.body);
    REQUIRE(then.status == 200);
    CHECK(then.json().at("staff_ids").as_array().empty());
    CHECK(then.json().at("version").as_int64() == 1);
    CHECK(c.get("/v1/clients/" + ann + "?as_of=" + before_client, h).status == 404);
    CHECK(c.get("/v1/clients/" + ann + "?as_of=yesterday", h).status == 422);  // a field error on as_of

    auto old_settings = c.get("/v1/agency/settings?as_of=" + before_change, h);
    REQUIRE(old_settings.status == 200);
    CHECK(old_settings.json().at("session_idle_minutes").as_int64() == minutes_before);
    auto new_settings = c.get("/v1/agency/settings", h);
    CHECK(new_settings.json().at("session_idle_minutes").as_int64() == minutes_before + 5);
}

TEST_CASE("events: the staff directory's commands and both kinds of session activity land on the topic as their "
          "events (with the rest of the suite: one of every event type, which the Python consumer checks)",
          "[integration][events]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "every");
    a.enable_portal(c, true, true);
    auto ok = [&](const http_reply& r, int status) {
        INFO(r.body);
        REQUIRE(r.status == status);
        a.admin = a.admin_after(r);
        return r.json();
    };
    // Sessions touch after a sixth of the idle timeout: 10 s with the shortest allowed (1 minute).
    ok(c.patch("/v1/agency/settings", json::object{{"session_idle_minutes", 1}}, a.admin), 200);
    const auto location = str(ok(c.post("/v1/locations", json::object{{"name", "Main"}, {"address", "1 Main St"}}, a.admin), 201), "id");
    const auto program = str(ok(c.post("/v1/programs", json::object{{"name", "Outpatient"}}, a.admin), 201), "id");
    const auto staff = str(ok(c.post("/v1/staff",
                                     json::object{{"first_name", "Eve"}, {"last_name", "Every"}, {"gender", "female"},
                                                  {"position", "Biller"}, {"email", "eve@x.org"}, {"role", "biller"},
                                                  {"type", "administration"}},
                                     a.admin),
                              201),
                           "id");
    ok(c.patch("/v1/staff/" + staff, json::object{{"position", "Senior biller"}}, a.admin), 200);
    ok(c.put("/v1/staff/" + staff + "/locations", json::object{{"location_ids", json::array{location.c_str()}}}, a.admin), 200);
    ok(c.put("/v1/staff/" + staff + "/programs", json::object{{"program_ids", json::array{program.c_str()}}}, a.admin), 200);
    ok(c.post("/v1/staff/" + staff + "/deactivate", json::object{}, a.admin), 200);

    // A portal session beside the staff session.
    const auto ann = a.client(c, "Ann", "Every", "ann@example.org");
    const auto inv = a.invite(c, ann);
    const auto token = token_for(d, a.agency_id, inv, 1);
    REQUIRE(register_account(c, token, "annevery").status == 201);
    auto login = c.post("/v1/portal/login",
                        json::object{{"agency", a.slug}, {"username", "annevery"}, {"password", portal_password}});
    INFO(login.body);
    REQUIRE(login.status == 200);
    const auto portal = bearer(str(login.json(), "token"));
    REQUIRE(c.get("/v1/portal/me", portal).status == 200);

    std::this_thread::sleep_for(std::chrono::seconds(11));
    REQUIRE(c.get("/v1/staff/" + staff, a.admin).status == 200);  // touches the admin's session
    REQUIRE(c.get("/v1/portal/me", portal).status == 200);         // touches the portal session

    std::set<std::string> types;
    for (int i = 0; i < 50 && !(types.contains("SessionTouched") && types.contains("PortalSessionTouched")); ++i) {
        types.clear();
        for (const auto& bytes : read_topic(test_brokers(), d.options().topic_prefix + "events")) {
            auto e = carelog::events::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
            REQUIRE(e.has_value());
            if (e->agency_id == a.agency_id) types.insert(std::string(carelog::events::event_type_name(e->data)));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    for (const char* t : {"LocationAdded", "ProgramAdded", "StaffCreated", "StaffProfileUpdated", "StaffLocationsSet",
                          "StaffProgramsSet", "StaffDeactivated", "SessionTouched", "PortalSessionTouched",
                          "PortalLoginSucceeded", "PortalUsernameChosen"}) {
        INFO(t);
        CHECK(types.contains(t));
    }
}
