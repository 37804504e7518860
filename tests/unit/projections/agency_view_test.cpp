// Agency read models: the settings view, the slug index, locations and programs.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

TEST_CASE("agency: AgencyCreated builds the settings view with the secure defaults", "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    REQUIRE(f.agency_event(a, agency_created("Sunrise Counseling", "sunrise")) == apply_outcome::applied);

    auto v = db->agency(a);
    REQUIRE(v);
    CHECK(v->at("id").as_string() == a);
    CHECK(v->at("name").as_string() == "Sunrise Counseling");
    CHECK(v->at("slug").as_string() == "sunrise");
    CHECK(v->at("version").to_number<int>() == 1);
    CHECK(v->at("created_at").as_string() == format_rfc3339(t0 + second));
    const auto& s = v->at("settings").as_object();
    CHECK(s.at("client_portal_enabled").as_bool() == false);
    CHECK(s.at("messaging_enabled").as_bool() == false);
    const auto& pw = s.at("password_policy").as_object();
    CHECK(pw.at("min_length").to_number<int>() == 12);
    CHECK(pw.at("require_upper").as_bool());
    CHECK(pw.at("require_lower").as_bool());
    CHECK(pw.at("require_digit").as_bool());
    CHECK(pw.at("require_symbol").as_bool());
    CHECK(pw.at("disallow_username").as_bool());
    CHECK(s.at("lockout").as_object().at("threshold").to_number<int>() == 5);
    CHECK(s.at("lockout").as_object().at("minutes").to_number<int>() == 30);
    CHECK(s.at("session_idle_minutes").to_number<int>() == 30);
    CHECK(s.at("password_expiry_days").to_number<int>() == 90);
    CHECK(s.at("mfa_required_roles").as_array().empty());
    CHECK(s.at("services").as_array().empty());

    CHECK(db->agency_id_by_slug("sunrise") == a);
    CHECK(db->agency_id_by_slug("SunRise") == a);
    CHECK_FALSE(db->agency_id_by_slug("sunset"));
    CHECK_FALSE(db->agency(uuid(2)));
}

TEST_CASE("agency: AgencySettingsChanged changes only the fields it carries", "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    f.agency_event(a, agency_created("Sunrise Counseling", "sunrise"));

    Settings change;
    change.name = "Sunrise Behavioral Health";
    change.client_portal_enabled = true;
    change.password_min_length = 16;
    change.lockout_minutes = 0;
    change.mfa_required_roles = strings{"org_admin", "admin"};
    change.services = strings{"Individual therapy"};
    REQUIRE(f.agency_event(a, AgencySettingsChanged{change}) == apply_outcome::applied);

    auto v = db->agency(a);
    REQUIRE(v);
    CHECK(v->at("name").as_string() == "Sunrise Behavioral Health");
    CHECK(v->at("slug").as_string() == "sunrise");
    CHECK(v->at("version").to_number<int>() == 2);
    CHECK(v->at("updated_at").as_string() == format_rfc3339(t0 + 2 * second));
    CHECK(v->at("created_at").as_string() == format_rfc3339(t0 + second));
    const auto& s = v->at("settings").as_object();
    CHECK(s.at("client_portal_enabled").as_bool());
    CHECK(s.at("messaging_enabled").as_bool() == false);  // untouched
    CHECK(s.at("password_policy").as_object().at("min_length").to_number<int>() == 16);
    CHECK(s.at("password_policy").as_object().at("require_symbol").as_bool());  // untouched
    CHECK(s.at("lockout").as_object().at("minutes").to_number<int>() == 0);
    CHECK(s.at("lockout").as_object().at("threshold").to_number<int>() == 5);  // untouched
    CHECK(s.at("mfa_required_roles") == json::array{"org_admin", "admin"});
    CHECK(s.at("services") == json::array{"Individual therapy"});
    CHECK(db->agency_id_by_slug("sunrise") == a);

    // Turning a switch back off is a change too (false is not "absent").
    Settings off;
    off.client_portal_enabled = false;
    f.agency_event(a, AgencySettingsChanged{off});
    CHECK(db->agency(a)->at("settings").as_object().at("client_portal_enabled").as_bool() == false);
    CHECK(db->agency(a)->at("version").to_number<int>() == 3);
}

TEST_CASE("agency: locations and programs are listed per agency", "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), b = uuid(2);
    f.agency_event(a, agency_created("A", "a"));
    f.agency_event(b, agency_created("B", "b"));
    f.agency_event(a, LocationAdded{uuid(11), "Main office", "1 Main St"});
    f.agency_event(a, LocationAdded{uuid(12), "Annex", "2 Side St"});
    f.agency_event(a, ProgramAdded{uuid(21), "Outpatient"});
    f.agency_event(b, LocationAdded{uuid(13), "B office", ""});

    auto locs = db->locations(a);
    REQUIRE(locs.size() == 2);
    CHECK(locs[0] == json::object{{"id", uuid(11)}, {"name", "Main office"}, {"address", "1 Main St"}});
    CHECK(locs[1] == json::object{{"id", uuid(12)}, {"name", "Annex"}, {"address", "2 Side St"}});
    auto progs = db->programs(a);
    REQUIRE(progs.size() == 1);
    CHECK(progs[0] == json::object{{"id", uuid(21)}, {"name", "Outpatient"}});

    REQUIRE(db->locations(b).size() == 1);
    CHECK(db->locations(b)[0].as_object().at("name").as_string() == "B office");
    CHECK(db->programs(b).empty());
    CHECK(db->locations(uuid(3)).empty());

    // Location and program events belong to the Agency aggregate: its version moves.
    CHECK(db->agency(a)->at("version").to_number<int>() == 4);
}

TEST_CASE("agency: events of an agency never created are still applied where they make sense",
          "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    REQUIRE(f.agency_event(a, LocationAdded{uuid(11), "Main office", ""}) == apply_outcome::applied);
    CHECK(db->locations(a).size() == 1);
    CHECK_FALSE(db->agency(a));  // nothing to hang a version on yet

    Settings change;
    change.messaging_enabled = true;
    REQUIRE(f.agency_event(a, AgencySettingsChanged{change}) == apply_outcome::applied);
    auto v = db->agency(a);
    REQUIRE(v);
    CHECK(v->at("slug").as_string() == "");
    CHECK(v->at("settings").as_object().at("messaging_enabled").as_bool());
    // The rest falls back to the secure defaults.
    CHECK(v->at("settings").as_object().at("password_policy").as_object().at("min_length").to_number<int>() == 12);
}

TEST_CASE("agency: a re-published AgencyCreated is quarantined and does not roll the settings back",
          "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    auto created = f.make(a, a, agency_created("A", "a"));
    auto created_bytes = f.bytes(created);
    f.push_bytes(created_bytes);
    Settings change;
    change.client_portal_enabled = true;
    f.agency_event(a, AgencySettingsChanged{change});

    // The same record again at a later offset: its sequence does not follow the chain's.
    REQUIRE(f.push_bytes(created_bytes) == apply_outcome::quarantined);
    auto v = db->agency(a);
    CHECK(v->at("version").to_number<int>() == 2);
    CHECK(v->at("settings").as_object().at("client_portal_enabled").as_bool());
}

TEST_CASE("agency: the first org_admin created in the agency is its admin_staff_id", "[projections][agency]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    f.agency_event(a, agency_created("A", "a"));
    CHECK_FALSE(db->agency(a)->contains("admin_staff_id"));
    f.push(a, uuid(99), staff_created("Ann", "Lee", "alee", "therapist"));
    CHECK_FALSE(db->agency(a)->contains("admin_staff_id"));
    f.push(a, uuid(100), staff_created("Olga", "Admin", "oadmin", "org_admin", "administration"));
    f.push(a, uuid(101), staff_created("Otto", "Admin", "oadmin2", "org_admin", "administration"));
    auto v = db->agency(a);
    CHECK(v->at("admin_staff_id").as_string() == uuid(100));
    CHECK(v->at("version").to_number<int>() == 1);  // a Staff event does not move the agency's version
}
