// A staff member's history (event listings, oldest first) and their state as of a time.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

TEST_CASE("staff history: the staff member's events, oldest first, as event listings", "[projections][history]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), todd = uuid(100), ann = uuid(101);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, todd, staff_created("Todd", "Jones", "tjones", "therapist"));
    f.push(a, ann, staff_created("Ann", "Lee", "alee", "therapist"));
    f.push(a, todd, RoleAssigned{"biller"});
    f.agency_event(a, LocationAdded{uuid(11), "Main", ""});
    f.push(a, todd, StaffLocationsSet{{uuid(11)}});
    f.push(a, todd, StaffDeactivated{"left"});

    auto h = db->staff_history(a, todd);
    REQUIRE(h.size() == 4);
    std::vector<std::string> types;
    for (const auto& e : h) types.emplace_back(e.as_object().at("event_type").as_string());
    CHECK(types == std::vector<std::string>{"StaffCreated", "RoleAssigned", "StaffLocationsSet", "StaffDeactivated"});

    const auto& first = h[0].as_object();
    CHECK(first.at("aggregate_type").as_string() == "Staff");
    CHECK(first.at("aggregate_id").as_string() == todd);
    CHECK(first.at("aggregate_version").to_number<int>() == 1);
    CHECK(first.at("sequence").to_number<int>() == 2);
    CHECK(first.at("occurred_at").as_string() == format_rfc3339(t0 + 2 * second));
    CHECK(first.at("actor_id").as_string() == "operator");
    CHECK(first.at("event_id").is_string());
    CHECK(first.at("data").as_object().at("username").as_string() == "tjones");
    CHECK_FALSE(first.at("data").as_object().contains("password_hash"));
    CHECK(h[1].as_object().at("data") == json::object{{"role", "biller"}});
    CHECK(h[3].as_object().at("aggregate_version").to_number<int>() == 4);
    CHECK(h[3].as_object().at("sequence").to_number<int>() == 7);

    CHECK(db->staff_history(a, ann).size() == 1);
    CHECK(db->staff_history(a, uuid(999)).empty());
}

TEST_CASE("histories page: every event once, oldest first, whatever the limit; foreign cursors refused",
          "[projections][history][paging]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), todd = uuid(100), ann = uuid(101), client = uuid(300);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, todd, staff_created("Todd", "Jones", "tjones", "therapist"));
    f.push(a, ann, staff_created("Ann", "Lee", "alee", "therapist"));
    f.agency_event(a, LocationAdded{uuid(11), "Main", ""});  // the agency's: in no staff history
    for (int i = 0; i < 24; ++i) {
        f.push(a, todd, RoleAssigned{i % 2 ? "biller" : "therapist"});
        if (i % 5 == 0) f.push(a, ann, RoleAssigned{"biller"});
    }
    const auto whole = db->staff_history(a, todd);
    REQUIRE(whole.size() == 25);

    // Every page, following next_cursor; the event ids in order.
    auto pages_of = [&](const std::string& who, int limit, int* pages) {
        std::vector<std::string> ids;
        std::optional<std::string> cursor;
        *pages = 0;
        for (;;) {
            auto p = db->staff_history_page(a, who, limit, cursor);
            REQUIRE(p.has_value());
            REQUIRE(p->items.size() <= static_cast<std::size_t>(limit));
            ++*pages;
            for (const auto& e : p->items) ids.emplace_back(e.as_object().at("event_id").as_string());
            if (!p->next_cursor) break;
            REQUIRE(p->items.size() == static_cast<std::size_t>(limit));
            cursor = p->next_cursor;
            REQUIRE(*pages < 100);
        }
        return ids;
    };
    std::vector<std::string> expected;
    for (const auto& e : whole) expected.emplace_back(e.as_object().at("event_id").as_string());
    for (int limit : {1, 4, 24, 25, 26, 500}) {
        INFO("limit " << limit);
        int pages = 0;
        CHECK(pages_of(todd, limit, &pages) == expected);
        CHECK(pages == (25 + limit - 1) / limit);  // no empty trailing page
    }
    int pages = 0;
    CHECK(pages_of(ann, 2, &pages).size() == 6);
    CHECK(pages_of(uuid(999), 10, &pages).empty());

    // A client's history pages the same way.
    f.push(a, client, ClientAdded{"Bo", "Diaz", "1985-04-12", "", "", ""});
    f.push(a, client, StaffAssignedToClient{todd});
    auto first = db->client_history_page(a, client, 1, std::nullopt);
    REQUIRE(first.has_value());
    REQUIRE(first->items.size() == 1);
    CHECK(first->items[0].as_object().at("event_type").as_string() == "ClientAdded");
    REQUIRE(first->next_cursor);
    auto second = db->client_history_page(a, client, 1, first->next_cursor);
    REQUIRE(second.has_value());
    CHECK(second->items[0].as_object().at("event_type").as_string() == "StaffAssignedToClient");
    CHECK_FALSE(second->next_cursor);

    // Limits outside 1..500, and cursors this listing never gave out, are refused.
    CHECK(db->staff_history_page(a, todd, 0, std::nullopt).error().code == errc::validation);
    CHECK(db->staff_history_page(a, todd, 501, std::nullopt).error().code == errc::validation);
    for (const std::string& bad : {std::string(), std::string("not base64!"), std::string("AAAA"), std::string(30, 'A')})
        CHECK(db->staff_history_page(a, todd, 5, bad).error().code == errc::malformed);
}

TEST_CASE("staff as of: the view at a time folds the events up to it", "[projections][history]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), id = uuid(100);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, id, staff_created("Todd", "Jones", "tjones", "therapist"));
    const micros created = f.clock;
    f.push(a, id, ModulePermissionGranted{"messaging"});
    f.push(a, id, RoleAssigned{"biller"});
    const micros role_changed = f.clock;
    StaffProfileUpdated u;
    u.last_name = "Smith";
    f.push(a, id, u);

    CHECK_FALSE(db->staff_as_of(a, id, created - 1));

    auto at_creation = db->staff_as_of(a, id, created);  // inclusive
    REQUIRE(at_creation);
    CHECK(at_creation->at("role").as_string() == "therapist");
    CHECK(at_creation->at("version").to_number<int>() == 1);
    CHECK(at_creation->at("permissions").as_object().at("messaging").as_bool() == false);

    auto before_change = db->staff_as_of(a, id, role_changed - 1);
    REQUIRE(before_change);
    CHECK(before_change->at("role").as_string() == "therapist");
    CHECK(before_change->at("permissions").as_object().at("messaging").as_bool());
    CHECK(before_change->at("version").to_number<int>() == 2);

    auto after_change = db->staff_as_of(a, id, role_changed);
    REQUIRE(after_change);
    CHECK(after_change->at("role").as_string() == "biller");
    CHECK(after_change->at("last_name").as_string() == "Jones");

    // As of now it is exactly the current view: one code path builds both.
    auto now = db->staff_as_of(a, id, f.clock + 1000 * second);
    REQUIRE(now);
    CHECK(*now == *db->staff(a, id));
    check_indexes(*db);

    CHECK_FALSE(db->staff_as_of(a, uuid(999), f.clock));
    CHECK_FALSE(db->staff_as_of(uuid(2), id, f.clock));
}

TEST_CASE("a whole history longer than a page is read to its end, in order", "[projections][history][paging]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), todd = uuid(100);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, todd, staff_created("Todd", "Jones", "tjones", "therapist"));
    for (int i = 0; i < 520; ++i) f.push(a, todd, RoleAssigned{i % 2 ? "biller" : "therapist"});

    const auto whole = db->staff_history(a, todd);
    REQUIRE(whole.size() == 521);  // more than the 500 of one page
    for (std::size_t i = 0; i < whole.size(); ++i)
        CHECK(whole[i].as_object().at("aggregate_version").to_number<std::size_t>() == i + 1);
}
