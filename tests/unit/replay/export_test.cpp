// carelog-replay export: SPEC §3 listing lines with partition and offset, the filters, and no
// secret in any line.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <algorithm>

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
const std::string mary = "01010101-0000-7000-8000-000000000002";

log_builder sample() {
    log_builder b;
    b.append(agency_a, 0, agency_a, 1, agency_created("Clinic A", "clinic-a"), at("2026-01-01T09:00:00Z"));
    b.append(agency_a, 0, todd, 1, staff_created("Todd", "Jones", "tjones", "therapist"), at("2026-01-01T10:00:00Z"));
    b.append(agency_b, 1, agency_b, 1, agency_created("Clinic B", "clinic-b"), at("2026-01-01T10:30:00Z"));
    b.append(agency_a, 0, mary, 1, staff_created("Mary", "Smith", "msmith", "biller"), at("2026-01-01T11:00:00Z"));
    b.append(agency_a, 0, todd, 2, events::RoleAssigned{"admin"}, at("2026-01-01T12:00:00Z"));
    b.append(agency_b, 1, agency_b, 2, events::LocationAdded{"loc-1", "Main", "1 Main St"},
             at("2026-01-01T13:00:00Z"));
    return b;
}

std::vector<json::object> run(log_builder& b, const export_filter& f) {
    exporter ex(topic, f);
    std::vector<json::object> lines;
    for (const auto& r : b.records())
        if (auto line = ex.add(r.view())) {
            CHECK(line->find('\n') == std::string::npos);  // one event, one line
            lines.push_back(json::parse(*line).as_object());
        }
    CHECK(ex.exported() == lines.size());
    return lines;
}

std::vector<std::string> types(const std::vector<json::object>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) out.emplace_back(l.at("event_type").as_string());
    return out;
}

}  // namespace

TEST_CASE("export: every event becomes one line with the SPEC listing fields, partition and offset",
          "[replay][export]") {
    auto b = sample();
    auto lines = run(b, {});
    REQUIRE(lines.size() == 6);
    const auto& l = lines[1];  // Todd's StaffCreated
    const auto& src = b.records()[1];
    CHECK(l.at("event_type").as_string() == "StaffCreated");
    CHECK(l.at("event_id").as_string() == src.env.event_id);
    CHECK(l.at("sequence").to_number<std::uint64_t>() == 2);
    CHECK(l.at("aggregate_type").as_string() == "Staff");
    CHECK(l.at("aggregate_id").as_string() == todd);
    CHECK(l.at("aggregate_version").to_number<std::uint64_t>() == 1);
    CHECK(l.at("occurred_at").as_string() == "2026-01-01T10:00:00.000000Z");
    CHECK(l.at("actor_id").as_string() == "actor-1");
    CHECK(l.at("agency_id").as_string() == agency_a);
    CHECK(l.at("hash").as_string() == to_hex(src.env.hash));
    CHECK(l.at("prev_hash").as_string() == to_hex(src.env.prev_hash));
    CHECK(l.at("partition").to_number<int>() == 0);
    CHECK(l.at("offset").to_number<std::int64_t>() == 1);
    CHECK(l.at("data").at("username").as_string() == "tjones");
    CHECK(l.at("data").at("role").as_string() == "therapist");
}

TEST_CASE("export: no password hash ever appears in a line", "[replay][export]") {
    auto b = sample();
    exporter ex(topic, {});
    for (const auto& r : b.records()) {
        auto line = ex.add(r.view());
        REQUIRE(line);
        CHECK(line->find("$argon2") == std::string::npos);
        CHECK(line->find("password_hash") == std::string::npos);
        CHECK(line->find("\"password\"") == std::string::npos);
    }
}

TEST_CASE("export: filters by agency, type, aggregate and time (both ends inclusive)", "[replay][export]") {
    auto b = sample();
    SECTION("agency") {
        auto lines = run(b, export_filter{.agency = agency_b});
        CHECK(types(lines) == std::vector<std::string>{"AgencyCreated", "LocationAdded"});
        for (const auto& l : lines) CHECK(l.at("agency_id").as_string() == agency_b);
    }
    SECTION("event type") {
        auto lines = run(b, export_filter{.event_type = "StaffCreated"});
        REQUIRE(lines.size() == 2);
        CHECK(lines[0].at("aggregate_id").as_string() == todd);
        CHECK(lines[1].at("aggregate_id").as_string() == mary);
    }
    SECTION("aggregate id") {
        auto lines = run(b, export_filter{.aggregate_id = todd});
        CHECK(types(lines) == std::vector<std::string>{"StaffCreated", "RoleAssigned"});
    }
    SECTION("time window") {
        auto lines = run(b, export_filter{.from = at("2026-01-01T10:00:00Z"), .to = at("2026-01-01T12:00:00Z")});
        CHECK(types(lines) ==
              std::vector<std::string>{"StaffCreated", "AgencyCreated", "StaffCreated", "RoleAssigned"});
        CHECK(run(b, export_filter{.to = at("2026-01-01T08:59:59Z")}).empty());
        CHECK(run(b, export_filter{.from = at("2026-01-01T13:00:00.000001Z")}).empty());
    }
    SECTION("all at once") {
        auto lines = run(b, export_filter{.agency = agency_a,
                                          .from = at("2026-01-01T09:30:00Z"),
                                          .event_type = "RoleAssigned",
                                          .aggregate_id = todd});
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].at("data").at("role").as_string() == "admin");
        CHECK(lines[0].at("offset").to_number<std::int64_t>() == 3);
    }
}

TEST_CASE("export: an undecodable record yields no line and a located problem", "[replay][export]") {
    auto b = sample();
    auto& junk = b.put(1, agency_b, {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9});
    SECTION("for its agency or without an agency filter it is a problem") {
        exporter ex(topic, {});
        std::size_t n = 0;
        for (const auto& r : b.records()) n += ex.add(r.view()).has_value();
        CHECK(n == 6);
        REQUIRE(ex.problems().size() == 1);
        CHECK(ex.problems()[0].partition == 1);
        CHECK(ex.problems()[0].offset == junk.offset);
        CHECK(ex.problems()[0].agency == agency_b);
    }
    SECTION("another agency's garbage does not concern an export of agency A") {
        exporter ex(topic, export_filter{.agency = agency_a});
        for (const auto& r : b.records()) (void)ex.add(r.view());
        CHECK(ex.exported() == 4);
        CHECK(ex.problems().empty());
    }
}

TEST_CASE("export: every event type has a name that --type accepts", "[replay][export]") {
    auto names = event_type_names();
    CHECK(names.size() == std::variant_size_v<events::payload>);
    CHECK(std::find(names.begin(), names.end(), "StaffCreated") != names.end());
    CHECK(std::find(names.begin(), names.end(), "ModulePermissionRevoked") != names.end());
    CHECK(std::find(names.begin(), names.end(), "Bogus") == names.end());
}

TEST_CASE("export: the scrubber drops secrets at any depth and keeps the chain hashes", "[replay][export]") {
    json::value v = json::parse(R"({
        "hash": "00ff", "prev_hash": "ff00", "password": "hunter2",
        "staff": [{"profile": {"username": "tjones", "password_hash": "x", "pin": "$argon2id$v=19$abc",
                               "require_password_change": true}}],
        "token": "t", "temporary_password": "p", "totp_secret": "s", "secret_sealed": "sb1:00",
        "mfa": {"key_sealed": "sb1:11", "method": "totp"}, "session_id": "ab12", "token_hash": "cd34"})");
    scrub_secrets(v);
    CHECK(v == json::parse(R"({"hash": "00ff", "prev_hash": "ff00",
        "staff": [{"profile": {"username": "tjones", "require_password_change": true}}],
        "mfa": {"method": "totp"}, "session_id": "ab12", "token_hash": "cd34"})"));
}
