// The spine end to end against the real broker: HTTP command -> aggregate -> Kafka (acks=all) ->
// projection -> query, across restarts, collisions, idempotency keys.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <thread>

#include "process.hpp"

using namespace carelog::testing;
namespace json = boost::json;

namespace {

json::object staff_body(const std::string& first, const std::string& last, const std::string& middle = "") {
    json::object b{{"first_name", first},
                   {"last_name", last},
                   {"gender", "female"},
                   {"position", "Counselor"},
                   {"email", first + "@example.org"},
                   {"role", "therapist"},
                   {"type", "therapy_counseling"}};
    if (!middle.empty()) b["middle_name"] = middle;
    return b;
}

}  // namespace

TEST_CASE("foundation: an agency and its staff are written to Kafka and read back", "[integration][staff]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    auto slug = "clinic-" + fresh_suffix();
    auto agency = create_agency(c, d.options().operator_key, slug);
    std::string agency_id(agency.at("agency_id").as_string());
    CHECK(agency.at("slug").as_string() == slug);
    CHECK(agency.at("admin").at("username").as_string() == "aadmin");

    auto h = as_agency(c, agency_id);
    auto created = c.post("/v1/staff", staff_body("Todd", "Jones"), h);
    INFO(created.body);
    REQUIRE(created.status == 201);
    auto staff_id = str(created.json(), "id");
    CHECK(str(created.json(), "username") == "tjones");
    CHECK(created.json().at("version").as_int64() == 1);
    auto token = str(created.json(), "consistency_token");
    CHECK(created.header("x-consistency-token") == token);
    CHECK(!created.json().at("temporary_password").as_string().empty());

    SECTION("with the consistency token the read sees the write at once") {
        auto hh = h;
        hh["X-Consistency-Token"] = token;
        auto got = c.get("/v1/staff/" + staff_id, hh);
        INFO(got.body);
        REQUIRE(got.status == 200);
        CHECK(str(got.json(), "username") == "tjones");
        CHECK(str(got.json(), "role") == "therapist");
        CHECK(str(got.json(), "type") == "therapy_counseling");
        CHECK(got.json().at("active").as_bool());
    }
    SECTION("without a token the read converges") {
        int status = 0;
        for (int i = 0; i < 100 && status != 200; ++i) {
            status = c.get("/v1/staff/" + staff_id, h).status;
            if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        CHECK(status == 200);
    }
    SECTION("the listing filters by role and the history holds the event") {
        auto hh = h;
        hh["X-Consistency-Token"] = token;
        auto list = c.get("/v1/staff?role=therapist", hh);
        REQUIRE(list.status == 200);
        auto items = list.json().at("items").as_array();
        REQUIRE(items.size() == 1);
        CHECK(str(items[0], "id") == staff_id);
        auto admins = c.get("/v1/staff?role=org_admin", hh).json().at("items").as_array();
        CHECK(admins.size() == 1);
        auto hist = c.get("/v1/staff/" + staff_id + "/history", hh);
        REQUIRE(hist.status == 200);
        auto evs = hist.json().at("items").as_array();
        REQUIRE(evs.size() == 1);
        CHECK(str(evs[0], "event_type") == "StaffCreated");
        CHECK(evs[0].at("aggregate_version").as_int64() == 1);
        CHECK(hist.body.find("password_hash") == std::string::npos);
    }
    SECTION("the history pages with limit and cursor, oldest first, and refuses a cursor it never gave") {
        std::string last = token;
        for (const char* role : {"biller", "therapist", "biller", "therapist", "biller"}) {
            auto r = c.put("/v1/staff/" + staff_id + "/role", json::object{{"role", role}}, h);
            REQUIRE(r.status == 200);
            last = str(r.json(), "consistency_token");
        }
        auto hh = h;
        hh["X-Consistency-Token"] = last;
        std::vector<std::string> types;
        std::string path = "/v1/staff/" + staff_id + "/history?limit=2";
        int pages = 0;
        for (;;) {
            auto page = c.get(path, hh);
            INFO(page.body);
            REQUIRE(page.status == 200);
            ++pages;
            const auto body = page.json();
            const auto& items = body.at("items").as_array();
            REQUIRE(items.size() <= 2);
            for (const auto& e : items)
                types.push_back(str(e, "event_type") + ":" + std::to_string(e.at("aggregate_version").as_int64()));
            const auto& next = body.at("next_cursor");
            if (next.is_null()) break;
            path = "/v1/staff/" + staff_id + "/history?limit=2&cursor=" + std::string(next.as_string());
            REQUIRE(pages < 10);
        }
        CHECK(pages == 3);
        CHECK(types == std::vector<std::string>{"StaffCreated:1", "RoleAssigned:2", "RoleAssigned:3", "RoleAssigned:4",
                                                "RoleAssigned:5", "RoleAssigned:6"});
        auto whole = c.get("/v1/staff/" + staff_id + "/history", hh);
        REQUIRE(whole.status == 200);
        CHECK(whole.json().at("items").as_array().size() == 6);
        CHECK(whole.json().at("next_cursor").is_null());

        auto bad = c.get("/v1/staff/" + staff_id + "/history?cursor=AAAA", hh);
        CHECK(bad.status == 422);
        CHECK(bad.body.find("cursor") != std::string::npos);
        CHECK(c.get("/v1/staff/" + staff_id + "/history?limit=0", hh).status == 422);
    }
}

TEST_CASE("foundation: username collisions fall back to the middle initial, then 409", "[integration][staff]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    auto agency = create_agency(c, d.options().operator_key, "coll-" + fresh_suffix());
    auto h = as_agency(c, std::string(agency.at("agency_id").as_string()));

    auto a = c.post("/v1/staff", staff_body("Todd", "Jones"), h);
    REQUIRE(a.status == 201);
    CHECK(str(a.json(), "username") == "tjones");
    auto b = c.post("/v1/staff", staff_body("Tina", "Jones", "Dawn"), h);
    REQUIRE(b.status == 201);
    CHECK(str(b.json(), "username") == "tdjones");
    auto x = c.post("/v1/staff", staff_body("Tom", "Jones", "Dale"), h);
    INFO(x.body);
    CHECK(x.status == 409);
    CHECK(x.header("content-type").find("application/problem+json") == 0);
    CHECK(x.body.find("tjones") != std::string::npos);
    CHECK(x.body.find("tdjones") != std::string::npos);
    auto y = c.post("/v1/staff", staff_body("Terry", "Jones"), h);
    CHECK(y.status == 409);
    CHECK(y.body.find("middle") != std::string::npos);
}

TEST_CASE("foundation: a restart answers the same and applies nothing twice", "[integration][restart]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("restart");
    std::string agency_id, staff_id, token;
    std::string before_staff, before_history;
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        auto agency = create_agency(c, o.operator_key, "rs-" + fresh_suffix());
        agency_id = std::string(agency.at("agency_id").as_string());
        auto h = as_agency(c, agency_id);
        auto r = c.post("/v1/staff", staff_body("Maria", "García-López"), h);
        REQUIRE(r.status == 201);
        CHECK(str(r.json(), "username") == "mgarcia-lopez");
        staff_id = str(r.json(), "id");
        auto role = c.put("/v1/staff/" + staff_id + "/role", json::object{{"role", "biller"}}, h);
        REQUIRE(role.status == 200);
        CHECK(role.json().at("version").as_int64() == 2);
        token = str(role.json(), "consistency_token");
        h["X-Consistency-Token"] = token;
        before_staff = c.get("/v1/staff/" + staff_id, h).body;
        before_history = c.get("/v1/staff/" + staff_id + "/history", h).body;
        CHECK(d.stop() == 0);
    }
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto h = as_agency(c, agency_id);
    CHECK(c.get("/v1/staff/" + staff_id, h).body == before_staff);
    auto hist = c.get("/v1/staff/" + staff_id + "/history", h);
    CHECK(hist.body == before_history);
    CHECK(hist.json().at("items").as_array().size() == 2);
    // The writer rebuilt its state: the next command continues the aggregate's versions and the
    // username is still taken.
    auto type = c.put("/v1/staff/" + staff_id + "/type", json::object{{"type", "administration"}}, h);
    REQUIRE(type.status == 200);
    CHECK(type.json().at("version").as_int64() == 3);
    auto again = c.post("/v1/staff", staff_body("Mario", "Garcia-Lopez"), h);
    CHECK(again.status == 409);
}

TEST_CASE("foundation: an Idempotency-Key returns the first result, also after a restart",
          "[integration][idempotency]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("idem");
    std::string agency_id;
    json::value first;
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        agency_id = std::string(create_agency(c, o.operator_key, "idem-" + fresh_suffix()).at("agency_id").as_string());
        auto h = as_agency(c, agency_id);
        h["Idempotency-Key"] = "create-todd-1";
        auto a = c.post("/v1/staff", staff_body("Todd", "Jones"), h);
        REQUIRE(a.status == 201);
        first = a.json();
        auto b = c.post("/v1/staff", staff_body("Todd", "Jones"), h);
        INFO(b.body);
        REQUIRE(b.status == 201);
        CHECK(b.json().at("id") == first.at("id"));
        CHECK(b.json().at("username").as_string() == "tjones");
        CHECK(d.stop() == 0);
    }
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto h = as_agency(c, agency_id);
    h["Idempotency-Key"] = "create-todd-1";
    auto again = c.post("/v1/staff", staff_body("Todd", "Jones"), h);
    INFO(again.body);
    REQUIRE(again.status == 201);
    CHECK(again.json().at("id") == first.at("id"));
    CHECK(again.json().at("consistency_token") == first.at("consistency_token"));
    h.erase("Idempotency-Key");
    h["X-Consistency-Token"] = std::string(first.at("consistency_token").as_string());
    auto list = c.get("/v1/staff?role=therapist", h);
    CHECK(list.json().at("items").as_array().size() == 1);  // appended once
}
