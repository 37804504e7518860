// The Agency aggregate: creation with its first org_admin, settings, locations and programs.
#include "fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

TEST_CASE("agency: creating an agency yields AgencyCreated with default settings and its org_admin",
          "[aggregates][agency]") {
    agency_state s;
    auto evs = accepted(decide(s, agency_cmd()));
    REQUIRE(evs.size() == 2);

    CHECK(evs[0].aggregate_id == "agency-1");
    CHECK(evs[0].aggregate_version == 1);
    const auto& created = std::get<events::AgencyCreated>(evs[0].data);
    CHECK(created.name == "Riverside Counseling");
    CHECK(created.slug == "riverside");
    CHECK(created.settings == events::default_settings("Riverside Counseling"));

    CHECK(evs[1].aggregate_id == "admin-1");
    CHECK(evs[1].aggregate_version == 1);
    const auto& admin = std::get<events::StaffCreated>(evs[1].data);
    CHECK(admin.username == "alovelace");
    CHECK(admin.role == "org_admin");
    CHECK(admin.staff_type == "administration");
    CHECK_FALSE(admin.require_password_change);
    CHECK(admin.password_hash == agency_cmd().admin_password_hash);
    CHECK(admin.email == "ada@riverside.example");
}

TEST_CASE("agency: evolving the creation makes a complete state at version 1", "[aggregates][agency]") {
    agency_state s;
    fold_in(s, accepted(decide(s, agency_cmd())));
    CHECK(s.exists);
    CHECK(s.id == "agency-1");
    CHECK(s.slug == "riverside");
    CHECK(s.version == 1);
    CHECK(s.settings == events::default_settings("Riverside Counseling"));
    CHECK(s.settings.password_min_length == 12);
    CHECK(s.settings.lockout_threshold == 5);
    CHECK(s.settings.lockout_minutes == 30);
    CHECK(s.settings.session_idle_minutes == 30);
    CHECK(s.settings.password_expiry_days == 90);
    CHECK(s.settings.client_portal_enabled == false);
    CHECK(s.settings.messaging_enabled == false);
    REQUIRE(s.staff.contains("admin-1"));
    CHECK(s.staff.at("admin-1").version == 1);
    CHECK(s.staff.at("admin-1").active);
    CHECK(s.usernames.at("alovelace") == "admin-1");
}

TEST_CASE("agency: AgencyCreated with partial settings is completed with the defaults", "[aggregates][agency]") {
    agency_state s;
    events::Settings partial;
    partial.password_min_length = 16;
    evolve(s, "agency-9", 1, events::AgencyCreated{"Lakeside", "lakeside", partial});
    auto expected = events::default_settings("Lakeside");
    expected.password_min_length = 16;
    CHECK(s.settings == expected);
}

TEST_CASE("agency: an agency cannot be created twice", "[aggregates][agency]") {
    agency_fixture f;
    auto e = refused(decide(f.s, agency_cmd()));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("riverside") != std::string::npos);
}

TEST_CASE("agency: slugs are 3 to 63 lower-case letters, digits and inner hyphens", "[aggregates][agency]") {
    const std::string longest(63, 'a');
    for (std::string ok : {"abc", "a-b", "riverside-2", "0ak", "a--b", longest.c_str()}) {
        INFO(ok);
        CHECK(is_valid_slug(ok));
    }
    for (auto bad : {"", "ab", "-abc", "abc-", "Abc", "a_b", "a b", "ab.c", "caf\xc3\xa9"}) {
        INFO(bad);
        CHECK_FALSE(is_valid_slug(bad));
    }
    CHECK_FALSE(is_valid_slug(std::string(64, 'a')));
}

TEST_CASE("agency: creation reports every invalid field at once", "[aggregates][agency]") {
    agency_state s;
    auto c = agency_cmd();
    c.name = "   ";
    c.slug = "Bad_Slug";
    c.admin_first_name = "";
    c.admin_email = "not-an-email";
    auto e = refused(decide(s, c));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "name"));
    CHECK(has_field(e, "slug"));
    CHECK(has_field(e, "admin.first_name"));
    CHECK(has_field(e, "admin.email"));
    CHECK_FALSE(has_field(e, "admin.last_name"));
}

TEST_CASE("agency: the name is 1 to 200 characters after trimming", "[aggregates][agency]") {
    agency_state s;
    auto c = agency_cmd();
    c.name = "  " + std::string(200, 'n') + "  ";
    auto evs = accepted(decide(s, c));
    CHECK(std::get<events::AgencyCreated>(evs[0].data).name == std::string(200, 'n'));
    c.name = std::string(201, 'n');
    CHECK(has_field(refused(decide(s, c)), "name"));
    c.name = "\t";
    CHECK(has_field(refused(decide(s, c)), "name"));
}

TEST_CASE("agency: an admin whose name yields no username letters is refused", "[aggregates][agency]") {
    agency_state s;
    auto c = agency_cmd();
    c.admin_last_name = "\xe7\x8e\x8b";  // 王: nothing folds to ASCII
    auto e = refused(decide(s, c));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "admin.last_name"));
}

TEST_CASE("agency: every command on an agency that does not exist answers not found", "[aggregates][agency]") {
    agency_state s;
    std::vector<command> commands = {
        change_settings{},
        add_location{"l", "Main", ""},
        add_program{"p", "IOP"},
        staff_cmd("s", "Todd", "Jones"),
        update_staff_profile{"s", {}},
        assign_role{"s", "admin"},
        set_staff_type{"s", "administration"},
        set_staff_locations{"s", {}},
        set_staff_programs{"s", {}},
        set_module_permissions{"s", true, true},
        deactivate_staff{"s", ""},
    };
    for (const auto& c : commands) {
        INFO("command #" << c.index());
        CHECK(refused(decide(s, c)).code == errc::not_found);
    }
}

TEST_CASE("agency: settings changes carry only the fields that change", "[aggregates][agency][settings]") {
    agency_fixture f;
    auto v = f.s.version;
    change_settings c;
    c.patch.client_portal_enabled = true;
    c.patch.password_min_length = 12;  // unchanged: the default
    c.patch.lockout_threshold = 3;
    c.patch.name = "Riverside Counseling";  // unchanged
    auto evs = f.run(c);
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "agency-1");
    CHECK(evs[0].aggregate_version == v + 1);
    events::Settings expected;
    expected.client_portal_enabled = true;
    expected.lockout_threshold = 3;
    CHECK(std::get<events::AgencySettingsChanged>(evs[0].data).settings == expected);
    CHECK(f.s.version == v + 1);
    CHECK(f.s.settings.client_portal_enabled == true);
    CHECK(f.s.settings.lockout_threshold == 3);
    CHECK(f.s.settings.password_min_length == 12);
}

TEST_CASE("agency: a settings change that changes nothing yields no event", "[aggregates][agency][settings]") {
    agency_fixture f;
    change_settings c;
    CHECK(accepted(decide(f.s, c)).empty());
    c.patch = events::default_settings("Riverside Counseling");
    CHECK(accepted(decide(f.s, c)).empty());
}

TEST_CASE("agency: settings outside their ranges are refused with one error per field",
          "[aggregates][agency][settings]") {
    agency_fixture f;
    struct bound {
        const char* field;
        std::optional<int> events::Settings::*member;
        int lo, hi;
    };
    for (auto b : {bound{"password_min_length", &events::Settings::password_min_length, 8, 128},
                   bound{"lockout_threshold", &events::Settings::lockout_threshold, 0, 100},
                   bound{"lockout_minutes", &events::Settings::lockout_minutes, 0, 10080},
                   bound{"session_idle_minutes", &events::Settings::session_idle_minutes, 1, 1440},
                   bound{"password_expiry_days", &events::Settings::password_expiry_days, 0, 3650}}) {
        INFO(b.field);
        for (int ok : {b.lo, b.hi}) {
            change_settings c;
            c.patch.*b.member = ok;
            CHECK(decide(f.s, c).has_value());
        }
        for (int bad : {b.lo - 1, b.hi + 1}) {
            change_settings c;
            c.patch.*b.member = bad;
            auto e = refused(decide(f.s, c));
            CHECK(e.code == errc::validation);
            CHECK(has_field(e, b.field));
        }
    }
    change_settings both;
    both.patch.password_min_length = 4;
    both.patch.session_idle_minutes = 0;
    CHECK(refused(decide(f.s, both)).fields.size() == 2);
}

TEST_CASE("agency: MFA can be required only for known roles", "[aggregates][agency][settings]") {
    agency_fixture f;
    change_settings c;
    c.patch.mfa_required_roles = strings{"org_admin", "superuser"};
    auto e = refused(decide(f.s, c));
    CHECK(e.code == errc::validation);
    CHECK(field_message(e, "mfa_required_roles").find("superuser") != std::string::npos);

    c.patch.mfa_required_roles = strings{"org_admin", "admin", "org_admin"};
    auto evs = f.run(c);
    REQUIRE(evs.size() == 1);
    CHECK(f.s.settings.mfa_required_roles == strings{"admin", "org_admin"});
    // The same set in another order is no change.
    c.patch.mfa_required_roles = strings{"org_admin", "admin"};
    CHECK(accepted(decide(f.s, c)).empty());
}

TEST_CASE("agency: the agency name cannot be blanked", "[aggregates][agency][settings]") {
    agency_fixture f;
    change_settings c;
    c.patch.name = "  ";
    CHECK(has_field(refused(decide(f.s, c)), "name"));
    c.patch.name = " Riverside Behavioral Health ";
    f.run(c);
    CHECK(f.s.settings.name == "Riverside Behavioral Health");
}

TEST_CASE("agency: services are kept in order without blanks or repeats", "[aggregates][agency][settings]") {
    agency_fixture f;
    change_settings c;
    c.patch.services = strings{"Individual therapy", " Group therapy ", "individual THERAPY"};
    f.run(c);
    CHECK(f.s.settings.services == strings{"Individual therapy", "Group therapy"});
    c.patch.services = strings{"Case management", ""};
    CHECK(has_field(refused(decide(f.s, c)), "services[1]"));
}

TEST_CASE("agency: locations are added with increasing agency versions", "[aggregates][agency][locations]") {
    agency_fixture f;
    auto v = f.s.version;
    auto evs = f.run(add_location{"loc-east", "  East Annex ", "9 Elm St"});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "agency-1");
    CHECK(evs[0].aggregate_version == v + 1);
    CHECK(std::get<events::LocationAdded>(evs[0].data) == events::LocationAdded{"loc-east", "East Annex", "9 Elm St"});
    CHECK(f.s.locations.at("loc-east").name == "East Annex");
    CHECK(f.s.version == v + 1);
    CHECK(f.s.version == 6);  // created, 2 locations, 2 programs, this one
}

TEST_CASE("agency: a location id or name can be used only once", "[aggregates][agency][locations]") {
    agency_fixture f;
    CHECK(refused(decide(f.s, add_location{"loc-main", "Elsewhere", ""})).code == errc::conflict);
    auto e = refused(decide(f.s, add_location{"loc-x", "MAIN office", ""}));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("Main Office") != std::string::npos);
}

TEST_CASE("agency: a location needs a name of at most 200 characters", "[aggregates][agency][locations]") {
    agency_fixture f;
    CHECK(has_field(refused(decide(f.s, add_location{"loc-x", " ", ""})), "name"));
    CHECK(has_field(refused(decide(f.s, add_location{"loc-x", std::string(201, 'x'), ""})), "name"));
    CHECK(has_field(refused(decide(f.s, add_location{"", "Somewhere", ""})), "location_id"));
    CHECK(has_field(refused(decide(f.s, add_location{"loc-x", "Bad\x01Name", ""})), "name"));
}

TEST_CASE("agency: programs are added once per id and per name", "[aggregates][agency][programs]") {
    agency_fixture f;
    auto v = f.s.version;
    auto evs = f.run(add_program{"prog-dbt", "DBT Skills"});
    CHECK(evs[0].aggregate_version == v + 1);
    CHECK(f.s.programs.at("prog-dbt").name == "DBT Skills");
    CHECK(refused(decide(f.s, add_program{"prog-dbt", "Other"})).code == errc::conflict);
    CHECK(refused(decide(f.s, add_program{"prog-x", "dbt skills"})).code == errc::conflict);
    CHECK(has_field(refused(decide(f.s, add_program{"prog-x", ""})), "name"));
}
