// The client portal, messaging and kiosk at the HTTP layer, over handle() with a real store and a
// command bus that decides with the real domain (the writer without Kafka: decide against the
// state folded from the store, apply the events to the store), so lockout, scoping and the
// domain's refusals reach the handlers as they do in carelogd. Also the new auth kinds walked over
// the whole route table: a staff token opens no portal or kiosk route and the other way round.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "api_fixture.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/api/writer_gateway.hpp"
#include "carelog/writer/agency_log.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/router.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using verb = boost::beast::http::verb;

namespace {

const std::string portal_password = "Portal-Pass-2026!x";

verb verb_of(std::string_view m) {
    if (m == "GET") return verb::get;
    if (m == "POST") return verb::post;
    if (m == "PUT") return verb::put;
    if (m == "PATCH") return verb::patch;
    return verb::delete_;
}

std::string fill(std::string_view pattern, const std::string& id) {
    std::string out(pattern);
    for (auto i = out.find('{'); i != std::string::npos; i = out.find('{')) out.replace(i, out.find('}', i) - i + 1, id);
    return out;
}

std::string str(const json::value& v, std::string_view key) { return std::string(v.at(key).as_string()); }

// The agency's state as the writer would hold it, folded from the store: settings, every staff
// member's and every client's events.
aggregates::agency_state fold(api_fixture& f, const std::string& agency) {
    aggregates::agency_state s;
    s.id = agency;
    auto view = f.store->agency(agency);
    if (!view) return s;
    s.exists = true;
    s.slug = std::string(view->at("slug").as_string());
    s.settings = settings_from_view(view->at("settings").as_object());
    auto staff = f.store->list_staff(agency, {}, 500, std::nullopt);
    for (const auto& v : staff->items)
        for (const auto& e : f.store->staff_events(agency, str(v, "id"), 0)) aggregates::evolve(s, e);
    auto clients = f.store->list_clients(agency, {"", "administration"}, {}, 500, std::nullopt);
    for (const auto& v : clients->items)
        for (const auto& e : f.store->client_events(agency, str(v, "id"), 0)) aggregates::evolve(s, e);
    return s;
}

// The domain as the bus: decide, stamp and fold like the writer (the answer's body shaped from
// the events as the gateway shapes it), then apply the events to the store at the next offsets.
result<command_result> decide_and_apply(api_fixture& f, const std::string& agency, const aggregates::command& cmd) {
    writer::agency_log log;
    log.state = fold(f, agency);
    auto decided = aggregates::decide(log.state, cmd);
    if (!decided) return std::unexpected(decided.error());
    command_result r;
    if (decided->empty()) {
        r.aggregate_id = agency;
        r.body = json::object{{"id", agency}};
        return r;
    }
    counting_ids ids;
    ids.next = 900'000;
    writer::stamp_meta meta{agency, "actor", uuid(ids.next++), "corr", f.clock.t};
    for (auto& s : writer::stamp(log, *decided, meta, ids)) {
        CHECK(writer::apply(log, s.env, "0-1"));
        r.events.push_back(s.env);
    }
    for (const auto& d : *decided) f.feed.push(agency, d.aggregate_id, d.data, std::string(events::aggregate_type_of(d)));
    r.aggregate_id = r.events.front().aggregate_id;
    for (const auto& e : r.events)
        if (e.aggregate_id == r.aggregate_id) r.version = e.aggregate_version;
    r.consistency_token = "0-1";
    r.body = body_of(r.events, r.aggregate_id);
    return r;
}

// Agency A with messaging on; a therapist assigned to client 1 (with the messaging permission), a
// scheduler, clients 1 and 2 with portal accounts "annlee" and "bodiaz" (password portal_password).
struct portal_fixture : api_fixture {
    std::string therapist = uuid(12), scheduler = uuid(13);
    std::string client1 = uuid(50), client2 = uuid(51);
    std::string account1 = uuid(60), account2 = uuid(61);
    std::string therapist_token, scheduler_token;

    portal_fixture() {
        bus.responder = [this](const std::string& agency, const aggregates::command& c) {
            return decide_and_apply(*this, agency, c);
        };
        status.answers["0-1"] = true;
        events::Settings on;
        on.messaging_enabled = true;
        on.client_portal_enabled = true;
        feed.push(agency_a, agency_a, events::AgencySettingsChanged{on});
        auto t = staff_created("Tara", "Therapist", "ttherapist", "therapist");
        t.require_password_change = false;
        feed.push(agency_a, therapist, t);
        feed.push(agency_a, therapist, events::ModulePermissionGranted{"messaging"});
        auto s = staff_created("Sam", "Scheduler", "sscheduler", "scheduler");
        s.require_password_change = false;
        s.staff_type = "administration";
        feed.push(agency_a, scheduler, s);
        therapist_token = login(agency_a, therapist, "therapist");
        scheduler_token = login(agency_a, scheduler, "scheduler");

        auto hash = hash_password(portal_password);
        REQUIRE(hash.has_value());
        add_client(client1, "Ann", "Lee", account1, "annlee", *hash, 'a');
        add_client(client2, "Bo", "Diaz", account2, "bodiaz", *hash, 'b');
        feed.push(agency_a, client1, events::StaffAssignedToClient{therapist});
    }

    void add_client(const std::string& id, std::string first, std::string last, const std::string& account,
                    const std::string& username, const std::string& hash, char tag) {
        feed.push(agency_a, id, events::ClientAdded{std::move(first), std::move(last), "1985-04-12", "c@example.org", "", ""});
        const std::string invitation = uuid(70 + (tag - 'a'));
        feed.push(agency_a, id, events::InvitationSent{invitation, "c@example.org", feed.clock + 3600 * second, std::string(64, tag)});
        feed.push(agency_a, id, events::InvitationAccepted{invitation, account});
        feed.push(agency_a, id, events::PortalUsernameChosen{account, username, hash});
    }

    // A live portal session (PortalLoginSucceeded with the hash of "<agency>.<tag>").
    std::string portal_login_as(const std::string& client, const std::string& account, const std::string& tag) {
        std::string token = agency_a + "." + tag;
        feed.push(agency_a, client, events::PortalLoginSucceeded{account, token_hash(token), "127.0.0.1", "test"});
        return token;
    }

    http_response portal_login(const std::string& slug, const std::string& user, const std::string& password) {
        return request(verb::post, "/v1/portal/login",
                       json::serialize(json::object{{"agency", slug}, {"username", user}, {"password", password}}),
                       {{"User-Agent", "portal-unit/1"}});
    }

    // Event types of the client's history, in order.
    std::vector<std::string> history_types(const std::string& client) {
        std::vector<std::string> out;
        for (const auto& e : store->client_history(agency_a, client)) out.emplace_back(e.at("event_type").as_string());
        return out;
    }
    std::string staff_thread(const std::string& token, const std::string& client, const std::string& text) {
        auto res = request(verb::post, "/v1/messages",
                           json::serialize(json::object{{"client_id", client}, {"body", text}}), bearer(token));
        INFO(res.body());
        REQUIRE(res.result_int() == 201);
        return str(body_of(res), "thread_id");
    }
};

std::size_t count(const std::vector<std::string>& v, std::string_view x) {
    return static_cast<std::size_t>(std::count(v.begin(), v.end(), x));
}

}  // namespace

TEST_CASE("portal: login answers a token; wrong user, wrong password, unknown agency and a lock get one 401",
          "[api][portal][login]") {
    portal_fixture f;
    auto ok = f.portal_login("sunrise", "AnnLee", portal_password);  // usernames are case-insensitive
    INFO(ok.body());
    REQUIRE(ok.result_int() == 200);
    auto b = body_of(ok);
    const std::string token = str(b, "token");
    CHECK(token.starts_with(f.agency_a + "."));
    CHECK(str(b.at("portal_account"), "id") == f.account1);
    CHECK(str(b.at("portal_account"), "client_id") == f.client1);
    CHECK(str(b.at("portal_account"), "username") == "annlee");
    CHECK(str(b, "expires_at") == format_rfc3339(f.clock.t + 30 * 60 * second));
    // the token works at once, for the portal only
    auto me = f.request(verb::get, "/v1/portal/me", "", f.bearer(token));
    REQUIRE(me.result_int() == 200);
    CHECK(str(body_of(me).at("client"), "first_name") == "Ann");
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", f.bearer(token)), 401));
    // only its hash is in the log
    auto history = json::serialize(f.store->client_history(f.agency_a, f.client1));
    CHECK(history.find(token_hash(token)) != std::string::npos);
    CHECK(history.find(token.substr(token.find('.') + 1)) == std::string::npos);
    CHECK(history.find("portal-unit/1") != std::string::npos);

    auto unknown_agency = f.portal_login("no-such-agency", "annlee", portal_password);
    auto unknown_user = f.portal_login("sunrise", "nobody", portal_password);
    auto staff_name = f.portal_login("sunrise", "tjones", portal_password);  // staff are not portal users
    auto bad_password = f.portal_login("sunrise", "annlee", "Wrong-Pass-2026!x");
    for (const auto* r : {&unknown_agency, &unknown_user, &staff_name, &bad_password}) {
        INFO(r->body());
        CHECK(is_problem(*r, 401));
        CHECK(r->body() == unknown_agency.body());
    }
    CHECK(str(body_of(unknown_agency), "detail") == "invalid credentials");

    // lockout by the agency's policy (default: 5 consecutive failures, 30 minutes)
    for (int i = 0; i < 4; ++i) CHECK(is_problem(f.portal_login("sunrise", "annlee", "Wrong-Pass-2026!x"), 401));
    auto locked = f.portal_login("sunrise", "annlee", portal_password);
    CHECK(is_problem(locked, 401));
    CHECK(locked.body() == unknown_agency.body());
    auto types = f.history_types(f.client1);
    CHECK(count(types, "PortalLoginFailed") == 6);  // 5 bad passwords, then the lock in force
    CHECK(count(types, "PortalAccountLocked") == 1);
    CHECK(count(types, "PortalLoginSucceeded") == 1);
    CHECK(f.store->portal_account(f.agency_a, f.account1)->at("locked").as_bool());
    // the other client's account is untouched
    CHECK(f.portal_login("sunrise", "bodiaz", portal_password).result_int() == 200);

    // the lock lapses after 30 minutes
    f.clock.t += 31 * 60 * second;
    CHECK(f.portal_login("sunrise", "annlee", portal_password).result_int() == 200);
    CHECK(count(f.history_types(f.client1), "PortalAccountUnlocked") == 1);
}

TEST_CASE("portal: administrators unlock a portal account; others may not", "[api][portal][lockout]") {
    portal_fixture f;
    for (int i = 0; i < 5; ++i) CHECK(is_problem(f.portal_login("sunrise", "bodiaz", "Wrong-Pass-2026!x"), 401));
    CHECK(is_problem(f.portal_login("sunrise", "bodiaz", portal_password), 401));
    const std::string target = "/v1/portal/accounts/" + f.account2 + "/unlock";
    CHECK(is_problem(f.request(verb::post, target, "", f.bearer(f.therapist_token)), 403));
    CHECK(is_problem(f.request(verb::post, "/v1/portal/accounts/" + uuid(99) + "/unlock", "", f.as_agency(f.agency_a)), 404));
    // agency B's administrator does not find agency A's account
    CHECK(is_problem(f.request(verb::post, target, "", f.as_agency(f.agency_b)), 404));
    auto res = f.request(verb::post, target, "", f.as_agency(f.agency_a));
    INFO(res.body());
    REQUIRE(res.result_int() == 200);
    CHECK(body_of(res).at("consistency_token").is_string());
    CHECK_FALSE(f.store->portal_account(f.agency_a, f.account2)->at("locked").as_bool());
    CHECK(f.portal_login("sunrise", "bodiaz", portal_password).result_int() == 200);
    auto history = json::serialize(f.store->client_history(f.agency_a, f.client2));
    CHECK(history.find("\"by\":\"admin\"") != std::string::npos);
}

TEST_CASE("portal: logout ends the session; a session ends after the idle timeout", "[api][portal][sessions]") {
    portal_fixture f;
    auto token = f.portal_login_as(f.client1, f.account1, "ann-1");
    CHECK(f.request(verb::get, "/v1/portal/me", "", f.bearer(token)).result_int() == 200);
    auto out = f.request(verb::post, "/v1/portal/logout", "", f.bearer(token));
    INFO(out.body());
    CHECK(out.result_int() == 200);
    CHECK(f.history_types(f.client1).back() == "PortalSessionEnded");
    CHECK(is_problem(f.request(verb::get, "/v1/portal/me", "", f.bearer(token)), 401));

    auto idle = f.portal_login_as(f.client1, f.account1, "ann-2");
    f.clock.t = f.feed.clock + 29 * 60 * second;
    CHECK(f.request(verb::get, "/v1/portal/threads", "", f.bearer(idle)).result_int() == 200);
    f.clock.t = f.feed.clock + 30 * 60 * second;
    auto late = f.request(verb::get, "/v1/portal/threads", "", f.bearer(idle));
    CHECK(is_problem(late, 401));
    CHECK(str(body_of(late), "detail").find("expired") != std::string::npos);
}

TEST_CASE("portal: a portal session in use slides: its activity is recorded and it outlives the idle timeout from login",
          "[api][portal][sessions]") {
    portal_fixture f;
    auto token = f.portal_login_as(f.client1, f.account1, "ann-1");
    f.clock.t = f.feed.clock + 20 * 60 * second;
    f.bus.will_succeed(f.client1, 9, "0-90");
    CHECK(f.request(verb::get, "/v1/portal/threads", "", f.bearer(token)).result_int() == 200);
    REQUIRE_FALSE(f.bus.calls.empty());
    const auto& touch = f.bus.last<aggregates::touch_portal_session>();
    CHECK(touch.session_id == token_hash(token));
    CHECK(f.bus.calls.back().meta.actor_id == f.account1);
    // The touch reaches the store: 40 minutes after login (20 after the touch) the session is live.
    f.feed.push(f.agency_a, f.client1, events::PortalSessionTouched{f.account1, token_hash(token)});
    f.clock.t = f.feed.clock + 20 * 60 * second;
    CHECK(f.request(verb::get, "/v1/portal/threads", "", f.bearer(token)).result_int() == 200);
}

TEST_CASE("portal: me shows the client's own profile and the staff they may write to", "[api][portal]") {
    portal_fixture f;
    auto token = f.portal_login_as(f.client1, f.account1, "ann");
    auto me = body_of(f.request(verb::get, "/v1/portal/me", "", f.bearer(token)));
    CHECK(str(me.at("client"), "id") == f.client1);
    CHECK(str(me.at("client"), "last_name") == "Lee");
    CHECK_FALSE(me.at("client").as_object().contains("external_id"));
    CHECK(str(me.at("portal_account"), "username") == "annlee");
    CHECK_FALSE(me.at("portal_account").as_object().contains("locked"));
    CHECK(str(me.at("agency"), "slug") == "sunrise");
    CHECK(str(me.at("agency"), "name") == "Sunrise Counseling");
    const auto& staff = me.at("staff").as_array();
    REQUIRE(staff.size() == 1);
    CHECK(str(staff[0], "id") == f.therapist);
    CHECK(staff[0].at("messaging").as_bool());
    CHECK(me.at("session").at("expires_at").is_string());
    CHECK(json::serialize(me).find("argon2") == std::string::npos);
}

TEST_CASE("messaging: a portal client sees only their own threads; another client's thread is 404",
          "[api][portal][messaging]") {
    portal_fixture f;
    const auto admin = f.admin_token(f.agency_a);
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::ModulePermissionGranted{"messaging"});
    auto t1 = f.staff_thread(f.therapist_token, f.client1, "Hello Ann");
    auto t2 = f.staff_thread(admin, f.client2, "Hello Bo");
    auto ann = f.portal_login_as(f.client1, f.account1, "ann");
    auto bo = f.portal_login_as(f.client2, f.account2, "bo");

    auto mine = body_of(f.request(verb::get, "/v1/portal/threads", "", f.bearer(ann)));
    REQUIRE(mine.at("items").as_array().size() == 1);
    CHECK(str(mine.at("items").as_array()[0], "id") == t1);
    CHECK(mine.at("next_cursor").is_null());
    auto msgs = body_of(f.request(verb::get, "/v1/portal/threads/" + t1 + "/messages", "", f.bearer(ann)));
    REQUIRE(msgs.at("items").as_array().size() == 1);
    CHECK(str(msgs.at("items").as_array()[0], "body") == "Hello Ann");
    CHECK(str(msgs.at("items").as_array()[0], "sender_kind") == "staff");

    // Bo's thread does not exist for Ann, whatever she does with it
    const auto calls = f.bus.calls.size();
    CHECK(is_problem(f.request(verb::get, "/v1/portal/threads/" + t2 + "/messages", "", f.bearer(ann)), 404));
    CHECK(is_problem(f.request(verb::post, "/v1/portal/messages",
                               json::serialize(json::object{{"thread_id", t2}, {"body", "peek"}}), f.bearer(ann)),
                     404));
    CHECK(f.bus.calls.size() == calls);
    CHECK(f.request(verb::get, "/v1/portal/threads", "", f.bearer(bo)).body().find(t1) == std::string::npos);

    // Ann answers in her thread and starts one with her therapist
    auto reply = f.request(verb::post, "/v1/portal/messages",
                           json::serialize(json::object{{"thread_id", t1}, {"body", "Thanks!"}}), f.bearer(ann));
    INFO(reply.body());
    REQUIRE(reply.result_int() == 201);
    CHECK(str(body_of(reply), "thread_id") == t1);
    CHECK(f.bus.last<aggregates::send_message>().sender_id == f.account1);
    auto fresh = f.request(verb::post, "/v1/portal/messages",
                           json::serialize(json::object{{"to_staff_id", f.therapist}, {"body", "New question"}}),
                           f.bearer(ann));
    INFO(fresh.body());
    REQUIRE(fresh.result_int() == 201);
    auto t3 = str(body_of(fresh), "thread_id");
    CHECK(t3 != t1);
    CHECK(body_of(f.request(verb::get, "/v1/portal/threads", "", f.bearer(ann))).at("items").as_array().size() == 2);
    // a staff member not assigned to her is refused by the domain (422 on to_staff_id)
    auto stranger = f.request(verb::post, "/v1/portal/messages",
                              json::serialize(json::object{{"to_staff_id", f.admin_of(f.agency_a)}, {"body", "Hi"}}),
                              f.bearer(ann));
    CHECK(is_problem(stranger, 422));
    CHECK(problem_fields(stranger) == std::vector<std::string>{"to_staff_id"});
    // both or neither of thread_id / to_staff_id
    CHECK(is_problem(f.request(verb::post, "/v1/portal/messages", json::serialize(json::object{{"body", "x"}}), f.bearer(ann)),
                     422));

    // the therapist sees Ann's reply in the thread
    auto thread = body_of(f.request(verb::get, "/v1/messages/threads/" + t1, "", f.bearer(f.therapist_token)));
    REQUIRE(thread.at("messages").as_array().size() == 2);
    CHECK(str(thread.at("messages").as_array()[1], "sender_kind") == "client");
    CHECK(str(thread.at("messages").as_array()[1], "body") == "Thanks!");
    CHECK(thread.at("next_cursor").is_null());
    // a page of one, and the cursor to the next
    auto one = body_of(f.request(verb::get, "/v1/messages/threads/" + t1 + "?limit=1", "", f.bearer(f.therapist_token)));
    REQUIRE(one.at("messages").as_array().size() == 1);
    REQUIRE(one.at("next_cursor").is_string());
    auto next = body_of(f.request(verb::get,
                                  "/v1/messages/threads/" + t1 + "?limit=1&cursor=" + str(one, "next_cursor"), "",
                                  f.bearer(f.therapist_token)));
    REQUIRE(next.at("messages").as_array().size() == 1);
    CHECK(str(next.at("messages").as_array()[0], "body") == "Thanks!");
    CHECK(next.at("next_cursor").is_null());
    CHECK(is_problem(f.request(verb::get, "/v1/messages/threads/" + t1 + "?cursor=zzz", "", f.bearer(f.therapist_token)),
                     422));
}

TEST_CASE("messaging: staff without the messaging module get 403 naming what is missing", "[api][messaging]") {
    portal_fixture f;
    const json::object msg{{"client_id", f.client1}, {"body", "Hello"}};
    // the scheduler sees every client (administration type) but lacks the permission
    auto res = f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(f.scheduler_token));
    INFO(res.body());
    CHECK(is_problem(res, 403));
    CHECK(str(body_of(res), "detail") == "the staff member lacks the messaging permission");

    events::Settings off;
    off.messaging_enabled = false;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{off});
    res = f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(f.scheduler_token));
    CHECK(is_problem(res, 403));
    CHECK(str(body_of(res), "detail") ==
          "the agency's messaging_enabled is off; the staff member lacks the messaging permission");
    // the therapist has the permission, but the switch is off
    res = f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(f.therapist_token));
    CHECK(is_problem(res, 403));
    CHECK(str(body_of(res), "detail") == "the agency's messaging_enabled is off");
    CHECK(f.store->client_threads(f.agency_a, f.client1).empty());

    // reading: a thread the scheduler may see but not open without the module
    events::Settings on;
    on.messaging_enabled = true;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{on});
    auto t1 = f.staff_thread(f.therapist_token, f.client1, "Hello Ann");
    auto read = f.request(verb::get, "/v1/messages/threads/" + t1, "", f.bearer(f.scheduler_token));
    CHECK(is_problem(read, 403));
    CHECK(str(body_of(read), "detail") == "the staff member lacks the messaging permission");
    CHECK(is_problem(f.request(verb::get, "/v1/messages/threads", "", f.bearer(f.scheduler_token)), 403));
    // granted: it opens
    f.feed.push(f.agency_a, f.scheduler, events::ModulePermissionGranted{"messaging"});
    CHECK(f.request(verb::get, "/v1/messages/threads/" + t1, "", f.bearer(f.scheduler_token)).result_int() == 200);
}

TEST_CASE("messaging: staff see threads only of clients they may see", "[api][messaging]") {
    portal_fixture f;
    const auto admin = f.admin_token(f.agency_a);
    f.feed.push(f.agency_a, f.admin_of(f.agency_a), events::ModulePermissionGranted{"messaging"});
    auto t1 = f.staff_thread(f.therapist_token, f.client1, "Hello Ann");
    auto t2 = f.staff_thread(admin, f.client2, "Hello Bo");

    // the therapist is assigned to client 1 only
    CHECK(is_problem(f.request(verb::get, "/v1/messages/threads/" + t2, "", f.bearer(f.therapist_token)), 404));
    CHECK(is_problem(f.request(verb::get, "/v1/messages/threads?client_id=" + f.client2, "", f.bearer(f.therapist_token)),
                     404));
    auto msg = json::object{{"client_id", f.client2}, {"body", "Hi"}};
    CHECK(is_problem(f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(f.therapist_token)), 404));
    // a thread id of another client is 404 too, even with a client the therapist sees
    msg = json::object{{"client_id", f.client1}, {"thread_id", t2}, {"body", "Hi"}};
    CHECK(is_problem(f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(f.therapist_token)), 404));

    auto own = body_of(f.request(verb::get, "/v1/messages/threads", "", f.bearer(f.therapist_token)));
    REQUIRE(own.at("items").as_array().size() == 1);
    CHECK(str(own.at("items").as_array()[0], "id") == t1);
    auto by_client = body_of(f.request(verb::get, "/v1/messages/threads?client_id=" + f.client1, "", f.bearer(admin)));
    REQUIRE(by_client.at("items").as_array().size() == 1);
    // the admin (administration type) writes into the therapist's thread with client 1
    msg = json::object{{"client_id", f.client1}, {"thread_id", t1}, {"body", "Covering today"}};
    auto covered = f.request(verb::post, "/v1/messages", json::serialize(msg), f.bearer(admin));
    INFO(covered.body());
    REQUIRE(covered.result_int() == 201);
    CHECK(str(body_of(covered), "thread_id") == t1);
    CHECK(body_of(covered).at("consistency_token").is_string());

    // unassigned, the therapist no longer sees client 1's threads
    f.feed.push(f.agency_a, f.client1, events::StaffUnassignedFromClient{f.therapist});
    CHECK(body_of(f.request(verb::get, "/v1/messages/threads", "", f.bearer(f.therapist_token))).at("items").as_array().empty());
    CHECK(is_problem(f.request(verb::get, "/v1/messages/threads/" + t1, "", f.bearer(f.therapist_token)), 404));
}

TEST_CASE("messaging: lists page with limit and cursor; a foreign cursor is 400", "[api][messaging]") {
    portal_fixture f;
    for (int i = 0; i < 3; ++i) f.staff_thread(f.therapist_token, f.client1, "Note " + std::to_string(i));
    auto ann = f.portal_login_as(f.client1, f.account1, "ann");
    std::vector<std::string> seen;
    std::string target = "/v1/portal/threads?limit=2";
    for (int pages = 0; pages < 5; ++pages) {
        auto b = body_of(f.request(verb::get, target, "", f.bearer(ann)));
        for (const auto& t : b.at("items").as_array()) seen.push_back(str(t, "id"));
        if (b.at("next_cursor").is_null()) break;
        target = "/v1/portal/threads?limit=2&cursor=" + str(b, "next_cursor");
    }
    REQUIRE(seen.size() == 3);
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == 3);
    CHECK(is_problem(f.request(verb::get, "/v1/portal/threads?cursor=zz", "", f.bearer(ann)), 400));
    CHECK(is_problem(f.request(verb::get, "/v1/portal/threads?cursor=99", "", f.bearer(ann)), 400));
    CHECK(is_problem(f.request(verb::get, "/v1/portal/threads?limit=0", "", f.bearer(ann)), 422));
}

TEST_CASE("kiosk: start, fetch, submit once; the token opens nothing else", "[api][kiosk]") {
    portal_fixture f;
    auto started = f.request(verb::post, "/v1/kiosk/sessions",
                             json::serialize(json::object{{"client_id", f.client1}, {"form_id", "intake-v2"},
                                                          {"appointment_id", "appt-7"}}),
                             f.bearer(f.therapist_token));
    INFO(started.body());
    REQUIRE(started.result_int() == 201);
    auto s = body_of(started);
    const std::string token = str(s, "token"), kiosk_id = str(s, "kiosk_session_id");
    CHECK(token.starts_with(f.agency_a + "."));
    CHECK(str(s, "expires_at") == format_rfc3339(f.clock.t + 3600 * second));
    // only the token's hash is in the log
    auto history = json::serialize(f.store->client_history(f.agency_a, f.client1));
    CHECK(history.find(token.substr(token.find('.') + 1)) == std::string::npos);
    CHECK(history.find(token_hash(token)) != std::string::npos);

    auto form = f.request(verb::get, "/v1/kiosk/form", "", f.bearer(token));
    INFO(form.body());
    REQUIRE(form.result_int() == 200);
    auto fb = body_of(form);
    CHECK(str(fb, "kiosk_session_id") == kiosk_id);
    CHECK(str(fb, "form_id") == "intake-v2");
    CHECK(str(fb, "appointment_id") == "appt-7");
    CHECK(fb.at("document_id").is_null());
    CHECK(str(fb.at("client"), "first_name") == "Ann");
    CHECK(form.body().find("Lee") == std::string::npos);  // the first name only
    CHECK(form.body().find("1985") == std::string::npos);

    // the kiosk token is no bearer for anything else
    for (auto [method, target] : {std::pair{verb::get, "/v1/portal/me"}, std::pair{verb::get, "/v1/portal/threads"},
                                  std::pair{verb::get, "/v1/staff"}, std::pair{verb::get, "/v1/auth/session"}})
        CHECK(is_problem(f.request(method, target, "", f.bearer(token)), 401));
    CHECK(is_problem(f.request(verb::get, "/v1/clients/" + f.client1 + "/kiosk-sessions", "", f.bearer(token)), 401));

    CHECK(is_problem(f.request(verb::post, "/v1/kiosk/form", json::serialize(json::object{{"answers", "yes"}}),
                               f.bearer(token)),
                     422));
    auto submit = f.request(verb::post, "/v1/kiosk/form",
                            json::serialize(json::object{{"answers", json::object{{"q1", "yes"}, {"q2", 3}}}}),
                            f.bearer(token));
    INFO(submit.body());
    REQUIRE(submit.result_int() == 200);
    CHECK(f.bus.last<aggregates::submit_kiosk_form>().token_hash == token_hash(token));
    auto again = f.request(verb::post, "/v1/kiosk/form",
                           json::serialize(json::object{{"answers", json::object{{"q1", "no"}}}}), f.bearer(token));
    CHECK(is_problem(again, 409));
    CHECK(is_problem(f.request(verb::get, "/v1/kiosk/form", "", f.bearer(token)), 409));
    auto types = f.history_types(f.client1);
    CHECK(count(types, "KioskSessionStarted") == 1);
    CHECK(count(types, "KioskFormSubmitted") == 1);

    // staff who may see the client list it; the answers only with clinical.read
    auto listed = body_of(f.request(verb::get, "/v1/clients/" + f.client1 + "/kiosk-sessions", "", f.bearer(f.therapist_token)));
    REQUIRE(listed.at("items").as_array().size() == 1);
    auto k = listed.at("items").as_array()[0].as_object();
    CHECK(str(k, "state") == "submitted");
    CHECK(k.at("answers").at("q1") == "yes");
    auto plain = body_of(f.request(verb::get, "/v1/clients/" + f.client1 + "/kiosk-sessions", "", f.bearer(f.scheduler_token)));
    REQUIRE(plain.at("items").as_array().size() == 1);
    CHECK_FALSE(plain.at("items").as_array()[0].as_object().contains("answers"));
    CHECK(is_problem(f.request(verb::get, "/v1/clients/" + f.client2 + "/kiosk-sessions", "", f.bearer(f.therapist_token)),
                     404));
    CHECK(is_problem(f.request(verb::get, "/v1/clients/" + f.client1 + "/kiosk-sessions", "", f.as_agency(f.agency_b)),
                     404));
}

TEST_CASE("kiosk: an expired token is 401; a kiosk needs a client the staff member may see", "[api][kiosk]") {
    portal_fixture f;
    auto start = [&](const std::string& client, json::object extra = {}) {
        json::object b{{"client_id", client}, {"document_id", "doc-1"}};
        for (auto& kv : extra) b[kv.key()] = kv.value();
        return f.request(verb::post, "/v1/kiosk/sessions", json::serialize(b), f.bearer(f.therapist_token));
    };
    CHECK(is_problem(start(f.client2), 404));  // not assigned
    CHECK(is_problem(start(f.client1, {{"form_id", "intake"}}), 422));  // both form and document
    CHECK(is_problem(start(f.client1, {{"expires_in_minutes", 0}}), 422));
    CHECK(is_problem(start(f.client1, {{"expires_in_minutes", 1441}}), 422));
    auto ok = start(f.client1, {{"expires_in_minutes", 10}});
    INFO(ok.body());
    REQUIRE(ok.result_int() == 201);
    const std::string token = str(body_of(ok), "token");
    CHECK(f.bus.last<aggregates::start_kiosk>().expires_at == f.clock.t + 10 * 60 * second);
    CHECK(f.request(verb::get, "/v1/kiosk/form", "", f.bearer(token)).result_int() == 200);

    f.clock.t += 10 * 60 * second;
    CHECK(is_problem(f.request(verb::get, "/v1/kiosk/form", "", f.bearer(token)), 401));
    CHECK(is_problem(f.request(verb::post, "/v1/kiosk/form", json::serialize(json::object{{"answers", json::object{}}}),
                               f.bearer(token)),
                     401));
    CHECK(is_problem(f.request(verb::get, "/v1/kiosk/form", "", f.bearer(f.agency_a + ".made-up")), 401));
    auto listed = body_of(f.request(verb::get, "/v1/clients/" + f.client1 + "/kiosk-sessions", "", f.bearer(f.therapist_token)));
    CHECK(str(listed.at("items").as_array()[0], "state") == "expired");
}

TEST_CASE("auth kinds: staff, portal and kiosk tokens each open only their own routes", "[api][portal][auth]") {
    portal_fixture f;
    const auto staff = f.admin_token(f.agency_a);
    const auto portal = f.portal_login_as(f.client1, f.account1, "ann");
    auto kiosk_res = f.request(verb::post, "/v1/kiosk/sessions",
                               json::serialize(json::object{{"client_id", f.client1}, {"form_id", "intake"}}),
                               f.bearer(staff));
    REQUIRE(kiosk_res.result_int() == 201);
    const auto kiosk = str(body_of(kiosk_res), "token");
    // each token works on a route of its own kind (so a 401 below is about the kind, not the token)
    CHECK(f.request(verb::get, "/v1/staff", "", f.bearer(staff)).result_int() == 200);
    CHECK(f.request(verb::get, "/v1/portal/me", "", f.bearer(portal)).result_int() == 200);
    CHECK(f.request(verb::get, "/v1/kiosk/form", "", f.bearer(kiosk)).result_int() == 200);

    const std::map<auth_kind, std::vector<std::pair<std::string, std::string>>> wrong = {
        {auth_kind::session, {{"portal", portal}, {"kiosk", kiosk}}},
        {auth_kind::portal_session, {{"staff", staff}, {"kiosk", kiosk}}},
        {auth_kind::kiosk, {{"staff", staff}, {"portal", portal}}},
    };
    const auto calls = f.bus.calls.size();
    std::map<auth_kind, int> walked;
    for (const auto& r : route_table()) {
        auto it = wrong.find(r.auth);
        if (it == wrong.end()) continue;
        for (const auto& [kind, token] : it->second) {
            auto res = f.request(verb_of(r.method), fill(r.pattern, f.client1), r.method == "GET" ? "" : "{}",
                                 f.bearer(token));
            INFO(r.method << " " << r.pattern << " with a " << kind << " token -> " << res.result_int() << " " << res.body());
            CHECK(is_problem(res, 401));
            ++walked[r.auth];
        }
        // and without any token
        CHECK(is_problem(f.request(verb_of(r.method), fill(r.pattern, f.client1), r.method == "GET" ? "" : "{}"), 401));
    }
    CHECK(f.bus.calls.size() == calls);  // nothing reached the domain
    CHECK(walked[auth_kind::portal_session] >= 2 * 5);
    CHECK(walked[auth_kind::kiosk] >= 2 * 2);
    CHECK(walked[auth_kind::session] >= 2 * 20);
}

TEST_CASE("portal: /openapi.json describes the portal and kiosk schemes on their routes", "[api][portal][ops]") {
    portal_fixture f;
    auto doc = body_of(f.request(verb::get, "/openapi.json"));
    const auto& schemes = doc.at("components").at("securitySchemes").as_object();
    CHECK(schemes.contains("portalSession"));
    CHECK(schemes.contains("kioskToken"));
    const auto& paths = doc.at("paths").as_object();
    auto scheme_of = [&](const char* path, const char* method) {
        const auto& sec = paths.at(path).at(method).at("security").as_array();
        return sec.empty() ? std::string() : std::string(sec[0].as_object().begin()->key());
    };
    CHECK(scheme_of("/v1/portal/threads", "get") == "portalSession");
    CHECK(scheme_of("/v1/portal/messages", "post") == "portalSession");
    CHECK(scheme_of("/v1/kiosk/form", "post") == "kioskToken");
    CHECK(scheme_of("/v1/kiosk/sessions", "post") == "bearer");
    CHECK(scheme_of("/v1/portal/login", "post").empty());
}

TEST_CASE("portal: with the agency's portal switched off, login is the one 401 and live sessions answer 401",
          "[api][portal][login]") {
    portal_fixture f;
    auto ok = f.portal_login("sunrise", "annlee", portal_password);
    REQUIRE(ok.result_int() == 200);
    const std::string token = str(body_of(ok), "token");
    REQUIRE(f.request(verb::get, "/v1/portal/me", "", f.bearer(token)).result_int() == 200);

    events::Settings off;
    off.client_portal_enabled = false;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{off});
    auto me = f.request(verb::get, "/v1/portal/me", "", f.bearer(token));
    CHECK(is_problem(me, 401));
    CHECK(str(body_of(me), "detail") == "the agency's client portal is switched off");
    auto refused = f.portal_login("sunrise", "annlee", portal_password);
    CHECK(is_problem(refused, 401));
    CHECK(str(body_of(refused), "detail") == "invalid credentials");

    events::Settings on;
    on.client_portal_enabled = true;
    f.feed.push(f.agency_a, f.agency_a, events::AgencySettingsChanged{on});
    CHECK(f.request(verb::get, "/v1/portal/me", "", f.bearer(token)).result_int() == 200);
}

TEST_CASE("portal: a browser login keeps the token in a cookie; unsafe requests need its CSRF token; logout clears it",
          "[api][portal][browser]") {
    portal_fixture f;
    auto login = f.request(verb::post, "/v1/portal/login",
                           json::serialize(json::object{{"agency", "sunrise"}, {"username", "annlee"},
                                                        {"password", portal_password}, {"cookie", true}}));
    INFO(login.body());
    REQUIRE(login.result_int() == 200);
    auto b = body_of(login);
    CHECK(!b.contains("token"));
    const std::string csrf = str(b, "csrf_token");
    const std::string set = header_of(login, "Set-Cookie");
    REQUIRE(set.starts_with("carelog_portal="));
    CHECK(set.find("; HttpOnly; SameSite=Strict") != std::string::npos);
    const std::string cookie = set.substr(0, set.find(';'));

    auto me = f.request(verb::get, "/v1/portal/me", "", {{"Cookie", cookie}});
    REQUIRE(me.result_int() == 200);
    CHECK(str(body_of(me), "csrf_token") == csrf);
    // the portal cookie opens no staff route
    CHECK(is_problem(f.request(verb::get, "/v1/staff", "", {{"Cookie", cookie}}), 401));

    const auto body = json::serialize(json::object{{"to_staff_id", f.therapist}, {"body", "Hello"}});
    const auto calls = f.bus.calls.size();
    CHECK(is_problem(f.request(verb::post, "/v1/portal/messages", body, {{"Cookie", cookie}}), 403));
    CHECK(f.bus.calls.size() == calls);
    auto sent = f.request(verb::post, "/v1/portal/messages", body, {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
    INFO(sent.body());
    CHECK(sent.result_int() == 201);

    auto out = f.request(verb::post, "/v1/portal/logout", "", {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
    REQUIRE(out.result_int() == 200);
    CHECK(header_of(out, "Set-Cookie").starts_with("carelog_portal=;"));
    CHECK(is_problem(f.request(verb::get, "/v1/portal/me", "", {{"Cookie", cookie}}), 401));
}
