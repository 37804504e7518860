// Browser sessions: the session token in an HttpOnly cookie, unsafe requests proven with
// X-CSRF-Token, bearer tokens unchanged; and the username preview the console shows.
#include "api_fixture.hpp"

#include "carelog/api/router.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using http::verb;

namespace {

std::string str(const json::object& o, std::string_view k) { return std::string(o.at(k).as_string()); }

http_response cookie_login(api_fixture& f, bool cookie) {
    json::object body{{"agency", "sunrise"}, {"username", "tjones"}, {"password", "Right-1!pass"}};
    if (cookie) body["cookie"] = true;
    f.bus.will_succeed(f.staff_a, 4, "0-71",
                       json::object{{"id", f.staff_a}, {"login", "succeeded"}, {"mfa_enrollment_required", false}});
    f.status.answers["0-71"] = true;
    return f.request(verb::post, "/v1/auth/login", json::serialize(body));
}

}  // namespace

TEST_CASE("browser: a cookie login sets an HttpOnly SameSite=Strict cookie and answers a CSRF token, no token",
          "[api][browser]") {
    api_fixture f;
    auto res = cookie_login(f, true);
    INFO(res.body());
    REQUIRE(res.result_int() == 200);
    auto b = body_of(res);
    CHECK(!b.contains("token"));
    const std::string csrf = str(b, "csrf_token");
    CHECK(csrf.size() == 64);
    const std::string set = header_of(res, "Set-Cookie");
    CHECK(set.starts_with("carelog_session=" + f.agency_a + "."));
    CHECK(set.find("; HttpOnly") != std::string::npos);
    CHECK(set.find("; SameSite=Strict") != std::string::npos);
    CHECK(set.find("; Path=/") != std::string::npos);
    CHECK(set.find("Secure") == std::string::npos);  // the public URL is http here
    // the session the command recorded is the cookie's token
    const std::string token = set.substr(std::string("carelog_session=").size(), set.find(';') - std::string("carelog_session=").size());
    CHECK(f.bus.last<aggregates::record_login>().session_id == token_hash(token));

    // a bearer login still answers the token and sets no cookie
    auto bearer = cookie_login(f, false);
    REQUIRE(bearer.result_int() == 200);
    CHECK(body_of(bearer).contains("token"));
    CHECK(!body_of(bearer).contains("csrf_token"));
    CHECK(header_of(bearer, "Set-Cookie").empty());
}

TEST_CASE("browser: the cookie is Secure when the public URL is https", "[api][browser]") {
    api_fixture f;
    f.ctx->cfg.public_url = "https://care.example.org";
    auto res = cookie_login(f, true);
    REQUIRE(res.result_int() == 200);
    CHECK(header_of(res, "Set-Cookie").find("; Secure") != std::string::npos);
}

TEST_CASE("browser: a cookie session reads freely but needs X-CSRF-Token for unsafe requests", "[api][browser][csrf]") {
    api_fixture f;
    const std::string token = f.admin_token(f.agency_a);
    const std::map<std::string, std::string> cookie{{"Cookie", "theme=dark; carelog_session=" + token}};

    // reads: no CSRF token needed; the session info tells a reloaded page its CSRF token
    auto info = f.request(verb::get, "/v1/auth/session", "", cookie);
    INFO(info.body());
    REQUIRE(info.result_int() == 200);
    const std::string csrf = str(body_of(info), "csrf_token");
    CHECK(f.request(verb::get, "/v1/staff", "", cookie).result_int() == 200);
    // a bearer session is not told a CSRF token (it needs none)
    CHECK(!body_of(f.request(verb::get, "/v1/auth/session", "", f.bearer(token))).contains("csrf_token"));

    const json::value add{{"first_name", "Todd"}, {"last_name", "Smith"}, {"gender", "male"}, {"position", "Counselor"},
                          {"email", "todd@example.org"}, {"role", "therapist"}, {"type", "therapy_counseling"}};
    // without the header, or with a wrong one: 403 problem, nothing submitted
    auto without = f.request(verb::post, "/v1/staff", json::serialize(add), cookie);
    CHECK(is_problem(without, 403));
    CHECK(str(body_of(without), "detail").find("X-CSRF-Token") != std::string::npos);
    auto with_wrong = cookie;
    with_wrong["X-CSRF-Token"] = std::string(64, '0');
    CHECK(is_problem(f.request(verb::post, "/v1/staff", json::serialize(add), with_wrong), 403));
    // another session's CSRF token does not fit this cookie
    auto other = cookie;
    other["X-CSRF-Token"] = str(body_of(f.request(verb::get, "/v1/auth/session", "",
                                                   {{"Cookie", "carelog_session=" + f.login(f.agency_a, f.admin_of(f.agency_a), "other")}})),
                                "csrf_token");
    CHECK(is_problem(f.request(verb::post, "/v1/staff", json::serialize(add), other), 403));
    CHECK(f.bus.calls.empty());

    // with it, the command goes through
    auto with = cookie;
    with["X-CSRF-Token"] = csrf;
    f.bus.will_succeed(uuid(99), 1, "0-80", json::object{{"id", uuid(99)}, {"username", "tsmith"}, {"temporary_password", "x"}});
    f.status.answers["0-80"] = true;
    auto created = f.request(verb::post, "/v1/staff", json::serialize(add), with);
    INFO(created.body());
    CHECK(created.result_int() == 201);
    CHECK(f.bus.calls.size() == 1);

    // a bearer token needs no CSRF token, even with a cookie beside it
    auto bearer = f.bearer(token, {{"Cookie", "carelog_session=" + token}});
    f.bus.will_succeed(uuid(98), 1, "0-81", json::object{{"id", uuid(98)}, {"username", "tsmith2"}, {"temporary_password", "x"}});
    f.status.answers["0-81"] = true;
    CHECK(f.request(verb::post, "/v1/staff", json::serialize(add), bearer).result_int() == 201);
}

TEST_CASE("browser: logout clears the session cookie", "[api][browser]") {
    api_fixture f;
    const std::string token = f.admin_token(f.agency_a);
    auto csrf = str(body_of(f.request(verb::get, "/v1/auth/session", "", {{"Cookie", "carelog_session=" + token}})), "csrf_token");
    CHECK(is_problem(f.request(verb::post, "/v1/auth/logout", "", {{"Cookie", "carelog_session=" + token}}), 403));
    f.bus.will_succeed(f.admin_of(f.agency_a), 3, "0-60");
    f.status.answers["0-60"] = true;
    auto out = f.request(verb::post, "/v1/auth/logout", "", {{"Cookie", "carelog_session=" + token}, {"X-CSRF-Token", csrf}});
    REQUIRE(out.result_int() == 200);
    CHECK(f.bus.last<aggregates::logout>().session_id == token_hash(token));
    const std::string set = header_of(out, "Set-Cookie");
    CHECK(set.starts_with("carelog_session=;"));
    CHECK(set.find("Max-Age=0") != std::string::npos);
}

TEST_CASE("browser: a portal cookie opens portal routes only; the staff cookie opens no portal route", "[api][browser]") {
    api_fixture f;
    const std::string token = f.admin_token(f.agency_a);
    // the staff session in the portal cookie is no portal session, and the portal routes ignore the staff cookie
    CHECK(is_problem(f.request(verb::get, "/v1/portal/me", "", {{"Cookie", "carelog_portal=" + token}}), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/portal/me", "", {{"Cookie", "carelog_session=" + token}}), 401));
    // and a staff route ignores the portal cookie
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", {{"Cookie", "carelog_portal=" + token}}), 401));
}

TEST_CASE("staff: the username preview follows the rule: base, middle initial, or why none", "[api][staff][username]") {
    api_fixture f;
    auto preview = [&](std::string q) { return f.get("/v1/username-preview?" + q); };
    auto free = body_of(preview("first_name=Ann&last_name=Berg"));
    CHECK(str(free, "username") == "aberg");
    CHECK(!free.at("base_taken").as_bool());
    CHECK(free.at("reason").is_null());

    // "tjones" is taken in agency A
    auto taken = body_of(preview("first_name=Tina&last_name=Jones"));
    CHECK(taken.at("username").is_null());
    CHECK(taken.at("base_taken").as_bool());
    CHECK(str(taken, "reason") == "username 'tjones' is taken; supply a middle name to use the middle initial");
    auto middle = body_of(preview("first_name=Tina&middle_name=Marie&last_name=Jones"));
    CHECK(str(middle, "username") == "tmjones");
    CHECK(str(middle, "with_middle") == "tmjones");

    auto folded = body_of(preview("first_name=Jos%C3%A9&last_name=N%C3%BA%C3%B1ez"));
    CHECK(str(folded, "username") == "jnunez");
    auto nothing = body_of(preview("first_name=%21%21&last_name=Jones"));
    CHECK(nothing.at("username").is_null());
    CHECK(!str(nothing, "reason").empty());
    // another agency's usernames do not count
    CHECK(str(body_of(f.request(verb::get, "/v1/username-preview?first_name=Maria&last_name=Garcia", "",
                                f.as_agency(f.agency_a))),
              "username") == "mgarcia");
    CHECK(is_problem(preview("first_name=A&bogus=1"), 422));
}
