// Ids, times and hashes from base: RFC 3339 both ways, UUID shapes, SHA-256 and hex.
#include <catch2/catch.hpp>

#include <set>

#include "carelog/base/errc.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/sha256.hpp"

using namespace carelog;

TEST_CASE("time: RFC 3339 formatting is UTC with microseconds", "[base][time]") {
    CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000000Z");
    CHECK(format_rfc3339(1'000'000) == "1970-01-01T00:00:01.000000Z");
    CHECK(format_rfc3339(951'782'400'000'001) == "2000-02-29T00:00:00.000001Z");
    CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999999Z");
    CHECK(format_rfc3339(1'796'371'168'335'017) == "2026-12-04T07:59:28.335017Z");
    CHECK(format_rfc3339(253'402'300'799'999'999) == "9999-12-31T23:59:59.999999Z");
    CHECK(format_rfc3339(253'402'300'800'000'001) == "10000-01-01T00:00:00.000001Z");  // past 4 digits
    CHECK(format_rfc3339(-62'135'596'800'000'000) == "0001-01-01T00:00:00.000000Z");
}

TEST_CASE("time: RFC 3339 text and micros round-trip", "[base][time]") {
    for (micros t : {micros{0}, micros{1}, micros{-1}, micros{951'782'400'000'001}, micros{1'795'000'000'123'456},
                     micros{4'102'444'799'999'999}, micros{-2'208'988'800'000'000}}) {
        INFO(t);
        micros back = 12345;
        REQUIRE(parse_rfc3339(format_rfc3339(t), back));
        CHECK(back == t);
    }
    for (auto s : {"2026-11-22T07:39:30.123456Z", "2024-02-29T23:59:59.000000Z", "1999-12-31T00:00:00.000001Z"}) {
        INFO(s);
        micros t = 0;
        REQUIRE(parse_rfc3339(s, t));
        CHECK(format_rfc3339(t) == s);
    }
}

TEST_CASE("time: RFC 3339 parsing accepts offsets, fewer digits and lower-case markers", "[base][time]") {
    micros z = 0, t = 0;
    REQUIRE(parse_rfc3339("2026-11-22T07:39:30.123456Z", z));
    REQUIRE(parse_rfc3339("2026-11-22T08:39:30.123456+01:00", t));
    CHECK(t == z);
    REQUIRE(parse_rfc3339("2026-11-22T02:09:30.123456-05:30", t));
    CHECK(t == z);
    REQUIRE(parse_rfc3339("2026-11-22t07:39:30.123456z", t));
    CHECK(t == z);
    REQUIRE(parse_rfc3339("2026-11-22T07:39:30Z", t));
    CHECK(t == z - 123456);
    REQUIRE(parse_rfc3339("2026-11-22T07:39:30.5Z", t));
    CHECK(t == z - 123456 + 500000);
    REQUIRE(parse_rfc3339("2026-11-22T07:39:30.1234569Z", t));  // beyond micros: truncated
    CHECK(t == z);
}

TEST_CASE("time: malformed RFC 3339 text is refused", "[base][time]") {
    micros t = 0;
    for (auto bad : {"", "2026-11-22", "2026-11-22T07:39:30", "2026-11-22T07:39:30.Z", "2026-13-01T00:00:00Z",
                     "2026-11-22T24:00:00Z", "2026-11-22T07:60:00Z", "2026-11-22T07:39:30+0100",
                     "2026-11-22T07:39:30Zjunk", "2026/11/22T07:39:30Z", "20261122T073930Z",
                     "2026-11-22T07:39:30+01", "2026-00-10T00:00:00Z"}) {
        INFO(bad);
        CHECK_FALSE(parse_rfc3339(bad, t));
    }
}

TEST_CASE("ids: UUIDs are canonical lower-case text", "[base][ids]") {
    CHECK(is_uuid("0190f0a2-7b3c-7d4e-8f01-23456789abcd"));
    CHECK_FALSE(is_uuid("0190F0A2-7B3C-7D4E-8F01-23456789ABCD"));
    CHECK_FALSE(is_uuid("0190f0a27b3c7d4e8f0123456789abcd"));
    CHECK_FALSE(is_uuid("0190f0a2-7b3c-7d4e-8f01-23456789abc"));
    CHECK_FALSE(is_uuid("0190f0a2-7b3c-7d4e-8f01-23456789abcg"));
    CHECK_FALSE(is_uuid(""));
}

TEST_CASE("ids: generated ids are distinct version-7 UUIDs", "[base][ids]") {
    random_ids ids;
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto id = ids.next_uuid();
        REQUIRE(is_uuid(id));
        CHECK(id[14] == '7');
        CHECK((id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b'));
        seen.insert(id);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("ids: name-based UUIDs are stable version-5 UUIDs", "[base][ids]") {
    auto a = uuid_v5("riverside");
    CHECK(is_uuid(a));
    CHECK(a[14] == '5');
    CHECK(uuid_v5("riverside") == a);
    CHECK(uuid_v5("lakeside") != a);
}

TEST_CASE("ids: strong ids of different kinds do not mix", "[base][ids]") {
    staff_id s{"abc"};
    CHECK(s.str() == "abc");
    CHECK_FALSE(s.empty());
    CHECK(staff_id{} < s);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<staff_id, client_id>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<std::string, staff_id>);
}

TEST_CASE("sha256: known vectors and hex both ways", "[base][sha256]") {
    CHECK(to_hex(sha256(std::string_view(""))) ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(to_hex(sha256(std::string_view("abc"))) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::string_view ab = "ab", c = "c";
    CHECK(sha256(std::span(reinterpret_cast<const std::uint8_t*>(ab.data()), ab.size()),
                 std::span(reinterpret_cast<const std::uint8_t*>(c.data()), c.size())) ==
          sha256(std::string_view("abc")));

    sha256_digest d{};
    REQUIRE(from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", d));
    CHECK(d == sha256(std::string_view("abc")));
    CHECK_FALSE(from_hex("ba78", d));
    CHECK_FALSE(from_hex(std::string(64, 'g'), d));
}

TEST_CASE("errc: domain errors are std::error_codes of the carelog category", "[base][errc]") {
    std::error_code ec = errc::conflict;
    CHECK(ec.category().name() == std::string("carelog"));
    CHECK(ec.message() == "conflict");
    CHECK(std::error_code(errc::validation).message() == "validation failed");
    auto e = error::validation("email", "is required");
    CHECK(e.code == errc::validation);
    CHECK(e.fields == std::vector<field_error>{{"email", "is required"}});
}

TEST_CASE("rfc3339: impossible calendar dates are refused", "[base][time]") {
    carelog::micros t = 0;
    CHECK_FALSE(carelog::parse_rfc3339("2023-02-31T00:00:00Z", t));
    CHECK_FALSE(carelog::parse_rfc3339("2023-02-29T00:00:00Z", t));
    CHECK(carelog::parse_rfc3339("2024-02-29T00:00:00Z", t));
    CHECK_FALSE(carelog::parse_rfc3339("2023-04-31T00:00:00Z", t));
}

TEST_CASE("uuid v5: the same slug always names the same agency", "[base][ids]") {
    auto a = carelog::uuid_v5("clinic");
    CHECK(a == carelog::uuid_v5("clinic"));
    CHECK(a != carelog::uuid_v5("clinic2"));
    CHECK(carelog::is_uuid(a));
    CHECK(a[14] == '5');
}
