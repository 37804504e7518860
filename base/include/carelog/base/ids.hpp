// Strong ids (Redpanda named_type style): a staff id cannot be passed where a client id goes.
// Ids are canonical lower-case UUID text; new ones are UUIDv7 (time-ordered) from an id_source.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace carelog {

template <class Tag>
class strong_id {
public:
    strong_id() = default;
    explicit strong_id(std::string v) : value_(std::move(v)) {}
    const std::string& str() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }
    auto operator<=>(const strong_id&) const = default;

private:
    std::string value_;
};

using agency_id = strong_id<struct agency_id_tag>;
using staff_id = strong_id<struct staff_id_tag>;
using location_id = strong_id<struct location_id_tag>;
using program_id = strong_id<struct program_id_tag>;
using client_id = strong_id<struct client_id_tag>;
using event_id = strong_id<struct event_id_tag>;

// True for canonical lower-case 8-4-4-4-12 hex UUID text.
bool is_uuid(std::string_view s) noexcept;

// Name-based UUID (RFC 4122 version 5, SHA-1) in carelog's namespace. An agency's id is derived
// from its slug, so two requests for one slug land on one partition and its writer refuses the second.
std::string uuid_v5(std::string_view name);

// Microseconds since the Unix epoch, UTC.
using micros = std::int64_t;

// Time and ids come into the domain as values; these sources make them at the edge.
struct clock_source {
    virtual ~clock_source() = default;
    virtual micros now() = 0;
};
struct id_source {
    virtual ~id_source() = default;
    virtual std::string next_uuid() = 0;
};

struct system_clock final : clock_source {
    micros now() override;
};
// UUIDv7 from the clock and libsodium's random bytes.
struct random_ids final : id_source {
    std::string next_uuid() override;
};

// RFC 3339 UTC with microseconds ("2026-11-22T07:39:30.123456Z") and back; parse accepts offsets.
std::string format_rfc3339(micros t);
bool parse_rfc3339(std::string_view s, micros& out);

}  // namespace carelog

template <class Tag>
struct std::hash<carelog::strong_id<Tag>> {
    std::size_t operator()(const carelog::strong_id<Tag>& id) const noexcept {
        return std::hash<std::string>{}(id.str());
    }
};
