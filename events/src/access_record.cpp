// FlatBuffers <-> C++ for a record view (schema/carelog_access.fbs).
#include "carelog/events/access_record.hpp"

#include <flatbuffers/flatbuffers.h>

#include "carelog/base/ids.hpp"
#include "carelog/events/carelog_access_generated.h"

namespace carelog::events {

namespace {
flatbuffers::Offset<fb::RecordViewed> build(flatbuffers::FlatBufferBuilder& b, const record_viewed& v) {
    auto s = [&](const std::string& x) { return b.CreateString(x); };
    auto view_id = s(v.view_id), agency = s(v.agency_id), actor_kind = s(v.actor_kind), actor = s(v.actor_id);
    auto subject_type = s(v.subject_type), subject = s(v.subject_id), record_type = s(v.record_type);
    auto record = s(v.record_id), resource = s(v.resource), query = s(v.query), address = s(v.address);
    auto agent = s(v.user_agent), request = s(v.request_id);
    return fb::CreateRecordViewed(b, view_id, agency, v.occurred_at, actor_kind, actor, subject_type, subject,
                                  record_type, record, resource, query, v.item_count, address, agent, request);
}

std::string_view what_is_missing(const fb::RecordViewed* r) {
    if (!r->view_id() || r->view_id()->size() == 0 || !r->agency_id() || r->agency_id()->size() == 0 ||
        !r->actor_id() || r->actor_id()->size() == 0)
        return "view_id, agency_id or actor_id missing";
    return {};
}

record_viewed from(const fb::RecordViewed* r) {
    auto s = [](const flatbuffers::String* x) { return x ? x->str() : std::string(); };
    return record_viewed{s(r->view_id()),      s(r->agency_id()),   r->occurred_at(),   s(r->actor_kind()),
                         s(r->actor_id()),     s(r->subject_type()), s(r->subject_id()), s(r->record_type()),
                         s(r->record_id()),    s(r->resource()),     s(r->query()),      r->item_count(),
                         s(r->address()),      s(r->user_agent()),   s(r->request_id())};
}
}  // namespace

std::vector<std::uint8_t> encode(const record_viewed& v) {
    flatbuffers::FlatBufferBuilder b(512);
    b.Finish(build(b, v), "CLAX");
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

std::vector<std::uint8_t> encode_views(std::span<const record_viewed> views) {
    flatbuffers::FlatBufferBuilder b(512 * views.size() + 64);
    std::vector<flatbuffers::Offset<fb::RecordViewed>> offsets;
    offsets.reserve(views.size());
    for (const auto& v : views) offsets.push_back(build(b, v));
    fb::FinishRecordViewsBuffer(b, fb::CreateRecordViews(b, b.CreateVector(offsets)));
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

result<std::vector<record_viewed>> decode_record_views(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 8 || bytes.size() > (16u << 20))
        return fail(errc::malformed, "buffer size " + std::to_string(bytes.size()) + " out of range");
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!fb::VerifyRecordViewsBuffer(verifier)) return fail(errc::malformed, "FlatBuffers verifier rejected the record");
    const auto* batch = fb::GetRecordViews(bytes.data());
    std::vector<record_viewed> out;
    if (!batch->views()) return out;
    out.reserve(batch->views()->size());
    for (const auto* r : *batch->views()) {
        if (auto missing = what_is_missing(r); !missing.empty()) return fail(errc::malformed, std::string(missing));
        out.push_back(from(r));
    }
    return out;
}

result<record_viewed> decode_record_viewed(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 8 || bytes.size() > (1u << 20))
        return fail(errc::malformed, "buffer size " + std::to_string(bytes.size()) + " out of range");
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!verifier.VerifyBuffer<fb::RecordViewed>("CLAX"))
        return fail(errc::malformed, "FlatBuffers verifier rejected the record view");
    const auto* r = flatbuffers::GetRoot<fb::RecordViewed>(bytes.data());
    if (auto missing = what_is_missing(r); !missing.empty()) return fail(errc::malformed, std::string(missing));
    return from(r);
}

boost::json::object listing_json(const record_viewed& v) {
    return boost::json::object{
        {"event_type", "RecordViewed"},
        {"event_id", v.view_id},
        {"agency_id", v.agency_id},
        {"aggregate_type", v.subject_type},
        {"aggregate_id", v.subject_id},
        {"occurred_at", format_rfc3339(v.occurred_at)},
        {"actor_id", v.actor_id},
        {"data", boost::json::object{{"actor_kind", v.actor_kind},
                                     {"record_type", v.record_type},
                                     {"record_id", v.record_id},
                                     {"resource", v.resource},
                                     {"query", v.query},
                                     {"item_count", v.item_count},
                                     {"address", v.address},
                                     {"user_agent", v.user_agent},
                                     {"request_id", v.request_id}}},
    };
}

}  // namespace carelog::events
