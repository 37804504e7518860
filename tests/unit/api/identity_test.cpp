// Identity at the HTTP layer, over handle() with a real store: the route table's permissions
// walked for every role (generated from the table and access.hpp, not a hand-written list),
// tenant isolation as a matrix over every route with an id, restricted sessions, idle expiry and
// activity with a fake clock, the lock state for administrators only, and login's one 401.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"
#include "carelog/aggregates/access.hpp"
#include "carelog/api/router.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using verb = boost::beast::http::verb;
namespace acl = carelog::aggregates::access;

namespace {

verb verb_of(std::string_view m) {
    if (m == "GET") return verb::get;
    if (m == "POST") return verb::post;
    if (m == "PUT") return verb::put;
    if (m == "PATCH") return verb::patch;
    if (m == "DELETE") return verb::delete_;
    FAIL("unexpected method " << m);
    return verb::get;
}

std::string fill(std::string_view pattern, const std::string& id) {
    std::string out(pattern);
    for (auto i = out.find('{'); i != std::string::npos; i = out.find('{')) out.replace(i, out.find('}', i) - i + 1, id);
    return out;
}

// The staff id a command targets ("" when it targets the agency).
std::string target_of(const aggregates::command& c) {
    return std::visit(
        [](const auto& x) -> std::string {
            if constexpr (requires { x.staff_id; })
                return x.staff_id;
            else
                return "";
        },
        c);
}

command_result ok_result(const std::string& id) {
    command_result r;
    r.aggregate_id = id;
    r.version = 2;
    r.consistency_token = "0-1";
    r.body = json::object{{"id", id}};
    return r;
}

// One staff member per role in agency A ("r0".."r4"), passwords already changed, with a session.
struct role_sessions {
    std::map<std::string, std::string> token;  // role -> bearer token
    explicit role_sessions(api_fixture& f) {
        int n = 30;
        for (const char* role : aggregates::role_values) {
            auto c = staff_created("Role", std::string(role), std::string("r") + std::to_string(n), role);
            c.require_password_change = false;
            c.staff_type = "administration";
            f.feed.push(f.agency_a, uuid(n), c);
            token[role] = f.login(f.agency_a, uuid(n), std::string("role-") + role);
            ++n;
        }
    }
};

}  // namespace

TEST_CASE("identity: every session route declares a known permission", "[api][permissions]") {
    std::set<std::string_view> known(acl::all_permissions().begin(), acl::all_permissions().end());
    for (const auto& r : route_table()) {
        INFO(r.method << " " << r.pattern);
        if (r.auth == auth_kind::session) {
            CHECK(!r.permission.empty());
            CHECK(known.contains(r.permission));
        } else {
            CHECK(r.permission.empty());
        }
    }
}

TEST_CASE("identity: every route x every role is allowed or refused exactly as the access table says",
          "[api][permissions]") {
    api_fixture f;
    role_sessions sessions(f);
    f.bus.responder = [](const std::string&, const aggregates::command& c) -> result<command_result> {
        return ok_result(target_of(c));
    };
    f.status.answers["0-1"] = true;
    int walked = 0;
    for (const auto& r : route_table()) {
        if (r.auth != auth_kind::session) continue;
        for (const char* role : aggregates::role_values) {
            // The target of {id} routes: a scheduler every role may be allowed to manage.
            auto target = uuid(34);
            bool has_body = r.method != "GET";
            auto res = f.request(verb_of(r.method), fill(r.pattern, target), has_body ? "{}" : "",
                                 f.bearer(sessions.token[role]));
            bool allowed = acl::role_grants(role, r.permission);
            INFO(r.method << " " << r.pattern << " as " << role << " (needs " << r.permission << ") -> "
                          << res.result_int() << " " << res.body());
            if (allowed) {
                CHECK(res.result_int() != 403);
                CHECK(res.result_int() != 401);
                CHECK(res.result_int() < 500);
            } else {
                CHECK(is_problem(res, 403));
            }
            ++walked;
        }
    }
    CHECK(walked >= 5 * 20);
}

TEST_CASE("identity: adding staff needs admin or org_admin; only an org_admin makes org_admins", "[api][permissions]") {
    api_fixture f;
    role_sessions sessions(f);
    json::object staff{{"first_name", "New"},        {"last_name", "Person"}, {"gender", "x"},
                       {"position", "Counselor"},    {"email", "n@x.example"}, {"role", "therapist"},
                       {"type", "therapy_counseling"}};
    for (const char* role : {"biller", "therapist", "scheduler"})
        CHECK(is_problem(f.request(verb::post, "/v1/staff", json::serialize(staff), f.bearer(sessions.token[role])), 403));
    f.bus.will_succeed(uuid(100), 1, "0-5");
    CHECK(f.request(verb::post, "/v1/staff", json::serialize(staff), f.bearer(sessions.token["admin"])).result_int() ==
          201);
    staff["role"] = "org_admin";
    CHECK(is_problem(f.request(verb::post, "/v1/staff", json::serialize(staff), f.bearer(sessions.token["admin"])), 403));
    f.bus.will_succeed(uuid(101), 1, "0-6");
    CHECK(f.request(verb::post, "/v1/staff", json::serialize(staff), f.bearer(sessions.token["org_admin"]))
              .result_int() == 201);
    // an admin cannot manage an org_admin (r30 is the org_admin)
    CHECK(is_problem(f.request(verb::put, "/v1/staff/" + uuid(30) + "/role",
                               json::serialize(json::object{{"role", "scheduler"}}), f.bearer(sessions.token["admin"])),
                     403));
    CHECK(f.bus.calls.size() == 2);
}

TEST_CASE("identity: a token of agency A gets 404 for every id of agency B on every route", "[api][tenancy]") {
    api_fixture f;
    // The domain's answer for a staff member outside the agency: not_found (as the real writer).
    f.bus.responder = [&](const std::string& agency, const aggregates::command& c) -> result<command_result> {
        auto id = target_of(c);
        if (!id.empty() && !f.store->staff(agency, id)) return fail(errc::not_found, "staff member not found");
        return ok_result(id);
    };
    f.status.answers["0-1"] = true;
    const std::string a_token = f.admin_token(f.agency_a), b_token = f.admin_token(f.agency_b);
    // Module routes (portal.*, messaging.*) too: the admins hold every permission there is.
    f.enable_modules(f.agency_a);
    f.enable_modules(f.agency_b);
    int cells = 0;
    for (const auto& r : route_table()) {
        if (r.auth != auth_kind::session || r.pattern.find('{') == std::string_view::npos) continue;
        for (const auto& [token, foreign] : {std::pair{a_token, f.staff_b}, std::pair{b_token, f.staff_a}}) {
            auto res = f.request(verb_of(r.method), fill(r.pattern, foreign), r.method == "GET" ? "" : "{}",
                                 f.bearer(token));
            INFO(r.method << " " << r.pattern << " -> " << res.result_int() << " " << res.body());
            // 422 is acceptable only where the body is refused before any id is looked at; the
            // same request with a valid body must then be 404.
            if (res.result_int() == 422) {
                json::object body;
                if (r.pattern.ends_with("/role")) body = {{"role", "scheduler"}};
                if (r.pattern.ends_with("/type")) body = {{"type", "administration"}};
                if (r.pattern.ends_with("/locations")) body = {{"location_ids", json::array{}}};
                if (r.pattern.ends_with("/programs")) body = {{"program_ids", json::array{}}};
                if (r.pattern.ends_with("/permissions")) body = {{"messaging", true}};
                if (r.pattern == "/v1/staff/{id}") body = {{"position", "Nurse"}};
                res = f.request(verb_of(r.method), fill(r.pattern, foreign), json::serialize(body), f.bearer(token));
                INFO("with a valid body -> " << res.result_int() << " " << res.body());
            }
            CHECK(is_problem(res, 404));
            ++cells;
        }
    }
    CHECK(cells >= 2 * 10);
    // a token whose agency prefix is rewritten names no session at all
    auto a_own = f.login(f.agency_a, f.admin_of(f.agency_a), "only-in-a");
    CHECK(f.request(verb::get, "/v1/staff", "", f.bearer(a_own)).result_int() == 200);
    auto forged = f.agency_b + a_own.substr(a_own.find('.'));
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.bearer(forged)), 401));
    // lists only hold the agency's own
    auto list = f.request(verb::get, "/v1/staff", "", f.bearer(a_token));
    CHECK(list.body().find(f.staff_b) == std::string::npos);
}

TEST_CASE("identity: a session with a pending password change may only change it, read itself or log out",
          "[api][sessions]") {
    api_fixture f;
    auto token = f.login(f.agency_a, f.staff_a, "tjones-1");  // tjones: require_password_change
    auto blocked = f.request(verb::get, "/v1/staff", "", f.bearer(token));
    CHECK(is_problem(blocked, 403));
    CHECK(body_of(blocked).at("detail").as_string().find("password change is required") != std::string::npos);
    auto me = f.request(verb::get, "/v1/auth/session", "", f.bearer(token));
    REQUIRE(me.result_int() == 200);
    CHECK(body_of(me).at("required_action").as_string() == "change_password");
    // the change itself gets as far as its own validation
    auto weak = f.request(verb::post, "/v1/auth/password",
                          json::serialize(json::object{{"current_password", "x"}, {"new_password", "short"}}),
                          f.bearer(token));
    CHECK(problem_fields(weak) == std::vector<std::string>(problem_fields(weak).size(), "new_password"));
    CHECK(is_problem(weak, 422));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("identity: sessions expire after the idle timeout and record activity once per touch interval",
          "[api][sessions]") {
    api_fixture f;
    auto token = f.admin_token(f.agency_a);
    f.clock.t = f.feed.clock;  // the session was just created
    CHECK(f.request(verb::get, "/v1/agency/settings", "", f.bearer(token)).result_int() == 200);
    CHECK(f.bus.calls.empty());  // not due yet

    f.clock.t += 6 * 60 * second;  // touch interval: min(5 min, 30 min / 6)
    f.bus.will_succeed(f.admin_of(f.agency_a), 3, "0-50");
    CHECK(f.request(verb::get, "/v1/agency/settings", "", f.bearer(token)).result_int() == 200);
    REQUIRE(f.bus.calls.size() == 1);
    CHECK(std::holds_alternative<aggregates::touch_session>(f.bus.calls[0].cmd));

    f.clock.t += 31 * 60 * second;  // no SessionTouched reached the store: idle since login
    f.bus.will_succeed(f.admin_of(f.agency_a), 3, "0-51");
    auto late = f.request(verb::get, "/v1/agency/settings", "", f.bearer(token));
    CHECK(is_problem(late, 401));
    CHECK(body_of(late).at("detail").as_string().find("expired") != std::string::npos);
    REQUIRE(f.bus.calls.size() == 2);
    CHECK(std::holds_alternative<aggregates::expire_session>(f.bus.calls[1].cmd));

    // once the SessionEnded is applied the token names nothing
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::SessionEnded{token_hash(token), "idle"});
    CHECK(is_problem(f.request(verb::get, "/v1/agency/settings", "", f.bearer(token)), 401));
}

TEST_CASE("identity: logout ends the session; a deactivated member's session is refused", "[api][sessions]") {
    api_fixture f;
    auto token = f.admin_token(f.agency_a);
    f.bus.will_succeed(f.admin_of(f.agency_a), 3, "0-60");
    f.status.answers["0-60"] = true;
    CHECK(f.request(verb::post, "/v1/auth/logout", "", f.bearer(token)).result_int() == 200);
    CHECK(f.bus.last<aggregates::logout>().session_id == token_hash(token));

    f.feed.push(f.agency_a, uuid(40), [] {
        auto c = staff_created("Dee", "Active", "dactive", "scheduler");
        c.require_password_change = false;
        return c;
    }());
    auto dee = f.login(f.agency_a, uuid(40), "dee");
    CHECK(f.request(verb::get, "/v1/staff", "", f.bearer(dee)).result_int() == 200);
    f.feed.push(f.agency_a, uuid(40), events::StaffDeactivated{"left"});
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.bearer(dee)), 401));
}

TEST_CASE("identity: a settings change reaches sessions already in use at their next request", "[api][sessions]") {
    api_fixture f;
    auto token = f.admin_token(f.agency_a);
    f.clock.t = f.feed.clock;
    CHECK(f.request(verb::get, "/v1/agency/settings", "", f.bearer(token)).result_int() == 200);  // cached now
    f.clock.t += 4 * 60 * second;  // idle 4 minutes: within the default 30
    events::Settings shorter;
    shorter.session_idle_minutes = 3;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{shorter});
    f.bus.will_succeed(f.admin_of(f.agency_a), 3, "0-70");
    auto r = f.request(verb::get, "/v1/agency/settings", "", f.bearer(token));
    CHECK(is_problem(r, 401));
    CHECK(body_of(r).at("detail").as_string().find("expired") != std::string::npos);
}

TEST_CASE("identity: a session in use answers with its member's new role and grants at its next request, and another "
          "session of another member is not confused with it",
          "[api][sessions]") {
    api_fixture f;
    role_sessions sessions(f);
    const std::string therapist = uuid(33);  // role_sessions: r30.. in role_values order
    // A read the therapist's role refuses and an administrator's allows.
    std::string target;
    for (const auto& r : route_table())
        if (r.auth == auth_kind::session && r.method == "GET" && r.pattern.find('{') == std::string_view::npos &&
            !acl::role_grants("therapist", r.permission) && acl::role_grants("admin", r.permission)) {
            target = std::string(r.pattern);
            break;
        }
    REQUIRE(!target.empty());
    INFO(target);
    const auto& token = sessions.token["therapist"];
    CHECK(is_problem(f.request(verb::get, target, "", f.bearer(token)), 403));
    CHECK(is_problem(f.request(verb::get, target, "", f.bearer(token)), 403));  // as the session is known
    f.feed.push(f.agency_a, therapist, events::RoleAssigned{"admin"});
    CHECK(f.request(verb::get, target, "", f.bearer(token)).result_int() == 200);
    CHECK(f.request(verb::get, target, "", f.bearer(token)).result_int() == 200);
    // Another member's session, used in between, keeps its own role.
    CHECK(is_problem(f.request(verb::get, target, "", f.bearer(sessions.token["biller"])), 403));
    f.feed.push(f.agency_a, therapist, events::RoleAssigned{"therapist"});
    CHECK(is_problem(f.request(verb::get, target, "", f.bearer(token)), 403));
    // The biller (uuid(32)) made an administrator: the biller's session is answered 200 and this
    // session, whose member's role is therapist, 403.
    f.feed.push(f.agency_a, uuid(32), events::RoleAssigned{"admin"});
    CHECK(is_problem(f.request(verb::get, target, "", f.bearer(token)), 403));
    CHECK(f.request(verb::get, target, "", f.bearer(sessions.token["biller"])).result_int() == 200);
}

TEST_CASE("identity: the lock state is shown to administrators only", "[api][lockout]") {
    api_fixture f;
    role_sessions sessions(f);
    f.feed.push(f.agency_a, f.staff_a, events::AccountLocked{f.feed.clock + 10 * 60 * second, 5});
    f.clock.t = f.feed.clock;
    auto admin = body_of(f.request(verb::get, "/v1/staff/" + f.staff_a, "", f.bearer(sessions.token["admin"])));
    CHECK(admin.at("locked").as_bool());
    CHECK(admin.at("locked_until").is_string());
    for (const char* role : {"biller", "therapist", "scheduler"}) {
        auto other = body_of(f.request(verb::get, "/v1/staff/" + f.staff_a, "", f.bearer(sessions.token[role])));
        CHECK(!other.contains("locked"));
        CHECK(!other.contains("locked_until"));
        CHECK(!other.contains("failed_attempts"));
    }
    // The administrator's view is everyone's view with exactly the four lock fields after it.
    auto without_lock = admin;
    for (const char* k : {"locked", "locked_until", "failed_attempts", "mfa_enrolled"}) CHECK(without_lock.erase(k) == 1);
    CHECK(without_lock == body_of(f.request(verb::get, "/v1/staff/" + f.staff_a, "", f.bearer(sessions.token["biller"]))));
    // past the lock's end it shows unlocked without any event
    f.clock.t += 11 * 60 * second;
    f.bus.responder = [&](const std::string&, const aggregates::command& c) -> result<command_result> {
        return ok_result(target_of(c));  // session touches
    };
    auto later = body_of(f.request(verb::get, "/v1/staff/" + f.staff_a, "", f.bearer(sessions.token["admin"])));
    CHECK(!later.at("locked").as_bool());
}

TEST_CASE("identity: every refused login gets the same 401 body; a success answers a token", "[api][login]") {
    api_fixture f;
    auto login = [&](std::string agency, std::string user) {
        return f.request(verb::post, "/v1/auth/login",
                         json::serialize(json::object{{"agency", agency}, {"username", user}, {"password", "Wrong-1!pass"}}),
                         {{"User-Agent", "unit/1"}});
    };
    auto unknown_agency = login("no-such-agency", "tjones");
    CHECK(f.bus.calls.empty());
    f.bus.will_succeed(f.agency_a, 3, "0-70", json::object{{"id", f.staff_a}, {"login", "failed"}});
    auto bad_password = login("sunrise", "tjones");
    REQUIRE(f.bus.calls.size() == 1);
    const auto& rec = f.bus.last<aggregates::record_login>();
    CHECK(rec.username == "tjones");
    CHECK(!rec.password_ok);
    CHECK(rec.user_agent == "unit/1");
    CHECK(is_token_hash(rec.session_id));
    for (const auto* res : {&unknown_agency, &bad_password}) {
        CHECK(is_problem(*res, 401));
        CHECK(res->body() == unknown_agency.body());
    }
    CHECK(body_of(unknown_agency).at("detail").as_string() == "invalid credentials");

    f.bus.will_succeed(f.staff_a, 4, "0-71",
                       json::object{{"id", f.staff_a}, {"login", "succeeded"}, {"mfa_enrollment_required", false}});
    f.status.answers["0-71"] = true;
    auto ok = login("sunrise", "tjones");
    REQUIRE(ok.result_int() == 200);
    auto b = body_of(ok);
    CHECK(b.at("token").as_string().starts_with(f.agency_a + "."));
    CHECK(b.at("password_change_required").as_bool());  // tjones has a temporary password
    CHECK(b.at("staff").at("username").as_string() == "tjones");
    CHECK(b.at("staff").at("role").as_string() == "therapist");
    CHECK(b.at("expires_at").is_string());
    // the session id the command carried is the hash of the token answered
    CHECK(f.bus.last<aggregates::record_login>().session_id == token_hash(std::string(b.at("token").as_string())));
}

TEST_CASE("identity: an expired password restricts the session to changing it", "[api][sessions]") {
    api_fixture f;
    events::Settings s;
    s.password_expiry_days = 1;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{s});
    auto fresh = f.admin_token(f.agency_a);
    f.clock.t = f.feed.clock;
    CHECK(f.request(verb::get, "/v1/staff", "", f.bearer(fresh)).result_int() == 200);
    f.feed.clock += 2 * 24 * 3600 * second;  // two days later the admin logs in again
    auto later = f.login(f.agency_a, f.admin_of(f.agency_a), "two-days-later");
    f.clock.t = f.feed.clock;
    auto res = f.request(verb::get, "/v1/staff", "", f.bearer(later));
    CHECK(is_problem(res, 403));
    CHECK(body_of(res).at("detail").as_string().find("password change is required") != std::string::npos);
    auto me = body_of(f.request(verb::get, "/v1/auth/session", "", f.bearer(later)));
    CHECK(me.at("required_action").as_string() == "change_password");
}
