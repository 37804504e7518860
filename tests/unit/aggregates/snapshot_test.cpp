// Snapshots: the writer's local copy of an agency's state must come back exactly as it was.
#include "fixtures.hpp"

#include <boost/json.hpp>

#include "carelog/aggregates/snapshot.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
namespace json = boost::json;

namespace {
agency_state rich_state() {
    agency_fixture f;
    change_settings cs;
    cs.patch.client_portal_enabled = true;
    cs.patch.mfa_required_roles = strings{"org_admin"};
    cs.patch.services = strings{"Individual therapy", "Group therapy"};
    cs.patch.password_expiry_days = 0;
    f.run(cs);
    auto c = staff_cmd("s1", "José", "Núñez", "Émile");
    c.location_ids = {"loc-main", "loc-north"};
    c.program_ids = {"prog-iop"};
    c.phones = {{"work", "555-0100"}, {"mobile", "555-0199"}};
    c.npi = "1234567893";
    c.hire_date = "2021-06-01";
    c.supervisor_id = "admin-1";
    c.require_password_change = false;
    f.hire(c);
    f.run(set_module_permissions{"s1", true, true});
    f.hire(staff_cmd("s2", "Todd", "Jones"));
    f.run(deactivate_staff{"s2", "moved away"});
    return f.s;
}
}  // namespace

TEST_CASE("snapshot: a complete state survives to_json and back unchanged", "[aggregates][snapshot]") {
    auto s = rich_state();
    auto text = json::serialize(to_json(s));
    auto back = agency_state_from_json(json::parse(text));
    REQUIRE(back.has_value());
    CHECK(*back == s);
    CHECK(back->staff.at("s1").permissions.size() == 2);
    CHECK_FALSE(back->staff.at("s2").active);
    CHECK(back->usernames.at("tjones") == "s2");
    CHECK(back->settings.services == strings{"Individual therapy", "Group therapy"});
}

TEST_CASE("snapshot: decisions against a restored state match decisions against the original",
          "[aggregates][snapshot]") {
    auto s = rich_state();
    auto back = agency_state_from_json(to_json(s));
    REQUIRE(back.has_value());
    auto a = decide(s, command{staff_cmd("s3", "Todd", "Jones", "Dale")});
    auto b = decide(*back, command{staff_cmd("s3", "Todd", "Jones", "Dale")});
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(std::get<events::StaffCreated>((*a)[0].data) == std::get<events::StaffCreated>((*b)[0].data));
    CHECK(std::get<events::StaffCreated>((*b)[0].data).username == "tdjones");
}

TEST_CASE("snapshot: an empty state round-trips", "[aggregates][snapshot]") {
    agency_state s;
    auto back = agency_state_from_json(to_json(s));
    REQUIRE(back.has_value());
    CHECK(*back == s);
}

TEST_CASE("snapshot: a damaged snapshot is refused, not half-loaded", "[aggregates][snapshot]") {
    auto good = to_json(rich_state());
    CHECK(agency_state_from_json(json::value(42)).error().code == errc::malformed);
    CHECK(agency_state_from_json(json::object{}).error().code == errc::malformed);

    auto wrong_format = good;
    wrong_format.as_object()["format"] = 99;
    CHECK(agency_state_from_json(wrong_format).error().detail.find("format") != std::string::npos);

    auto wrong_type = good;
    wrong_type.as_object()["version"] = "seven";
    CHECK_FALSE(agency_state_from_json(wrong_type).has_value());

    auto missing_profile = good;
    missing_profile.as_object()["staff"].as_array()[0].as_object().erase("profile");
    CHECK_FALSE(agency_state_from_json(missing_profile).has_value());

    auto negative = good;
    negative.as_object()["version"] = -1;
    CHECK_FALSE(agency_state_from_json(negative).has_value());
}
