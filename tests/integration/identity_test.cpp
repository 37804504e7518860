// Identity against a real broker and a real carelogd: login and its one 401, lockout with admin
// and automatic unlock, the forced password change, PasswordChanged ending other sessions,
// logout, the reset link through the notifications topic, TOTP with codes computed by liboath,
// tenant isolation, and no secret in clear anywhere in the event log.
#include <catch2/catch.hpp>

#include <liboath/oath.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "carelog/notify/notifications.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/kafka/kafka.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

const std::string new_password = "Fresh-Start-2026!x";

json::object new_staff(const std::string& first, const std::string& last, const std::string& role,
                       const std::string& temporary) {
    return {{"first_name", first},     {"last_name", last}, {"gender", "female"},
            {"position", "Counselor"}, {"role", role},      {"type", "therapy_counseling"},
            {"email", first + "@example.org"}, {"temporary_password", temporary}};
}

http_reply try_login(http_client& c, const std::string& slug, const std::string& user, const std::string& password,
                     const std::string& totp = "") {
    json::object body{{"agency", slug}, {"username", user}, {"password", password}};
    if (!totp.empty()) body["totp"] = totp;
    return c.post("/v1/auth/login", body, {{"User-Agent", "identity-test/1"}});
}

// The agency's notification records, waiting up to 20 s for `count` of them.
std::vector<json::object> notifications(const carelogd& d, const std::string& agency_id, std::size_t count) {
    std::vector<json::object> out;
    for (int i = 0; i < 100; ++i) {
        out.clear();
        for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "notifications")) {
            auto v = json::parse(rec.substr(0, rec.rfind("|key=")));
            if (v.as_object().at("agency_id").as_string() == agency_id) out.push_back(v.as_object());
        }
        if (out.size() >= count) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
}

std::string base32_decode(const std::string& b32) {
    REQUIRE(oath_init() == OATH_OK);
    char* out = nullptr;
    size_t len = 0;
    REQUIRE(oath_base32_decode(b32.c_str(), b32.size(), &out, &len) == OATH_OK);
    std::string raw(out, len);
    std::free(out);
    return raw;
}

// The TOTP code of `step` (30 s steps since the epoch).
std::string totp_at_step(const std::string& raw, std::int64_t step) {
    char code[7] = {};
    REQUIRE(oath_totp_generate(raw.data(), raw.size(), static_cast<time_t>(step * 30), 30, 0, 6, code) == OATH_OK);
    return code;
}

std::int64_t current_step() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() /
           30;
}

// An agency with its admin's session (headers) and a staff member created with a temporary password.
struct agency_fixture {
    std::string slug, agency_id;
    std::map<std::string, std::string> admin;
    agency_fixture(http_client& c, const carelogd& d, const std::string& prefix) {
        slug = prefix + "-" + fresh_suffix();
        auto created = create_agency(c, d.options().operator_key, slug);
        agency_id = str(created, "agency_id");
        admin = as_agency(c, agency_id);
    }
    // Creates a staff member; returns {id, username}.
    std::pair<std::string, std::string> staff(http_client& c, const std::string& first, const std::string& last,
                                              const std::string& role, const std::string& temporary) {
        auto r = c.post("/v1/staff", new_staff(first, last, role, temporary), admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        auto b = r.json();
        auto h = admin;
        h["X-Consistency-Token"] = str(b, "consistency_token");
        REQUIRE(c.get("/v1/staff/" + str(b, "id"), h).status == 200);
        return {str(b, "id"), str(b, "username")};
    }
};

// Changes a temporary password through a fresh session; returns the session token.
std::string first_login(http_client& c, const std::string& slug, const std::string& user, const std::string& temporary) {
    auto s = login(c, slug, user, temporary);
    REQUIRE(s.at("password_change_required").as_bool());
    auto token = str(s, "token");
    auto r = c.post("/v1/auth/password", json::object{{"current_password", temporary}, {"new_password", new_password}},
                    bearer(token));
    INFO(r.body);
    REQUIRE(r.status == 200);
    return token;
}

}  // namespace

TEST_CASE("identity: login answers a session / wrong user, wrong password and a locked account get one 401",
          "[integration][identity]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "login");

    auto ok = try_login(c, a.slug, "aadmin", admin_password);
    REQUIRE(ok.status == 200);
    auto s = ok.json();
    CHECK(str(s, "token").starts_with(a.agency_id + "."));
    CHECK(!s.at("password_change_required").as_bool());
    CHECK(str(s.at("staff"), "username") == "aadmin");
    CHECK(str(s.at("staff"), "role") == "org_admin");
    CHECK(str(s.at("staff"), "type") == "administration");
    CHECK(!str(s, "expires_at").empty());
    // the session works at once, on this node
    CHECK(c.get("/v1/staff", bearer(str(s, "token"))).status == 200);

    // lock policy: 5 failures, 1 minute
    auto patch = c.patch("/v1/agency/settings", json::object{{"lockout", json::object{{"threshold", 5}, {"minutes", 1}}}},
                         a.admin);
    REQUIRE(patch.status == 200);
    auto [id, user] = a.staff(c, "Lena", "Lock", "therapist", "Temp-Pass-123!x");

    auto unknown_user = try_login(c, a.slug, "nobody", "Temp-Pass-123!x");
    auto unknown_agency = try_login(c, "no-such-" + fresh_suffix(), user, "Temp-Pass-123!x");
    auto bad_password = try_login(c, a.slug, user, "Wrong-Pass-123!x");
    for (const auto* r : {&unknown_user, &unknown_agency, &bad_password}) {
        INFO(r->body);
        CHECK(r->status == 401);
        CHECK(r->body == unknown_user.body);
    }
    CHECK(str(unknown_user.json(), "detail") == "invalid credentials");

    for (int i = 0; i < 4; ++i) CHECK(try_login(c, a.slug, user, "Wrong-Pass-123!x").status == 401);  // 5 failures
    auto locked = try_login(c, a.slug, user, "Temp-Pass-123!x");  // the right password, but locked
    CHECK(locked.status == 401);
    CHECK(locked.body == unknown_user.body);

    // an admin sees the lock; the staff member's own session would not (tested at unit level)
    auto view = c.get("/v1/staff/" + id, a.admin);
    REQUIRE(view.status == 200);
    CHECK(view.json().at("locked").as_bool());
    CHECK(view.json().at("locked_until").is_string());

    // admin unlock
    auto unlock = c.post("/v1/staff/" + id + "/unlock", json::object{}, a.admin);
    INFO(unlock.body);
    REQUIRE(unlock.status == 200);
    CHECK(try_login(c, a.slug, user, "Temp-Pass-123!x").status == 200);
    CHECK(!c.get("/v1/staff/" + id, a.admin).json().at("locked").as_bool());

    // the failures and the lock are in the staff member's history, with the peer address
    auto history = c.get("/v1/staff/" + id + "/history", a.admin).body;
    CHECK(history.find("LoginFailed") != std::string::npos);
    CHECK(history.find("AccountLocked") != std::string::npos);
    CHECK(history.find("AccountUnlocked") != std::string::npos);
    CHECK(history.find("127.0.0.1") != std::string::npos);
    CHECK(history.find("identity-test/1") != std::string::npos);
}

TEST_CASE("identity: a lock lapses by itself after the configured minutes", "[integration][identity][lockout]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "unlock");
    REQUIRE(c.patch("/v1/agency/settings", json::object{{"lockout", json::object{{"threshold", 2}, {"minutes", 1}}}},
                    a.admin)
                .status == 200);
    auto [id, user] = a.staff(c, "Otto", "Auto", "scheduler", "Temp-Pass-123!x");
    CHECK(try_login(c, a.slug, user, "Wrong-Pass-123!x").status == 401);
    CHECK(try_login(c, a.slug, user, "Wrong-Pass-123!x").status == 401);
    CHECK(try_login(c, a.slug, user, "Temp-Pass-123!x").status == 401);  // locked
    auto t0 = std::chrono::steady_clock::now();
    // The lock ends 60 s after the second failure; nothing runs on a timer: the next attempt after
    // that is judged afresh (AccountUnlocked{timeout} first).
    int status = 0;
    while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(75)) {
        std::this_thread::sleep_for(std::chrono::seconds(5));
        if (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(55)) continue;
        status = try_login(c, a.slug, user, "Temp-Pass-123!x").status;
        if (status == 200) break;
    }
    CHECK(status == 200);
    auto history = c.get("/v1/staff/" + id + "/history", a.admin).body;
    CHECK(history.find("\"by\":\"timeout\"") != std::string::npos);
}

TEST_CASE("identity: a temporary password allows nothing but its change, which ends the other sessions / logout",
          "[integration][identity]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "pwd");
    auto [id, user] = a.staff(c, "Tina", "Temp", "therapist", "Temp-Pass-123!x");

    auto s1 = login(c, a.slug, user, "Temp-Pass-123!x");
    auto s2 = login(c, a.slug, user, "Temp-Pass-123!x");
    CHECK(s1.at("password_change_required").as_bool());
    auto t1 = str(s1, "token"), t2 = str(s2, "token");
    auto blocked = c.get("/v1/staff", bearer(t1));
    CHECK(blocked.status == 403);
    CHECK(blocked.header("content-type") == "application/problem+json");
    CHECK(str(blocked.json(), "detail").find("password change is required") != std::string::npos);
    CHECK(c.get("/v1/auth/session", bearer(t1)).status == 200);

    // policy and current password are checked
    auto weak = c.post("/v1/auth/password", json::object{{"current_password", "Temp-Pass-123!x"}, {"new_password", "weak"}},
                       bearer(t1));
    CHECK(weak.status == 422);
    auto wrong = c.post("/v1/auth/password",
                        json::object{{"current_password", "Not-It-123!xx"}, {"new_password", new_password}}, bearer(t1));
    CHECK(wrong.status == 422);
    auto changed = c.post("/v1/auth/password",
                          json::object{{"current_password", "Temp-Pass-123!x"}, {"new_password", new_password}}, bearer(t1));
    INFO(changed.body);
    REQUIRE(changed.status == 200);

    CHECK(c.get("/v1/staff", bearer(t1)).status == 200);   // this session goes on, unrestricted
    CHECK(c.get("/v1/staff", bearer(t2)).status == 401);   // the other one ended
    CHECK(try_login(c, a.slug, user, "Temp-Pass-123!x").status == 401);
    auto s3 = login(c, a.slug, user, new_password);
    CHECK(!s3.at("password_change_required").as_bool());

    // logout ends exactly that session
    auto out = c.request("POST", "/v1/auth/logout", "", bearer(t1));
    INFO(out.body);
    CHECK(out.status == 200);
    CHECK(c.get("/v1/staff", bearer(t1)).status == 401);
    CHECK(c.get("/v1/staff", bearer(str(s3, "token"))).status == 200);
}

TEST_CASE("identity: a forgotten password is reset through a sealed link on the notifications topic",
          "[integration][identity]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "reset");
    auto [id, user] = a.staff(c, "Rita", "Reset", "biller", "Temp-Pass-123!x");
    auto old_session = first_login(c, a.slug, user, "Temp-Pass-123!x");
    CHECK(c.get("/v1/staff", bearer(old_session)).status == 200);

    // 202 whether or not the account exists
    auto unknown = c.post("/v1/auth/password-reset", json::object{{"agency", a.slug}, {"username", "nobody"}});
    auto no_agency = c.post("/v1/auth/password-reset", json::object{{"agency", "none-" + fresh_suffix()}, {"username", user}});
    auto known = c.post("/v1/auth/password-reset", json::object{{"agency", a.slug}, {"username", user}});
    CHECK(unknown.status == 202);
    CHECK(no_agency.status == 202);
    CHECK(known.status == 202);
    // the same answer in every respect: status, headers and body
    CHECK(unknown.body == known.body);
    CHECK(unknown.headers == known.headers);
    CHECK(no_agency.headers == known.headers);
    CHECK(no_agency.body == known.body);

    auto notes = notifications(d, a.agency_id, 1);
    REQUIRE(notes.size() == 1);
    const auto& n = notes[0];
    CHECK(str(n, "type") == "password_reset");
    CHECK(str(n, "staff_id") == id);
    CHECK(n.at("expires_at").is_string());
    CHECK(json::serialize(n).find("reset?token=") == std::string::npos);  // sealed, not in clear
    auto content = notify::open_notification(server_key(d), n);
    REQUIRE(content.has_value());
    CHECK(str(*content, "to") == "Rita@example.org");
    auto link = str(*content, "link");
    auto at = link.find("/reset?token=");
    REQUIRE(at != std::string::npos);
    CHECK(link.starts_with("http://127.0.0.1:"));
    auto token = link.substr(at + std::string("/reset?token=").size());
    CHECK(str(*content, "text").find(link) != std::string::npos);

    auto bad = c.post("/v1/auth/password-reset/confirm", json::object{{"token", token + "x"}, {"new_password", "Other-Pass-456!y"}});
    CHECK(bad.status == 422);
    auto confirm = c.post("/v1/auth/password-reset/confirm", json::object{{"token", token}, {"new_password", "Other-Pass-456!y"}});
    INFO(confirm.body);
    REQUIRE(confirm.status == 200);
    CHECK(c.get("/v1/staff", bearer(old_session)).status == 401);  // every session ended
    CHECK(try_login(c, a.slug, user, new_password).status == 401);
    CHECK(try_login(c, a.slug, user, "Other-Pass-456!y").status == 200);
    // single use
    auto again = c.post("/v1/auth/password-reset/confirm", json::object{{"token", token}, {"new_password", "Third-Pass-789!z"}});
    CHECK(again.status == 422);
}

TEST_CASE("identity: TOTP enrolment, confirmation and login / a code is never accepted twice", "[integration][identity]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "totp");
    // therapists must use TOTP in this agency
    REQUIRE(c.patch("/v1/agency/settings", json::object{{"mfa_required_roles", json::array{"therapist"}}}, a.admin)
                .status == 200);
    auto [id, user] = a.staff(c, "Tom", "Totp", "therapist", "Temp-Pass-123!x");
    auto session = first_login(c, a.slug, user, "Temp-Pass-123!x");
    // a new session of a therapist without TOTP may only enrol
    auto s = login(c, a.slug, user, new_password);
    CHECK(s.at("mfa_enrollment_required").as_bool());
    auto t = str(s, "token");
    auto blocked = c.get("/v1/staff", bearer(t));
    CHECK(blocked.status == 403);
    CHECK(str(blocked.json(), "detail").find("TOTP enrolment is required") != std::string::npos);

    auto enroll = c.request("POST", "/v1/auth/mfa/enroll", "", bearer(t));
    INFO(enroll.body);
    REQUIRE(enroll.status == 200);
    auto secret = str(enroll.json(), "secret");
    auto uri = str(enroll.json(), "otpauth_uri");
    CHECK(uri.starts_with("otpauth://totp/"));
    CHECK(uri.find("secret=" + secret) != std::string::npos);
    auto raw = base32_decode(secret);
    CHECK(raw.size() == 20);

    CHECK(c.post("/v1/auth/mfa/confirm", json::object{{"code", "000000"}}, bearer(t)).status == 422);
    auto step = current_step();
    auto confirm = c.post("/v1/auth/mfa/confirm", json::object{{"code", totp_at_step(raw, step)}}, bearer(t));
    INFO(confirm.body);
    REQUIRE(confirm.status == 200);
    CHECK(c.get("/v1/staff", bearer(t)).status == 200);  // enrolled: unrestricted now

    // login now needs a code; the confirmation's code is spent, the next step's is good (+1), once
    CHECK(try_login(c, a.slug, user, new_password).status == 401);
    CHECK(try_login(c, a.slug, user, new_password, totp_at_step(raw, step)).status == 401);
    auto next = totp_at_step(raw, step + 1);
    auto with_code = try_login(c, a.slug, user, new_password, next);
    INFO(with_code.body);
    CHECK(with_code.status == 200);
    CHECK(try_login(c, a.slug, user, new_password, next).status == 401);  // replay refused
    CHECK(try_login(c, a.slug, user, new_password, totp_at_step(raw, step + 5)).status == 401);  // outside ±1
    (void)session;
}

TEST_CASE("identity: a token of one agency gets 404 for every id of another", "[integration][identity][tenancy]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "ten-a");
    agency_fixture b(c, d, "ten-b");
    auto [b_staff, b_user] = b.staff(c, "Bea", "Bee", "scheduler", "Temp-Pass-123!x");
    auto [a_staff, a_user] = a.staff(c, "Ann", "Aye", "scheduler", "Temp-Pass-123!x");
    const std::string base = "/v1/staff/" + b_staff;
    CHECK(c.get(base, a.admin).status == 404);
    CHECK(c.get(base + "/history", a.admin).status == 404);
    CHECK(c.patch(base, json::object{{"position", "Nurse"}}, a.admin).status == 404);
    CHECK(c.put(base + "/role", json::object{{"role", "biller"}}, a.admin).status == 404);
    CHECK(c.put(base + "/type", json::object{{"type", "administration"}}, a.admin).status == 404);
    CHECK(c.put(base + "/locations", json::object{{"location_ids", json::array{}}}, a.admin).status == 404);
    CHECK(c.put(base + "/programs", json::object{{"program_ids", json::array{}}}, a.admin).status == 404);
    CHECK(c.put(base + "/permissions", json::object{{"messaging", true}}, a.admin).status == 404);
    CHECK(c.post(base + "/deactivate", json::object{}, a.admin).status == 404);
    CHECK(c.post(base + "/unlock", json::object{}, a.admin).status == 404);
    CHECK(c.get("/v1/staff/" + a_staff, b.admin).status == 404);
    CHECK(c.get("/v1/staff", a.admin).body.find(b_staff) == std::string::npos);
    // B's staff member is untouched
    auto view = c.get(base, b.admin);
    REQUIRE(view.status == 200);
    CHECK(str(view.json(), "role") == "scheduler");
    CHECK(view.json().at("active").as_bool());
    // and cannot log into A with B's credentials
    CHECK(try_login(c, a.slug, b_user, "Temp-Pass-123!x").status == 401);
}

TEST_CASE("identity: no password, reset token, session token or TOTP secret appears in clear in the event log",
          "[integration][identity][secrets]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "secrets");
    std::vector<std::string> secrets = {admin_password, "Temp-Pass-123!x", new_password, "Other-Pass-456!y"};
    auto [id, user] = a.staff(c, "Sam", "Secret", "therapist", "Temp-Pass-123!x");
    auto session = first_login(c, a.slug, user, "Temp-Pass-123!x");
    secrets.push_back(session);
    // a wrong password typed into the username field is not recorded either
    CHECK(try_login(c, a.slug, "Typed-In-User-Field!1", "x").status == 401);
    secrets.push_back("Typed-In-User-Field!1");
    CHECK(try_login(c, a.slug, user, "Wrong-Guess-999!q").status == 401);
    secrets.push_back("Wrong-Guess-999!q");

    REQUIRE(c.post("/v1/auth/password-reset", json::object{{"agency", a.slug}, {"username", user}}).status == 202);
    auto notes = notifications(d, a.agency_id, 1);
    REQUIRE(notes.size() == 1);
    auto content = notify::open_notification(server_key(d), notes[0]);
    REQUIRE(content.has_value());
    auto link = str(*content, "link");
    auto token = link.substr(link.find("token=") + 6);
    secrets.push_back(token);
    REQUIRE(c.post("/v1/auth/password-reset/confirm", json::object{{"token", token}, {"new_password", "Other-Pass-456!y"}})
                .status == 200);
    auto s2 = login(c, a.slug, user, "Other-Pass-456!y");
    auto t2 = str(s2, "token");
    secrets.push_back(t2);

    auto enroll = c.request("POST", "/v1/auth/mfa/enroll", "", bearer(t2));
    REQUIRE(enroll.status == 200);
    auto b32 = str(enroll.json(), "secret");
    auto raw = base32_decode(b32);
    secrets.push_back(b32);
    auto step = current_step();
    REQUIRE(c.post("/v1/auth/mfa/confirm", json::object{{"code", totp_at_step(raw, step)}}, bearer(t2)).status == 200);
    auto s3 = login(c, a.slug, user, "Other-Pass-456!y", totp_at_step(raw, step + 1));
    secrets.push_back(str(s3, "token"));
    REQUIRE(c.request("POST", "/v1/auth/logout", "", bearer(str(s3, "token"))).status == 200);

    auto records = read_topic(d.options().brokers, d.options().topic_prefix + "events", 4, true);
    REQUIRE(records.size() > 10);
    std::size_t with_session_hash = 0;
    for (const auto& r : records) {
        for (const auto& s : secrets) {
            INFO("secret " << s);
            CHECK(r.find(s) == std::string::npos);
        }
        // the raw TOTP secret (20 bytes) never appears as bytes either
        CHECK(r.find(raw) == std::string::npos);
        if (r.find(token_hash(session)) != std::string::npos) ++with_session_hash;
    }
    // the scan saw the identity events: the session's hash (its id) is there, the token is not
    CHECK(with_session_hash >= 2);  // LoginSucceeded, SessionEnded
    // the notifications topic holds the link sealed only
    for (const auto& r : read_topic(d.options().brokers, d.options().topic_prefix + "notifications", 4, true)) {
        CHECK(r.find(token) == std::string::npos);
        CHECK(r.find(b32) == std::string::npos);
    }
}

TEST_CASE("identity: an administrator brings a locked-out member back: TOTP reset, temporary password, sessions ended",
          "[integration][identity][recovery]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_fixture a(c, d, "recover");
    auto [id, user] = a.staff(c, "Lena", "Lost", "biller", "Temp-Pass-123!x");
    auto session = first_login(c, a.slug, user, "Temp-Pass-123!x");
    auto enroll = c.request("POST", "/v1/auth/mfa/enroll", "", bearer(session));
    REQUIRE(enroll.status == 200);
    auto raw = base32_decode(str(enroll.json(), "secret"));
    auto step = current_step();
    REQUIRE(c.post("/v1/auth/mfa/confirm", json::object{{"code", totp_at_step(raw, step)}}, bearer(session)).status == 200);
    CHECK(try_login(c, a.slug, user, new_password).status == 401);  // the phone is lost: no code

    // A member may not recover a colleague (or themselves): administrators only.
    auto [other, other_user] = a.staff(c, "Nils", "Nosy", "biller", "Temp-Pass-123!x");
    (void)other_user;
    CHECK(c.post("/v1/staff/" + other + "/mfa/reset", json::object{}, bearer(session)).status == 403);
    // A bad reason changes nothing.
    CHECK(c.post("/v1/staff/" + id + "/mfa/reset", json::object{{"reason", std::string(501, 'x')}}, a.admin).status == 422);
    CHECK(c.post("/v1/staff/" + id + "/mfa/reset", json::object{{"reason", 7}}, a.admin).status == 422);

    // Every session ends (a stolen laptop).
    auto ended = c.post("/v1/staff/" + id + "/sessions/end", json::object{{"reason", "laptop stolen"}}, a.admin);
    INFO(ended.body);
    REQUIRE(ended.status == 200);
    auto seen = [](const http_reply& r, std::map<std::string, std::string> h) {
        h["X-Consistency-Token"] = str(r.json(), "consistency_token");
        return h;
    };
    CHECK(c.get("/v1/auth/session", seen(ended, bearer(session))).status == 401);

    // The TOTP goes: the password alone logs in again.
    auto reset = c.post("/v1/staff/" + id + "/mfa/reset", json::object{{"reason", "lost phone, called the desk"}}, a.admin);
    INFO(reset.body);
    REQUIRE(reset.status == 200);
    auto back = try_login(c, a.slug, user, new_password);
    INFO(back.body);
    CHECK(back.status == 200);

    // A temporary password (generated, shown once) replaces the forgotten one and must be changed.
    auto temp = c.post("/v1/staff/" + id + "/temporary-password", json::object{{"reason", "forgot it"}}, a.admin);
    INFO(temp.body);
    REQUIRE(temp.status == 200);
    auto temporary = str(temp.json(), "temporary_password");
    CHECK(temporary.size() >= 16);
    CHECK(c.get("/v1/auth/session", seen(temp, bearer(str(back.json(), "token")))).status == 401);  // sessions ended
    CHECK(try_login(c, a.slug, user, new_password).status == 401);
    auto with_temp = try_login(c, a.slug, user, temporary);
    REQUIRE(with_temp.status == 200);
    CHECK(with_temp.json().at("password_change_required").as_bool());
    // A chosen temporary password must meet the agency's policy.
    CHECK(c.post("/v1/staff/" + id + "/temporary-password", json::object{{"temporary_password", "short"}}, a.admin)
              .status == 422);

    // Each action is in the member's history as an administrator's.
    auto history = c.get("/v1/staff/" + id + "/history", a.admin);
    REQUIRE(history.status == 200);
    for (const char* type : {"MfaReset", "SessionEnded", "PasswordChanged"})
        CHECK(history.body.find(type) != std::string::npos);
    CHECK(history.body.find("\"admin\"") != std::string::npos);
}
