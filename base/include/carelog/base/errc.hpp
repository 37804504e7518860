// Domain errors as values: every rule violation is an `error` (an errc plus a human detail and
// per-field messages), returned through `result<T>`. The HTTP layer maps errc to status codes in
// one table (api/src/problem.cpp).
#pragma once

#include <expected>
#include <string>
#include <system_error>
#include <vector>

namespace carelog {

enum class errc {
    ok = 0,
    malformed,          // 400: the request cannot be parsed
    unauthenticated,    // 401
    forbidden,          // 403
    not_found,          // 404 (also for other agencies' data)
    conflict,           // 409: an invariant would break
    too_large,          // 413
    validation,         // 422: well-formed but invalid values
    rate_limited,       // 429
    unavailable,        // 503: Kafka (or a projection) not reachable in time; nothing accepted
    internal,           // 500
    stale,              // 409: a check made against a read model is no longer current: check again
    outcome_unknown,    // 504: the log may or may not hold the command; retry with its Idempotency-Key
    chain_broken,       // 503: the agency's hash chain in the log is broken; the writer refuses to append
};

const std::error_category& carelog_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

struct field_error {
    std::string field;
    std::string message;
    bool operator==(const field_error&) const = default;
};

struct error {
    errc code = errc::internal;
    std::string detail;
    std::vector<field_error> fields;

    static error validation(std::string field, std::string message) {
        return error{errc::validation, "the request has invalid fields", {{std::move(field), std::move(message)}}};
    }
    static error make(errc c, std::string detail) { return error{c, std::move(detail), {}}; }
};

template <class T>
using result = std::expected<T, error>;

inline std::unexpected<error> fail(errc c, std::string detail) {
    return std::unexpected(error::make(c, std::move(detail)));
}
inline std::unexpected<error> fail(error e) { return std::unexpected(std::move(e)); }

}  // namespace carelog

template <>
struct std::is_error_code_enum<carelog::errc> : std::true_type {};
