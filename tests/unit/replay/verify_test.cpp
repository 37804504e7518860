// carelog-replay verify: the chain verifier over hand-made logs, intact and broken on purpose.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "carelog/replay/kafka_source.hpp"
#include "carelog/replay/replay.hpp"
#include "chain_builder.hpp"

using namespace carelog;
using namespace carelog::replay;
using namespace carelog::replay::testing;

namespace {

const std::string topic = "carelog.events";
const std::string agency_a = "0a0a0a0a-0000-5000-8000-00000000000a";
const std::string agency_b = "0b0b0b0b-0000-5000-8000-00000000000b";
const std::string staff_1 = "01010101-0000-7000-8000-000000000001";

// Agency A on partition 0 with five events, agency B on partition 1 with three.
log_builder two_agencies() {
    log_builder b;
    b.append(agency_a, 0, agency_a, 1, agency_created("Clinic A", "clinic-a"), at("2026-01-01T09:00:00Z"));
    b.append(agency_b, 1, agency_b, 1, agency_created("Clinic B", "clinic-b"), at("2026-01-01T09:00:01Z"));
    b.append(agency_a, 0, staff_1, 1, staff_created("Todd", "Jones", "tjones", "therapist"),
             at("2026-01-01T09:01:00Z"));
    b.append(agency_a, 0, staff_1, 2, events::RoleAssigned{"admin"}, at("2026-01-01T09:02:00Z"));
    b.append(agency_b, 1, agency_b, 2, events::LocationAdded{"loc-1", "Main", "1 Main St"},
             at("2026-01-01T09:02:30Z"));
    b.append(agency_a, 0, staff_1, 3, events::StaffTypeSet{"administration"}, at("2026-01-01T09:03:00Z"));
    b.append(agency_b, 1, agency_b, 3, events::ProgramAdded{"prog-1", "Outpatient"}, at("2026-01-01T09:04:00Z"));
    b.append(agency_a, 0, staff_1, 4, events::ModulePermissionGranted{"messaging"}, at("2026-01-01T09:05:00Z"));
    return b;
}

chain_verifier verify_all(const std::deque<stored>& records, verify_options o = {topic, std::nullopt, 0}) {
    chain_verifier v(std::move(o));
    for (const auto& r : records) v.add(r.view());
    return v;
}

// The stored record of an agency's event with this sequence.
stored& find(log_builder& b, const std::string& agency, std::uint64_t sequence) {
    for (auto& r : b.records())
        if (r.env.agency_id == agency && r.env.sequence == sequence) return r;
    throw std::runtime_error("no such event in the test log");
}

// Position of `needle` inside the record bytes (to alter a string in place).
std::size_t locate(const std::vector<std::uint8_t>& bytes, std::string_view needle) {
    auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    REQUIRE(it != bytes.end());
    return static_cast<std::size_t>(it - bytes.begin());
}

std::size_t locate(const std::vector<std::uint8_t>& bytes, const sha256_digest& d) {
    auto it = std::search(bytes.begin(), bytes.end(), d.begin(), d.end());
    REQUIRE(it != bytes.end());
    return static_cast<std::size_t>(it - bytes.begin());
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("verify: an intact log of two agencies verifies with the OK summary", "[replay][verify]") {
    auto b = two_agencies();
    auto v = verify_all(b.records());
    CHECK(v.problems().empty());
    CHECK(v.events() == 8);
    CHECK(v.agencies() == 2);
    CHECK(v.summary() == "verified 8 events of 2 agencies: OK");

    const auto& heads = v.heads();
    REQUIRE(heads.count(agency_a) == 1);
    CHECK(heads.at(agency_a).sequence == 5);
    CHECK(heads.at(agency_a).events == 5);
    CHECK(heads.at(agency_a).partition == 0);
    CHECK(heads.at(agency_a).offset == 4);
    CHECK(heads.at(agency_a).hash == find(b, agency_a, 5).env.hash);
    CHECK(heads.at(agency_b).sequence == 3);
}

TEST_CASE("verify: an intact log also verifies when each agency sits on its murmur2 partition", "[replay][verify]") {
    log_builder b;
    const int partitions = 4;
    for (const auto& agency : {agency_a, agency_b}) {
        int p = partition_of(agency, partitions);
        b.append(agency, p, agency, 1, agency_created("Clinic", "clinic"), at("2026-01-01T09:00:00Z"));
        b.append(agency, p, staff_1, 1, staff_created("Todd", "Jones", "tjones", "therapist"),
                 at("2026-01-01T09:01:00Z"));
    }
    auto v = verify_all(b.records(), {topic, std::nullopt, partitions});
    CHECK(v.problems().empty());
    CHECK(v.summary() == "verified 4 events of 2 agencies: OK");
}

TEST_CASE("verify: a missing event is reported as a gap at the next event's offset, once", "[replay][verify]") {
    auto b = two_agencies();
    auto& third = find(b, agency_a, 3);
    const auto gap_offset = find(b, agency_a, 4).offset;
    auto& recs = b.records();
    recs.erase(std::find_if(recs.begin(), recs.end(), [&](const stored& r) { return &r == &third; }));

    auto v = verify_all(recs);
    REQUIRE(v.problems().size() == 1);
    const auto& p = v.problems()[0];
    CHECK(p.topic == topic);
    CHECK(p.partition == 0);
    CHECK(p.offset == gap_offset);
    CHECK(p.agency == agency_a);
    CHECK(contains(p.what, "sequence gap: expected 3"));
    CHECK(contains(p.what, "found 4"));
    CHECK(v.summary() == "verified 7 events of 2 agencies: 1 problems");
}

TEST_CASE("verify: a chain that does not start at sequence 1 is reported", "[replay][verify]") {
    auto b = two_agencies();
    auto& recs = b.records();
    recs.erase(recs.begin());  // agency A's AgencyCreated (sequence 1)
    auto v = verify_all(recs);
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].offset == 1);
    CHECK(contains(v.problems()[0].what, "first event has sequence 2"));
}

TEST_CASE("verify: a repeated sequence is reported at the copy's offset and not taken into the chain",
          "[replay][verify]") {
    auto b = two_agencies();
    auto copy = find(b, agency_a, 2);  // an exact copy: its own hash is right
    auto& dup = b.put(0, agency_a, copy.bytes, copy.env);
    b.append(agency_a, 0, staff_1, 5, events::ModulePermissionRevoked{"messaging"}, at("2026-01-01T09:06:00Z"));

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);  // the event after the copy still continues the real chain
    CHECK(v.problems()[0].partition == 0);
    CHECK(v.problems()[0].offset == dup.offset);
    CHECK(contains(v.problems()[0].what, "sequence 2 repeats or goes back"));
    CHECK(contains(v.problems()[0].what, "already at sequence 5"));
    CHECK(v.heads().at(agency_a).sequence == 6);
}

TEST_CASE("verify: a flipped byte in a payload string breaks the stored hash", "[replay][verify]") {
    auto b = two_agencies();
    auto& staff = find(b, agency_a, 2);
    staff.bytes[locate(staff.bytes, "Todd")] ^= 0x01;  // "Todd" -> "Uodd": still a valid FlatBuffer
    REQUIRE(events::decode(staff.bytes).has_value());

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);  // the next event's prev_hash names the stored hash: no cascade
    CHECK(v.problems()[0].offset == staff.offset);
    CHECK(v.problems()[0].partition == 0);
    CHECK(v.problems()[0].agency == agency_a);
    CHECK(contains(v.problems()[0].what, "is not the SHA-256 of the record"));
    CHECK(contains(v.problems()[0].what, to_hex(staff.env.hash)));
}

TEST_CASE("verify: a forged stored hash is reported, and so is the next event's prev_hash", "[replay][verify]") {
    auto b = two_agencies();
    auto& role = find(b, agency_a, 3);
    auto pos = locate(role.bytes, role.env.hash);
    for (std::size_t i = 0; i < 32; ++i) role.bytes[pos + i] = 0xab;
    const auto next_offset = find(b, agency_a, 4).offset;

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 2);
    CHECK(v.problems()[0].offset == role.offset);
    CHECK(contains(v.problems()[0].what, "stored hash abababab"));
    CHECK(v.problems()[1].offset == next_offset);
    CHECK(contains(v.problems()[1].what, "prev_hash"));
    CHECK(contains(v.problems()[1].what, "is not the hash of the previous event"));
}

TEST_CASE("verify: an event rewritten with a freshly computed hash breaks the next link", "[replay][verify]") {
    auto b = two_agencies();
    auto& staff = find(b, agency_a, 2);
    auto forged = staff.env;
    std::get<events::StaffCreated>(forged.data).role = "org_admin";
    staff.bytes = events::encode(forged);  // self-consistent: its own hash verifies

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].offset == find(b, agency_a, 3).offset);
    CHECK(contains(v.problems()[0].what, "prev_hash " + to_hex(staff.env.hash)));
    CHECK(contains(v.problems()[0].what, to_hex(forged.hash)));
}

TEST_CASE("verify: a wrong prev_hash is reported at its offset", "[replay][verify]") {
    auto b = two_agencies();
    auto& last = find(b, agency_b, 3);
    auto e = last.env;
    e.prev_hash.fill(0x11);
    last.bytes = events::encode(e);

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].partition == 1);
    CHECK(v.problems()[0].offset == last.offset);
    CHECK(v.problems()[0].agency == agency_b);
    CHECK(contains(v.problems()[0].what, "prev_hash 1111"));
}

TEST_CASE("verify: a first event whose prev_hash is not all zeros is reported", "[replay][verify]") {
    log_builder b;
    auto& first = b.append(agency_a, 0, agency_a, 1, agency_created("A", "clinic-a"), at("2026-01-01T09:00:00Z"));
    auto e = first.env;
    e.prev_hash[0] = 1;
    first.bytes = events::encode(e);
    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);
    CHECK(contains(v.problems()[0].what, "first event's prev_hash is all zeros"));
}

TEST_CASE("verify: a Kafka key that is not the envelope's agency is reported", "[replay][verify]") {
    auto b = two_agencies();
    auto& r = find(b, agency_b, 2);
    r.key = agency_a;

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 1);
    CHECK(v.problems()[0].partition == 1);
    CHECK(v.problems()[0].offset == r.offset);
    CHECK(v.problems()[0].agency == agency_b);
    CHECK(contains(v.problems()[0].what, "Kafka key \"" + agency_a + "\" differs from the envelope's agency_id"));
}

TEST_CASE("verify: garbage bytes are reported as undecodable under the key's agency", "[replay][verify]") {
    auto b = two_agencies();
    auto& junk = b.put(1, agency_b, {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07});
    auto& empty = b.put(1, agency_b, {});
    b.append(agency_b, 1, agency_b, 4, events::ProgramAdded{"prog-2", "Intensive"}, at("2026-01-01T10:00:00Z"));

    auto v = verify_all(b.records());
    REQUIRE(v.problems().size() == 2);  // the chain itself goes on untouched
    CHECK(v.problems()[0].partition == 1);
    CHECK(v.problems()[0].offset == junk.offset);
    CHECK(v.problems()[0].agency == agency_b);
    CHECK(contains(v.problems()[0].what, "undecodable record (12 bytes)"));
    CHECK(v.problems()[1].offset == empty.offset);
    CHECK(v.events() == 11);
    CHECK(v.agencies() == 2);
    CHECK(v.summary() == "verified 11 events of 2 agencies: 2 problems");
}

TEST_CASE("verify: an agency's events on two partitions are reported", "[replay][verify]") {
    SECTION("partition count unknown: the agency must stay where it started") {
        log_builder b;
        b.append(agency_a, 0, agency_a, 1, agency_created("A", "clinic-a"), at("2026-01-01T09:00:00Z"));
        auto& moved = b.append(agency_a, 2, staff_1, 1, staff_created("Todd", "Jones", "tjones", "therapist"),
                               at("2026-01-01T09:01:00Z"));
        auto v = verify_all(b.records());
        REQUIRE(v.problems().size() == 1);
        CHECK(v.problems()[0].partition == 2);
        CHECK(v.problems()[0].offset == moved.offset);
        CHECK(contains(v.problems()[0].what, "earlier events are on partition 0"));
    }
    SECTION("partition count known: the agency must be on its murmur2 partition") {
        const int partitions = 4;
        const int home = partition_of(agency_a, partitions);
        const int wrong = (home + 1) % partitions;
        log_builder b;
        b.append(agency_a, wrong, agency_a, 1, agency_created("A", "clinic-a"), at("2026-01-01T09:00:00Z"));
        auto v = verify_all(b.records(), {topic, std::nullopt, partitions});
        REQUIRE(v.problems().size() == 1);
        CHECK(v.problems()[0].partition == wrong);
        CHECK(contains(v.problems()[0].what, "the agency's partition is " + std::to_string(home)));
    }
}

TEST_CASE("verify: --agency checks only that agency and ignores the others' problems", "[replay][verify]") {
    auto b = two_agencies();
    b.put(1, agency_b, {1, 2, 3, 4, 5, 6, 7, 8, 9});  // B's problem
    auto v = verify_all(b.records(), {topic, agency_a, 0});
    CHECK(v.problems().empty());
    CHECK(v.events() == 5);
    CHECK(v.summary() == "verified 5 events of 1 agencies: OK");

    auto vb = verify_all(b.records(), {topic, agency_b, 0});
    CHECK(vb.problems().size() == 1);
    CHECK(vb.events() == 4);
}

TEST_CASE("verify: problems are described with topic, partition, offset and agency", "[replay][verify]") {
    problem p{"test.events", 3, 17, agency_a, "sequence gap"};
    CHECK(describe(p) == "topic=test.events partition=3 offset=17 agency=" + agency_a + ": sequence gap");
    p.agency.clear();
    CHECK(describe(p) == "topic=test.events partition=3 offset=17 agency=(none): sequence gap");
}

TEST_CASE("verify: the problem callback sees each problem as it is found", "[replay][verify]") {
    auto b = two_agencies();
    b.put(0, agency_a, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    std::vector<std::string> seen;
    chain_verifier v({topic, std::nullopt, 0}, [&](const problem& p) { seen.push_back(describe(p)); });
    for (const auto& r : b.records()) {
        auto verdict = v.add(r.view());
        CHECK(verdict.selected);
        CHECK(verdict.ok == (r.bytes.size() > 10));
    }
    REQUIRE(seen.size() == 1);
    CHECK(contains(seen[0], "partition=0 offset=5 agency=" + agency_a + ": undecodable record"));
}

TEST_CASE("verify: a span read from the middle anchors each agency's chain at its first record read, and still "
          "finds a gap and a repeat after it",
          "[replay][verify]") {
    auto b = two_agencies();
    std::deque<stored> tail;
    for (const auto& r : b.records())
        if (r.env.sequence >= 2) tail.push_back(r);  // both agencies read from their second event
    verify_options mid{topic, std::nullopt, 0};
    mid.mid_chain = true;
    auto v = verify_all(tail, mid);
    CHECK(v.problems().empty());
    CHECK(v.heads().at(agency_a).sequence == 5);
    // Without the option the same span is a chain that does not start at 1.
    CHECK(verify_all(tail, {topic, std::nullopt, 0}).problems().size() == 2);

    // After the anchor everything is checked: a gap in A's span is reported.
    std::deque<stored> gap;
    for (const auto& r : tail)
        if (!(r.env.agency_id == agency_a && r.env.sequence == 3)) gap.push_back(r);
    auto g = verify_all(gap, mid);
    REQUIRE(g.problems().size() == 1);
    CHECK(g.problems()[0].what.find("sequence gap") != std::string::npos);

    // A repeat of the anchor is a repeat.
    std::deque<stored> repeat = tail;
    repeat.push_back(tail.front());
    CHECK(verify_all(repeat, mid).problems().size() == 1);
}
