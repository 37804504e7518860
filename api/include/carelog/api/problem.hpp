// RFC 9457 problem details. One table maps each domain errc to its HTTP status, problem `type`
// URI and title (problem.cpp); the few problems that only the HTTP protocol raises (405, 415, 431)
// sit beside it. Tested on its own in tests/unit/api/problem_test.cpp.
#pragma once

#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/api/app.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

struct problem_spec {
    int status;
    std::string_view type;   // https://carelog.dev/problems/<slug>
    std::string_view title;
};

// The table entry for a domain error (errc::ok maps to 500: a problem without an error is a bug).
const problem_spec& problem_for(errc e) noexcept;

// Problems raised by the HTTP protocol itself rather than by a domain rule.
enum class http_problem { method_not_allowed, unsupported_media_type, header_too_large };
const problem_spec& problem_for(http_problem p) noexcept;

struct errc_mapping {
    errc code;
    problem_spec spec;
};
// The whole domain table, in errc order (for tests and the OpenAPI document).
std::span<const errc_mapping> problem_table() noexcept;

// A problem about to be answered: a domain error or a protocol problem, with its detail and
// field errors. Converts implicitly from carelog::error, so `return fail(errc::..., "...")` works
// in functions returning http_result<T>.
struct problem {
    problem_spec spec;
    std::string detail;
    std::vector<field_error> fields;

    problem(const error& e);  // NOLINT(google-explicit-constructor): errors flow into problems
    problem(http_problem p, std::string detail);
};

template <class T>
using http_result = std::expected<T, problem>;

// An application/problem+json response: {type, title, status, detail, errors?}. `errors`
// (field/message pairs) is present when the error has field errors. 503 and 429 carry Retry-After: 1.
http_response problem_response(const error& e, unsigned http_version = 11);
http_response problem_response(const problem& p, unsigned http_version = 11);
http_response problem_response(const problem_spec& spec, std::string detail, unsigned http_version = 11);

}  // namespace carelog::api
