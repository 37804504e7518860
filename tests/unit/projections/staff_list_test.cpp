// Staff directory listing: name search, filter combinations, pagination, validation.
#include <algorithm>
#include <set>

#include "carelog/base/text.hpp"
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

using names = std::vector<std::string>;

struct directory {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};
    std::string a = uuid(1);
    int next_id = 100;
    directory() { f.agency_event(a, agency_created("Sunrise", "sunrise")); }
    ~directory() { check_indexes(*db); }
    std::string add(StaffCreated c) {
        auto id = uuid(next_id++);
        REQUIRE(f.push(a, id, std::move(c)) == apply_outcome::applied);
        return id;
    }
    names q(std::string text) {
        staff_filter filter;
        filter.q = std::move(text);
        return list_all(*db, a, filter);
    }
};

}  // namespace

TEST_CASE("staff search: q matches name prefixes, ignoring case and accents", "[projections][staff][search]") {
    directory d;
    d.add(staff_created("José", "Núñez", "jnunez", "therapist"));
    d.add(staff_created("Shaun", "O'Brien", "sobrien", "therapist"));
    d.add(staff_created("María", "García-López", "mgarcia-lopez", "biller"));
    d.add(staff_created("Todd", "Jones", "tjones", "scheduler", "administration", {}, {}, "David"));
    d.add(staff_created("Tomás", "Jonsson", "tjonsson", "scheduler"));

    CHECK(d.q("jose") == names{"jnunez"});
    CHECK(d.q("JOSÉ") == names{"jnunez"});
    CHECK(d.q("nuñ") == names{"jnunez"});
    CHECK(d.q("nun") == names{"jnunez"});
    CHECK(d.q("jnun") == names{"jnunez"});               // username prefix
    CHECK(d.q("o'bri") == names{"sobrien"});             // apostrophes drop, as in the username rule
    CHECK(d.q("obrien") == names{"sobrien"});
    CHECK(d.q("brien") == names{"sobrien"});             // a part of a punctuated word
    CHECK(d.q("lopez") == names{"mgarcia-lopez"});       // second half of a hyphenated name
    CHECK(d.q("garcia-lo") == names{"mgarcia-lopez"});
    CHECK(d.q("david") == names{"tjones"});              // middle name
    CHECK(d.q("jon") == names{"tjones", "tjonsson"});   // prefix, ordered by username
    CHECK(d.q("t") == names{"tjones", "tjonsson"});
    CHECK(d.q("ones").empty());                          // not a prefix of any token
    CHECK(d.q("jose nu") == names{"jnunez"});            // every word must match
    CHECK(d.q("  Tomas   JON ") == names{"tjonsson"});
    CHECK(d.q("jose jones").empty());
    CHECK(d.q("x").empty());
    // A q with no letter or digit filters nothing.
    CHECK(d.q("  ").size() == 5);
}

TEST_CASE("staff search: filters combine", "[projections][staff][search]") {
    directory d;
    const auto main = uuid(11), annex = uuid(12), op = uuid(21), res = uuid(22);
    d.add(staff_created("Todd", "Jones", "tjones", "therapist", "therapy_counseling", {main}, {op}));
    d.add(staff_created("Tara", "Jansen", "tjansen", "therapist", "therapy_counseling", {annex}, {op}));
    d.add(staff_created("Tim", "Jonas", "tjonas", "biller", "administration", {main}, {res}));
    auto deactivated = d.add(staff_created("Tess", "Jonah", "tjonah", "therapist", "therapy_counseling", {main}, {op}));
    d.add(staff_created("Ann", "Lee", "alee", "therapist", "therapy_counseling", {main, annex}, {op, res}));
    d.f.push(d.a, deactivated, StaffDeactivated{""});

    auto list = [&](staff_filter f) { return list_all(*d.db, d.a, f); };
    staff_filter f;
    f.role = "therapist";
    f.location_id = main;
    CHECK(list(f) == names{"alee", "tjonah", "tjones"});
    f.active = true;
    CHECK(list(f) == names{"alee", "tjones"});
    f.q = "jo";
    CHECK(list(f) == names{"tjones"});
    f.program_id = res;
    CHECK(list(f).empty());

    staff_filter g;
    g.type = "administration";
    g.program_id = res;
    CHECK(list(g) == names{"tjonas"});
    g.location_id = annex;
    CHECK(list(g).empty());

    staff_filter h;
    h.program_id = op;
    h.location_id = annex;
    CHECK(list(h) == names{"alee", "tjansen"});
    h.q = "t";
    CHECK(list(h) == names{"tjansen"});
    h.role = "biller";
    CHECK(list(h).empty());

    staff_filter unknown;
    unknown.role = "nobody";
    CHECK(list(unknown).empty());
}

TEST_CASE("staff list: pages follow the cursor with no duplicates and no gaps", "[projections][staff][paging]") {
    directory d;
    std::vector<std::string> all;
    // Created out of username order, so the listing has to sort.
    for (int i = 0; i < 23; ++i) {
        int k = (i * 7) % 23;
        std::string last = "Smith" + std::string(1, static_cast<char>('a' + k));
        std::string role = k % 2 ? "therapist" : "biller";
        d.add(staff_created("Pat", last, "p" + ascii_lower(last), role, "therapy_counseling", {uuid(11)}));
        all.push_back("p" + ascii_lower(last));
    }
    std::sort(all.begin(), all.end());

    SECTION("without a filter") {
        for (int limit : {1, 5, 22, 23, 24, 500}) {
            int pages = 0;
            auto got = list_all(*d.db, d.a, {}, limit, &pages);
            CHECK(got == all);
            CHECK(pages == (23 + limit - 1) / limit);  // no empty trailing page
        }
    }
    SECTION("with an index filter") {
        staff_filter f;
        f.role = "therapist";
        f.location_id = uuid(11);
        names therapists;
        for (const auto& u : all)
            if ((u.back() - 'a') % 2) therapists.push_back(u);
        REQUIRE(therapists.size() == 11);
        int pages = 0;
        CHECK(list_all(*d.db, d.a, f, 4, &pages) == therapists);
        CHECK(pages == 3);
    }
    SECTION("with a name search") {
        staff_filter f;
        f.q = "smi";
        int pages = 0;
        CHECK(list_all(*d.db, d.a, f, 10, &pages) == all);
        CHECK(pages == 3);
    }
    SECTION("the last page has next_cursor null") {
        auto first = d.db->list_staff(d.a, {}, 20, std::nullopt);
        REQUIRE(first);
        REQUIRE(first->next_cursor);
        auto second = d.db->list_staff(d.a, {}, 20, first->next_cursor);
        REQUIRE(second);
        CHECK(second->items.size() == 3);
        CHECK_FALSE(second->next_cursor);
        auto whole = d.db->list_staff(d.a, {}, 23, std::nullopt);
        CHECK(whole->items.size() == 23);
        CHECK_FALSE(whole->next_cursor);
    }
    SECTION("a staff member added behind the cursor does not disturb the next page") {
        auto first = d.db->list_staff(d.a, {}, 5, std::nullopt);
        REQUIRE(first->next_cursor);
        d.add(staff_created("Aaron", "Aardvark", "aaardvark", "biller"));
        auto second = d.db->list_staff(d.a, {}, 5, first->next_cursor);
        CHECK(usernames(second->items) == names(all.begin() + 5, all.begin() + 10));
    }
}

TEST_CASE("staff list: every combination of filters pages to the members that match them all",
          "[projections][staff][paging]") {
    // Memberships interleave so that the index ranges of a combination disagree often: the walk
    // has to leap between them, page after page, and must neither skip nor repeat anyone.
    directory d;
    const std::string locs[] = {uuid(11), uuid(12)}, progs[] = {uuid(21), uuid(22)};
    struct member {
        std::string username, role, type;
        std::set<std::string> locations, programs;
        bool active = true;
    };
    std::vector<member> members;
    for (int i = 0; i < 60; ++i) {
        member m;
        m.username = "u" + std::to_string(100 + (i * 37) % 60);
        m.role = i % 3 ? "therapist" : "biller";
        m.type = i % 5 < 2 ? "administration" : "therapy_counseling";
        if (i % 2) m.locations.insert(locs[0]);
        if (i % 7 < 4) m.locations.insert(locs[1]);
        if (i % 4 != 1) m.programs.insert(progs[0]);
        if (i % 3 == 2 || i % 11 == 0) m.programs.insert(progs[1]);
        auto id = d.add(staff_created("Pat", "Member" + std::to_string(i), m.username, m.role, m.type,
                                      strings(m.locations.begin(), m.locations.end()),
                                      strings(m.programs.begin(), m.programs.end())));
        if (i % 6 == 5) {
            d.f.push(d.a, id, StaffDeactivated{""});
            m.active = false;
        }
        members.push_back(std::move(m));
    }
    int combinations = 0;
    for (int mask = 0; mask < 32; ++mask) {
        staff_filter f;
        if (mask & 1) f.role = "therapist";
        if (mask & 2) f.type = "therapy_counseling";
        if (mask & 4) f.location_id = locs[(mask >> 3) & 1];
        if (mask & 8) f.program_id = progs[mask & 1];
        if (mask & 16) f.active = (mask & 2) != 0;
        names expected;
        for (const auto& m : members)
            if ((!f.role || m.role == *f.role) && (!f.type || m.type == *f.type) &&
                (!f.location_id || m.locations.contains(*f.location_id)) &&
                (!f.program_id || m.programs.contains(*f.program_id)) && (!f.active || m.active == *f.active))
                expected.push_back(m.username);
        std::sort(expected.begin(), expected.end());
        for (int limit : {1, 3, 7, 500}) {
            INFO("filter mask " << mask << ", limit " << limit);
            CHECK(list_all(*d.db, d.a, f, limit) == expected);
        }
        combinations += expected.empty() ? 0 : 1;
    }
    CHECK(combinations > 20);  // most combinations list someone
}

TEST_CASE("staff list: limit outside 1..500 and foreign cursors are refused", "[projections][staff][paging]") {
    directory d;
    d.add(staff_created("Todd", "Jones", "tjones", "therapist"));
    for (int bad : {0, -1, 501}) {
        auto r = d.db->list_staff(d.a, {}, bad, std::nullopt);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::validation);
        REQUIRE(r.error().fields.size() == 1);
        CHECK(r.error().fields[0].field == "limit");
    }
    CHECK(d.db->list_staff(d.a, {}, 500, std::nullopt));
    for (std::string bad : {"!!!", "dGpvbmVz" /* "tjones" without structure */, "a", ""}) {
        auto r = d.db->list_staff(d.a, {}, 10, bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == errc::malformed);
    }
}
