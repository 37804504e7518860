// The client portal, messaging and kiosk against a real broker and a real carelogd: portal login
// and lockout (and an administrator's unlock), a client seeing only their own threads, messages
// going both ways between staff and a client, the messaging module's 403, the kiosk flow and its
// token's confinement, and the events in the client's history. Clients, invitations and portal
// accounts are made through the HTTP API (the invitation link comes from the sealed notification).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "carelog/notify/notifications.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/kafka/kafka.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

const std::string staff_password = "Fresh-Start-2026!x";
const std::string portal_password = "Portal-Pass-2026!x";

// The invitation token of a client, from its sealed notification (waiting up to 20 s).
std::string invitation_token(const carelogd& d, const std::string& agency_id, const std::string& client_id) {
    auto k = server_key(d);
    for (int i = 0; i < 100; ++i) {
        for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "notifications")) {
            auto v = json::parse(rec).as_object();
            if (v.at("agency_id").as_string() != agency_id) continue;
            CHECK(rec.find("register?token=") == std::string::npos);  // sealed, not in clear
            auto content = notify::open_notification(k, v);
            REQUIRE(content.has_value());
            auto link = str(*content, "link");
            auto at = link.find("/portal/register?token=");
            if (at == std::string::npos) continue;
            if (auto c = v.if_contains("client_id"); c && c->is_string() && c->as_string() != client_id) continue;
            return link.substr(at + std::string("/portal/register?token=").size());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    FAIL("no invitation notification for client " << client_id);
    return {};
}

// One agency with the portal and messaging on, an administrator, a therapist with both module
// permissions and a scheduler without them; clients are added, assigned and registered on demand.
struct portal_world {
    carelogd& d;
    http_client c;
    std::string slug, agency_id;
    std::map<std::string, std::string> admin;
    std::string admin_id;

    portal_world(carelogd& daemon, const std::string& prefix) : d(daemon), c(daemon.client()) {
        slug = prefix + "-" + fresh_suffix();
        auto created = create_agency(c, d.options().operator_key, slug);
        agency_id = str(created, "agency_id");
        admin_id = str(created.at("admin"), "staff_id");
        admin = as_agency(c, agency_id);
        auto patch = c.patch("/v1/agency/settings",
                             json::object{{"client_portal_enabled", true},
                                          {"messaging_enabled", true},
                                          {"lockout", json::object{{"threshold", 3}, {"minutes", 30}}}},
                             admin);
        INFO(patch.body);
        REQUIRE(patch.status == 200);
        // the administrator invites (client_portal is never implied by a role)
        grant(admin_id, true, false);
    }

    std::map<std::string, std::string> fresh(std::map<std::string, std::string> h, const json::value& answer) {
        if (auto t = answer.as_object().if_contains("consistency_token"); t && t->is_string())
            h["X-Consistency-Token"] = std::string(t->as_string());
        return h;
    }

    void grant(const std::string& staff_id, bool portal, bool messaging) {
        auto r = c.put("/v1/staff/" + staff_id + "/permissions",
                       json::object{{"client_portal", portal}, {"messaging", messaging}}, admin);
        INFO(r.body);
        REQUIRE(r.status == 200);
        REQUIRE(c.get("/v1/staff/" + staff_id, fresh(admin, r.json())).status == 200);
    }

    // A staff member with a changed password and a live session: {id, bearer headers}.
    std::pair<std::string, std::map<std::string, std::string>> staff(const std::string& first, const std::string& last,
                                                                     const std::string& role, const std::string& type) {
        const std::string temporary = "Temp-Pass-123!x";
        auto r = c.post("/v1/staff",
                        json::object{{"first_name", first}, {"last_name", last}, {"gender", "female"},
                                     {"position", "Counselor"}, {"role", role}, {"type", type},
                                     {"email", first + "@example.org"}, {"temporary_password", temporary}},
                        admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        const auto id = str(r.json(), "id");
        REQUIRE(c.get("/v1/staff/" + id, fresh(admin, r.json())).status == 200);
        auto s = login(c, slug, str(r.json(), "username"), temporary);
        auto token = str(s, "token");
        auto changed = c.post("/v1/auth/password",
                              json::object{{"current_password", temporary}, {"new_password", staff_password}}, bearer(token));
        INFO(changed.body);
        REQUIRE(changed.status == 200);
        return {id, bearer(token)};
    }

    std::string add_client(const std::string& first, const std::string& last) {
        auto r = c.post("/v1/clients",
                        json::object{{"first_name", first}, {"last_name", last}, {"date_of_birth", "1985-04-12"},
                                     {"email", "family@example.org"}},  // one e-mail for several clients
                        admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        const auto id = str(r.json(), "id");
        REQUIRE(c.get("/v1/clients/" + id, fresh(admin, r.json())).status == 200);
        return id;
    }

    void assign(const std::string& client_id, const std::string& staff_id) {
        auto r = c.request("PUT", "/v1/clients/" + client_id + "/staff/" + staff_id, "", admin);
        INFO(r.body);
        REQUIRE(r.status == 200);
        REQUIRE(c.get("/v1/clients/" + client_id, fresh(admin, r.json())).status == 200);
    }

    // Invites the client and registers its portal account; returns the portal account id.
    std::string register_portal(const std::string& client_id, const std::string& username) {
        auto inv = c.post("/v1/clients/" + client_id + "/portal/invitations", json::object{}, admin);
        INFO(inv.body);
        REQUIRE(inv.status == 201);
        auto token = invitation_token(d, agency_id, client_id);
        auto reg = c.post("/v1/portal/register",
                          json::object{{"token", token}, {"username", username}, {"password", portal_password}});
        INFO(reg.body);
        REQUIRE(reg.status == 201);
        return str(reg.json(), "portal_account_id");
    }

    http_reply portal_login(const std::string& username, const std::string& password) {
        return c.post("/v1/portal/login", json::object{{"agency", slug}, {"username", username}, {"password", password}},
                      {{"User-Agent", "portal-it/1"}});
    }
    std::map<std::string, std::string> portal_session(const std::string& username) {
        auto r = portal_login(username, portal_password);
        INFO(r.body);
        REQUIRE(r.status == 200);
        return bearer(str(r.json(), "token"));
    }

    std::vector<std::string> history_types(const std::string& client_id) {
        auto h = c.get("/v1/clients/" + client_id + "/history", admin);
        INFO(h.body);
        REQUIRE(h.status == 200);
        std::vector<std::string> out;
        const auto listing = h.json();  // keeps the value alive: as_array() refers into it
        for (const auto& e : listing.at("items").as_array()) out.emplace_back(e.at("event_type").as_string());
        return out;
    }
};

std::size_t count(const std::vector<std::string>& v, std::string_view x) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), x));
}

}  // namespace

TEST_CASE("portal: login answers a session / wrong user, wrong password and a lock get one 401 / an admin unlocks",
          "[integration][portal]") {
    carelogd d({});
    d.wait_ready();
    portal_world w(d, "portal-login");
    auto client = w.add_client("Ann", "Lee");
    auto account = w.register_portal(client, "ann.lee");

    auto ok = w.portal_login("ANN.LEE", portal_password);
    INFO(ok.body);
    REQUIRE(ok.status == 200);
    auto s = ok.json();
    CHECK(str(s, "token").starts_with(w.agency_id + "."));
    CHECK(str(s.at("portal_account"), "id") == account);
    CHECK(str(s.at("portal_account"), "client_id") == client);
    CHECK(!str(s, "expires_at").empty());
    const auto portal = bearer(str(s, "token"));
    // at once, on this node; and only on portal routes
    auto me = w.c.get("/v1/portal/me", portal);
    REQUIRE(me.status == 200);
    CHECK(str(me.json().at("client"), "first_name") == "Ann");
    CHECK(w.c.get("/v1/staff", portal).status == 401);
    CHECK(w.c.get("/v1/clients", portal).status == 401);
    // a staff token is no portal token
    CHECK(w.c.get("/v1/portal/me", w.admin).status == 401);

    auto unknown_user = w.portal_login("nobody", portal_password);
    auto unknown_agency = w.c.post("/v1/portal/login", json::object{{"agency", "no-such-" + fresh_suffix()},
                                                                    {"username", "ann.lee"}, {"password", portal_password}});
    auto bad_password = w.portal_login("ann.lee", "Wrong-Pass-2026!x");
    for (const auto* r : {&unknown_user, &unknown_agency, &bad_password}) {
        INFO(r->body);
        CHECK(r->status == 401);
        CHECK(r->body == unknown_user.body);
    }
    for (int i = 0; i < 2; ++i) CHECK(w.portal_login("ann.lee", "Wrong-Pass-2026!x").status == 401);  // 3 failures
    auto locked = w.portal_login("ann.lee", portal_password);
    CHECK(locked.status == 401);
    CHECK(locked.body == unknown_user.body);

    // an administrator unlocks; a therapist may not
    auto [therapist, therapist_h] = w.staff("Tara", "Therapist", "therapist", "administration");
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/unlock", json::object{}, therapist_h).status == 403);
    auto unlock = w.c.post("/v1/portal/accounts/" + account + "/unlock", json::object{}, w.admin);
    INFO(unlock.body);
    REQUIRE(unlock.status == 200);
    CHECK(w.portal_login("ann.lee", portal_password).status == 200);

    // logout ends that session only
    auto out = w.c.post("/v1/portal/logout", json::object{}, portal);
    INFO(out.body);
    CHECK(out.status == 200);
    CHECK(w.c.get("/v1/portal/me", portal).status == 401);

    auto types = w.history_types(client);
    CHECK(count(types, "PortalLoginSucceeded") == 2);
    CHECK(count(types, "PortalLoginFailed") == 4);  // three bad passwords, one while locked
    CHECK(count(types, "PortalAccountLocked") == 1);
    CHECK(count(types, "PortalAccountUnlocked") == 1);
    CHECK(count(types, "PortalSessionEnded") == 1);
    auto history = w.c.get("/v1/clients/" + client + "/history", w.admin).body;
    CHECK(history.find("portal-it/1") != std::string::npos);
    CHECK(history.find(portal_password) == std::string::npos);
    CHECK(history.find(str(s, "token")) == std::string::npos);
}

TEST_CASE("messaging: staff and clients write both ways / a client never sees another client's threads",
          "[integration][portal][messaging]") {
    carelogd d({});
    d.wait_ready();
    portal_world w(d, "portal-msg");
    auto [therapist, therapist_h] = w.staff("Tara", "Therapist", "therapist", "therapy_counseling");
    w.grant(therapist, false, true);
    auto [scheduler, scheduler_h] = w.staff("Sam", "Scheduler", "scheduler", "administration");
    auto ann = w.add_client("Ann", "Lee");
    auto bo = w.add_client("Bo", "Diaz");
    w.assign(ann, therapist);
    w.assign(bo, therapist);
    w.register_portal(ann, "annlee");
    w.register_portal(bo, "bodiaz");

    // staff without the messaging permission: 403 naming it
    auto refused = w.c.post("/v1/messages", json::object{{"client_id", ann}, {"body", "Hello"}}, scheduler_h);
    INFO(refused.body);
    CHECK(refused.status == 403);
    CHECK(str(refused.json(), "detail").find("messaging permission") != std::string::npos);
    CHECK(w.c.get("/v1/messages/threads", scheduler_h).status == 403);

    // staff -> client
    auto sent = w.c.post("/v1/messages", json::object{{"client_id", ann}, {"body", "Hello Ann, see you Tuesday"}},
                         therapist_h);
    INFO(sent.body);
    REQUIRE(sent.status == 201);
    const auto t_ann = str(sent.json(), "thread_id");
    CHECK(!str(sent.json(), "message_id").empty());
    auto to_bo = w.c.post("/v1/messages", json::object{{"client_id", bo}, {"body", "Hello Bo"}}, therapist_h);
    REQUIRE(to_bo.status == 201);
    const auto t_bo = str(to_bo.json(), "thread_id");

    auto ann_h = w.portal_session("annlee");
    auto bo_h = w.portal_session("bodiaz");
    auto threads = w.c.get("/v1/portal/threads", ann_h);
    REQUIRE(threads.status == 200);
    REQUIRE(threads.json().at("items").as_array().size() == 1);
    CHECK(str(threads.json().at("items").as_array()[0], "id") == t_ann);
    auto msgs = w.c.get("/v1/portal/threads/" + t_ann + "/messages", ann_h);
    REQUIRE(msgs.status == 200);
    CHECK(str(msgs.json().at("items").as_array()[0], "body") == "Hello Ann, see you Tuesday");
    // Bo's thread is not there for Ann, and Ann's not for Bo
    CHECK(w.c.get("/v1/portal/threads/" + t_bo + "/messages", ann_h).status == 404);
    CHECK(w.c.get("/v1/portal/threads/" + t_ann + "/messages", bo_h).status == 404);
    CHECK(w.c.post("/v1/portal/messages", json::object{{"thread_id", t_bo}, {"body", "peek"}}, ann_h).status == 404);
    CHECK(w.c.get("/v1/portal/threads", bo_h).body.find(t_ann) == std::string::npos);

    // client -> staff: a reply, and a new thread with the therapist
    auto reply = w.c.post("/v1/portal/messages", json::object{{"thread_id", t_ann}, {"body", "Thanks, Tuesday works"}},
                          ann_h);
    INFO(reply.body);
    REQUIRE(reply.status == 201);
    auto opened = w.c.post("/v1/portal/messages", json::object{{"to_staff_id", therapist}, {"body", "A new question"}},
                           ann_h);
    INFO(opened.body);
    REQUIRE(opened.status == 201);
    const auto t_new = str(opened.json(), "thread_id");

    auto thread = w.c.get("/v1/messages/threads/" + t_ann, w.fresh(therapist_h, reply.json()));
    INFO(thread.body);
    REQUIRE(thread.status == 200);
    const auto thread_body = thread.json();
    const auto& messages = thread_body.at("messages").as_array();
    REQUIRE(messages.size() == 2);
    CHECK(str(messages[1], "sender_kind") == "client");
    CHECK(str(messages[1], "body") == "Thanks, Tuesday works");
    auto mine = w.c.get("/v1/messages/threads", w.fresh(therapist_h, opened.json()));
    REQUIRE(mine.status == 200);
    CHECK(mine.body.find(t_new) != std::string::npos);
    CHECK(mine.json().at("items").as_array().size() == 3);
    auto ann_threads = w.c.get("/v1/messages/threads?client_id=" + ann, therapist_h);
    REQUIRE(ann_threads.status == 200);
    CHECK(ann_threads.json().at("items").as_array().size() == 2);

    auto types = w.history_types(ann);
    CHECK(count(types, "MessageSent") == 3);
    CHECK(count(w.history_types(bo), "MessageSent") == 1);
}

TEST_CASE("kiosk: start, fetch, submit once / the token opens nothing else / the events are in the history",
          "[integration][portal][kiosk]") {
    carelogd d({});
    d.wait_ready();
    portal_world w(d, "portal-kiosk");
    auto [therapist, therapist_h] = w.staff("Tara", "Therapist", "therapist", "therapy_counseling");
    auto ann = w.add_client("Ann", "Lee");
    auto bo = w.add_client("Bo", "Diaz");
    w.assign(ann, therapist);

    CHECK(w.c.post("/v1/kiosk/sessions", json::object{{"client_id", bo}, {"form_id", "intake"}}, therapist_h).status ==
          404);  // not assigned
    auto started = w.c.post("/v1/kiosk/sessions",
                            json::object{{"client_id", ann}, {"form_id", "intake-v2"}, {"expires_in_minutes", 15}},
                            therapist_h);
    INFO(started.body);
    REQUIRE(started.status == 201);
    const auto token = str(started.json(), "token");
    const auto kiosk = bearer(token);

    auto form = w.c.get("/v1/kiosk/form", kiosk);
    INFO(form.body);
    REQUIRE(form.status == 200);
    CHECK(str(form.json(), "form_id") == "intake-v2");
    CHECK(str(form.json().at("client"), "first_name") == "Ann");
    CHECK(form.body.find("Lee") == std::string::npos);

    for (const char* target : {"/v1/portal/me", "/v1/portal/threads", "/v1/staff", "/v1/clients", "/v1/auth/session",
                               "/v1/messages/threads"})
        CHECK(w.c.get(target, kiosk).status == 401);
    CHECK(w.c.post("/v1/messages", json::object{{"client_id", ann}, {"body", "x"}}, kiosk).status == 401);
    CHECK(w.c.get("/v1/clients/" + ann + "/kiosk-sessions", kiosk).status == 401);

    auto submit = w.c.post("/v1/kiosk/form", json::object{{"answers", json::object{{"mood", "good"}, {"sleep", 7}}}},
                           kiosk);
    INFO(submit.body);
    REQUIRE(submit.status == 200);
    auto again = w.c.post("/v1/kiosk/form", json::object{{"answers", json::object{{"mood", "bad"}}}}, kiosk);
    CHECK(again.status == 409);
    CHECK(w.c.get("/v1/kiosk/form", kiosk).status == 409);

    auto listed = w.c.get("/v1/clients/" + ann + "/kiosk-sessions", w.fresh(therapist_h, submit.json()));
    INFO(listed.body);
    REQUIRE(listed.status == 200);
    const auto listed_body = listed.json();
    const auto& items = listed_body.at("items").as_array();
    REQUIRE(items.size() == 1);
    CHECK(str(items[0], "state") == "submitted");
    CHECK(str(items[0].at("answers"), "mood") == "good");

    auto types = w.history_types(ann);
    CHECK(count(types, "KioskSessionStarted") == 1);
    CHECK(count(types, "KioskFormSubmitted") == 1);
    auto history = w.c.get("/v1/clients/" + ann + "/history", w.admin).body;
    CHECK(history.find(token.substr(token.find('.') + 1)) == std::string::npos);  // only the hash
}

TEST_CASE("portal: an administrator ends every session of a portal account (a stolen phone), with a reason in the "
          "log, and the client logs in again",
          "[integration][portal][recovery]") {
    carelogd d({});
    d.wait_ready();
    portal_world w(d, "portal-recovery");
    auto client = w.add_client("Ann", "Lost");
    auto account = w.register_portal(client, "ann.lost");
    auto phone = w.portal_login("ann.lost", portal_password);
    auto laptop = w.portal_login("ann.lost", portal_password);
    REQUIRE(phone.status == 200);
    REQUIRE(laptop.status == 200);
    const auto on_phone = bearer(str(phone.json(), "token"));
    const auto on_laptop = bearer(str(laptop.json(), "token"));
    REQUIRE(w.c.get("/v1/portal/me", on_phone).status == 200);

    auto [therapist, therapist_h] = w.staff("Tara", "Therapist", "therapist", "administration");
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/sessions/end", json::object{}, therapist_h).status == 403);
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/sessions/end",
                   json::object{{"reason", std::string(501, 'x')}}, w.admin)
              .status == 422);
    CHECK(w.c.post("/v1/portal/accounts/nope/sessions/end", json::object{}, w.admin).status == 404);
    auto ended = w.c.post("/v1/portal/accounts/" + account + "/sessions/end",
                          json::object{{"reason", "phone stolen, reported by the client"}}, w.admin);
    INFO(ended.body);
    REQUIRE(ended.status == 200);

    CHECK(w.c.get("/v1/portal/me", on_phone).status == 401);
    CHECK(w.c.get("/v1/portal/me", on_laptop).status == 401);
    auto again = w.portal_login("ann.lost", portal_password);
    REQUIRE(again.status == 200);
    CHECK(w.c.get("/v1/portal/me", bearer(str(again.json(), "token"))).status == 200);

    auto types = w.history_types(client);
    CHECK(count(types, "PortalSessionEnded") == 2);
    CHECK(d.log_shows("recovery: all sessions ended of portal account " + account));
    CHECK(d.log_shows("phone stolen, reported by the client"));
}

TEST_CASE("portal: an administrator gives a client who lost their password a temporary one, and the client must choose "
          "their own before anything else",
          "[integration][portal][recovery]") {
    carelogd d({});
    d.wait_ready();
    portal_world w(d, "portal-temporary");
    auto client = w.add_client("Ben", "Forgot");
    auto account = w.register_portal(client, "ben.forgot");
    auto old_session = w.portal_login("ben.forgot", portal_password);
    REQUIRE(old_session.status == 200);
    CHECK_FALSE(old_session.json().at("require_password_change").as_bool());
    const auto old_h = bearer(str(old_session.json(), "token"));

    auto [therapist, therapist_h] = w.staff("Tia", "Therapist", "therapist", "administration");
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/temporary-password", json::object{{"reason", "x"}}, therapist_h)
              .status == 403);
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/temporary-password", json::object{}, w.admin).status == 422);
    CHECK(w.c.post("/v1/portal/accounts/" + account + "/temporary-password",
                   json::object{{"reason", "called the front desk"}, {"temporary_password", "short"}}, w.admin)
              .status == 422);
    auto set = w.c.post("/v1/portal/accounts/" + account + "/temporary-password",
                        json::object{{"reason", "called the front desk, identity checked"}}, w.admin);
    INFO(set.body);
    REQUIRE(set.status == 200);
    const std::string temporary = str(set.json(), "temporary_password");
    REQUIRE(temporary.size() >= 12);

    // the old session ended (asked with the command's consistency token: another session's write);
    // the old password no longer works; the temporary one does, restricted
    auto old_after = old_h;
    old_after["X-Consistency-Token"] = str(set.json(), "consistency_token");
    CHECK(w.c.get("/v1/portal/me", old_after).status == 401);
    CHECK(w.portal_login("ben.forgot", portal_password).status == 401);
    auto login = w.portal_login("ben.forgot", temporary);
    REQUIRE(login.status == 200);
    CHECK(login.json().at("require_password_change").as_bool());
    const auto h = bearer(str(login.json(), "token"));
    auto me = w.c.get("/v1/portal/me", h);
    REQUIRE(me.status == 200);
    CHECK(me.json().at("portal_account").at("require_password_change").as_bool());
    auto refused = w.c.get("/v1/portal/threads", h);
    CHECK(refused.status == 403);
    CHECK(refused.body.find("temporary password") != std::string::npos);

    // the client's own choice: a wrong current password and the policy are told by field
    auto wrong = w.c.post("/v1/portal/password",
                          json::object{{"current_password", "Not-The-One-1!"}, {"new_password", "Ben-Own-Pass-2026!"}}, h);
    CHECK(wrong.status == 422);
    CHECK(wrong.body.find("current_password") != std::string::npos);
    CHECK(w.c.post("/v1/portal/password", json::object{{"current_password", temporary}, {"new_password", "short"}}, h)
              .status == 422);
    auto changed = w.c.post("/v1/portal/password",
                            json::object{{"current_password", temporary}, {"new_password", "Ben-Own-Pass-2026!"}}, h);
    INFO(changed.body);
    REQUIRE(changed.status == 200);
    CHECK(w.c.get("/v1/portal/threads", h).status == 200);
    CHECK(w.portal_login("ben.forgot", temporary).status == 401);
    auto fresh = w.portal_login("ben.forgot", "Ben-Own-Pass-2026!");
    REQUIRE(fresh.status == 200);
    CHECK_FALSE(fresh.json().at("require_password_change").as_bool());

    // both changes are in the client's history, with the reason and without the hash
    auto types = w.history_types(client);
    CHECK(count(types, "PortalPasswordChanged") == 2);
    bool no_hash = true;
    for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "events"))
        if (rec.find(temporary) != std::string::npos || rec.find("Ben-Own-Pass-2026!") != std::string::npos) no_hash = false;
    CHECK(no_hash);
}
