// std::error_category for carelog's domain errors (Redpanda cluster::errc style).
#include "carelog/base/errc.hpp"

namespace carelog {
namespace {
struct category final : std::error_category {
    const char* name() const noexcept override { return "carelog"; }
    std::string message(int c) const override {
        switch (static_cast<errc>(c)) {
            case errc::ok: return "ok";
            case errc::malformed: return "malformed request";
            case errc::unauthenticated: return "unauthenticated";
            case errc::forbidden: return "forbidden";
            case errc::not_found: return "not found";
            case errc::conflict: return "conflict";
            case errc::too_large: return "too large";
            case errc::validation: return "validation failed";
            case errc::rate_limited: return "rate limited";
            case errc::unavailable: return "unavailable";
            case errc::internal: return "internal error";
            case errc::stale: return "stale check";
            case errc::outcome_unknown: return "outcome unknown";
            case errc::chain_broken: return "hash chain broken";
        }
        return "unknown";
    }
};
}  // namespace

const std::error_category& carelog_category() noexcept {
    static const category c;
    return c;
}
std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), carelog_category()}; }

}  // namespace carelog
