// The consumer side of the store: offsets, duplicates, restarts, quarantine.
#include <thread>

#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

// A snapshot of every answer the store gives about one agency, to compare before/after a restart.
json::object answers(const store& db, const std::string& a, const std::vector<std::string>& staff_ids) {
    json::object o;
    o["agency"] = db.agency(a) ? json::value(*db.agency(a)) : json::value(nullptr);
    o["locations"] = db.locations(a);
    o["programs"] = db.programs(a);
    auto page = db.list_staff(a, {}, 500, std::nullopt);
    REQUIRE(page);
    o["staff"] = page->items;
    json::array histories;
    for (const auto& id : staff_ids) histories.push_back(db.staff_history(a, id));
    o["histories"] = histories;
    return o;
}

}  // namespace

TEST_CASE("consumer: a record below the stored offset is skipped and nothing is applied twice",
          "[projections][consumer]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), id = uuid(100);
    CHECK(db->next_offset(0) == 0);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, id, staff_created("Todd", "Jones", "tjones", "therapist"));
    CHECK(db->next_offset(0) == 2);
    CHECK(db->applied_count() == 2);

    // Offset 1 again, now carrying a different event: skipped, so it changes nothing.
    auto role = f.make(a, id, RoleAssigned{"biller"});
    auto r = db->apply(0, 1, f.bytes(role), f.clock);
    REQUIRE(r);
    CHECK(*r == apply_outcome::skipped_duplicate);
    CHECK(db->staff(a, id)->at("role").as_string() == "therapist");
    CHECK(db->staff_history(a, id).size() == 1);
    CHECK(db->next_offset(0) == 2);
    CHECK(db->applied_count() == 2);

    // Partitions keep their own offsets.
    CHECK(db->next_offset(1) == 0);
    auto other = f.make(uuid(2), uuid(2), agency_created("B", "b"));
    REQUIRE(db->apply(1, 40, f.bytes(other), f.clock) == apply_outcome::applied);
    CHECK(db->next_offset(1) == 41);
    CHECK(db->next_offset(0) == 2);
    CHECK(db->agency_id_by_slug("b") == uuid(2));
}

TEST_CASE("consumer: advance moves the offset forward only", "[projections][consumer]") {
    temp_dir dir;
    auto db = open_store(dir);
    REQUIRE(db->advance(3, 10));
    CHECK(db->next_offset(3) == 10);
    REQUIRE(db->advance(3, 7));
    CHECK(db->next_offset(3) == 10);
    CHECK(db->next_offset(2) == 0);
    feeder f{db.get(), 3, 9};
    auto e = f.make(uuid(1), uuid(1), agency_created("A", "a"));
    CHECK(db->apply(3, 9, f.bytes(e), f.clock) == apply_outcome::skipped_duplicate);
}

TEST_CASE("consumer: reopening the store resumes at the stored offset with the same answers",
          "[projections][consumer]") {
    temp_dir dir;
    const auto a = uuid(1);
    std::vector<std::string> ids{uuid(100), uuid(101)};
    json::object before;
    feeder f;
    {
        auto db = open_store(dir);
        f.db = db.get();
        f.agency_event(a, agency_created("A", "a"));
        f.agency_event(a, LocationAdded{uuid(11), "Main", "1 Main St"});
        f.agency_event(a, ProgramAdded{uuid(21), "Outpatient"});
        f.push(a, ids[0], staff_created("Todd", "Jones", "tjones", "therapist", "therapy_counseling", {uuid(11)}));
        f.push(a, ids[1], staff_created("José", "Núñez", "jnunez", "biller"));
        f.push(a, ids[0], RoleAssigned{"admin"});
        f.push(a, ids[1], StaffDeactivated{"moved"});
        CHECK(db->next_offset(0) == 7);
        before = answers(*db, a, ids);
    }
    auto db = open_store(dir);
    f.db = db.get();
    CHECK(db->next_offset(0) == 7);
    CHECK(db->applied_count() == 0);  // since open
    CHECK(answers(*db, a, ids) == before);
    staff_filter q;
    q.q = "nunez";
    CHECK(list_all(*db, a, q) == std::vector<std::string>{"jnunez"});

    // A consumer restarting from an older committed Kafka offset replays records: all skipped.
    auto replay = f.make(a, ids[0], RoleAssigned{"biller"});
    CHECK(db->apply(0, 5, f.bytes(replay), f.clock) == apply_outcome::skipped_duplicate);
    CHECK(db->staff(a, ids[0])->at("role").as_string() == "admin");

    // And it goes on where it stopped.
    REQUIRE(f.push(a, ids[0], RoleAssigned{"biller"}) == apply_outcome::applied);  // offset 7
    CHECK(db->staff(a, ids[0])->at("role").as_string() == "biller");
    CHECK(db->next_offset(0) == 8);
    check_indexes(*db);
}

TEST_CASE("consumer: a record that does not decode is quarantined and the next record still applies",
          "[projections][consumer][quarantine]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get(), 4, 100};
    const auto a = uuid(1);
    f.agency_event(a, agency_created("A", "a"));

    const std::vector<std::uint8_t> garbage{'n', 'o', 't', ' ', 'a', ' ', 'f', 'l', 'a', 't', 'b', 'u', 'f'};
    REQUIRE(db->apply(4, 101, garbage, t0 + 42) == apply_outcome::quarantined);
    CHECK(db->next_offset(4) == 102);  // the offset moves past it in the same batch

    // A real envelope cut short also fails the verifier.
    auto e = f.make(a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    auto good = f.bytes(e);
    std::vector<std::uint8_t> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2));
    REQUIRE(db->apply(4, 102, truncated, t0 + 43) == apply_outcome::quarantined);
    CHECK(db->next_offset(4) == 103);
    CHECK(db->applied_count() == 1);

    REQUIRE(db->apply(4, 103, good, t0 + 44) == apply_outcome::applied);
    CHECK(db->next_offset(4) == 104);
    CHECK(db->staff(a, uuid(100)));
    CHECK(db->applied_count() == 2);

    auto q = db->quarantined();
    REQUIRE(q.size() == 2);
    CHECK(q[0].partition == 4);
    CHECK(q[0].offset == 101);
    CHECK(q[0].at == t0 + 42);
    CHECK_FALSE(q[0].reason.empty());
    CHECK(q[1].offset == 102);
    CHECK(q[1].at == t0 + 43);

    // The quarantined offset is behind us: a redelivery is a duplicate, not a second quarantine.
    CHECK(db->apply(4, 101, garbage, t0 + 50) == apply_outcome::skipped_duplicate);
    CHECK(db->quarantined().size() == 2);

    // Quarantine survives a restart.
    db.reset();
    db = open_store(dir);
    CHECK(db->quarantined().size() == 2);
    CHECK(db->next_offset(4) == 104);
}

TEST_CASE("consumer: queries run while records are applied", "[projections][consumer][threads]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1);
    f.agency_event(a, agency_created("A", "a"));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread reader([&] {
        while (!done) {
            auto p = db->list_staff(a, {}, 7, std::nullopt);
            if (!p) ++bad;
            staff_filter q;
            q.q = "s";
            auto all = db->list_staff(a, q, 500, std::nullopt);
            if (!all) ++bad;
        }
    });
    for (int i = 0; i < 200; ++i)
        f.push(a, uuid(100 + i), staff_created("Sam", "Smith" + std::to_string(1000 + i), "ssmith" + std::to_string(1000 + i), "therapist"));
    done = true;
    reader.join();
    CHECK(bad == 0);
    CHECK(list_all(*db, a, {}, 37).size() == 200);
    check_indexes(*db);
}

TEST_CASE("consumer: a record at an unaligned address is decoded like any other", "[projections][consumer]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    auto e = f.make(uuid(1), uuid(1), agency_created("A", "a"));
    auto bytes = f.bytes(e);
    // Kafka hands out payloads wherever they sit in its buffers.
    std::vector<std::uint8_t> shifted(bytes.size() + 1);
    std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
    std::span<const std::uint8_t> odd(shifted.data() + 1, bytes.size());
    REQUIRE(db->apply(0, 0, odd, f.clock) == apply_outcome::applied);
    CHECK(db->agency_id_by_slug("a") == uuid(1));
}
