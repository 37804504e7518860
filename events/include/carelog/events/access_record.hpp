// A record view (the value of a record on `<prefix>access`) and its FlatBuffers codec
// (schema/carelog_access.fbs). Decoding runs the FlatBuffers verifier first.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"

namespace carelog::events {

struct record_viewed {
    std::string view_id;
    std::string agency_id;
    micros occurred_at = 0;
    std::string actor_kind;    // "staff" | "portal" | "kiosk"
    std::string actor_id;
    std::string subject_type;  // "Client" | "Staff" | "" (a list)
    std::string subject_id;
    std::string record_type;   // "client", "client_list", "staff", "thread", ...
    std::string record_id;
    std::string resource;      // "GET /v1/clients/{id}"
    std::string query;
    int item_count = 0;
    std::string address;
    std::string user_agent;
    std::string request_id;
    bool operator==(const record_viewed&) const = default;
};

std::vector<std::uint8_t> encode(const record_viewed& v);

// errc::malformed with a reason when the bytes are not a verified RecordViewed with its ids.
result<record_viewed> decode_record_viewed(std::span<const std::uint8_t> bytes);

// What the audit read model indexes, read in place from verified bytes (views into them, valid while
// they are); the same checks as decode_record_viewed. The bytes must be 8-byte aligned.
struct record_viewed_keys {
    std::string_view view_id;
    std::string_view agency_id;
    std::string_view actor_id;
    std::string_view subject_id;
    micros occurred_at = 0;
};
result<record_viewed_keys> peek_record_viewed(std::span<const std::uint8_t> bytes);

// {event_type: "RecordViewed", event_id, occurred_at (RFC 3339), actor_id, aggregate_type,
//  aggregate_id, data: {actor_kind, record_type, record_id, resource, query, item_count, address,
//  user_agent, request_id}}: the shape of an event listing, so an audit page mixes both.
boost::json::object listing_json(const record_viewed& v);

inline constexpr const char* access_content_type = "application/x-flatbuffers; schema=carelog.fb.RecordViewed";

}  // namespace carelog::events
