// The username rule of SPEC §1: first initial + last name, the middle initial on a collision,
// 409 naming the taken usernames when neither is free; explicit usernames only in the rule's shape.
#include "fixtures.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

TEST_CASE("staff: a username part keeps lower-case letters, digits and inner hyphens",
          "[aggregates][staff][username]") {
    CHECK(username_part("Jones") == "jones");
    CHECK(username_part("García-López") == "garcia-lopez");
    CHECK(username_part("O'Brien") == "obrien");
    CHECK(username_part("O\xe2\x80\x99" "Brien") == "obrien");        // typographic apostrophe
    CHECK(username_part("Van der Berg") == "vanderberg");
    CHECK(username_part("Smith--Jones") == "smith-jones");
    CHECK(username_part("-Smith-") == "smith");
    CHECK(username_part(" - ") == "");
    CHECK(username_part("García \xe2\x80\x93 López") == "garcia-lopez");  // en dash counts as a hyphen
    CHECK(username_part("Núñez") == "nunez");
    CHECK(username_part("Strauß") == "strauss");
    CHECK(username_part("Łukasz") == "lukasz");
    CHECK(username_part("Jr.") == "jr");
    CHECK(username_part("Henry VIII 2") == "henryviii2");
    CHECK(username_part("\xe7\x8e\x8b") == "");  // no Latin letters
    CHECK(username_part("bad\xc3") == "");        // invalid UTF-8 yields nothing
}

TEST_CASE("staff: base and middle usernames follow the seed's examples", "[aggregates][staff][username]") {
    CHECK(base_username("Todd", "Jones") == "tjones");
    CHECK(base_username("Maria", "García-López") == "mgarcia-lopez");
    CHECK(base_username("José", "Núñez") == "jnunez");
    CHECK(base_username("Shaun", "O'Brien") == "sobrien");
    CHECK(base_username("Élodie", "Dupont") == "edupont");
    CHECK(base_username("Mary Ann", "de la Cruz") == "mdelacruz");
    CHECK(base_username("Todd", "") == "");
    CHECK(base_username("", "Jones") == "");
    CHECK(middle_username("Todd", "David", "Jones") == "tdjones");
    CHECK(middle_username("Todd", "d.", "Jones") == "tdjones");
    CHECK(middle_username("Todd", "Émile", "Jones") == "tejones");
    CHECK(middle_username("Todd", "", "Jones") == "");
}

TEST_CASE("staff: the username is the first initial and the last name", "[aggregates][staff][username]") {
    agency_fixture f;
    CHECK(f.hire(staff_cmd("s1", "Todd", "Jones")) == "tjones");
    CHECK(f.hire(staff_cmd("s2", "Maria", "García-López")) == "mgarcia-lopez");
    CHECK(f.hire(staff_cmd("s3", "José", "Núñez")) == "jnunez");
    CHECK(f.hire(staff_cmd("s4", "Shaun", "O'Brien")) == "sobrien");
    CHECK(f.s.usernames.at("tjones") == "s1");
}

TEST_CASE("staff: a taken username falls back to the middle initial", "[aggregates][staff][username]") {
    agency_fixture f;
    CHECK(f.hire(staff_cmd("s1", "Todd", "Jones")) == "tjones");
    CHECK(f.hire(staff_cmd("s2", "Todd", "Jones", "David")) == "tdjones");
    CHECK(f.s.usernames.at("tdjones") == "s2");
}

TEST_CASE("staff: a taken username without a middle name is a conflict asking for one",
          "[aggregates][staff][username]") {
    agency_fixture f;
    f.hire(staff_cmd("s1", "Todd", "Jones"));
    auto e = refused(decide(f.s, staff_cmd("s2", "Tina", "Jones")));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("'tjones'") != std::string::npos);
    CHECK(e.detail.find("middle name") != std::string::npos);
    CHECK(has_field(e, "middle_name"));
    CHECK_FALSE(f.s.staff.contains("s2"));
}

TEST_CASE("staff: when both the base and the middle form are taken the conflict names both",
          "[aggregates][staff][username]") {
    agency_fixture f;
    CHECK(f.hire(staff_cmd("s1", "Todd", "Jones")) == "tjones");
    CHECK(f.hire(staff_cmd("s2", "Todd", "Jones", "David")) == "tdjones");
    auto e = refused(decide(f.s, staff_cmd("s3", "Tom", "Jones", "Dean")));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail.find("'tjones'") != std::string::npos);
    CHECK(e.detail.find("'tdjones'") != std::string::npos);
    CHECK(e.detail.find("middle name") != std::string::npos);
    CHECK(field_message(e, "middle_name").find("tdjones") != std::string::npos);
    // Another middle initial is free.
    CHECK(f.hire(staff_cmd("s3", "Tom", "Jones", "Xavier")) == "txjones");
}

TEST_CASE("staff: username collisions ignore case", "[aggregates][staff][username]") {
    agency_fixture f;
    CHECK(f.hire(staff_cmd("s1", "TODD", "JONES")) == "tjones");
    auto e = refused(decide(f.s, staff_cmd("s2", "todd", "jones")));
    CHECK(e.code == errc::conflict);

    // A username recorded in another case (e.g. by an older writer) still blocks.
    events::StaffCreated legacy;
    legacy.first_name = "Ann";
    legacy.last_name = "Lee";
    legacy.username = "ALee";
    legacy.role = "scheduler";
    legacy.staff_type = "administration";
    evolve(f.s, "legacy-1", 1, legacy);
    CHECK(f.s.usernames.at("alee") == "legacy-1");
    CHECK(refused(decide(f.s, staff_cmd("s3", "Amy", "Lee"))).code == errc::conflict);
    auto c = staff_cmd("s3", "Amy", "Lee");
    c.username = "ALEE";
    auto e2 = refused(decide(f.s, c));
    CHECK(e2.code == errc::conflict);
    CHECK(e2.detail.find("'alee'") != std::string::npos);
}

TEST_CASE("staff: a deactivated staff member keeps the username forever", "[aggregates][staff][username]") {
    agency_fixture f;
    f.hire(staff_cmd("s1", "Todd", "Jones"));
    f.run(deactivate_staff{"s1", "left the agency"});
    CHECK(f.s.usernames.at("tjones") == "s1");
    CHECK(refused(decide(f.s, staff_cmd("s2", "Todd", "Jones"))).code == errc::conflict);
    CHECK(f.hire(staff_cmd("s2", "Todd", "Jones", "Lee")) == "tljones");
}

TEST_CASE("staff: an explicit username is accepted in the rule's shape and stored lower-case",
          "[aggregates][staff][username]") {
    agency_fixture f;
    auto c = staff_cmd("s1", "Todd", "Jones", "David");
    c.username = "TJones";
    CHECK(f.hire(c) == "tjones");

    // The middle form may be chosen even when the base form is free.
    auto d = staff_cmd("s2", "Tara", "Smith", "Dawn");
    d.username = " tdsmith ";
    CHECK(f.hire(d) == "tdsmith");
    CHECK(f.s.usernames.contains("tdsmith"));
    CHECK_FALSE(f.s.usernames.contains("tsmith"));

    // An empty explicit username lets the rule choose.
    auto e = staff_cmd("s3", "Maria", "García-López");
    e.username = "";
    CHECK(f.hire(e) == "mgarcia-lopez");
}

TEST_CASE("staff: an explicit username out of the rule's shape is a validation error",
          "[aggregates][staff][username]") {
    agency_fixture f;
    for (auto bad : {"toddj", "todd.jones", "tjones1", "tdjones", "admin", "t-jones"}) {
        INFO(bad);
        auto c = staff_cmd("s1", "Todd", "Jones");
        c.username = bad;
        auto e = refused(decide(f.s, c));
        CHECK(e.code == errc::validation);
        CHECK(field_message(e, "username").find("'tjones'") != std::string::npos);
    }
    auto c = staff_cmd("s1", "Todd", "Jones", "David");
    c.username = "tljones";
    auto e = refused(decide(f.s, c));
    CHECK(field_message(e, "username").find("'tdjones'") != std::string::npos);
    // Without the hyphen a hyphenated last name is not the rule's shape.
    auto h = staff_cmd("s2", "Maria", "García-López");
    h.username = "mgarcialopez";
    CHECK(refused(decide(f.s, h)).code == errc::validation);
}

TEST_CASE("staff: an explicit username that is taken is a conflict naming it", "[aggregates][staff][username]") {
    agency_fixture f;
    f.hire(staff_cmd("s1", "Todd", "Jones"));
    auto c = staff_cmd("s2", "Todd", "Jones", "David");
    c.username = "tjones";
    auto e = refused(decide(f.s, c));
    CHECK(e.code == errc::conflict);
    CHECK(e.detail == "username 'tjones' is taken");
    CHECK(has_field(e, "username"));
}

TEST_CASE("staff: names that yield no username letters are refused", "[aggregates][staff][username]") {
    agency_fixture f;
    auto e = refused(decide(f.s, staff_cmd("s1", "\xe7\x8e\x8b", "Jones")));
    CHECK(e.code == errc::validation);
    CHECK(has_field(e, "first_name"));
    auto e2 = refused(decide(f.s, staff_cmd("s1", "Todd", "'--'")));
    CHECK(has_field(e2, "last_name"));
}

TEST_CASE("staff: the username preview gives what create_staff then decides, and the same words when it refuses",
          "[aggregates][staff][username]") {
    agency_fixture f;
    f.hire(staff_cmd("s1", "Todd", "Jones"));
    f.hire(staff_cmd("s2", "Todd", "Jones", "David"));
    const auto taken = [&](const std::string& name) { return f.s.usernames.contains(name); };
    struct name_case {
        const char *first, *last, *middle;
    };
    int n = 10;
    for (auto c : {name_case{"Ann", "Berg", ""}, name_case{"Tina", "Jones", ""}, name_case{"Tom", "Jones", "Dean"},
                   name_case{"Tom", "Jones", "Xavier"}, name_case{"José", "Núñez", ""}}) {
        INFO(c.first << " " << c.middle << " " << c.last);
        auto p = preview_username(c.first, c.middle, c.last, taken);
        auto cmd = staff_cmd("s" + std::to_string(n++), c.first, c.last, c.middle);
        if (!p.username.empty()) {
            CHECK(p.reason.empty());
            CHECK(f.hire(cmd) == p.username);
        } else {
            auto e = refused(decide(f.s, cmd));
            CHECK(e.code == errc::conflict);
            CHECK(e.detail == p.reason);
        }
    }
    auto none = preview_username("!!", "", "Jones", taken);
    CHECK(none.username.empty());
    CHECK(none.base.empty());
    CHECK(!none.reason.empty());
}
