// Clients and assignments: add_client validation, assignment rules, visibility.
#include "client_fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

TEST_CASE("clients: a valid client is added with its fields trimmed", "[aggregates][clients]") {
    client_fixture f;
    auto c = client_cmd("c9", "  Zoë ", " O'Brien ");
    c.external_id = "EXT-1";
    auto evs = f.go(c);
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "c9");
    CHECK(evs[0].aggregate_version == 1);
    CHECK(events::aggregate_type_of(evs[0]) == "Client");
    auto added = std::get<events::ClientAdded>(evs[0].data);
    CHECK(added.first_name == "Zoë");
    CHECK(added.last_name == "O'Brien");
    CHECK(f.client("c9").profile.external_id == "EXT-1");
    CHECK(f.client("c9").version == 1);
}

TEST_CASE("clients: every bad field is reported at once", "[aggregates][clients]") {
    client_fixture f;
    auto c = client_cmd("c9", "", "\x01");
    c.date_of_birth = "1990-02-30";
    c.email = "not-an-email";
    c.phone = "12";
    auto e = refused(f.try_(c));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "first_name"));
    CHECK(has_field(e, "last_name"));
    CHECK(has_field(e, "date_of_birth"));
    CHECK(has_field(e, "email"));
    CHECK(has_field(e, "phone"));
}

TEST_CASE("clients: the date of birth must be a real date, not in the future", "[aggregates][clients]") {
    client_fixture f;
    for (auto bad : {"2026-09-22", "2030-01-01", "1899-12-31", "2023-02-29", "12/04/1985", "1985-4-12", ""}) {
        auto c = client_cmd("c9");
        c.date_of_birth = bad;
        INFO(bad);
        CHECK(field_message(refused(f.try_(c)), "date_of_birth") != "");
    }
    for (auto good : {"2026-09-21", "2024-02-29", "1900-01-01"}) {
        auto c = client_cmd(std::string("ok-") + good);
        c.date_of_birth = good;
        INFO(good);
        CHECK(f.try_(c).has_value());
    }
    auto future = client_cmd("c9");
    future.date_of_birth = "2026-09-22";
    CHECK(field_message(refused(f.try_(future)), "date_of_birth") == "must not be in the future");
}

TEST_CASE("clients: e-mail and phone are optional, and one e-mail may serve many clients", "[aggregates][clients]") {
    client_fixture f;
    auto none = client_cmd("c9");
    none.email = "";
    none.phone = "";
    f.go(none);
    // c1 and c2 already use family@example.org; a third is fine.
    f.go(client_cmd("c10", "Cy", "Lee"));
    CHECK(f.client("c10").profile.email == f.client("c1").profile.email);
}

TEST_CASE("clients: client ids and external ids are unique", "[aggregates][clients]") {
    client_fixture f;
    CHECK(refused(f.try_(client_cmd("c1"))).code == errc::conflict);
    auto a = client_cmd("c9");
    a.external_id = "EXT-7";
    f.go(a);
    auto b = client_cmd("c10");
    b.external_id = "EXT-7";
    CHECK(refused(f.try_(b)).code == errc::conflict);
}

TEST_CASE("clients: assigning needs an existing active staff member and is idempotent", "[aggregates][clients]") {
    client_fixture f;
    CHECK(f.client("c1").assigned_staff == std::set<std::string>{"t1"});
    CHECK(f.go(assign_staff_to_client{"c1", "t1"}).empty());  // already assigned: no event
    auto evs = f.go(assign_staff_to_client{"c1", "t2"});
    REQUIRE(evs.size() == 1);
    CHECK(std::get<events::StaffAssignedToClient>(evs[0].data).staff_id == "t2");
    CHECK(refused(f.try_(assign_staff_to_client{"c1", "nobody"})).code == errc::not_found);
    CHECK(refused(f.try_(assign_staff_to_client{"nobody", "t1"})).code == errc::not_found);
    f.hire(staff_cmd("t3", "Lea", "Park"));
    f.go(deactivate_staff{"t3", "left"});
    CHECK(refused(f.try_(assign_staff_to_client{"c1", "t3"})).code == errc::conflict);
}

TEST_CASE("clients: unassigning is idempotent", "[aggregates][clients]") {
    client_fixture f;
    auto evs = f.go(unassign_staff_from_client{"c1", "t1"});
    REQUIRE(evs.size() == 1);
    CHECK(std::holds_alternative<events::StaffUnassignedFromClient>(evs[0].data));
    CHECK(f.client("c1").assigned_staff.empty());
    CHECK(f.go(unassign_staff_from_client{"c1", "t1"}).empty());
    CHECK(refused(f.try_(unassign_staff_from_client{"c1", "nobody"})).code == errc::not_found);
}

TEST_CASE("clients: a therapist sees only assigned clients, administration sees all", "[aggregates][clients]") {
    client_fixture f;
    CHECK(staff_can_see_client(f.staff("t1"), f.client("c1")));
    CHECK_FALSE(staff_can_see_client(f.staff("t1"), f.client("c2")));
    CHECK_FALSE(staff_can_see_client(f.staff("t2"), f.client("c1")));
    CHECK(staff_can_see_client(f.staff("admin-1"), f.client("c1")));
    CHECK(staff_can_see_client(f.staff("admin-1"), f.client("c2")));
    f.go(unassign_staff_from_client{"c1", "t1"});
    CHECK_FALSE(staff_can_see_client(f.staff("t1"), f.client("c1")));
    f.go(set_staff_type{"t2", "administration"});
    CHECK(staff_can_see_client(f.staff("t2"), f.client("c2")));
}

TEST_CASE("clients: versions of a client count its own events", "[aggregates][clients]") {
    client_fixture f;
    CHECK(f.client("c1").version == 2);  // ClientAdded + StaffAssignedToClient
    auto evs = f.go(assign_staff_to_client{"c1", "t2"});
    CHECK(evs[0].aggregate_version == 3);
    CHECK(f.client("c2").version == 1);
}
