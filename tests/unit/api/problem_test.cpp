// The one table from domain errors to HTTP problems, on its own (STYLE "Errors").
#include <catch2/catch.hpp>

#include <set>

#include <boost/json.hpp>

#include "carelog/api/problem.hpp"

using namespace carelog;
using namespace carelog::api;

TEST_CASE("problems: every domain error maps to the status of SPEC §3", "[api][problem]") {
    CHECK(problem_for(errc::malformed).status == 400);
    CHECK(problem_for(errc::unauthenticated).status == 401);
    CHECK(problem_for(errc::forbidden).status == 403);
    CHECK(problem_for(errc::not_found).status == 404);
    CHECK(problem_for(errc::conflict).status == 409);
    CHECK(problem_for(errc::too_large).status == 413);
    CHECK(problem_for(errc::validation).status == 422);
    CHECK(problem_for(errc::rate_limited).status == 429);
    CHECK(problem_for(errc::unavailable).status == 503);
    CHECK(problem_for(errc::internal).status == 500);
    CHECK(problem_for(errc::stale).status == 409);
    CHECK(problem_for(errc::outcome_unknown).status == 504);
    CHECK(problem_for(errc::chain_broken).status == 503);
    CHECK(problem_for(errc::ok).status == 500);  // a problem without an error is a bug, never a 200
    CHECK(problem_for(static_cast<errc>(999)).status == 500);
}

TEST_CASE("problems: the table is in errc order with one distinct type URI per error", "[api][problem]") {
    auto table = problem_table();
    std::set<std::string_view> types;
    for (std::size_t i = 0; i < table.size(); ++i) {
        INFO("row " << i);
        CHECK(static_cast<std::size_t>(table[i].code) == i);
        CHECK(&problem_for(table[i].code) == &table[i].spec);
        CHECK(table[i].spec.type.starts_with("https://carelog.dev/problems/"));
        CHECK(!table[i].spec.title.empty());
        if (table[i].code != errc::ok) types.insert(table[i].spec.type);
    }
    CHECK(table.size() == static_cast<std::size_t>(errc::chain_broken) + 1);
    CHECK(types.size() == table.size() - 2);  // ok shares internal's entry, stale conflict's
    CHECK(problem_for(errc::conflict).type == "https://carelog.dev/problems/conflict");
}

TEST_CASE("problems: protocol problems have their own statuses", "[api][problem]") {
    CHECK(problem_for(http_problem::method_not_allowed).status == 405);
    CHECK(problem_for(http_problem::unsupported_media_type).status == 415);
    CHECK(problem_for(http_problem::header_too_large).status == 431);
}

TEST_CASE("problems: a validation problem lists field errors as problem+json", "[api][problem]") {
    error e{errc::validation, "the request has invalid fields", {{"email", "must be a string"}, {"role", "is required"}}};
    auto res = problem_response(e);
    CHECK(res.result_int() == 422);
    CHECK(res[boost::beast::http::field::content_type] == "application/problem+json");
    auto body = boost::json::parse(res.body()).as_object();
    CHECK(body.at("type").as_string() == "https://carelog.dev/problems/validation");
    CHECK(body.at("title").as_string() == "Validation failed");
    CHECK(body.at("status").as_int64() == 422);
    CHECK(body.at("detail").as_string() == "the request has invalid fields");
    auto errors = body.at("errors").as_array();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].as_object().at("field").as_string() == "email");
    CHECK(errors[1].as_object().at("message").as_string() == "is required");
    CHECK(res.find(boost::beast::http::field::retry_after) == res.end());
}

TEST_CASE("problems: 503 says when to retry; other problems carry no errors list", "[api][problem]") {
    auto res = problem_response(error::make(errc::unavailable, "Kafka did not acknowledge in time"));
    CHECK(res.result_int() == 503);
    CHECK(res[boost::beast::http::field::retry_after] == "1");
    auto body = boost::json::parse(res.body()).as_object();
    CHECK(body.at("detail").as_string() == "Kafka did not acknowledge in time");
    CHECK(!body.contains("errors"));
}

TEST_CASE("problems: a problem with no detail uses its title", "[api][problem]") {
    auto res = problem_response(error::make(errc::not_found, ""));
    auto body = boost::json::parse(res.body()).as_object();
    CHECK(body.at("detail").as_string() == "Not found");
}
