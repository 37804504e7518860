// Request parsing helpers on their own: bodies, typed fields, query strings, Idempotency-Key.
#include <catch2/catch.hpp>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "carelog/api/request.hpp"

using namespace carelog;
using namespace carelog::api;
namespace http = boost::beast::http;

namespace {
http_request body_request(std::string body, std::string content_type = "application/json") {
    http_request req{http::verb::post, "/v1/staff", 11};
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

std::vector<std::string> fields_of(const error& e) {
    std::vector<std::string> out;
    for (const auto& f : e.fields) out.push_back(f.field);
    return out;
}

query_reader query(std::string_view target) {
    static std::vector<std::string> keep;  // url_views must outlive the reader's construction only
    keep.emplace_back(target);
    return query_reader(boost::urls::parse_origin_form(keep.back()).value().params());
}
}  // namespace

TEST_CASE("request: a JSON object body is accepted with charset parameters", "[api][request]") {
    auto r = parse_json_body(body_request(R"({"a":1})", "Application/JSON; charset=utf-8"));
    REQUIRE(r.has_value());
    CHECK(r->at("a").as_int64() == 1);
}

TEST_CASE("request: bodies that are not JSON objects are refused with the right status", "[api][request]") {
    CHECK(parse_json_body(body_request(R"({"a":1})", "text/plain")).error().spec.status == 415);
    CHECK(parse_json_body(body_request(R"({"a":1})", "")).error().spec.status == 415);
    CHECK(parse_json_body(body_request(R"({"a":)")).error().spec.status == 400);
    CHECK(parse_json_body(body_request(R"([1,2])")).error().spec.status == 400);
    CHECK(parse_json_body(body_request("")).error().spec.status == 400);
    auto bad_utf8 = parse_json_body(body_request("{\"name\":\"caf\xC3\x28\"}"));
    REQUIRE(!bad_utf8.has_value());
    CHECK(bad_utf8.error().spec.status == 400);
    CHECK(bad_utf8.error().detail.find("UTF-8") != std::string::npos);
}

TEST_CASE("request: an optional body may be empty without a content type", "[api][request]") {
    auto r = parse_json_body(body_request("", ""), true);
    REQUIRE(r.has_value());
    CHECK(r->empty());
}

TEST_CASE("request: field readers name wrong types, missing and unknown fields", "[api][request]") {
    auto v = boost::json::parse(R"({"first_name": 7, "active": "yes", "admin": {"email": true, "extra": 1},
                                    "ids": ["a", 2], "bogus": null, "typo": 1})")
                 .as_object();
    body_reader r(v);
    (void)r.required_string("first_name");
    (void)r.required_string("last_name");
    (void)r.optional_bool("active");
    auto admin = r.object("admin", true);
    (void)admin.required_string("email");
    (void)admin.required_string("password");
    admin.done();
    (void)r.optional_strings("ids");
    auto f = r.finish();
    REQUIRE(!f.has_value());
    CHECK(f.error().code == errc::validation);
    CHECK(fields_of(f.error()) == std::vector<std::string>{"first_name", "last_name", "active", "admin.email",
                                                           "admin.password", "admin.extra", "ids[1]", "bogus", "typo"});
}

TEST_CASE("request: an absent nested object reports itself once, not each of its fields", "[api][request]") {
    boost::json::object v;
    body_reader r(v);
    auto admin = r.object("admin", true);
    (void)admin.required_string("email");
    admin.done();
    CHECK(fields_of(r.finish().error()) == std::vector<std::string>{"admin"});
}

TEST_CASE("request: integers must be integers", "[api][request]") {
    auto v = boost::json::parse(R"({"a": 1.5, "b": 12, "c": "12"})").as_object();
    body_reader r(v);
    CHECK(!r.optional_int("a"));
    CHECK(r.optional_int("b") == 12);
    CHECK(!r.optional_int("c"));
    CHECK(fields_of(r.finish().error()) == std::vector<std::string>{"a", "c"});
}

TEST_CASE("request: limit is 1..500, other parameters are typed, unknown ones refused", "[api][request]") {
    {
        auto q = query("/v1/staff?limit=500&active=true&as_of=2026-01-31T12:00:00Z");
        CHECK(q.limit() == 500);
        CHECK(q.boolean("active") == true);
        CHECK(q.time("as_of").has_value());
        CHECK(q.finish().has_value());
    }
    for (std::string bad : {"0", "501", "-1", "ten", "1.5", ""}) {
        INFO("limit=" << bad);
        auto q = query("/v1/staff?limit=" + bad);
        (void)q.limit();
        auto f = q.finish();
        REQUIRE(!f.has_value());
        CHECK(fields_of(f.error()) == std::vector<std::string>{"limit"});
    }
    auto q = query("/v1/staff?limit=5&limit=6&colour=red&as_of=yesterday&location_id=42");
    (void)q.limit();
    (void)q.time("as_of");
    (void)q.uuid("location_id");
    auto f = q.finish();
    REQUIRE(!f.has_value());
    CHECK(fields_of(f.error()) == std::vector<std::string>{"limit", "as_of", "location_id", "colour"});
}

TEST_CASE("request: Idempotency-Key is up to 200 printable ASCII characters", "[api][request]") {
    http_request req{http::verb::post, "/v1/staff", 11};
    CHECK(idempotency_key(req).value().empty());
    req.set("Idempotency-Key", "key-1 with spaces");
    CHECK(idempotency_key(req).value() == "key-1 with spaces");
    req.set("Idempotency-Key", std::string(200, 'k'));
    CHECK(idempotency_key(req).has_value());
    req.set("Idempotency-Key", std::string(201, 'k'));
    CHECK(idempotency_key(req).error().code == errc::validation);
    req.set("Idempotency-Key", "caf\xC3\xA9");
    CHECK(idempotency_key(req).error().fields.at(0).field == "Idempotency-Key");
}
