// Creating a staff member: required fields, references into the agency, NPI, dates, phones, and
// one validation error listing every bad field.
#include "fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

TEST_CASE("staff: creation yields StaffCreated at version 1 and evolves into the directory",
          "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "  Todd ", "Jones", "David");
    c.location_ids = {"loc-main"};
    c.program_ids = {"prog-iop"};
    c.hire_date = "2024-02-29";
    c.phones = {{"mobile", "+1 (555) 010-0200"}};
    c.npi = "1234567893";
    c.supervisor_id = "admin-1";
    auto evs = accepted(decide(f.s, c));
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].aggregate_id == "s1");
    CHECK(evs[0].aggregate_version == 1);
    const auto& e = std::get<events::StaffCreated>(evs[0].data);
    CHECK(e.first_name == "Todd");
    CHECK(e.middle_name == "David");
    CHECK(e.username == "tjones");
    CHECK(e.role == "therapist");
    CHECK(e.staff_type == "therapy_counseling");
    CHECK(e.location_ids == strings{"loc-main"});
    CHECK(e.program_ids == strings{"prog-iop"});
    CHECK(e.npi == "1234567893");
    CHECK(e.supervisor_id == "admin-1");
    CHECK(e.require_password_change);
    CHECK(e.password_hash == c.password_hash);

    auto agency_version = f.s.version;
    fold_in(f.s, evs);
    const auto& st = f.staff("s1");
    CHECK(st.version == 1);
    CHECK(st.active);
    CHECK(st.permissions.empty());
    CHECK(st.profile == e);
    CHECK(f.s.version == agency_version);  // a Staff event leaves the Agency's version alone
}

TEST_CASE("staff: require_password_change is carried as given", "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.require_password_change = false;
    f.run(c);
    CHECK_FALSE(f.staff("s1").profile.require_password_change);
}

TEST_CASE("staff: a staff id can be created only once", "[aggregates][staff][create]") {
    agency_fixture f;
    f.hire(staff_cmd("s1", "Todd", "Jones"));
    auto e = refused(decide(f.s, staff_cmd("s1", "Other", "Person")));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("s1") != std::string::npos);
}

TEST_CASE("staff: every invalid field of a creation is reported together", "[aggregates][staff][create]") {
    agency_fixture f;
    create_staff c;
    c.staff_id = "s1";
    c.email = "nobody";
    c.role = "wizard";
    c.staff_type = "therapist";
    c.npi = "1234567890";
    c.hire_date = "2023-02-29";
    c.location_ids = {"loc-moon"};
    c.program_ids = {"prog-mars"};
    c.supervisor_id = "ghost";
    c.phones = {{"", "555"}};
    auto e = refused(decide(f.s, c));
    CHECK(e.code == errc::validation);
    for (auto field : {"first_name", "last_name", "gender", "position", "email", "role", "type", "npi", "hire_date",
                       "location_ids", "program_ids", "supervisor_id", "phones[0].kind"}) {
        INFO(field);
        CHECK(has_field(e, field));
    }
    CHECK(e.fields.size() == 13);
}

TEST_CASE("staff: an unknown location or program is a validation error naming it", "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.location_ids = {"loc-main", "loc-moon"};
    auto e = refused(decide(f.s, c));
    CHECK(e.code == errc::validation);
    CHECK(field_message(e, "location_ids").find("'loc-moon'") != std::string::npos);
    CHECK(field_message(e, "location_ids").find("loc-main") == std::string::npos);

    auto p = staff_cmd("s1", "Todd", "Jones");
    p.program_ids = {"prog-x", "prog-y"};
    CHECK(field_message(refused(decide(f.s, p)), "program_ids").find("'prog-x', 'prog-y'") != std::string::npos);
}

TEST_CASE("staff: repeated location and program ids are dropped and the sets sorted", "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.location_ids = {"loc-north", "loc-main", "loc-north"};
    c.program_ids = {"prog-youth", "prog-youth"};
    f.run(c);
    CHECK(f.staff("s1").profile.location_ids == strings{"loc-main", "loc-north"});
    CHECK(f.staff("s1").profile.program_ids == strings{"prog-youth"});
}

TEST_CASE("staff: the NPI is 10 digits with a Luhn check over 80840", "[aggregates][staff][npi]") {
    CHECK(is_valid_npi("1234567893"));
    CHECK_FALSE(is_valid_npi("1234567890"));
    CHECK(is_valid_npi("1245319599"));  // a published example NPI
    CHECK_FALSE(is_valid_npi("3234567893"));  // first digit must be 1 or 2
    CHECK_FALSE(is_valid_npi("123456789"));
    CHECK_FALSE(is_valid_npi("12345678930"));
    CHECK_FALSE(is_valid_npi("12345678a3"));
    CHECK_FALSE(is_valid_npi(""));

    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.npi = "1234567890";
    auto e = refused(decide(f.s, c));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "npi"));
    c.npi = "";
    f.run(c);
    CHECK(f.staff("s1").profile.npi.empty());
}

TEST_CASE("staff: a supervisor must be an active staff member of the agency", "[aggregates][staff][create]") {
    agency_fixture f;
    f.hire(staff_cmd("boss", "Bea", "Boss"));
    f.run(deactivate_staff{"boss", ""});
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.supervisor_id = "boss";
    CHECK(field_message(refused(decide(f.s, c)), "supervisor_id").find("deactivated") != std::string::npos);
    c.supervisor_id = "nobody";
    CHECK(field_message(refused(decide(f.s, c)), "supervisor_id").find("'nobody'") != std::string::npos);
    c.supervisor_id = "admin-1";
    f.run(c);
    CHECK(f.staff("s1").profile.supervisor_id == "admin-1");
}

TEST_CASE("staff: a hire date is a real calendar date", "[aggregates][staff][create]") {
    agency_fixture f;
    int n = 0;
    for (auto ok : {"2024-02-29", "2000-02-29", "1999-12-31", "2023-04-30"}) {
        INFO(ok);
        auto c = staff_cmd("ok-" + std::to_string(n), "Person", "Number" + std::string(1, static_cast<char>('a' + n)));
        ++n;
        c.hire_date = ok;
        CHECK(decide(f.s, c).has_value());
    }
    for (auto bad : {"2023-02-29", "1900-02-29", "2024-13-01", "2024-04-31", "2024-00-10", "24-01-01", "2024/01/01",
                     "2024-1-1", "1899-12-31", "2024-01-01T00:00:00Z"}) {
        INFO(bad);
        auto c = staff_cmd("s1", "Todd", "Jones");
        c.hire_date = bad;
        CHECK(has_field(refused(decide(f.s, c)), "hire_date"));
    }
}

TEST_CASE("staff: e-mail addresses need one @ and a dotted domain", "[aggregates][staff][create]") {
    agency_fixture f;
    for (auto ok : {"a@b.co", "todd.jones+work@clinic.example.org", " spaced@trim.example "}) {
        INFO(ok);
        auto c = staff_cmd("s1", "Todd", "Jones");
        c.email = ok;
        CHECK(decide(f.s, c).has_value());
    }
    const std::string too_long = std::string(64, 'a') + "@" + std::string(186, 'b') + ".com";  // 255
    for (std::string bad : {"", "plain", "@example.org", "a@", "a@b", "a@@b.org", "a@b@c.org", "a b@c.org",
                            "a@.org", "a@b.", "a@b..org", too_long.c_str()}) {
        INFO(bad);
        auto c = staff_cmd("s1", "Todd", "Jones");
        c.email = bad;
        CHECK(has_field(refused(decide(f.s, c)), "email"));
    }
}

TEST_CASE("staff: names must be valid UTF-8 without control characters and within length",
          "[aggregates][staff][create]") {
    agency_fixture f;
    auto check_bad = [&](std::string first, const char* why) {
        INFO(why);
        auto c = staff_cmd("s1", std::move(first), "Jones");
        CHECK(has_field(refused(decide(f.s, c)), "first_name"));
    };
    check_bad("To\xc3", "truncated UTF-8");
    check_bad("\xc0\xaf" "dd", "overlong UTF-8");
    check_bad("To\ndd", "newline");
    check_bad("To\x7f" "dd", "DEL");
    check_bad("To\xc2\x85" "dd", "C1 control (NEL)");
    check_bad(std::string(101, 't'), "101 characters");
    check_bad("   ", "blank");

    auto c = staff_cmd("s1", std::string(100, 't'), "Jones");
    CHECK(decide(f.s, c).has_value());
    // Length counts characters, not bytes: 100 two-byte letters fit.
    std::string accented;
    for (int i = 0; i < 100; ++i) accented += "\xc3\xa9";
    auto d = staff_cmd("s2", accented, "Jones");
    CHECK(decide(f.s, d).has_value());
}

TEST_CASE("staff: gender, position, role and type are required", "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.gender = std::string(51, 'g');
    c.position = std::string(201, 'p');
    c.role = "";
    c.staff_type = "administration (time tracking)";
    auto e = refused(decide(f.s, c));
    CHECK(has_field(e, "gender"));
    CHECK(has_field(e, "position"));
    CHECK(field_message(e, "role").find("org_admin") != std::string::npos);
    CHECK(field_message(e, "type").find("administration_time_tracking") != std::string::npos);

    for (auto role : role_values)
        for (auto type : staff_type_values) {
            auto ok = staff_cmd("s1", "Todd", "Jones");
            ok.role = role;
            ok.staff_type = type;
            CHECK(decide(f.s, ok).has_value());
        }
}

TEST_CASE("staff: phone numbers need a kind and a number", "[aggregates][staff][create]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones");
    c.phones = {{"work", "555-0100"}, {"mobile", ""}, {"fax", "call me"}};
    auto e = refused(decide(f.s, c));
    CHECK(has_field(e, "phones[1].number"));
    CHECK(has_field(e, "phones[2].number"));
    CHECK_FALSE(has_field(e, "phones[0].number"));
    c.phones = {{" work ", " 555-0100 "}};
    f.run(c);
    CHECK(f.staff("s1").profile.phones == std::vector<events::Phone>{{"work", "555-0100"}});
}
