// Staff directory: how each Staff event changes the staff view and its indexes.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

struct agency_with_staff {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};
    std::string a = uuid(1);
    agency_with_staff() { f.agency_event(a, agency_created("Sunrise", "sunrise")); }
    json::object view(const std::string& id) {
        auto v = db->staff(a, id);
        REQUIRE(v);
        return *v;
    }
    std::vector<std::string> list(staff_filter filter) { return list_all(*db, a, filter); }
    // Every test ends by checking that the indexes follow the views exactly.
    ~agency_with_staff() { check_indexes(*db); }
};

staff_filter by_role(std::string r) {
    staff_filter f;
    f.role = std::move(r);
    return f;
}

}  // namespace

TEST_CASE("staff directory: StaffCreated builds the whole staff view", "[projections][staff]") {
    agency_with_staff t;
    auto c = staff_created("Todd", "Jones", "tjones", "therapist", "therapy_counseling", {uuid(11)}, {uuid(21)});
    c.hire_date = "2026-01-15";
    c.phones = {{"mobile", "+1 555 0100"}};
    c.npi = "1234567893";
    c.supervisor_id = uuid(50);
    c.require_password_change = false;
    const auto id = uuid(100);
    REQUIRE(t.f.push(t.a, id, c) == apply_outcome::applied);

    auto v = t.view(id);
    CHECK(v.at("id").as_string() == id);
    CHECK(v.at("username").as_string() == "tjones");
    CHECK(v.at("first_name").as_string() == "Todd");
    CHECK(v.at("middle_name").is_null());
    CHECK(v.at("last_name").as_string() == "Jones");
    CHECK(v.at("gender").as_string() == "female");
    CHECK(v.at("position").as_string() == "Counselor");
    CHECK(v.at("email").as_string() == "Todd@example.org");
    CHECK(v.at("role").as_string() == "therapist");
    CHECK(v.at("type").as_string() == "therapy_counseling");
    CHECK(v.at("location_ids") == json::array{uuid(11)});
    CHECK(v.at("program_ids") == json::array{uuid(21)});
    CHECK(v.at("permissions") == json::object{{"client_portal", false}, {"messaging", false}});
    CHECK(v.at("active").as_bool());
    CHECK(v.at("version").to_number<int>() == 1);
    CHECK(v.at("require_password_change").as_bool() == false);
    CHECK(v.at("hire_date").as_string() == "2026-01-15");
    CHECK(v.at("phones") == json::array{json::object{{"kind", "mobile"}, {"number", "+1 555 0100"}}});
    CHECK(v.at("npi").as_string() == "1234567893");
    CHECK(v.at("supervisor_id").as_string() == uuid(50));
    CHECK(v.at("created_at").as_string() == format_rfc3339(t0 + 2 * second));
    CHECK(v.at("updated_at").as_string() == format_rfc3339(t0 + 2 * second));
    CHECK(v.at("deactivated_at").is_null());
    CHECK_FALSE(v.contains("password_hash"));

    CHECK(t.db->staff_id_by_username(t.a, "tjones") == id);
    CHECK(t.db->staff_id_by_username(t.a, "TJones") == id);
    CHECK_FALSE(t.db->staff_id_by_username(t.a, "tjone"));
    CHECK_FALSE(t.db->staff(t.a, uuid(101)));
    CHECK(t.list({}) == std::vector<std::string>{"tjones"});
}

TEST_CASE("staff directory: a profile update changes the present fields and clears with empty strings",
          "[projections][staff]") {
    agency_with_staff t;
    const auto id = uuid(100);
    auto c = staff_created("Todd", "Jones", "tjones", "therapist");
    c.middle_name = "David";
    c.npi = "1234567893";
    c.hire_date = "2026-01-15";
    t.f.push(t.a, id, c);

    StaffProfileUpdated u;
    u.last_name = "Smith";
    u.middle_name = "";
    u.npi = "";
    u.email = "todd.smith@example.org";
    u.phones = std::vector<Phone>{{"work", "555"}};
    REQUIRE(t.f.push(t.a, id, u) == apply_outcome::applied);

    auto v = t.view(id);
    CHECK(v.at("first_name").as_string() == "Todd");  // absent: unchanged
    CHECK(v.at("last_name").as_string() == "Smith");
    CHECK(v.at("middle_name").is_null());
    CHECK(v.at("npi").is_null());
    CHECK(v.at("hire_date").as_string() == "2026-01-15");
    CHECK(v.at("email").as_string() == "todd.smith@example.org");
    CHECK(v.at("phones") == json::array{json::object{{"kind", "work"}, {"number", "555"}}});
    CHECK(v.at("username").as_string() == "tjones");  // a username never changes
    CHECK(v.at("version").to_number<int>() == 2);
    CHECK(v.at("updated_at").as_string() == format_rfc3339(t0 + 3 * second));
    CHECK(v.at("created_at").as_string() == format_rfc3339(t0 + 2 * second));

    // The name search follows the new name and forgets the old one.
    staff_filter q;
    q.q = "smith";
    CHECK(t.list(q) == std::vector<std::string>{"tjones"});
    q.q = "jones";  // the old last name is gone; the username's token is "tjones"
    CHECK(t.list(q).empty());
    q.q = "david";
    CHECK(t.list(q).empty());
}

TEST_CASE("staff directory: a role change moves the staff member between role filters", "[projections][staff]") {
    agency_with_staff t;
    t.f.push(t.a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    t.f.push(t.a, uuid(101), staff_created("Ann", "Lee", "alee", "therapist"));
    CHECK(t.list(by_role("therapist")) == std::vector<std::string>{"alee", "tjones"});
    CHECK(t.list(by_role("biller")).empty());

    REQUIRE(t.f.push(t.a, uuid(100), RoleAssigned{"biller"}) == apply_outcome::applied);
    CHECK(t.view(uuid(100)).at("role").as_string() == "biller");
    CHECK(t.view(uuid(100)).at("version").to_number<int>() == 2);
    CHECK(t.list(by_role("therapist")) == std::vector<std::string>{"alee"});
    CHECK(t.list(by_role("biller")) == std::vector<std::string>{"tjones"});
}

TEST_CASE("staff directory: a staff type change moves the staff member between type filters",
          "[projections][staff]") {
    agency_with_staff t;
    t.f.push(t.a, uuid(100), staff_created("Todd", "Jones", "tjones", "scheduler", "administration"));
    staff_filter admin, therapy;
    admin.type = "administration";
    therapy.type = "therapy_counseling";
    CHECK(t.list(admin) == std::vector<std::string>{"tjones"});
    CHECK(t.list(therapy).empty());

    t.f.push(t.a, uuid(100), StaffTypeSet{"therapy_counseling"});
    CHECK(t.view(uuid(100)).at("type").as_string() == "therapy_counseling");
    CHECK(t.list(admin).empty());
    CHECK(t.list(therapy) == std::vector<std::string>{"tjones"});
}

TEST_CASE("staff directory: setting locations and programs replaces them in the filters", "[projections][staff]") {
    agency_with_staff t;
    const auto main = uuid(11), annex = uuid(12), outpatient = uuid(21), residential = uuid(22);
    t.f.push(t.a, uuid(100),
             staff_created("Todd", "Jones", "tjones", "therapist", "therapy_counseling", {main}, {outpatient}));
    staff_filter at_main, at_annex, in_out, in_res;
    at_main.location_id = main;
    at_annex.location_id = annex;
    in_out.program_id = outpatient;
    in_res.program_id = residential;
    CHECK(t.list(at_main).size() == 1);
    CHECK(t.list(at_annex).empty());
    CHECK(t.list(in_out).size() == 1);
    CHECK(t.list(in_res).empty());

    t.f.push(t.a, uuid(100), StaffLocationsSet{{annex}});
    t.f.push(t.a, uuid(100), StaffProgramsSet{{outpatient, residential}});
    auto v = t.view(uuid(100));
    CHECK(v.at("location_ids") == json::array{annex});
    CHECK(v.at("program_ids") == json::array{outpatient, residential});
    CHECK(v.at("version").to_number<int>() == 3);
    CHECK(t.list(at_main).empty());
    CHECK(t.list(at_annex) == std::vector<std::string>{"tjones"});
    CHECK(t.list(in_out) == std::vector<std::string>{"tjones"});
    CHECK(t.list(in_res) == std::vector<std::string>{"tjones"});

    t.f.push(t.a, uuid(100), StaffLocationsSet{{}});
    CHECK(t.view(uuid(100)).at("location_ids").as_array().empty());
    CHECK(t.list(at_annex).empty());
}

TEST_CASE("staff directory: module permissions are granted and revoked", "[projections][staff]") {
    agency_with_staff t;
    t.f.push(t.a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    t.f.push(t.a, uuid(100), ModulePermissionGranted{"client_portal"});
    t.f.push(t.a, uuid(100), ModulePermissionGranted{"messaging"});
    CHECK(t.view(uuid(100)).at("permissions") == json::object{{"client_portal", true}, {"messaging", true}});
    t.f.push(t.a, uuid(100), ModulePermissionRevoked{"client_portal"});
    CHECK(t.view(uuid(100)).at("permissions") == json::object{{"client_portal", false}, {"messaging", true}});
    CHECK(t.view(uuid(100)).at("version").to_number<int>() == 4);
}

TEST_CASE("staff directory: a deactivated staff member stays listed and keeps the username",
          "[projections][staff]") {
    agency_with_staff t;
    t.f.push(t.a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    t.f.push(t.a, uuid(101), staff_created("Ann", "Lee", "alee", "therapist"));
    REQUIRE(t.f.push(t.a, uuid(100), StaffDeactivated{"left the agency"}) == apply_outcome::applied);

    auto v = t.view(uuid(100));
    CHECK(v.at("active").as_bool() == false);
    CHECK(v.at("deactivated_at").as_string() == format_rfc3339(t.f.clock));
    CHECK(t.db->staff_id_by_username(t.a, "tjones") == uuid(100));

    staff_filter active, inactive, therapists_active;
    active.active = true;
    inactive.active = false;
    therapists_active.active = true;
    therapists_active.role = "therapist";
    CHECK(t.list({}) == std::vector<std::string>{"alee", "tjones"});
    CHECK(t.list(active) == std::vector<std::string>{"alee"});
    CHECK(t.list(inactive) == std::vector<std::string>{"tjones"});
    CHECK(t.list(therapists_active) == std::vector<std::string>{"alee"});
    CHECK(t.list(by_role("therapist")) == std::vector<std::string>{"alee", "tjones"});
}

TEST_CASE("staff directory: staff events without StaffCreated are kept in history but make no view",
          "[projections][staff]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);  // no AgencyCreated either
    f.versions[uuid(100)] = 4;
    REQUIRE(f.push(a, uuid(100), RoleAssigned{"biller"}) == apply_outcome::applied);
    REQUIRE(f.push(a, uuid(100), StaffDeactivated{""}) == apply_outcome::applied);
    CHECK_FALSE(db->staff(a, uuid(100)));
    CHECK(db->staff_history(a, uuid(100)).size() == 2);
    CHECK(list_all(*db, a, {}).empty());
    CHECK_FALSE(db->staff_as_of(a, uuid(100), f.clock));

    // A staff member of an agency the store never saw created is still a staff member.
    REQUIRE(f.push(a, uuid(101), staff_created("Ann", "Lee", "alee", "therapist")) == apply_outcome::applied);
    CHECK(list_all(*db, a, {}) == std::vector<std::string>{"alee"});
}

TEST_CASE("staff directory: a re-published StaffCreated is quarantined and does not roll the view back",
          "[projections][staff]") {
    agency_with_staff t;
    auto created = t.f.make(t.a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    auto bytes = t.f.bytes(created);
    t.f.push_bytes(bytes);
    t.f.push(t.a, uuid(100), RoleAssigned{"biller"});
    REQUIRE(t.f.push_bytes(bytes) == apply_outcome::quarantined);  // same event, later offset
    CHECK(t.view(uuid(100)).at("role").as_string() == "biller");
    CHECK(t.list(by_role("therapist")).empty());
    CHECK(t.db->staff_history(t.a, uuid(100)).size() == 2);  // one entry per event, not per record
}

TEST_CASE("staff directory: staff of two agencies never mix", "[projections][staff][tenancy]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), b = uuid(2);
    f.agency_event(a, agency_created("A", "a"));
    f.agency_event(b, agency_created("B", "b"));
    f.push(a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    f.push(b, uuid(200), staff_created("Tina", "Jones", "tjones", "biller"));

    CHECK(db->staff_id_by_username(a, "tjones") == uuid(100));
    CHECK(db->staff_id_by_username(b, "tjones") == uuid(200));
    CHECK_FALSE(db->staff(a, uuid(200)));
    CHECK_FALSE(db->staff(b, uuid(100)));
    CHECK(db->staff_history(a, uuid(200)).empty());
    staff_filter q;
    q.q = "t";
    CHECK(list_all(*db, a, q) == std::vector<std::string>{"tjones"});
    CHECK(db->list_staff(a, q, 10, std::nullopt)->items[0].as_object().at("id").as_string() == uuid(100));
    CHECK(list_all(*db, b, by_role("therapist")).empty());
}

TEST_CASE("staff directory: odd strings in ids and names are indexed without breaking keys",
          "[projections][staff]") {
    agency_with_staff t;
    const std::string weird_location = std::string("loc/with\0nul", 12);
    t.f.push(t.a, uuid(100),
             staff_created("Zoë", "D'Arcy-\xC3\x9F", "zdarcy-ss", "therapist", "therapy_counseling", {weird_location}));
    t.f.push(t.a, uuid(101), staff_created("Ann", "Lee", "alee", "therapist", "therapy_counseling", {"loc"}));
    staff_filter at;
    at.location_id = weird_location;
    CHECK(t.list(at) == std::vector<std::string>{"zdarcy-ss"});
    at.location_id = "loc";
    CHECK(t.list(at) == std::vector<std::string>{"alee"});
    staff_filter q;
    q.q = "zoe darcy";
    CHECK(t.list(q) == std::vector<std::string>{"zdarcy-ss"});
    CHECK(t.view(uuid(100)).at("location_ids").as_array()[0].as_string() == weird_location);
}
