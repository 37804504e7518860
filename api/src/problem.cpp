// The one table from domain errors to HTTP problems (STYLE "Errors"), and problem+json responses.
#include "carelog/api/problem.hpp"

#include <array>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace carelog::api {
namespace {

namespace http = boost::beast::http;

// In errc order; problem_for() indexes by the enum value and a test checks the order holds.
constexpr std::array<errc_mapping, 14> table{{
    {errc::ok, {500, "https://carelog.dev/problems/internal", "Internal server error"}},
    {errc::malformed, {400, "https://carelog.dev/problems/malformed", "Malformed request"}},
    {errc::unauthenticated, {401, "https://carelog.dev/problems/unauthenticated", "Authentication required"}},
    {errc::forbidden, {403, "https://carelog.dev/problems/forbidden", "Forbidden"}},
    {errc::not_found, {404, "https://carelog.dev/problems/not-found", "Not found"}},
    {errc::conflict, {409, "https://carelog.dev/problems/conflict", "Conflict"}},
    {errc::too_large, {413, "https://carelog.dev/problems/too-large", "Request body too large"}},
    {errc::validation, {422, "https://carelog.dev/problems/validation", "Validation failed"}},
    {errc::rate_limited, {429, "https://carelog.dev/problems/rate-limited", "Too many requests"}},
    {errc::unavailable, {503, "https://carelog.dev/problems/unavailable", "Service unavailable"}},
    {errc::internal, {500, "https://carelog.dev/problems/internal", "Internal server error"}},
    // stale shares conflict's type: a client sees a conflict; only the API retries it
    {errc::stale, {409, "https://carelog.dev/problems/conflict", "Conflict"}},
    {errc::outcome_unknown, {504, "https://carelog.dev/problems/outcome-unknown", "Outcome unknown"}},
    {errc::chain_broken, {503, "https://carelog.dev/problems/chain-broken", "Agency log damaged"}},
}};

constexpr problem_spec method_not_allowed{405, "https://carelog.dev/problems/method-not-allowed",
                                          "Method not allowed"};
constexpr problem_spec unsupported_media_type{415, "https://carelog.dev/problems/unsupported-media-type",
                                              "Unsupported media type"};
constexpr problem_spec header_too_large{431, "https://carelog.dev/problems/header-too-large",
                                        "Request header fields too large"};

}  // namespace

const problem_spec& problem_for(errc e) noexcept {
    auto i = static_cast<std::size_t>(e);
    if (i >= table.size()) return table[static_cast<std::size_t>(errc::internal)].spec;
    return table[i].spec;
}

const problem_spec& problem_for(http_problem p) noexcept {
    switch (p) {
        case http_problem::method_not_allowed: return method_not_allowed;
        case http_problem::unsupported_media_type: return unsupported_media_type;
        case http_problem::header_too_large: return header_too_large;
    }
    return table[static_cast<std::size_t>(errc::internal)].spec;
}

std::span<const errc_mapping> problem_table() noexcept { return table; }

namespace {
http_response make(const problem_spec& spec, std::string detail, const std::vector<field_error>* fields,
                   unsigned http_version) {
    boost::json::object body;
    body["type"] = spec.type;
    body["title"] = spec.title;
    body["status"] = spec.status;
    body["detail"] = detail.empty() ? std::string(spec.title) : std::move(detail);
    if (fields && (!fields->empty() || spec.status == 422)) {
        boost::json::array errors;
        for (const auto& f : *fields) errors.push_back(boost::json::object{{"field", f.field}, {"message", f.message}});
        body["errors"] = std::move(errors);
    }
    http_response res{static_cast<http::status>(spec.status), http_version};
    res.set(http::field::content_type, "application/problem+json");
    if (spec.status == 503 || spec.status == 429) res.set(http::field::retry_after, "1");
    res.body() = boost::json::serialize(body);
    res.prepare_payload();
    return res;
}
}  // namespace

http_response problem_response(const error& e, unsigned http_version) {
    return make(problem_for(e.code), e.detail, &e.fields, http_version);
}

problem::problem(const error& e) : spec(problem_for(e.code)), detail(e.detail), fields(e.fields) {}
problem::problem(http_problem p, std::string d) : spec(problem_for(p)), detail(std::move(d)) {}

http_response problem_response(const problem& p, unsigned http_version) {
    return make(p.spec, p.detail, &p.fields, http_version);
}

http_response problem_response(const problem_spec& spec, std::string detail, unsigned http_version) {
    return make(spec, std::move(detail), nullptr, http_version);
}

}  // namespace carelog::api
