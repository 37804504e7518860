// The consumer side of the store: offsets, duplicates, restarts, quarantine.
#include <algorithm>
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

    // A consumer restarting from an older committed Kafka offset replays records: all skipped
    // by their offset (offset 5 now carrying anything at all, even a record of no chain).
    const std::vector<std::uint8_t> anything{'x'};
    CHECK(db->apply(0, 5, anything, f.clock) == apply_outcome::skipped_duplicate);
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

// ---------------------------------------------------------------- the chain, batches

namespace {
// The index of `digest` inside `bytes` (it is stored there as a byte vector).
std::size_t find_digest(const std::vector<std::uint8_t>& bytes, const sha256_digest& digest) {
    auto it = std::search(bytes.begin(), bytes.end(), digest.begin(), digest.end());
    REQUIRE(it != bytes.end());
    return static_cast<std::size_t>(it - bytes.begin());
}
}  // namespace

TEST_CASE("consumer: a record that does not continue its agency's chain is quarantined and never applied",
          "[projections][consumer][chain]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get()};
    const auto a = uuid(1), staff = uuid(100);
    f.agency_event(a, agency_created("A", "a"));
    f.push(a, staff, staff_created("Todd", "Jones", "tjones", "therapist"));
    const auto last_sequence = f.sequences[a];
    const auto last_hash = f.prev_hashes[a];

    SECTION("a session opened by a record naming another previous hash") {
        auto forged = f.make(a, staff, LoginSucceeded{std::string(64, 'f'), "10.0.0.9", "curl"});
        forged.prev_hash[0] ^= 1;
        CHECK(f.push_bytes(encode(forged)) == apply_outcome::quarantined);
        CHECK_FALSE(db->session_staff(a, std::string(64, 'f')));
        CHECK(db->staff_history(a, staff).size() == 1);
    }
    SECTION("a record whose bytes were changed after its hash was computed") {
        auto e = f.make(a, staff, RoleAssigned{"admin"});
        auto bytes = encode(e);
        // The role inside the payload changed from "admin" to "admiN"; the stored hash is the old one.
        auto at = std::search(bytes.begin(), bytes.end(), std::begin("admin"), std::end("admin") - 1);
        REQUIRE(at != bytes.end());
        at[4] = 'N';
        CHECK(f.push_bytes(bytes) == apply_outcome::quarantined);
        CHECK(db->staff(a, staff)->at("role").as_string() == "therapist");
        // And one whose stored hash was changed.
        auto e2 = f.make(a, staff, RoleAssigned{"biller"});
        auto b2 = encode(e2);
        b2[find_digest(b2, e2.hash)] ^= 1;
        CHECK(f.push_bytes(b2) == apply_outcome::quarantined);
        CHECK(db->staff(a, staff)->at("role").as_string() == "therapist");
    }
    SECTION("a sequence that skips ahead") {
        auto e = f.make(a, staff, RoleAssigned{"admin"});
        e.sequence += 1;
        CHECK(f.push_bytes(encode(e)) == apply_outcome::quarantined);
        CHECK(db->staff(a, staff)->at("role").as_string() == "therapist");
    }
    SECTION("a record keyed by another agency than it names") {
        auto e = f.make(a, staff, RoleAssigned{"admin"});
        auto bytes = f.bytes(e);
        const incoming_record rec{0, f.offset++, bytes, uuid(2)};
        auto out = db->apply_batch(std::span(&rec, 1), f.clock);
        REQUIRE(out);
        CHECK(out->applied == 0);
        REQUIRE(out->quarantined.size() == 1);
        CHECK(out->quarantined[0].reason.find("keyed") != std::string::npos);
        CHECK(db->staff(a, staff)->at("role").as_string() == "therapist");
    }
    // Whatever was refused, the chain goes on from the last applied record, the offset moved past
    // the refused one, and the refusal is on record.
    CHECK(db->quarantined().size() >= 1);
    f.sequences[a] = last_sequence;
    f.prev_hashes[a] = last_hash;
    CHECK(f.push(a, staff, RoleAssigned{"scheduler"}) == apply_outcome::applied);
    CHECK(db->staff(a, staff)->at("role").as_string() == "scheduler");
    CHECK(db->next_offset(0) == f.offset);
}

TEST_CASE("consumer: a batch applies its records in order, each seeing the ones before it",
          "[projections][consumer][batch]") {
    temp_dir dir;
    auto db = open_store(dir);
    feeder f{db.get(), 2, 10};
    const auto a = uuid(1), b = uuid(2);
    std::vector<std::vector<std::uint8_t>> bytes;
    auto add = [&](const std::string& agency, const std::string& aggregate, payload p) {
        auto e = f.make(agency, aggregate, std::move(p));
        bytes.push_back(f.bytes(e));
    };
    add(a, a, agency_created("A", "a"));
    add(a, uuid(100), staff_created("Todd", "Jones", "tjones", "therapist"));
    add(b, b, agency_created("B", "b"));
    add(a, uuid(100), RoleAssigned{"admin"});
    add(a, uuid(100), LoginSucceeded{std::string(64, '1'), "10.0.0.1", "ua"});
    const std::vector<std::uint8_t> garbage{'n', 'o', 'p', 'e'};
    std::vector<incoming_record> records;
    std::int64_t offset = 10;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 2) records.push_back({2, offset++, garbage, {}});  // in the middle: refused alone
        records.push_back({2, offset++, bytes[i], {}});
    }
    records.push_back({5, 3, bytes.back(), {}});  // the same record again on another partition

    std::vector<changed_aggregate> heard;
    db->add_change_listener([&](const std::vector<changed_aggregate>& c) { heard.insert(heard.end(), c.begin(), c.end()); });
    auto out = db->apply_batch(records, f.clock);
    REQUIRE(out);
    CHECK(out->applied == 5);
    REQUIRE(out->quarantined.size() == 2);
    CHECK(out->quarantined[0].offset == 12);
    CHECK(out->quarantined[1].partition == 5);
    CHECK(db->staff(a, uuid(100))->at("role").as_string() == "admin");
    CHECK(db->session_staff(a, std::string(64, '1')) == uuid(100));
    CHECK(db->agency_id_by_slug("b") == b);
    CHECK(db->next_offset(2) == 16);
    CHECK(db->next_offset(5) == 4);
    REQUIRE(heard.size() == 5);
    CHECK(heard[1].aggregate_id == uuid(100));
    CHECK(heard[1].event_type == "StaffCreated");
    CHECK(heard[2].aggregate_type == "Agency");
    check_indexes(*db);

    // The same batch again: every record is below its partition's offset.
    auto again = db->apply_batch(records, f.clock);
    REQUIRE(again);
    CHECK(again->applied == 0);
    CHECK(again->skipped == records.size());
    CHECK(heard.size() == 5);
}
