// Clients, portal invitations and registration at the HTTP layer, over handle() with a real store
// and the fake bus: what is refused before any command (shapes, visibility, module switches), the
// commands built, the CSV import's report, the invitation notification, the body limits.
#include <catch2/catch.hpp>

#include <algorithm>

#include "api_fixture.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/server.hpp"
#include "http_client.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::notify;
using namespace carelog::api::testing;
using http::verb;

namespace {

struct captured_notifications final : notification_sink {
    std::vector<notification> sent;
    result<void> publish(const notification& n) override {
        sent.push_back(n);
        return {};
    }
};

// A therapist of type therapy_counseling (uuid(40), "tkim") with a live session, no pending change.
std::string therapist_token(api_fixture& f) {
    auto c = staff_created("Terry", "Kim", "tkim", "therapist");
    c.require_password_change = false;
    f.feed.push(f.agency_a, uuid(40), c);
    return f.login(f.agency_a, uuid(40), "therapist");
}

void add_client(api_fixture& f, const std::string& id, std::string first, std::string last) {
    events::ClientAdded c;
    c.first_name = std::move(first);
    c.last_name = std::move(last);
    c.date_of_birth = "1990-04-01";
    c.email = "client@example.org";
    f.feed.push(f.agency_a, id, c);
}

std::vector<std::string> ids_of(const http_response& res) {
    std::vector<std::string> out;
    const auto body = body_of(res);
    for (const auto& item : body.at("items").as_array())
        out.emplace_back(item.as_object().at("id").as_string());
    return out;
}

command_result accepted(const std::string& id, json::object body = {}) {
    command_result r;
    r.aggregate_id = id;
    r.version = 1;
    r.consistency_token = "0-9";
    r.body = body.empty() ? json::object{{"id", id}} : std::move(body);
    return r;
}

}  // namespace

TEST_CASE("clients: a new client's fields are checked before any command is built", "[api][clients]") {
    api_fixture f;
    auto bad = f.send(verb::post, "/v1/clients",
                      json::object{{"first_name", ""}, {"last_name", "Lee"}, {"date_of_birth", "2990-01-01"},
                                   {"email", "not-an-email"}, {"nickname", "x"}});
    REQUIRE(is_problem(bad, 422));
    auto fields = problem_fields(bad);
    CHECK(std::find(fields.begin(), fields.end(), "nickname") != fields.end());
    auto missing = f.send(verb::post, "/v1/clients", json::object{{"last_name", "Lee"}});
    REQUIRE(is_problem(missing, 422));
    fields = problem_fields(missing);
    CHECK(std::find(fields.begin(), fields.end(), "first_name") != fields.end());
    CHECK(std::find(fields.begin(), fields.end(), "date_of_birth") != fields.end());
    auto wrong_dob = f.send(verb::post, "/v1/clients",
                            json::object{{"first_name", "Ann"}, {"last_name", "Lee"}, {"date_of_birth", "1990-02-30"}});
    REQUIRE(is_problem(wrong_dob, 422));
    CHECK(problem_fields(wrong_dob) == std::vector<std::string>{"date_of_birth"});
    CHECK(f.bus.calls.empty());

    f.bus.will_succeed(uuid(100), 1, "0-7");
    auto res = f.send(verb::post, "/v1/clients",
                      json::object{{"first_name", " Ann "}, {"last_name", "Lee"}, {"date_of_birth", "1990-02-28"},
                                   {"email", "ann@example.org"}, {"external_id", "MRN-1"}});
    REQUIRE(res.result_int() == 201);
    CHECK(header_of(res, "Location") == "/v1/clients/" + uuid(100));
    CHECK(body_of(res).at("consistency_token").as_string() == "0-7");
    const auto& c = f.bus.last<aggregates::add_client>();
    CHECK(c.client_id == uuid(100));
    CHECK(c.first_name == "Ann");
    CHECK(c.external_id == "MRN-1");
    CHECK(c.now == t0);
}

TEST_CASE("clients: a therapy_counseling therapist sees only assigned clients; administration sees all",
          "[api][clients]") {
    api_fixture f;
    auto therapist = therapist_token(f);
    add_client(f, uuid(60), "Ann", "Able");
    add_client(f, uuid(61), "Bob", "Baker");
    f.feed.push(f.agency_a, uuid(61), events::StaffAssignedToClient{uuid(40)});

    auto mine = f.request(verb::get, "/v1/clients", "", f.bearer(therapist));
    REQUIRE(mine.result_int() == 200);
    CHECK(ids_of(mine) == std::vector<std::string>{uuid(61)});
    CHECK(f.request(verb::get, "/v1/clients/" + uuid(61), "", f.bearer(therapist)).result_int() == 200);
    CHECK(is_problem(f.request(verb::get, "/v1/clients/" + uuid(60), "", f.bearer(therapist)), 404));
    // an invisible client is 404 for its invitations too, before any command
    CHECK(is_problem(f.request(verb::get, "/v1/clients/" + uuid(60) + "/portal/invitations", "", f.bearer(therapist)),
                     404));

    auto all = f.get("/v1/clients");
    REQUIRE(all.result_int() == 200);
    CHECK(ids_of(all) == std::vector<std::string>{uuid(60), uuid(61)});
    auto found = f.get("/v1/clients?q=bak&limit=1");
    CHECK(ids_of(found) == std::vector<std::string>{uuid(61)});
    CHECK(is_problem(f.get("/v1/clients?limit=0"), 422));
    CHECK(is_problem(f.get("/v1/clients?cursor=garbage"), 422));
    CHECK(is_problem(f.get("/v1/clients?colour=red"), 422));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("clients: assigning needs a visible client and a staff member of the agency", "[api][clients]") {
    api_fixture f;
    add_client(f, uuid(60), "Ann", "Able");
    CHECK(is_problem(f.request(verb::put, "/v1/clients/" + uuid(60) + "/staff/" + f.staff_b, "", f.as_agency(f.agency_a)),
                     404));
    CHECK(is_problem(f.request(verb::put, "/v1/clients/" + uuid(99) + "/staff/" + f.staff_a, "", f.as_agency(f.agency_a)),
                     404));
    CHECK(f.bus.calls.empty());
    f.bus.will_succeed(uuid(60), 2, "0-8");
    auto res = f.request(verb::put, "/v1/clients/" + uuid(60) + "/staff/" + f.staff_a, "", f.as_agency(f.agency_a));
    REQUIRE(res.result_int() == 200);
    CHECK(f.bus.last<aggregates::assign_staff_to_client>().staff_id == f.staff_a);
    f.bus.will_succeed(uuid(60), 3, "0-9");
    res = f.request(verb::delete_, "/v1/clients/" + uuid(60) + "/staff/" + f.staff_a, "", f.as_agency(f.agency_a));
    REQUIRE(res.result_int() == 200);
    CHECK(f.bus.last<aggregates::unassign_staff_from_client>().client_id == uuid(60));
}

TEST_CASE("clients: the CSV import reports bad rows by line and sends the good ones as one batch", "[api][clients][import]") {
    api_fixture f;
    const std::string csv =
        "first_name,last_name,date_of_birth,email,phone,external_id\n"
        "Ann,Able,1990-01-01,ann@example.org,,A1\n"
        "Bob,,1990-01-01,,,A2\n"              // line 3: no last name
        "Cy,Cole,1990-01-01,,,A1\n"           // line 4: the domain refuses the repeated A1
        "\"Dee, Jr\",Dunn,1991-02-03,,,A4\n";  // line 5: quoted comma
    // not CSV: 415, and nothing decided
    CHECK(is_problem(f.request(verb::post, "/v1/clients/import", csv, f.as_agency(f.agency_a)), 415));
    auto hdr = f.as_agency(f.agency_a, {{"Content-Type", "text/csv; charset=utf-8"}});
    auto no_header = f.request(verb::post, "/v1/clients/import", "Ann,Able\n", hdr);
    CHECK(is_problem(no_header, 422));
    CHECK(f.bus.batches.empty());

    f.bus.batch_responder = [](const fake_bus::batch_call& b) -> result<std::vector<result<command_result>>> {
        std::vector<result<command_result>> out;
        for (const auto& c : b.cmds) {
            const auto& add = std::get<aggregates::add_client>(c);
            if (add.first_name == "Cy")
                out.push_back(fail(error::validation("external_id", "is already used by another client")));
            else
                out.push_back(accepted(add.client_id));
        }
        return out;
    };
    auto res = f.request(verb::post, "/v1/clients/import?dry_run=true", csv, hdr);
    REQUIRE(res.result_int() == 200);
    REQUIRE(f.bus.batches.size() == 1);
    CHECK(f.bus.batches[0].dry_run);
    CHECK(f.bus.batches[0].cmds.size() == 3);
    auto report = body_of(res);
    CHECK(report.at("dry_run").as_bool());
    CHECK(report.at("records").as_int64() == 4);
    CHECK(report.at("valid").as_int64() == 2);
    CHECK(report.at("failed").as_int64() == 2);
    const auto& rows = report.at("rows").as_array();
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].at("line").as_int64() == 2);
    CHECK(rows[0].at("status").as_string() == "valid");
    CHECK(rows[1].at("line").as_int64() == 3);
    CHECK(rows[1].at("status").as_string() == "failed");
    CHECK(rows[1].at("errors").as_array()[0].at("field").as_string() == "last_name");
    CHECK(rows[2].at("line").as_int64() == 4);
    CHECK(rows[2].at("errors").as_array()[0].at("field").as_string() == "external_id");
    CHECK(rows[3].at("status").as_string() == "valid");

    auto real = f.request(verb::post, "/v1/clients/import", csv,
                          f.as_agency(f.agency_a, {{"Content-Type", "text/csv"}, {"Idempotency-Key", "import-1"}}));
    REQUIRE(real.result_int() == 200);
    REQUIRE(f.bus.batches.size() == 2);
    CHECK_FALSE(f.bus.batches[1].dry_run);
    CHECK(f.bus.batches[1].meta.idempotency_key ==
          bus_key("staff/" + f.admin_of(f.agency_a), "POST", "/v1/clients/import", csv, "import-1"));
    CHECK(std::get<aggregates::add_client>(f.bus.batches[1].cmds[2]).first_name == "Dee, Jr");
    CHECK(body_of(real).at("imported").as_int64() == 2);
    CHECK(header_of(real, "X-Consistency-Token") == "0-9");

    // a Kafka failure of the batch is a 503 for the whole import: nothing was accepted
    f.bus.batch_responder = [](const fake_bus::batch_call&) -> result<std::vector<result<command_result>>> {
        return fail(errc::unavailable, "the event log did not acknowledge in time");
    };
    CHECK(is_problem(f.request(verb::post, "/v1/clients/import", csv, hdr), 503));
}

TEST_CASE("clients: only the import route takes bodies over 1 MiB", "[api][clients][import]") {
    config cfg;
    CHECK(body_limit_for(cfg, "POST", "/v1/clients/import") == 16u << 20);
    CHECK(body_limit_for(cfg, "POST", "/v1/clients/import?dry_run=true") == 16u << 20);
    CHECK(body_limit_for(cfg, "POST", "/v1/clients") == 1u << 20);
    CHECK(body_limit_for(cfg, "GET", "/v1/clients/import") == 1u << 20);
    CHECK(body_limit_for(cfg, "POST", "/v1/staff") == 1u << 20);
    CHECK(max_body_limit(cfg) == 16u << 20);
}

TEST_CASE("clients: the server lets a 2 MiB CSV through to the import and refuses it elsewhere (413)",
          "[api][clients][import][server]") {
    api_fixture f;
    server_options o;
    o.address = "127.0.0.1";
    o.port = 0;
    server srv(*f.ctx, o);
    REQUIRE(srv.start().has_value());
    auto headers = f.as_agency(f.agency_a);  // made before requests run on the server's threads
    std::string csv = "first_name,last_name,date_of_birth,email,phone,external_id\n";
    for (int i = 0; csv.size() < (2u << 20); ++i)
        csv += "Name" + std::to_string(i) + ",Family" + std::to_string(i) + ",1980-01-01,someone@example.org,,E" +
               std::to_string(i) + "\n";
    std::size_t rows = 0;
    f.bus.batch_responder = [&](const fake_bus::batch_call& b) -> result<std::vector<result<command_result>>> {
        rows = b.cmds.size();
        std::vector<result<command_result>> out;
        for (const auto& c : b.cmds) out.push_back(accepted(std::get<aggregates::add_client>(c).client_id));
        return out;
    };
    carelog::testing::http_client client("127.0.0.1", srv.port());
    auto ok = client.request("POST", "/v1/clients/import?dry_run=true", csv, headers, "text/csv");
    INFO(ok.body.substr(0, 500));
    CHECK(ok.status == 200);
    CHECK(rows > 20000);
    carelog::testing::http_client other("127.0.0.1", srv.port());
    auto refused = other.request("POST", "/v1/clients", csv, headers, "text/csv");
    CHECK(refused.status == 413);
    CHECK(refused.body.find("1048576") != std::string::npos);
    srv.stop();
}

TEST_CASE("portal: inviting without the agency's switch or the staff member's permission is 403 naming it",
          "[api][portal]") {
    api_fixture f;
    add_client(f, uuid(60), "Ann", "Able");
    const std::string path = "/v1/clients/" + uuid(60) + "/portal/invitations";
    auto both = f.send(verb::post, path, json::object{});
    REQUIRE(is_problem(both, 403));
    auto detail = std::string(body_of(both).at("detail").as_string());
    CHECK(detail.find("client_portal_enabled") != std::string::npos);
    CHECK(detail.find("client_portal permission") != std::string::npos);

    f.admin_token(f.agency_a);
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::ModulePermissionGranted{"client_portal"});
    auto switch_off = f.send(verb::post, path, json::object{});
    REQUIRE(is_problem(switch_off, 403));
    detail = std::string(body_of(switch_off).at("detail").as_string());
    CHECK(detail.find("client_portal_enabled is off") != std::string::npos);
    CHECK(detail.find("permission") == std::string::npos);

    events::Settings on;
    on.client_portal_enabled = true;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{on});
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::ModulePermissionRevoked{"client_portal"});
    auto no_grant = f.send(verb::post, path, json::object{});
    REQUIRE(is_problem(no_grant, 403));
    detail = std::string(body_of(no_grant).at("detail").as_string());
    CHECK(detail.find("lacks the client_portal permission") != std::string::npos);
    CHECK(detail.find("client_portal_enabled") == std::string::npos);
    CHECK(f.bus.calls.empty());
}

TEST_CASE("portal: an invitation's link goes out sealed-ready as a portal_invitation notification after the command",
          "[api][portal]") {
    api_fixture f;
    captured_notifications sink;
    f.ctx->notifications = &sink;
    add_client(f, uuid(60), "Ann", "Able");
    events::Settings on;
    on.client_portal_enabled = true;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{on});
    f.admin_token(f.agency_a);
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::ModulePermissionGranted{"client_portal"});

    // the domain's refusal passes through unchanged
    f.bus.will_return(fail(errc::conflict, "the client already has a portal account"));
    CHECK(is_problem(f.send(verb::post, "/v1/clients/" + uuid(60) + "/portal/invitations", json::object{}), 409));
    CHECK(sink.sent.empty());
    CHECK(is_problem(f.send(verb::post, "/v1/clients/" + uuid(60) + "/portal/invitations",
                            json::object{{"expires_at", "tomorrow"}}),
                     422));

    f.status.answers["0-9"] = true;
    f.bus.will_return(accepted(uuid(60), json::object{{"id", uuid(60)},
                                                {"invitation_id", uuid(101)},
                                                {"email", "ann@portal.example"},
                                                {"expires_at", format_rfc3339(t0 + 72 * 3600 * second)}}));
    auto res = f.send(verb::post, "/v1/clients/" + uuid(60) + "/portal/invitations",
                      json::object{{"email", "ann@portal.example"}});
    REQUIRE(res.result_int() == 201);
    CHECK(body_of(res).at("invitation_id").as_string() == uuid(101));
    const auto& cmd = f.bus.last<aggregates::send_invitation>();
    CHECK(cmd.email == "ann@portal.example");
    CHECK(cmd.actor_staff_id == f.admin_of(f.agency_a));
    REQUIRE(sink.sent.size() == 1);
    const auto& n = sink.sent[0];
    CHECK(n.type == "portal_invitation");
    CHECK(n.client_id == uuid(60));
    CHECK(n.invitation_id == uuid(101));
    CHECK(n.content.at("to").as_string() == "ann@portal.example");
    std::string link(n.content.at("link").as_string());
    const std::string prefix = "http://127.0.0.1:8080/portal/register?token=";
    REQUIRE(link.starts_with(prefix));
    auto token = link.substr(prefix.size());
    CHECK(token.starts_with(f.agency_a + "."));
    CHECK(cmd.token_hash == token_hash(token));  // only the hash went into the command
    auto record = notification_record(f.ctx->cfg.server_key, n);
    CHECK(record.at("client_id").as_string() == uuid(60));
    CHECK(record.at("invitation_id").as_string() == uuid(101));
    CHECK(json::serialize(record).find(token) == std::string::npos);
}

TEST_CASE("portal: registration refuses bad tokens, e-mail usernames and weak passwords before the bus",
          "[api][portal]") {
    api_fixture f;
    auto reg = [&](std::string token, std::string username, std::string password) {
        return f.request(verb::post, "/v1/portal/register",
                         json::serialize(json::object{{"token", token}, {"username", username}, {"password", password}}));
    };
    const std::string good_password = "Blue-Harbor-2024!";
    auto no_agency = reg("not-a-token", "annable", good_password);
    REQUIRE(is_problem(no_agency, 422));
    CHECK(problem_fields(no_agency) == std::vector<std::string>{"token"});
    CHECK(is_problem(reg(uuid(77) + ".abc", "annable", good_password), 422));  // no such agency
    auto email = reg(f.agency_a + ".abc", "ann@example.org", good_password);
    REQUIRE(is_problem(email, 422));
    CHECK(problem_fields(email) == std::vector<std::string>{"username"});
    auto weak = reg(f.agency_a + ".abc", "annable", "short");
    REQUIRE(is_problem(weak, 422));
    CHECK(problem_fields(weak).front() == "password");
    auto with_name = reg(f.agency_a + ".abc", "annable", "Annable-Harbor-2024!");  // contains the username
    REQUIRE(is_problem(with_name, 422));
    CHECK(f.bus.calls.empty());

    f.status.answers["0-9"] = true;
    f.bus.will_return(accepted(uuid(60), json::object{{"id", uuid(60)}, {"portal_account_id", uuid(100)}, {"username", "annable"}}));
    auto res = reg(f.agency_a + ".abc", "annable", good_password);
    REQUIRE(res.result_int() == 201);
    CHECK(body_of(res).at("portal_account_id").as_string() == uuid(100));
    CHECK(body_of(res).at("username").as_string() == "annable");
    const auto& c = f.bus.last<aggregates::register_portal_account>();
    CHECK(c.token_hash == token_hash(f.agency_a + ".abc"));
    CHECK(c.password_policy_ok);
    CHECK(verify_password(c.password_hash, good_password));
    CHECK(f.bus.calls.back().agency_id == f.agency_a);

    // a taken username is the domain's 409
    f.bus.will_return(fail(errc::conflict, "the portal username is taken"));
    CHECK(is_problem(reg(f.agency_a + ".def", "ANNABLE", good_password), 409));
}

TEST_CASE("portal: a username change always reaches the domain's 409; unknown accounts are 404", "[api][portal]") {
    api_fixture f;
    add_client(f, uuid(60), "Ann", "Able");
    events::InvitationSent sent;
    sent.invitation_id = uuid(70);
    sent.email = "ann@example.org";
    sent.expires_at = t0 + 3600 * second;
    sent.token_hash = token_hash("x");
    f.feed.push(f.agency_a, uuid(60), sent);
    f.feed.push(f.agency_a, uuid(60), events::InvitationAccepted{uuid(70), uuid(71)});
    f.feed.push(f.agency_a, uuid(60), events::PortalUsernameChosen{uuid(71), "annable", "$argon2id$x"});

    CHECK(is_problem(f.send(verb::put, "/v1/portal/accounts/" + uuid(72) + "/username", json::object{{"username", "ann2"}}),
                     404));
    CHECK(f.bus.calls.empty());
    auto account = f.get("/v1/portal/accounts/" + uuid(71));
    REQUIRE(account.result_int() == 200);
    const auto account_body = body_of(account);
    CHECK(account_body.at("username").as_string() == "annable");
    CHECK_FALSE(account_body.contains("password_hash"));

    f.bus.will_return(fail(errc::conflict, "a portal username never changes"));
    auto res = f.send(verb::put, "/v1/portal/accounts/" + uuid(71) + "/username", json::object{{"username", "ann2"}});
    CHECK(is_problem(res, 409));
    CHECK(f.bus.last<aggregates::change_portal_username>().portal_account_id == uuid(71));

    auto invitations = f.get("/v1/clients/" + uuid(60) + "/portal/invitations");
    REQUIRE(invitations.result_int() == 200);
    REQUIRE(body_of(invitations).at("items").as_array().size() == 1);
    CHECK(body_of(invitations).at("items").as_array()[0].at("state").as_string() == "registered");
}
