// Changing a staff member: profile, role, type, locations, programs, module permissions and
// deactivation. No change means no event; a deactivated staff member refuses every change.
#include "fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

namespace {
struct staff_fixture : agency_fixture {
    staff_fixture() {
        auto c = staff_cmd("s1", "Todd", "Jones", "David");
        c.location_ids = {"loc-main"};
        c.npi = "1234567893";
        c.hire_date = "2020-01-15";
        c.phones = {{"work", "555-0100"}};
        hire(c);
    }
};
}  // namespace

TEST_CASE("staff: a profile update carries only the fields that change", "[aggregates][staff][profile]") {
    staff_fixture f;
    update_staff_profile u{"s1", {}};
    u.patch.first_name = "Todd";  // unchanged
    u.patch.position = "Clinical Director";
    u.patch.email = " todd@riverside.example ";
    auto evs = f.run(u);
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "s1");
    CHECK(evs[0].aggregate_version == 2);
    events::StaffProfileUpdated expected;
    expected.position = "Clinical Director";
    expected.email = "todd@riverside.example";
    CHECK(std::get<events::StaffProfileUpdated>(evs[0].data) == expected);
    CHECK(f.staff("s1").version == 2);
    CHECK(f.staff("s1").profile.position == "Clinical Director");
    CHECK(f.staff("s1").profile.email == "todd@riverside.example");
    CHECK(f.staff("s1").profile.first_name == "Todd");
}

TEST_CASE("staff: a profile update that changes nothing yields no event", "[aggregates][staff][profile]") {
    staff_fixture f;
    CHECK(accepted(decide(f.s, update_staff_profile{"s1", {}})).empty());
    update_staff_profile u{"s1", {}};
    u.patch.last_name = "Jones";
    u.patch.npi = "1234567893";
    u.patch.phones = std::vector<events::Phone>{{"work", "555-0100"}};
    CHECK(accepted(decide(f.s, u)).empty());
}

TEST_CASE("staff: an empty string clears an optional profile field", "[aggregates][staff][profile]") {
    staff_fixture f;
    update_staff_profile u{"s1", {}};
    u.patch.middle_name = "";
    u.patch.npi = "";
    u.patch.hire_date = "";
    u.patch.phones = std::vector<events::Phone>{};
    f.run(u);
    const auto& p = f.staff("s1").profile;
    CHECK(p.middle_name.empty());
    CHECK(p.npi.empty());
    CHECK(p.hire_date.empty());
    CHECK(p.phones.empty());
}

TEST_CASE("staff: required profile fields cannot be cleared and bad values are refused together",
          "[aggregates][staff][profile]") {
    staff_fixture f;
    update_staff_profile u{"s1", {}};
    u.patch.first_name = "";
    u.patch.gender = " ";
    u.patch.email = "nope";
    u.patch.npi = "1234567890";
    u.patch.hire_date = "2021-02-30";
    u.patch.supervisor_id = "s1";
    auto e = refused(decide(f.s, u));
    CHECK(e.code == errc::validation);
    for (auto field : {"first_name", "gender", "email", "npi", "hire_date", "supervisor_id"}) {
        INFO(field);
        CHECK(has_field(e, field));
    }
    CHECK(field_message(e, "supervisor_id").find("themselves") != std::string::npos);
    CHECK(f.staff("s1").version == 1);
}

TEST_CASE("staff: renaming a staff member keeps the username", "[aggregates][staff][profile]") {
    staff_fixture f;
    update_staff_profile u{"s1", {}};
    u.patch.first_name = "Theodore";
    u.patch.last_name = "Smith";
    u.patch.middle_name = "";
    f.run(u);
    CHECK(f.staff("s1").profile.username == "tjones");
    CHECK(f.s.usernames.at("tjones") == "s1");
    CHECK_FALSE(f.s.usernames.contains("tsmith"));
    // The old username stays taken; the new name's base form is free.
    CHECK(f.hire(staff_cmd("s2", "Tim", "Smith")) == "tsmith");
    CHECK(refused(decide(f.s, staff_cmd("s3", "Tara", "Jones"))).code == errc::conflict);
}

TEST_CASE("staff: a role is assigned once and validated", "[aggregates][staff][role]") {
    staff_fixture f;
    auto evs = f.run(assign_role{"s1", "biller"});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_version == 2);
    CHECK(std::get<events::RoleAssigned>(evs[0].data).role == "biller");
    CHECK(f.staff("s1").profile.role == "biller");
    CHECK(accepted(decide(f.s, assign_role{"s1", "biller"})).empty());
    auto e = refused(decide(f.s, assign_role{"s1", "superuser"}));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "role"));
}

TEST_CASE("staff: the last active org_admin keeps the role and cannot be deactivated", "[aggregates][staff][role]") {
    staff_fixture f;
    auto e = refused(decide(f.s, assign_role{"admin-1", "admin"}));
    CHECK(e.code == errc::conflict);
    CHECK(refused(decide(f.s, deactivate_staff{"admin-1", ""})).code == errc::conflict);
    f.run(assign_role{"s1", "org_admin"});
    f.run(assign_role{"admin-1", "admin"});
    CHECK(f.staff("admin-1").profile.role == "admin");
    CHECK(refused(decide(f.s, deactivate_staff{"s1", ""})).code == errc::conflict);
}

TEST_CASE("staff: a staff type is set once and validated", "[aggregates][staff][type]") {
    staff_fixture f;
    auto evs = f.run(set_staff_type{"s1", "administration_time_tracking"});
    REQUIRE(evs.size() == 1);
    CHECK(std::get<events::StaffTypeSet>(evs[0].data).staff_type == "administration_time_tracking");
    CHECK(f.staff("s1").profile.staff_type == "administration_time_tracking");
    CHECK(accepted(decide(f.s, set_staff_type{"s1", "administration_time_tracking"})).empty());
    CHECK(has_field(refused(decide(f.s, set_staff_type{"s1", "Administration"})), "type"));
}

TEST_CASE("staff: locations and programs are replaced as sets of known ids", "[aggregates][staff][locations]") {
    staff_fixture f;
    auto evs = f.run(set_staff_locations{"s1", {"loc-north", "loc-main", "loc-north"}});
    REQUIRE(evs.size() == 1);
    CHECK(std::get<events::StaffLocationsSet>(evs[0].data).location_ids == strings{"loc-main", "loc-north"});
    CHECK(f.staff("s1").profile.location_ids == strings{"loc-main", "loc-north"});
    CHECK(accepted(decide(f.s, set_staff_locations{"s1", {"loc-north", "loc-main"}})).empty());
    auto e = refused(decide(f.s, set_staff_locations{"s1", {"loc-moon"}}));
    CHECK(e.code == errc::validation);
    CHECK(field_message(e, "location_ids").find("'loc-moon'") != std::string::npos);
    f.run(set_staff_locations{"s1", {}});
    CHECK(f.staff("s1").profile.location_ids.empty());

    f.run(set_staff_programs{"s1", {"prog-youth"}});
    CHECK(f.staff("s1").profile.program_ids == strings{"prog-youth"});
    CHECK(accepted(decide(f.s, set_staff_programs{"s1", {"prog-youth"}})).empty());
    CHECK(has_field(refused(decide(f.s, set_staff_programs{"s1", {"prog-x"}})), "program_ids"));
    CHECK(f.staff("s1").version == 4);
}

TEST_CASE("staff: module permissions are granted and revoked one event per change",
          "[aggregates][staff][permissions]") {
    staff_fixture f;
    auto evs = f.run(set_module_permissions{"s1", true, true});
    REQUIRE(evs.size() == 2);
    CHECK(evs[0].aggregate_version == 2);
    CHECK(evs[1].aggregate_version == 3);
    CHECK(std::get<events::ModulePermissionGranted>(evs[0].data).permission == "client_portal");
    CHECK(std::get<events::ModulePermissionGranted>(evs[1].data).permission == "messaging");
    CHECK(f.staff("s1").permissions == std::set<std::string>{"client_portal", "messaging"});
    CHECK(f.staff("s1").version == 3);

    CHECK(accepted(decide(f.s, set_module_permissions{"s1", true, std::nullopt})).empty());
    evs = f.run(set_module_permissions{"s1", std::nullopt, false});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_version == 4);
    CHECK(std::get<events::ModulePermissionRevoked>(evs[0].data).permission == "messaging");
    CHECK(f.staff("s1").permissions == std::set<std::string>{"client_portal"});
}

TEST_CASE("staff: an unknown staff member is not found for every change", "[aggregates][staff]") {
    staff_fixture f;
    std::vector<command> commands = {
        update_staff_profile{"ghost", {}},  assign_role{"ghost", "admin"},
        set_staff_type{"ghost", "administration"}, set_staff_locations{"ghost", {}},
        set_staff_programs{"ghost", {}},    set_module_permissions{"ghost", true, false},
        deactivate_staff{"ghost", ""},
    };
    for (const auto& c : commands) {
        INFO("command #" << c.index());
        CHECK(refused(decide(f.s, c)).code == errc::not_found);
    }
}

TEST_CASE("staff: deactivation is recorded once", "[aggregates][staff][deactivate]") {
    staff_fixture f;
    auto evs = f.run(deactivate_staff{"s1", " left the agency "});
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_version == 2);
    CHECK(std::get<events::StaffDeactivated>(evs[0].data).reason == "left the agency");
    CHECK_FALSE(f.staff("s1").active);
    auto e = refused(decide(f.s, deactivate_staff{"s1", ""}));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("deactivated") != std::string::npos);
}

TEST_CASE("staff: a deactivated staff member refuses every change", "[aggregates][staff][deactivate]") {
    staff_fixture f;
    f.run(deactivate_staff{"s1", ""});
    update_staff_profile u{"s1", {}};
    u.patch.position = "Biller";
    std::vector<command> commands = {
        u,
        update_staff_profile{"s1", {}},
        assign_role{"s1", "admin"},
        assign_role{"s1", "therapist"},  // even a no-op
        set_staff_type{"s1", "administration"},
        set_staff_locations{"s1", {"loc-north"}},
        set_staff_programs{"s1", {"prog-iop"}},
        set_module_permissions{"s1", true, true},
    };
    for (const auto& c : commands) {
        INFO("command #" << c.index());
        auto e = refused(decide(f.s, c));
        CHECK(e.code == errc::conflict);
        CHECK(e.detail == "staff member is deactivated");
    }
    CHECK(f.staff("s1").version == 2);
}

TEST_CASE("staff: evolving every decision reproduces the intended state", "[aggregates][staff]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Shaun", "O'Brien");
    c.location_ids = {"loc-main"};
    f.hire(c);
    f.run(assign_role{"s1", "admin"});
    f.run(set_staff_type{"s1", "administration"});
    f.run(set_staff_locations{"s1", {"loc-north"}});
    f.run(set_staff_programs{"s1", {"prog-iop", "prog-youth"}});
    f.run(set_module_permissions{"s1", true, false});
    update_staff_profile u{"s1", {}};
    u.patch.position = "Office Manager";
    u.patch.supervisor_id = "admin-1";
    f.run(u);

    const auto& st = f.staff("s1");
    CHECK(st.version == 7);
    CHECK(st.profile.username == "sobrien");
    CHECK(st.profile.role == "admin");
    CHECK(st.profile.staff_type == "administration");
    CHECK(st.profile.location_ids == strings{"loc-north"});
    CHECK(st.profile.program_ids == strings{"prog-iop", "prog-youth"});
    CHECK(st.permissions == std::set<std::string>{"client_portal"});
    CHECK(st.profile.position == "Office Manager");
    CHECK(st.profile.supervisor_id == "admin-1");
    CHECK(st.active);
    CHECK(f.s.version == 5);  // staff changes never move the Agency's version
}

TEST_CASE("staff: events for an unknown staff member are ignored by evolve", "[aggregates][staff]") {
    agency_fixture f;
    auto before = f.s;
    evolve(f.s, "ghost", 3, events::RoleAssigned{"admin"});
    CHECK(f.s == before);
}
