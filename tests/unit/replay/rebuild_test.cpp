// carelog-replay rebuild: an agency's state as of a time, before and after a change.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <string_view>

#include "carelog/replay/replay.hpp"
#include "chain_builder.hpp"

using namespace carelog;
using namespace carelog::replay;
using namespace carelog::replay::testing;
namespace json = boost::json;

namespace {

const std::string topic = "carelog.events";
const std::string agency_a = "0a0a0a0a-0000-5000-8000-00000000000a";
const std::string agency_b = "0b0b0b0b-0000-5000-8000-00000000000b";
const std::string todd = "01010101-0000-7000-8000-000000000001";

// Todd is created a therapist at 10:00 and made an admin at 12:00; agency B shares the partition.
log_builder history() {
    log_builder b;
    b.append(agency_a, 0, agency_a, 1, agency_created("Clinic A", "clinic-a"), at("2026-01-01T09:00:00Z"));
    b.append(agency_b, 0, agency_b, 1, agency_created("Clinic B", "clinic-b"), at("2026-01-01T09:30:00Z"));
    b.append(agency_a, 0, todd, 1, staff_created("Todd", "Jones", "tjones", "therapist"), at("2026-01-01T10:00:00Z"));
    b.append(agency_a, 0, todd, 2, events::RoleAssigned{"admin"}, at("2026-01-01T12:00:00Z"));
    return b;
}

rebuilder rebuild(log_builder& b, const std::string& agency, const char* as_of) {
    rebuilder rb(topic, agency, at(as_of));
    for (const auto& r : b.records()) rb.add(r.view());
    return rb;
}

}  // namespace

TEST_CASE("rebuild: the state as of a time shows the role before and after it changed", "[replay][rebuild]") {
    auto b = history();

    auto before = rebuild(b, agency_a, "2026-01-01T11:59:59Z");
    CHECK(before.problems().empty());
    CHECK(before.applied() == 2);
    REQUIRE(before.state().staff.count(todd) == 1);
    CHECK(before.state().staff.at(todd).profile.role == "therapist");
    CHECK(before.state().slug == "clinic-a");

    auto exactly = rebuild(b, agency_a, "2026-01-01T12:00:00Z");  // occurred_at <= as_of
    CHECK(exactly.applied() == 3);
    CHECK(exactly.state().staff.at(todd).profile.role == "admin");
    CHECK(exactly.state().staff.at(todd).version == 2);

    auto early = rebuild(b, agency_a, "2026-01-01T09:59:59Z");
    CHECK(early.applied() == 1);
    CHECK(early.state().exists);
    CHECK(early.state().staff.empty());

    auto none = rebuild(b, agency_a, "2026-01-01T08:00:00Z");
    CHECK(none.applied() == 0);
}

TEST_CASE("rebuild: the JSON is the agency state without secrets, with the point in the chain",
          "[replay][rebuild]") {
    auto b = history();
    auto rb = rebuild(b, agency_a, "2026-01-01T11:00:00Z");
    auto j = rb.to_json();
    auto text = json::serialize(j);
    CHECK(text.find("$argon2") == std::string::npos);
    CHECK(text.find("password_hash") == std::string::npos);
    CHECK(j.at("as_of").as_string() == "2026-01-01T11:00:00.000000Z");
    CHECK(j.at("events_applied").to_number<std::uint64_t>() == 2);
    CHECK(j.at("sequence").to_number<std::uint64_t>() == 2);
    CHECK(j.at("hash").as_string() == to_hex(b.records()[2].env.hash));
    CHECK(j.at("id").as_string() == agency_a);
    CHECK(j.at("slug").as_string() == "clinic-a");
    CHECK(!j.contains("format"));
    CHECK(text.find("\"tjones\"") != std::string::npos);
    CHECK(text.find("\"therapist\"") != std::string::npos);
}

TEST_CASE("rebuild: other agencies on the same partition are left out", "[replay][rebuild]") {
    auto b = history();
    auto rb = rebuild(b, agency_b, "2026-12-31T00:00:00Z");
    CHECK(rb.problems().empty());
    CHECK(rb.applied() == 1);
    CHECK(rb.state().slug == "clinic-b");
    CHECK(rb.state().staff.empty());
}

TEST_CASE("rebuild: a repeated event is reported and never folded twice", "[replay][rebuild]") {
    auto b = history();
    b.append(agency_a, 0, todd, 3, events::ModulePermissionGranted{"messaging"}, at("2026-01-01T13:00:00Z"));
    auto granted = b.records().back();
    b.append(agency_a, 0, todd, 4, events::ModulePermissionRevoked{"messaging"}, at("2026-01-01T14:00:00Z"));
    b.put(0, agency_a, granted.bytes, granted.env);  // a replayed copy of the grant

    auto rb = rebuild(b, agency_a, "2026-01-01T23:00:00Z");
    CHECK(rb.applied() == 5);
    CHECK(rb.state().staff.at(todd).permissions.empty());  // still revoked
    REQUIRE(rb.problems().size() == 1);
    CHECK(rb.problems()[0].offset == 6);
    CHECK(rb.problems()[0].what.find("repeats or goes back") != std::string::npos);
}

TEST_CASE("rebuild: only problems up to as_of concern the state as of then", "[replay][rebuild]") {
    auto b = history();
    auto& role = b.records()[3];  // RoleAssigned{"admin"} at 12:00
    const std::string_view admin = "admin";
    auto it = std::search(role.bytes.begin(), role.bytes.end(), admin.begin(), admin.end());
    REQUIRE(it != role.bytes.end());
    *it ^= 0x03;  // "admin" -> "bdmin": still decodes, no longer hashes to the stored hash

    auto before = rebuild(b, agency_a, "2026-01-01T11:00:00Z");
    CHECK(before.problems().empty());
    CHECK(before.applied() == 2);

    auto after = rebuild(b, agency_a, "2026-01-01T13:00:00Z");
    REQUIRE(after.problems().size() == 1);
    CHECK(after.problems()[0].offset == 3);
    CHECK(after.problems()[0].what.find("is not the SHA-256 of the record") != std::string::npos);
    CHECK(after.state().staff.at(todd).profile.role == "bdmin");  // what the log says, reported as suspect
}
