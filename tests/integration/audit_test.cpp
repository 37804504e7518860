// The audit trail against a real broker and a real carelogd: a therapist opens a client record and
// the audit endpoint shows it (actor, subject, time, address, user agent) beside the client's
// changes, and the view is on the access topic; another agency's auditor sees none of it; a user
// without the audit permission gets 403; paging, filters and CSV. And the access topic's broker
// stopped: reads go on for the bounded buffer, then answer 503 (fail closed); once it is back
// every read that was answered has its view in the trail.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "carelog/base/ids.hpp"
#include "carelog/events/access_record.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

// The audit listing's items for `query`, polling up to 30 s until `done(items)` holds (views reach
// the trail through the access topic, a moment after the read).
json::array audit_until(http_client& c, const std::map<std::string, std::string>& h, const std::string& query,
                        const std::function<bool(const json::array&)>& done) {
    json::array items;
    for (int i = 0; i < 150; ++i) {
        auto r = c.get("/v1/audit/events?" + query, h);
        INFO(r.body);
        REQUIRE(r.status == 200);
        items = r.json().at("items").as_array();
        if (done(items)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return items;
}

std::size_t count_views(const json::array& items, const std::string& actor, const std::string& record_type) {
    std::size_t n = 0;
    for (const auto& i : items)
        if (str(i, "kind") == "view" && str(i, "actor_id") == actor && str(i.at("data"), "record_type") == record_type) ++n;
    return n;
}

struct agency_with_therapist {
    std::string slug, agency_id, admin_id, therapist_id, client_id;
    std::map<std::string, std::string> admin, therapist;

    agency_with_therapist(http_client& c, const carelogd& d, const std::string& hint) {
        slug = hint + "-" + fresh_suffix();
        auto created = create_agency(c, d.options().operator_key, slug);
        agency_id = str(created, "agency_id");
        admin_id = str(created.at("admin"), "staff_id");
        admin = as_agency(c, agency_id);
        auto client = c.post("/v1/clients",
                             json::object{{"first_name", "Rosa"}, {"last_name", "Diaz"}, {"date_of_birth", "1990-04-02"}},
                             admin);
        REQUIRE(client.status == 201);
        client_id = str(client.json(), "id");
        auto staff = c.post("/v1/staff",
                            json::object{{"first_name", "Tara"}, {"last_name", "Thera"}, {"gender", "female"},
                                         {"position", "Counselor"}, {"role", "therapist"}, {"type", "therapy_counseling"},
                                         {"email", "tara@example.org"}, {"temporary_password", "Temp-Pass-123!x"}},
                            admin);
        REQUIRE(staff.status == 201);
        therapist_id = str(staff.json(), "id");
        REQUIRE(c.request("PUT", "/v1/clients/" + client_id + "/staff/" + therapist_id, "", admin).status == 200);
        auto s = login(c, slug, str(staff.json(), "username"), "Temp-Pass-123!x");
        therapist = bearer(str(s, "token"));
        REQUIRE(c.post("/v1/auth/password",
                       json::object{{"current_password", "Temp-Pass-123!x"}, {"new_password", "Fresh-Start-2026!x"}},
                       therapist)
                    .status == 200);
    }
};

}  // namespace

TEST_CASE("audit: a therapist opens a client record and the trail shows who, when and from where, beside the "
          "changes, and another agency sees none of it, and without the permission 403",
          "[integration][audit]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_with_therapist a(c, d, "audit");

    const micros before = system_clock{}.now();
    auto reader = a.therapist;
    reader["User-Agent"] = "carelog-test/1.0";
    reader["X-Request-Id"] = "req-audit-1";
    auto opened = c.get("/v1/clients/" + a.client_id, reader);
    REQUIRE(opened.status == 200);
    const micros after = system_clock{}.now();

    // who opened this client's record: one query
    auto views = audit_until(c, a.admin, "subject_id=" + a.client_id + "&kind=view",
                             [&](const json::array& items) { return count_views(items, a.therapist_id, "client") >= 1; });
    REQUIRE(count_views(views, a.therapist_id, "client") == 1);
    json::object view;
    for (const auto& i : views)
        if (str(i, "actor_id") == a.therapist_id && str(i.at("data"), "record_type") == "client") view = i.as_object();
    CHECK(str(view, "event_type") == "RecordViewed");
    CHECK(str(view, "aggregate_type") == "Client");
    CHECK(str(view, "aggregate_id") == a.client_id);
    micros at = 0;
    REQUIRE(parse_rfc3339(str(view, "occurred_at"), at));
    CHECK(at >= before - 1000);
    CHECK(at <= after + 1000);
    const auto& data = view.at("data");
    CHECK(str(data, "actor_kind") == "staff");
    CHECK(str(data, "address") == "127.0.0.1");
    CHECK(str(data, "user_agent") == "carelog-test/1.0");
    CHECK(str(data, "request_id") == "req-audit-1");
    CHECK(str(data, "resource") == "GET /v1/clients/{id}");

    // the view is a record on the access topic, keyed by the agency
    bool on_topic = false;
    for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "access")) {
        std::vector<std::uint8_t> bytes(rec.begin(), rec.end());
        auto views = events::decode_record_views(bytes);
        if (!views) continue;
        for (const auto& v : *views)
            if (v.view_id == str(view, "event_id"))
                on_topic = v.agency_id == a.agency_id && v.actor_id == a.therapist_id && v.subject_id == a.client_id;
    }
    CHECK(on_topic);

    // the client's changes, oldest first, in the same trail
    auto changes = c.get("/v1/audit/events?subject_id=" + a.client_id + "&kind=change&order=oldest", a.admin);
    REQUIRE(changes.status == 200);
    std::vector<std::string> types;
    const auto changes_json = changes.json();
    for (const auto& i : changes_json.at("items").as_array()) {
        CHECK(str(i, "kind") == "change");
        types.push_back(str(i, "event_type"));
    }
    CHECK(types == std::vector<std::string>{"ClientAdded", "StaffAssignedToClient"});

    // what did this user open or change: one query (her password change is hers; her read too)
    auto mine = audit_until(c, a.admin, "actor_id=" + a.therapist_id, [&](const json::array& items) {
        return count_views(items, a.therapist_id, "client") == 1;
    });
    std::set<std::string> kinds_and_types;
    for (const auto& i : mine) {
        CHECK(str(i, "actor_id") == a.therapist_id);
        kinds_and_types.insert(str(i, "kind") + ":" + str(i, "event_type"));
    }
    CHECK(kinds_and_types.contains("view:RecordViewed"));
    CHECK(kinds_and_types.contains("change:PasswordChanged"));

    // filters: one event type; a time span that ends before the read holds no view of it
    auto typed = c.get("/v1/audit/events?type=ClientAdded", a.admin);
    REQUIRE(typed.status == 200);
    REQUIRE(typed.json().at("items").as_array().size() == 1);
    CHECK(str(typed.json().at("items").at(0), "aggregate_id") == a.client_id);
    auto earlier = c.get("/v1/audit/events?subject_id=" + a.client_id + "&kind=view&to=" + format_rfc3339(before - 1000000),
                         a.admin);
    REQUIRE(earlier.status == 200);
    CHECK(earlier.json().at("items").as_array().empty());
    CHECK(c.get("/v1/audit/events?type=NoSuchEvent", a.admin).status == 422);
    CHECK(c.get("/v1/audit/events?kind=looked", a.admin).status == 422);
    CHECK(c.get("/v1/audit/events?cursor=bm9wZQ", a.admin).status == 422);

    // paging: limit=1 walks the whole agency's trail, newest first, without repeats
    auto all = c.get("/v1/audit/events?limit=500", a.admin);
    REQUIRE(all.status == 200);
    std::vector<std::string> expected, walked;
    const auto all_json = all.json();
    for (const auto& i : all_json.at("items").as_array()) expected.push_back(str(i, "event_id"));
    std::optional<std::string> cursor;
    for (int pages = 0; pages < 1000; ++pages) {
        auto p = c.get("/v1/audit/events?limit=1" + (cursor ? "&cursor=" + *cursor : std::string()), a.admin);
        REQUIRE(p.status == 200);
        const auto page = p.json();
        for (const auto& i : page.at("items").as_array()) walked.push_back(str(i, "event_id"));
        const auto& next = page.at("next_cursor");
        if (next.is_null()) break;
        cursor = std::string(next.as_string());
    }
    // the admin's own reads above were recorded meanwhile: the walk holds at least the first page
    REQUIRE(walked.size() >= expected.size());
    CHECK(std::set<std::string>(walked.begin(), walked.end()).size() == walked.size());
    for (const auto& id : expected) CHECK(std::find(walked.begin(), walked.end(), id) != walked.end());

    // CSV for a spreadsheet
    auto csv = c.get("/v1/audit/events?format=csv&subject_id=" + a.client_id, a.admin);
    REQUIRE(csv.status == 200);
    CHECK(csv.header("content-type").starts_with("text/csv"));
    CHECK(csv.body.starts_with("occurred_at,kind,event_type,actor_id,"));
    CHECK(csv.body.find(a.therapist_id) != std::string::npos);
    CHECK(csv.body.find("RecordViewed") != std::string::npos);
    CHECK(csv.body.find("ClientAdded") != std::string::npos);

    // no audit permission: 403; another agency's auditor sees nothing of this one
    CHECK(c.get("/v1/audit/events", a.therapist).status == 403);
    auto other = create_agency(c, d.options().operator_key, "other-" + fresh_suffix());
    auto other_admin = as_agency(c, str(other, "agency_id"));
    auto theirs = c.get("/v1/audit/events?subject_id=" + a.client_id, other_admin);
    REQUIRE(theirs.status == 200);
    CHECK(theirs.json().at("items").as_array().empty());
    auto everything = c.get("/v1/audit/events?limit=500", other_admin);
    REQUIRE(everything.status == 200);
    const auto everything_json = everything.json();
    for (const auto& i : everything_json.at("items").as_array()) {
        CHECK(str(i, "actor_id") != a.therapist_id);
        CHECK(str(i, "actor_id") != a.admin_id);
    }
}

TEST_CASE("audit: reads spread over many records of the access topic list once each, in time order, paged and "
          "cut by time across the records' boundaries",
          "[integration][audit]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_with_therapist a(c, d, "audit-records");

    // Reads in four bursts, each served only once the previous burst is in the trail: a burst's
    // views were drained before the next one was read, so they lie in at least four records of
    // the access topic.
    constexpr int bursts = 4, per_burst = 15, reads = bursts * per_burst;
    const std::string mine = "actor_id=" + a.therapist_id + "&kind=view";
    json::array all;
    for (int b = 1; b <= bursts; ++b) {
        for (int i = 0; i < per_burst; ++i) REQUIRE(c.get("/v1/clients/" + a.client_id, a.therapist).status == 200);
        all = audit_until(c, a.admin, mine + "&limit=500&order=oldest",
                          [&](const json::array& items) { return items.size() >= std::size_t(b * per_burst); });
        REQUIRE(all.size() == std::size_t(b * per_burst));
    }
    REQUIRE(all.size() == reads);
    std::vector<std::string> oldest;
    std::vector<micros> times;
    for (const auto& i : all) {
        oldest.emplace_back(str(i, "event_id"));
        micros at = 0;
        REQUIRE(parse_rfc3339(str(i, "occurred_at"), at));
        times.push_back(at);
    }
    CHECK(std::is_sorted(times.begin(), times.end()));
    CHECK(std::set<std::string>(oldest.begin(), oldest.end()).size() == oldest.size());
    // view ids are UUIDv7 (version 7, variant 10) and, given by one node, in the order it served them
    for (const auto& id : oldest) {
        REQUIRE(id.size() == 36);
        CHECK(id[14] == '7');
        CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    }
    CHECK(std::is_sorted(oldest.begin(), oldest.end()));

    int records = 0;
    for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "access")) {
        std::vector<std::uint8_t> bytes(rec.begin(), rec.end());
        auto views = events::decode_record_views(bytes);
        if (views && std::any_of(views->begin(), views->end(), [&](const auto& v) { return v.actor_id == a.therapist_id; }))
            ++records;
    }
    CHECK(records >= bursts);

    // pages of 7 walk the same list in both orders; by subject too
    auto walk = [&](const std::string& query) {
        std::vector<std::string> walked;
        std::string cursor;
        for (int n = 0; n < 100; ++n) {
            auto r = c.get("/v1/audit/events?" + query + "&limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor), a.admin);
            REQUIRE(r.status == 200);
            auto body = r.json();
            for (const auto& i : body.at("items").as_array()) walked.emplace_back(str(i, "event_id"));
            if (body.at("next_cursor").is_null()) break;
            cursor = std::string(body.at("next_cursor").as_string());
        }
        return walked;
    };
    CHECK(walk(mine + "&order=oldest") == oldest);
    CHECK(walk(mine + "&order=newest") == std::vector<std::string>(oldest.rbegin(), oldest.rend()));
    CHECK(walk("subject_id=" + a.client_id + "&actor_id=" + a.therapist_id + "&order=oldest") == oldest);

    // a span that starts and ends inside records: exactly the views in [from, to)
    const micros from = times[reads / 4], to = times[3 * reads / 4];
    std::vector<std::string> inside;
    for (int i = 0; i < reads; ++i)
        if (times[i] >= from && times[i] < to) inside.push_back(oldest[i]);
    CHECK(walk(mine + "&order=oldest&from=" + format_rfc3339(from) + "&to=" + format_rfc3339(to)) == inside);
    CHECK(walk(mine + "&order=newest&from=" + format_rfc3339(from) + "&to=" + format_rfc3339(to)) ==
          std::vector<std::string>(inside.rbegin(), inside.rend()));
}

TEST_CASE("audit: long views of two agencies interleaved reach the access topic once each, in records of one "
          "agency, each far under the broker's message size",
          "[integration][audit]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    agency_with_therapist a(c, d, "audit-long"), b(c, d, "audit-long-b");
    // Views with the longest fields a view keeps (a 256-byte user agent, a 200-byte request id),
    // two agencies' reads interleaved.
    const std::string agent(256, 'u');
    constexpr int reads = 750;  // 500 by a's therapist, 250 by b's: each within one page of the trail
    std::set<std::string> sent;
    for (int i = 0; i < reads; ++i) {
        auto& who = i % 3 ? a : b;
        auto h = who.therapist;
        h["User-Agent"] = agent;
        h["X-Request-Id"] = std::to_string(i) + "-" + std::string(190, 'r');
        sent.insert(h["X-Request-Id"]);
        REQUIRE(c.get("/v1/clients/" + who.client_id, h).status == 200);
    }
    // Once the trail lists every view, each is on the topic.
    auto ours = [&](const json::array& items) {
        return std::size_t(std::count_if(items.begin(), items.end(), [&](const json::value& i) {
            return str(i.at("data"), "user_agent") == agent;
        }));
    };
    auto listed = [&](const agency_with_therapist& x, std::size_t n) {
        return ours(audit_until(c, x.admin, "actor_id=" + x.therapist_id + "&kind=view&limit=500",
                                [&](const json::array& items) { return ours(items) >= n; }));
    };
    REQUIRE(listed(a, 500) == 500);
    REQUIRE(listed(b, 250) == 250);
    std::map<std::string, int> seen;  // request id -> views on the topic
    for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "access")) {
        CHECK(rec.size() < 1'000'000);
        std::vector<std::uint8_t> bytes(rec.begin(), rec.end());
        auto views = events::decode_record_views(bytes);
        REQUIRE(views.has_value());
        for (const auto& v : *views) {
            CHECK(v.agency_id == views->front().agency_id);
            if (v.user_agent == agent) {
                CHECK(v.actor_id == (v.agency_id == a.agency_id ? a.therapist_id : b.therapist_id));
                ++seen[v.request_id];
            }
        }
    }
    REQUIRE(seen.size() == sent.size());
    for (const auto& [id, n] : seen) {
        CHECK(sent.count(id) == 1);
        CHECK(n == 1);
    }
}

TEST_CASE("audit: with the access topic's broker stopped, reads go on for the buffer, then answer 503, and once it is "
          "back, every read that was answered has its view in the trail",
          "[integration][audit][faults]") {
    private_broker access;
    access.start();
    carelogd_options o;
    o.extra_args = {"--access-brokers", access.brokers(), "--access-buffer", "20"};
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto created = create_agency(c, d.options().operator_key, "failclosed-" + fresh_suffix());
    const auto agency_id = str(created, "agency_id");
    const auto admin_id = str(created.at("admin"), "staff_id");
    auto admin = as_agency(c, agency_id);
    auto client = c.post("/v1/clients",
                         json::object{{"first_name", "Ann"}, {"last_name", "Able"}, {"date_of_birth", "1990-01-01"}}, admin);
    REQUIRE(client.status == 201);
    const auto client_id = str(client.json(), "id");

    std::size_t answered = 0;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(c.get("/v1/clients/" + client_id, admin).status == 200);
        ++answered;
    }
    access.stop();

    // at most the buffer's worth of reads more, then 503 (the view cannot be recorded)
    std::size_t answered_while_down = 0;
    http_reply refused;
    for (int i = 0; i < 200; ++i) {
        auto r = c.get("/v1/clients/" + client_id, admin);
        if (r.status == 200) {
            ++answered;
            ++answered_while_down;
            continue;
        }
        refused = r;
        break;
    }
    INFO(refused.body);
    REQUIRE(refused.status == 503);
    CHECK(refused.header("content-type") == "application/problem+json");
    CHECK(!refused.header("retry-after").empty());
    CHECK(answered_while_down <= 20);
    // commands do not depend on the access topic
    auto another = c.post("/v1/clients",
                          json::object{{"first_name", "Bo"}, {"last_name", "Bell"}, {"date_of_birth", "1991-01-01"}}, admin);
    CHECK(another.status == 201);

    access.start();
    bool back = false;
    for (int i = 0; i < 300 && !back; ++i) {
        auto r = c.get("/v1/clients/" + client_id, admin);
        if (r.status == 200) {
            ++answered;
            back = true;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    REQUIRE(back);
    // every answered read of the record is in the trail, the buffered ones included; no refused one
    auto views = audit_until(c, admin, "subject_id=" + client_id + "&kind=view&limit=500",
                             [&](const json::array& items) { return count_views(items, admin_id, "client") >= answered; });
    CHECK(count_views(views, admin_id, "client") == answered);
}
