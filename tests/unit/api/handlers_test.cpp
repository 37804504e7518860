// handle() end to end without a network: auth, routing, parsing, the commands handlers build,
// and the reads they answer from a real projections store.
#include <catch2/catch.hpp>

#include <set>

#include "api_fixture.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/router.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using http::verb;

namespace {

json::object new_agency(std::string slug = "lakeside") {
    return {{"name", "Lakeside Therapy"},
            {"slug", std::move(slug)},
            {"admin", {{"first_name", "Ann"}, {"last_name", "Lee"}, {"email", "ann@lakeside.example"},
                       {"password", "Correct-Horse-42"}}}};
}

json::object new_staff() {
    return {{"first_name", "José"}, {"last_name", "Núñez"}, {"gender", "male"}, {"position", "Counselor"},
            {"email", "jose@sunrise.example"}, {"role", "therapist"}, {"type", "therapy_counseling"}};
}

std::map<std::string, std::string> operator_only() { return {{"X-Operator-Key", operator_key}}; }

}  // namespace

// ---------------------------------------------------------------- routing and auth

TEST_CASE("api: unknown paths are 404 and known paths with another method are 405 with Allow", "[api][router]") {
    api_fixture f;
    auto res = f.get("/v1/nothing-here");
    CHECK(is_problem(res, 404));
    auto wrong = f.request(verb::delete_, "/v1/staff", "", f.as_agency(f.agency_a));
    CHECK(is_problem(wrong, 405));
    CHECK(header_of(wrong, "Allow") == "POST, GET");
    CHECK(is_problem(f.get("/v1/staff/"), 404));
    // Segments are matched decoded, and a shorter path after a longer one matches only its own.
    CHECK(is_problem(f.get("/v1/staff/" + std::string(36, 'x') + "/history"), 404));
    CHECK(f.get("/v1/%73taff").result_int() == 200);
    CHECK(is_problem(f.get("/v1"), 404));
    CHECK(is_problem(f.get("/v1/staff%2Fx"), 404));
}

TEST_CASE("api: agency endpoints need a bearer session; the operator key is no stand-in any more", "[api][auth]") {
    api_fixture f;
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", {{"X-Agency", f.agency_a}}), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", {{"X-Agency", f.agency_a}, {"X-Operator-Key", operator_key}}),
                     401));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", operator_only()), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", {{"Authorization", "Basic YWxhZGRpbjpvcGVu"}}), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.bearer(f.agency_a + ".made-up")), 401));
    CHECK(f.get("/v1/staff").result_int() == 200);
}

TEST_CASE("api: creating an agency needs the operator key; a server without one accepts nothing", "[api][auth]") {
    api_fixture f;
    CHECK(is_problem(f.request(verb::post, "/v1/agencies", json::serialize(new_agency())), 401));
    CHECK(is_problem(f.request(verb::post, "/v1/agencies", json::serialize(new_agency()), {{"X-Operator-Key", "nope"}}),
                     401));
    f.ctx->cfg.operator_key.clear();
    CHECK(is_problem(f.request(verb::post, "/v1/agencies", json::serialize(new_agency()), {{"X-Operator-Key", ""}}), 401));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("api: a token of an unknown agency is 401 and non-UUID ids are 404", "[api][auth]") {
    api_fixture f;
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.as_agency(uuid(99))), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.bearer("sunrise.admin-session")), 401));
    CHECK(is_problem(f.get("/v1/staff/not-a-uuid"), 404));
    CHECK(is_problem(f.get("/v1/staff/" + std::string("00000000-0000-7000-8000-00000000001A")), 404));  // upper case
    CHECK(is_problem(f.send(verb::put, "/v1/staff/42/role", json::object{{"role", "admin"}}), 404));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("api: another agency's staff member is 404, never 403", "[api][auth]") {
    api_fixture f;
    CHECK(f.get("/v1/staff/" + f.staff_a).result_int() == 200);
    CHECK(is_problem(f.get("/v1/staff/" + f.staff_b), 404));
    CHECK(is_problem(f.get("/v1/staff/" + f.staff_b + "/history"), 404));
}

TEST_CASE("api: agency commands act as the session's staff member, in the session's agency", "[api][auth]") {
    api_fixture f;
    f.bus.will_succeed(uuid(100), 1, "0-9");
    REQUIRE(f.send(verb::post, "/v1/locations", json::object{{"name", "Main office"}}).result_int() == 201);
    REQUIRE(f.bus.calls.size() == 1);
    CHECK(f.bus.calls[0].agency_id == f.agency_a);
    CHECK(f.bus.calls[0].meta.actor_id == f.admin_of(f.agency_a));
    CHECK(is_uuid(f.bus.calls[0].meta.correlation_id));

    f.feed.push(f.agency_b, uuid(22), staff_created("Olga", "Admin", "oadmin", "org_admin"));
    auto olga = f.login(f.agency_b, uuid(22), "olga");
    f.bus.will_succeed(uuid(101), 1, "0-10");
    auto res = f.request(verb::post, "/v1/programs", json::serialize(json::object{{"name", "Family"}}),
                         f.bearer(olga, {{"X-Request-Id", "req-42"}}));
    // Olga's temporary password must be changed first
    CHECK(is_problem(res, 403));
    CHECK(body_of(res).at("detail").as_string().find("password change is required") != std::string::npos);
    f.feed.push(f.agency_b, uuid(22), events::PasswordChanged{"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$bmV3", false, "self", ""});
    res = f.request(verb::post, "/v1/programs", json::serialize(json::object{{"name", "Family"}}),
                    f.bearer(olga, {{"X-Request-Id", "req-42"}}));
    REQUIRE(res.result_int() == 201);
    CHECK(f.bus.calls[1].agency_id == f.agency_b);
    CHECK(f.bus.calls[1].meta.actor_id == uuid(22));
    CHECK(f.bus.calls[1].meta.correlation_id == "req-42");
    CHECK(header_of(res, "X-Request-Id") == "req-42");
}

// ---------------------------------------------------------------- bodies

TEST_CASE("api: malformed JSON is 400, a non-JSON content type 415, invalid UTF-8 400", "[api][request]") {
    api_fixture f;
    CHECK(is_problem(f.request(verb::post, "/v1/locations", "{\"name\":", f.as_agency(f.agency_a)), 400));
    CHECK(is_problem(f.request(verb::post, "/v1/locations", "[]", f.as_agency(f.agency_a)), 400));
    CHECK(is_problem(f.request(verb::post, "/v1/locations", R"({"name":"x"})",
                               f.as_agency(f.agency_a, {{"Content-Type", "text/plain"}})),
                     415));
    CHECK(is_problem(f.request(verb::post, "/v1/locations", "{\"name\":\"\xFF\xFE\"}", f.as_agency(f.agency_a)), 400));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("api: wrong types and unknown fields are 422 naming the field", "[api][request]") {
    api_fixture f;
    auto body = new_staff();
    body["role"] = 3;
    body["require_password_change"] = "no";
    body["nickname"] = "Joe";
    auto res = f.send(verb::post, "/v1/staff", body);
    CHECK(is_problem(res, 422));
    CHECK(problem_fields(res) == std::vector<std::string>{"role", "require_password_change", "nickname"});

    auto role = f.send(verb::put, "/v1/staff/" + f.staff_a + "/role", json::object{{"role", "superuser"}});
    CHECK(is_problem(role, 422));
    CHECK(problem_fields(role) == std::vector<std::string>{"role"});
    auto locs = f.send(verb::put, "/v1/staff/" + f.staff_a + "/locations", json::object{{"location_ids", "x"}});
    CHECK(problem_fields(locs) == std::vector<std::string>{"location_ids"});
    auto missing = f.send(verb::put, "/v1/staff/" + f.staff_a + "/programs", json::object{});
    CHECK(problem_fields(missing) == std::vector<std::string>{"program_ids"});
    CHECK(f.bus.calls.empty());
}

// ---------------------------------------------------------------- agencies

TEST_CASE("api: POST /v1/agencies hashes the admin password and submits create_agency", "[api][agency]") {
    api_fixture f;
    json::object created{{"agency_id", uuid_v5("lakeside")},
                         {"slug", "lakeside"},
                         {"admin", {{"staff_id", uuid(100)}, {"username", "alee"}}}};
    f.bus.will_succeed(uuid_v5("lakeside"), 1, "3-7", created);
    auto res = f.request(verb::post, "/v1/agencies", json::serialize(new_agency()), operator_only());
    REQUIRE(res.result_int() == 201);
    auto body = body_of(res);
    CHECK(body.at("agency_id").as_string() == uuid_v5("lakeside"));
    CHECK(body.at("admin").as_object().at("username").as_string() == "alee");
    CHECK(body.at("version").as_int64() == 1);
    CHECK(body.at("consistency_token").as_string() == "3-7");
    CHECK(header_of(res, "X-Consistency-Token") == "3-7");

    REQUIRE(f.bus.calls.size() == 1);
    CHECK(f.bus.calls[0].agency_id == uuid_v5("lakeside"));
    CHECK(f.bus.calls[0].meta.actor_id == "operator");
    const auto& c = f.bus.last<aggregates::create_agency>();
    CHECK(c.agency_id == uuid_v5("lakeside"));
    CHECK(c.name == "Lakeside Therapy");
    CHECK(c.admin_first_name == "Ann");
    CHECK(c.admin_email == "ann@lakeside.example");
    CHECK(is_uuid(c.admin_staff_id));
    CHECK(c.admin_password_hash.starts_with("$argon2id$"));
    CHECK(verify_password(c.admin_password_hash, "Correct-Horse-42"));
}

TEST_CASE("api: the admin password must satisfy the default policy", "[api][agency]") {
    api_fixture f;
    auto body = new_agency();
    body["admin"].as_object()["password"] = "Alee-password-1";  // contains the username
    auto res = f.request(verb::post, "/v1/agencies", json::serialize(body), operator_only());
    CHECK(is_problem(res, 422));
    CHECK(problem_fields(res) == std::vector<std::string>{"admin.password"});
    body["admin"].as_object()["password"] = "short";
    CHECK(problem_fields(f.request(verb::post, "/v1/agencies", json::serialize(body), operator_only())).size() == 4);
    CHECK(f.bus.calls.empty());
}

TEST_CASE("api: a taken slug is 409; a bad slug 422", "[api][agency]") {
    api_fixture f;
    auto res = f.request(verb::post, "/v1/agencies", json::serialize(new_agency("sunrise")), operator_only());
    CHECK(is_problem(res, 409));
    CHECK(body_of(res).at("detail").as_string().find("sunrise") != std::string::npos);
    auto bad = f.request(verb::post, "/v1/agencies", json::serialize(new_agency("Not A Slug!")), operator_only());
    CHECK(problem_fields(bad) == std::vector<std::string>{"slug"});
    CHECK(f.bus.calls.empty());
}

TEST_CASE("api: agency settings are read flat and patched partially", "[api][agency]") {
    api_fixture f;
    auto res = f.get("/v1/agency/settings");
    REQUIRE(res.result_int() == 200);
    auto s = body_of(res);
    CHECK(s.at("slug").as_string() == "sunrise");
    CHECK(s.at("password_policy").as_object().at("min_length").as_int64() == 12);
    CHECK(s.at("client_portal_enabled").as_bool() == false);

    f.bus.will_succeed(f.agency_a, 2, "0-12");
    auto patch = f.send(verb::patch, "/v1/agency/settings",
                        json::object{{"client_portal_enabled", true},
                                     {"password_policy", {{"min_length", 14}}},
                                     {"mfa_required_roles", json::array{"org_admin"}}});
    REQUIRE(patch.result_int() == 200);
    const auto& c = f.bus.last<aggregates::change_settings>();
    CHECK(c.patch.client_portal_enabled == true);
    CHECK(c.patch.password_min_length == 14);
    CHECK(c.patch.mfa_required_roles == events::strings{"org_admin"});
    CHECK(!c.patch.messaging_enabled);
    CHECK(!c.patch.name);

    auto bad = f.send(verb::patch, "/v1/agency/settings",
                      json::object{{"slug", "new"}, {"lockout", {{"threshold", 0}}}, {"mfa_required_roles", json::array{"root"}}});
    CHECK(problem_fields(bad) == std::vector<std::string>{"lockout.threshold", "mfa_required_roles", "slug"});
    CHECK(is_problem(f.send(verb::patch, "/v1/agency/settings", json::object{}), 422));
}

TEST_CASE("api: a password policy's min_length is refused past the domain's 128 under its own name", "[api][agency]") {
    api_fixture f;
    auto over = f.send(verb::patch, "/v1/agency/settings", json::object{{"password_policy", {{"min_length", 129}}}});
    CHECK(problem_fields(over) == std::vector<std::string>{"password_policy.min_length"});
    CHECK(f.bus.calls.empty());
    f.bus.will_succeed(f.agency_a, 2, "0-12");
    CHECK(f.send(verb::patch, "/v1/agency/settings", json::object{{"password_policy", {{"min_length", 128}}}}).result_int() ==
          200);
    CHECK(f.bus.last<aggregates::change_settings>().patch.password_min_length == 128);
}

TEST_CASE("api: a recovery's reason may hold 500 characters, however many bytes they take", "[api][staff]") {
    api_fixture f;
    const std::string base = "/v1/staff/" + f.staff_a;
    std::string reason;
    for (int i = 0; i < 500; ++i) reason += "\xc3\xa9";  // 500 x U+00E9: 1000 bytes
    f.bus.will_succeed(f.staff_a, 2, "0-40");
    CHECK(f.send(verb::post, base + "/mfa/reset", json::object{{"reason", reason}}).result_int() == 200);
    CHECK(problem_fields(f.send(verb::post, base + "/sessions/end", json::object{{"reason", reason + "x"}})) ==
          std::vector<std::string>{"reason"});
}

// ---------------------------------------------------------------- locations and programs

TEST_CASE("api: locations and programs are added by command and listed from the store", "[api][agency]") {
    api_fixture f;
    f.bus.will_succeed(uuid(100), 3, "0-20");
    auto res = f.send(verb::post, "/v1/locations", json::object{{"name", "Main"}, {"address", "1 Elm St"}});
    REQUIRE(res.result_int() == 201);
    const auto& c = f.bus.last<aggregates::add_location>();
    CHECK(c.location_id == uuid(100));
    CHECK(c.name == "Main");
    CHECK(c.address == "1 Elm St");
    auto body = body_of(res);
    CHECK(body.at("id").as_string() == uuid(100));
    CHECK(body.at("name").as_string() == "Main");

    f.feed.push(f.agency_a, f.agency_a, events::LocationAdded{uuid(100), "Main", "1 Elm St"});
    f.feed.push(f.agency_a, f.agency_a, events::ProgramAdded{uuid(101), "Adolescent IOP"});
    auto locs = body_of(f.get("/v1/locations"));
    REQUIRE(locs.at("items").as_array().size() == 1);
    CHECK(locs.at("items").as_array()[0].as_object().at("name").as_string() == "Main");
    CHECK(locs.at("next_cursor").is_null());
    auto progs = body_of(f.get("/v1/programs"));
    REQUIRE(progs.at("items").as_array().size() == 1);
    CHECK(progs.at("items").as_array()[0].as_object().at("id").as_string() == uuid(101));

    f.bus.will_succeed(uuid(102), 5, "0-21");
    CHECK(f.send(verb::post, "/v1/programs", json::object{{"name", "Family"}}).result_int() == 201);
    CHECK(f.bus.last<aggregates::add_program>().name == "Family");
    // agency B sees none of A's locations
    auto other = f.request(verb::get, "/v1/locations", "", f.as_agency(f.agency_b));
    CHECK(body_of(other).at("items").as_array().empty());
}

// ---------------------------------------------------------------- staff

TEST_CASE("api: POST /v1/staff builds create_staff with a hashed generated password, shown once", "[api][staff]") {
    api_fixture f;
    f.bus.will_succeed(uuid(100), 1, "0-30", json::object{{"id", uuid(100)}, {"username", "jnunez"}});
    auto body = new_staff();
    body["middle_name"] = "Luis";
    body["location_ids"] = json::array{uuid(50)};
    body["phones"] = json::array{json::object{{"kind", "mobile"}, {"number", "+1 555 0100"}}};
    body["npi"] = "1234567893";
    body["hire_date"] = "2026-02-01";
    auto res = f.send(verb::post, "/v1/staff", body);
    REQUIRE(res.result_int() == 201);
    auto out = body_of(res);
    CHECK(out.at("id").as_string() == uuid(100));
    CHECK(out.at("username").as_string() == "jnunez");
    CHECK(out.at("version").as_int64() == 1);
    CHECK(out.at("consistency_token").as_string() == "0-30");
    CHECK(header_of(res, "X-Consistency-Token") == "0-30");
    CHECK(header_of(res, "Location") == "/v1/staff/" + uuid(100));
    std::string temporary(out.at("temporary_password").as_string());
    CHECK(temporary.size() >= 16);
    CHECK(password_policy_violations(events::default_settings("x"), temporary, std::vector<std::string>{"jnunez", "jlnunez"})
              .empty());

    const auto& c = f.bus.last<aggregates::create_staff>();
    CHECK(c.staff_id == uuid(100));
    CHECK(c.first_name == "José");
    CHECK(c.middle_name == "Luis");
    CHECK(c.last_name == "Núñez");
    CHECK(c.role == "therapist");
    CHECK(c.staff_type == "therapy_counseling");
    CHECK(c.location_ids == events::strings{uuid(50)});
    CHECK(c.phones == std::vector<events::Phone>{{"mobile", "+1 555 0100"}});
    CHECK(c.npi == "1234567893");
    CHECK(c.hire_date == "2026-02-01");
    CHECK(c.require_password_change);
    CHECK(!c.username);
    // the password never travels in clear: only its Argon2id hash
    CHECK(c.password_hash.starts_with("$argon2id$"));
    CHECK(c.password_hash.find(temporary) == std::string::npos);
    CHECK(verify_password(c.password_hash, temporary));
}

TEST_CASE("api: a given temporary password must satisfy the agency's own policy", "[api][staff]") {
    api_fixture f;
    auto body = new_staff();
    body["temporary_password"] = "Jnunez-is-me-2026";  // contains the username
    auto res = f.send(verb::post, "/v1/staff", body);
    CHECK(is_problem(res, 422));
    CHECK(problem_fields(res) == std::vector<std::string>{"temporary_password"});
    CHECK(f.bus.calls.empty());

    // the agency relaxes its policy: the store's settings are what counts
    events::Settings relaxed;
    relaxed.password_min_length = 8;
    relaxed.password_require_symbol = false;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{relaxed});
    body["temporary_password"] = "Simple12";
    body["require_password_change"] = false;
    f.bus.will_succeed(uuid(100), 1, "0-31", json::object{{"id", uuid(100)}, {"username", "jnunez"}});
    auto ok = f.send(verb::post, "/v1/staff", body);
    REQUIRE(ok.result_int() == 201);
    CHECK(!body_of(ok).contains("temporary_password"));  // the admin chose it: nothing to show
    const auto& c = f.bus.last<aggregates::create_staff>();
    CHECK(verify_password(c.password_hash, "Simple12"));
    CHECK(!c.require_password_change);
}

TEST_CASE("api: Idempotency-Key reaches the bus; a replay answers the first result", "[api][staff]") {
    api_fixture f;
    f.bus.will_succeed(uuid(100), 1, "0-30", json::object{{"id", uuid(100)}, {"username", "jnunez"}});
    auto first = f.send(verb::post, "/v1/staff", new_staff(), {{"Idempotency-Key", "create-jose-1"}});
    REQUIRE(first.result_int() == 201);
    // The key is the caller's own (scoped by the staff member who sent it) and names this request.
    CHECK(f.bus.calls.back().meta.idempotency_key ==
          bus_key("staff/" + f.admin_of(f.agency_a), "POST", "/v1/staff", json::serialize(new_staff()), "create-jose-1"));
    CHECK(header_of(first, "Idempotent-Replayed").empty());

    command_result replay;
    replay.aggregate_id = uuid(100);
    replay.version = 1;
    replay.consistency_token = "0-30";
    replay.body = json::object{{"id", uuid(100)}, {"username", "jnunez"}};
    replay.replayed = true;
    f.bus.will_return(replay);
    auto again = f.send(verb::post, "/v1/staff", new_staff(), {{"Idempotency-Key", "create-jose-1"}});
    CHECK(again.result_int() == 201);
    CHECK(header_of(again, "Idempotent-Replayed") == "true");
    auto a = body_of(first), b = body_of(again);
    a.erase("temporary_password");  // generated anew for the retry, never stored: not shown again
    CHECK(a == b);
    CHECK(header_of(again, "Location") == "/v1/staff/" + uuid(100));

    auto bad = f.send(verb::post, "/v1/staff", new_staff(), {{"Idempotency-Key", std::string(201, 'x')}});
    CHECK(is_problem(bad, 422));
    CHECK(problem_fields(bad) == std::vector<std::string>{"Idempotency-Key"});
    CHECK(f.bus.calls.size() == 2);
}

TEST_CASE("api: a bus that cannot reach Kafka answers 503 with Retry-After", "[api][staff]") {
    api_fixture f;
    f.bus.will_return(fail(errc::unavailable, "Kafka did not acknowledge within 5000 ms"));
    auto res = f.send(verb::put, "/v1/staff/" + f.staff_a + "/role", json::object{{"role", "admin"}});
    CHECK(is_problem(res, 503));
    CHECK(header_of(res, "Retry-After") == "1");
    CHECK(header_of(res, "X-Consistency-Token").empty());
}

TEST_CASE("api: domain errors from the aggregate keep their status and field errors", "[api][staff]") {
    api_fixture f;
    f.bus.will_return(fail(error{errc::conflict, "username 'tjones' is taken; supply a middle name", {{"username", "is taken"}}}));
    auto body = new_staff();
    body["first_name"] = "Tina";
    body["last_name"] = "Jones";
    auto res = f.send(verb::post, "/v1/staff", body);
    CHECK(is_problem(res, 409));
    CHECK(body_of(res).at("detail").as_string().find("tjones") != std::string::npos);
    f.bus.will_return(fail(error::validation("npi", "is not a valid NPI")));
    auto npi = f.send(verb::patch, "/v1/staff/" + f.staff_a, json::object{{"npi", "1234567890"}});
    CHECK(problem_fields(npi) == std::vector<std::string>{"npi"});
}

TEST_CASE("api: staff change endpoints build their commands", "[api][staff]") {
    api_fixture f;
    const std::string base = "/v1/staff/" + f.staff_a;
    for (int i = 0; i < 8; ++i) f.bus.will_succeed(f.staff_a, static_cast<std::uint64_t>(i + 2), "0-" + std::to_string(40 + i));

    CHECK(f.send(verb::patch, base, json::object{{"position", "Lead"}, {"middle_name", nullptr}, {"phones", nullptr}})
              .result_int() == 200);
    const auto& p = f.bus.last<aggregates::update_staff_profile>();
    CHECK(p.staff_id == f.staff_a);
    CHECK(p.patch.position == "Lead");
    CHECK(p.patch.middle_name == "");  // null clears
    CHECK(p.patch.phones == std::vector<events::Phone>{});
    CHECK(!p.patch.email);

    CHECK(f.send(verb::put, base + "/role", json::object{{"role", "admin"}}).result_int() == 200);
    CHECK(f.bus.last<aggregates::assign_role>().role == "admin");
    CHECK(f.send(verb::put, base + "/type", json::object{{"type", "administration"}}).result_int() == 200);
    CHECK(f.bus.last<aggregates::set_staff_type>().staff_type == "administration");
    CHECK(f.send(verb::put, base + "/locations", json::object{{"location_ids", json::array{uuid(50)}}}).result_int() == 200);
    CHECK(f.bus.last<aggregates::set_staff_locations>().location_ids == events::strings{uuid(50)});
    CHECK(f.send(verb::put, base + "/programs", json::object{{"program_ids", json::array{}}}).result_int() == 200);
    CHECK(f.bus.last<aggregates::set_staff_programs>().program_ids.empty());
    CHECK(f.send(verb::put, base + "/permissions", json::object{{"messaging", true}}).result_int() == 200);
    const auto& perm = f.bus.last<aggregates::set_module_permissions>();
    CHECK(perm.messaging == true);
    CHECK(!perm.client_portal);
    auto deact = f.request(verb::post, base + "/deactivate", "", f.as_agency(f.agency_a));  // no body at all
    REQUIRE(deact.result_int() == 200);
    CHECK(f.bus.last<aggregates::deactivate_staff>().reason.empty());
    auto body = body_of(deact);
    CHECK(body.at("version").as_int64() == 8);
    CHECK(body.at("consistency_token").as_string() == "0-46");
    CHECK(f.send(verb::post, base + "/deactivate", json::object{{"reason", "left"}}).result_int() == 200);
    CHECK(f.bus.last<aggregates::deactivate_staff>().reason == "left");
    CHECK(f.bus.calls.size() == 8);
    CHECK(is_problem(f.send(verb::put, base + "/permissions", json::object{}), 422));
}

TEST_CASE("api: a command that changes nothing answers a null consistency token", "[api][staff]") {
    api_fixture f;
    f.bus.will_succeed(f.staff_a, 1, "");
    auto res = f.send(verb::put, "/v1/staff/" + f.staff_a + "/role", json::object{{"role", "therapist"}});
    REQUIRE(res.result_int() == 200);
    CHECK(body_of(res).at("consistency_token").is_null());
    CHECK(header_of(res, "X-Consistency-Token").empty());
}

TEST_CASE("api: GET /v1/staff/{id} answers the view, and the state as of a time", "[api][staff]") {
    api_fixture f;
    auto res = f.get("/v1/staff/" + f.staff_a);
    REQUIRE(res.result_int() == 200);
    auto v = body_of(res);
    CHECK(v.at("username").as_string() == "tjones");
    CHECK(v.at("role").as_string() == "therapist");
    CHECK(!v.contains("password_hash"));

    f.feed.push(f.agency_a, f.staff_a, events::RoleAssigned{"admin"});
    CHECK(body_of(f.get("/v1/staff/" + f.staff_a)).at("role").as_string() == "admin");
    // staff_a was created at t0 + 2 s and promoted at t0 + 5 s
    auto before = f.get("/v1/staff/" + f.staff_a + "?as_of=" + format_rfc3339(t0 + 3 * second));
    REQUIRE(before.result_int() == 200);
    CHECK(body_of(before).at("role").as_string() == "therapist");
    CHECK(is_problem(f.get("/v1/staff/" + f.staff_a + "?as_of=" + format_rfc3339(t0)), 404));
    auto bad = f.get("/v1/staff/" + f.staff_a + "?as_of=last-tuesday");
    CHECK(problem_fields(bad) == std::vector<std::string>{"as_of"});
    CHECK(is_problem(f.get("/v1/staff/" + uuid(98)), 404));
}

TEST_CASE("api: GET /v1/staff/{id}/history lists the member's events oldest first", "[api][staff]") {
    api_fixture f;
    f.feed.push(f.agency_a, f.staff_a, events::RoleAssigned{"admin"});
    f.feed.push(f.agency_a, f.staff_a, events::StaffDeactivated{"left"});
    auto res = f.get("/v1/staff/" + f.staff_a + "/history");
    REQUIRE(res.result_int() == 200);
    auto items = body_of(res).at("items").as_array();
    REQUIRE(items.size() == 3);
    CHECK(items[0].as_object().at("event_type").as_string() == "StaffCreated");
    CHECK(items[1].as_object().at("event_type").as_string() == "RoleAssigned");
    CHECK(items[2].as_object().at("event_type").as_string() == "StaffDeactivated");
    CHECK(res.body().find("argon2") == std::string::npos);
}

TEST_CASE("api: GET /v1/staff filters, pages and validates its parameters", "[api][staff]") {
    api_fixture f;
    f.feed.push(f.agency_a, uuid(12), staff_created("Ann", "Adams", "aadams", "biller"));
    f.feed.push(f.agency_a, uuid(13), staff_created("Bob", "Brown", "bbrown", "therapist"));
    auto all = body_of(f.get("/v1/staff"));
    CHECK(all.at("items").as_array().size() == 4);  // with the fixture's admin "aadmin"
    CHECK(all.at("next_cursor").is_null());

    auto billers = body_of(f.get("/v1/staff?role=biller"));
    REQUIRE(billers.at("items").as_array().size() == 1);
    CHECK(billers.at("items").as_array()[0].as_object().at("username").as_string() == "aadams");

    auto page1 = body_of(f.get("/v1/staff?limit=2"));
    CHECK(page1.at("items").as_array().size() == 2);
    REQUIRE(page1.at("next_cursor").is_string());
    std::string cursor(page1.at("next_cursor").as_string());
    auto page2 = body_of(f.get("/v1/staff?limit=2&cursor=" + cursor));
    CHECK(page2.at("items").as_array().size() == 2);
    REQUIRE(page2.at("next_cursor").is_null());

    CHECK(problem_fields(f.get("/v1/staff?limit=0")) == std::vector<std::string>{"limit"});
    CHECK(problem_fields(f.get("/v1/staff?limit=501")) == std::vector<std::string>{"limit"});
    CHECK(problem_fields(f.get("/v1/staff?role=wizard")) == std::vector<std::string>{"role"});
    CHECK(problem_fields(f.get("/v1/staff?active=maybe")) == std::vector<std::string>{"active"});
    CHECK(problem_fields(f.get("/v1/staff?location_id=main")) == std::vector<std::string>{"location_id"});
    CHECK(problem_fields(f.get("/v1/staff?sort=name")) == std::vector<std::string>{"sort"});
    CHECK(is_problem(f.get("/v1/staff?cursor=garbage"), 422));
    // agency B's directory holds only its own staff
    auto b = body_of(f.request(verb::get, "/v1/staff", "", f.as_agency(f.agency_b)));
    REQUIRE(b.at("items").as_array().size() == 2);
    CHECK(b.at("items").as_array()[0].as_object().at("username").as_string() == "badmin");
    CHECK(b.at("items").as_array()[1].as_object().at("username").as_string() == "mgarcia");
}

// ---------------------------------------------------------------- read-your-writes

TEST_CASE("api: a read with X-Consistency-Token waits for it; a timeout is 503", "[api][consistency]") {
    api_fixture f;
    f.status.answers["0-30"] = true;
    f.status.answers["0-31"] = false;
    f.status.answers["zzz"] = fail(errc::malformed, "not a token");
    CHECK(f.get("/v1/staff/" + f.staff_a, {{"X-Consistency-Token", "0-30"}}).result_int() == 200);
    REQUIRE(f.status.waits.size() == 1);
    CHECK(f.status.waits[0].second == std::chrono::milliseconds(50));  // cfg.read_wait
    auto late = f.get("/v1/staff/" + f.staff_a, {{"X-Consistency-Token", "0-31"}});
    CHECK(is_problem(late, 503));
    CHECK(header_of(late, "Retry-After") == "1");
    CHECK(is_problem(f.get("/v1/staff", {{"X-Consistency-Token", "zzz"}}), 400));
    CHECK(is_problem(f.get("/v1/staff", {{"X-Consistency-Token", ""}}), 400));
    CHECK(f.get("/v1/staff").result_int() == 200);  // no token: no wait
    CHECK(f.status.waits.size() == 3);
}

TEST_CASE("api: a session's next request waits for its own last command; other sessions do not", "[api][consistency]") {
    api_fixture f;
    f.admin_token(f.agency_a);
    auto other = f.login(f.agency_a, f.admin_of(f.agency_a), "second-session");  // same admin, another device
    f.bus.will_succeed(uuid(100), 1, "0-30", json::object{{"id", uuid(100)}, {"username", "jnunez"}});
    REQUIRE(f.send(verb::post, "/v1/staff", new_staff()).result_int() == 201);
    f.status.applied = 29;  // the projections are one record behind the command
    f.status.answers["0-30"] = false;
    f.status.waits.clear();

    // Without any header, the admin's next read waits for exactly 0-30 and, not getting there, is a
    // 503 rather than an answer that lacks the admin's own write.
    auto late = f.get("/v1/staff/" + uuid(100));
    CHECK(is_problem(late, 503));
    CHECK(header_of(late, "Retry-After") == "1");
    REQUIRE(f.status.waits.size() == 2);  // a probe, then the bounded wait
    CHECK(f.status.waits[0] == std::pair{std::string("0-30"), std::chrono::milliseconds(0)});
    CHECK(f.status.waits[1] == std::pair{std::string("0-30"), std::chrono::milliseconds(50)});

    // Another session never waits for this one's command.
    f.status.waits.clear();
    CHECK(f.request(verb::get, "/v1/staff/" + f.staff_a, "", f.bearer(other)).result_int() == 200);
    CHECK(f.status.waits.empty());

    // Once applied, the admin reads again without waiting.
    f.status.answers["0-30"] = true;
    f.status.waits.clear();
    CHECK(f.get("/v1/staff/" + f.staff_a).result_int() == 200);
    CHECK(f.status.waits.size() == 1);
}

TEST_CASE("api: a session's next command waits only for its own writes that change its principal; one that finds "
          "nothing waits for the rest",
          "[api][consistency]") {
    api_fixture f;
    f.admin_token(f.agency_a);
    f.bus.will_succeed(uuid(100), 1, "0-30", json::object{{"id", uuid(100)}, {"username", "jnunez"}});
    REQUIRE(f.send(verb::post, "/v1/staff", new_staff()).result_int() == 201);
    f.status.applied = 29;  // the projections are one record behind the command
    f.status.answers["0-30"] = false;
    f.status.waits.clear();

    // Adding a staff member changes nothing of the admin's own principal: the next command is
    // decided by the writer at once, without waiting for the projections.
    f.bus.will_succeed(uuid(101), 1, "0-31", json::object{{"id", uuid(101)}, {"username", "jnunez2"}});
    CHECK(f.send(verb::post, "/v1/staff", new_staff()).result_int() == 201);
    CHECK(f.status.waits.empty());

    // A command that looks in the projections for what this session may just have created and
    // finds nothing waits for the session's writes: here they do not arrive, so 503 (retry), not 404.
    f.status.answers["0-31"] = false;
    auto missing = f.request(verb::put, "/v1/clients/" + uuid(300) + "/staff/" + uuid(100), "", f.as_agency(f.agency_a));
    CHECK(is_problem(missing, 503));
    REQUIRE_FALSE(f.status.waits.empty());
    CHECK(f.status.waits.back().first == "0-31");
    // With nothing of its own outstanding, a missing client is a 404.
    f.status.answers["0-30"] = true;
    f.status.answers["0-31"] = true;
    CHECK(is_problem(f.request(verb::put, "/v1/clients/" + uuid(300) + "/staff/" + uuid(100), "",
                               f.as_agency(f.agency_a)),
                     404));

    // A change to the admin's own staff record may change what they may do: their next command
    // waits for it first (bounded; the writer decides the command either way).
    f.bus.will_succeed(f.admin_of(f.agency_a), 2, "0-40");
    REQUIRE(f.send(verb::put, "/v1/staff/" + f.admin_of(f.agency_a) + "/type", json::object{{"type", "administration"}})
                .result_int() / 100 == 2);
    f.status.answers["0-40"] = false;
    f.status.waits.clear();
    f.bus.will_succeed(uuid(102), 1, "0-41", json::object{{"id", uuid(102)}, {"username", "jnunez3"}});
    CHECK(f.send(verb::post, "/v1/staff", new_staff()).result_int() == 201);
    REQUIRE_FALSE(f.status.waits.empty());
    CHECK(f.status.waits.front().first == "0-40");
}

// ---------------------------------------------------------------- ops

TEST_CASE("api: health, readiness and metrics need no auth", "[api][ops]") {
    api_fixture f;
    auto h = f.request(verb::get, "/healthz");
    REQUIRE(h.result_int() == 200);
    CHECK(body_of(h).at("status").as_string() == "ok");
    CHECK(f.request(verb::get, "/readyz").result_int() == 200);
    f.status.is_ready = false;
    CHECK(f.request(verb::get, "/readyz").result_int() == 503);

    (void)f.get("/v1/staff/" + f.staff_a);
    (void)f.get("/v1/staff/not-a-uuid");
    auto m = f.request(verb::get, "/metrics");
    REQUIRE(m.result_int() == 200);
    const std::string& text = m.body();
    CHECK(text.find("carelog_http_requests_total{method=\"GET\",route=\"/v1/staff/{id}\",status_class=\"2xx\"} 1") !=
          std::string::npos);
    CHECK(text.find("carelog_http_requests_total{method=\"GET\",route=\"/v1/staff/{id}\",status_class=\"4xx\"} 1") !=
          std::string::npos);
    CHECK(text.find("carelog_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/staff/{id}\"} 2") !=
          std::string::npos);
    CHECK(text.find("le=\"+Inf\"") != std::string::npos);
    CHECK(text.find("carelog_projection_lag_records 0") != std::string::npos);
    CHECK(text.find("not-a-uuid") == std::string::npos);  // route templates only
}

TEST_CASE("api: /openapi.json documents every route of the table", "[api][ops]") {
    api_fixture f;
    auto res = f.request(verb::get, "/openapi.json");
    REQUIRE(res.result_int() == 200);
    auto doc = body_of(res);
    CHECK(doc.at("openapi").as_string().starts_with("3.0"));
    const auto& paths = doc.at("paths").as_object();
    const auto& schemas = doc.at("components").as_object().at("schemas").as_object();
    std::set<std::string> operation_ids;
    for (const auto& r : route_table()) {
        INFO(r.method << " " << r.pattern);
        auto p = paths.find(r.pattern);
        REQUIRE(p != paths.end());
        std::string m(r.method);
        for (auto& c : m) c = static_cast<char>(std::tolower(c));
        auto op = p->value().as_object().find(m);
        REQUIRE(op != p->value().as_object().end());
        CHECK(op->value().as_object().at("operationId").as_string() == r.operation_id);
        CHECK(op->value().as_object().at("responses").as_object().contains(std::to_string(r.success_status)));
        operation_ids.insert(std::string(r.operation_id));
        if (!r.request_schema.empty()) CHECK(schemas.contains(r.request_schema));
        if (!r.response_schema.empty()) CHECK(schemas.contains(r.response_schema));
    }
    CHECK(operation_ids.size() == route_table().size());
    std::size_t operations = 0;
    for (const auto& p : paths) operations += p.value().as_object().size();
    CHECK(operations == route_table().size());
    // every $ref points at a schema that exists
    std::string text = res.body();
    for (auto pos = text.find("#/components/schemas/"); pos != std::string::npos;
         pos = text.find("#/components/schemas/", pos + 1)) {
        auto start = pos + std::string_view("#/components/schemas/").size();
        auto name = text.substr(start, text.find('"', start) - start);
        INFO(name);
        CHECK(schemas.contains(name));
    }
}

TEST_CASE("api: a handler that throws costs one 500 problem", "[api][ops]") {
    api_fixture f;  // nothing scripted: the fake bus throws
    auto res = f.send(verb::post, "/v1/programs", json::object{{"name", "Family"}});
    CHECK(is_problem(res, 500));
    CHECK(res.body().find("fake_bus") == std::string::npos);  // nothing internal leaks
    CHECK(f.request(verb::get, "/healthz").result_int() == 200);
}

TEST_CASE("api: an Idempotency-Key is its caller's own: two staff members' equal keys stay apart", "[api][staff]") {
    api_fixture f;
    auto todd = f.login(f.agency_a, f.staff_a, "todd");
    auto admin = f.as_agency(f.agency_a, {{"Idempotency-Key", "same-key"}});
    f.bus.will_succeed(f.admin_of(f.agency_a), 2, "0-40");
    f.bus.will_succeed(f.staff_a, 2, "0-41");
    f.status.answers["0-40"] = true;
    f.status.answers["0-41"] = true;
    CHECK(f.request(verb::post, "/v1/auth/logout", "", admin).result_int() == 200);
    CHECK(f.request(verb::post, "/v1/auth/logout", "", api_fixture::bearer(todd, {{"Idempotency-Key", "same-key"}}))
              .result_int() == 200);
    REQUIRE(f.bus.calls.size() == 2);
    CHECK(f.bus.calls[0].meta.idempotency_key ==
          bus_key("staff/" + f.admin_of(f.agency_a), "POST", "/v1/auth/logout", "", "same-key"));
    CHECK(f.bus.calls[1].meta.idempotency_key == bus_key("staff/" + f.staff_a, "POST", "/v1/auth/logout", "", "same-key"));
}
