// A record view (the value of a record on `<prefix>access`) and its FlatBuffers codec
// (schema/carelog_access.fbs). Decoding runs the FlatBuffers verifier first.
#pragma once

#include <cstdint>
#include <memory>
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

// A view whose strings point into other memory (a decoded record's bytes, or a record_viewed):
// what the audit read model stores without copying each field.
struct record_viewed_ref {
    std::string_view view_id, agency_id;
    micros occurred_at = 0;
    std::string_view actor_kind, actor_id, subject_type, subject_id, record_type, record_id, resource, query;
    int item_count = 0;
    std::string_view address, user_agent, request_id;
};
record_viewed_ref ref_of(const record_viewed& v);
record_viewed owned(const record_viewed_ref& r);

// One view as its own buffer (root RecordViewed): what the audit read model stores per entry.
std::vector<std::uint8_t> encode(const record_viewed& v);
// The same, reusing one builder for many views: the span is valid until the next call.
class view_encoder {
public:
    view_encoder();
    ~view_encoder();
    std::span<const std::uint8_t> encode(const record_viewed_ref& v);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};
// errc::malformed with a reason when the bytes are not a verified RecordViewed with its ids.
result<record_viewed> decode_record_viewed(std::span<const std::uint8_t> bytes);

// A record of the access topic (root RecordViews): views of one agency.
std::vector<std::uint8_t> encode_views(std::span<const record_viewed> views);
std::vector<std::uint8_t> encode_views(std::span<const record_viewed_ref> views);
// The same built a view at a time (one record, its buffers reused from record to record): a string
// a view shares with an earlier view of the record is stored once, so every view's strings must stay
// valid until finish().
class views_encoder {
public:
    views_encoder();
    ~views_encoder();
    void add(const record_viewed_ref& v);
    std::size_t size() const;  // views in the record (an add after finish() starts a new one)
    // The record of the views added: valid until the next add or reset.
    std::span<const std::uint8_t> finish();
    void reset();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};
// errc::malformed when the bytes are not a verified RecordViews whose views all have their ids.
result<std::vector<record_viewed>> decode_record_views(std::span<const std::uint8_t> bytes);
// The same without copying: the views' strings point into `bytes`, which must outlive them.
result<std::vector<record_viewed_ref>> view_refs(std::span<const std::uint8_t> bytes);

// {event_type: "RecordViewed", event_id, occurred_at (RFC 3339), actor_id, aggregate_type,
//  aggregate_id, data: {actor_kind, record_type, record_id, resource, query, item_count, address,
//  user_agent, request_id}}: the shape of an event listing, so an audit page mixes both.
boost::json::object listing_json(const record_viewed& v);

inline constexpr const char* access_content_type = "application/x-flatbuffers; schema=carelog.fb.RecordViews";

}  // namespace carelog::events
