// FlatBuffers <-> C++ for a record view (schema/carelog_access.fbs).
#include "carelog/events/access_record.hpp"

#include <flatbuffers/flatbuffers.h>

#include "carelog/base/ids.hpp"
#include "carelog/events/carelog_access_generated.h"

namespace carelog::events {

std::vector<std::uint8_t> encode(const record_viewed& v) {
    flatbuffers::FlatBufferBuilder b(512);
    auto s = [&](const std::string& x) { return b.CreateString(x); };
    auto view_id = s(v.view_id), agency = s(v.agency_id), actor_kind = s(v.actor_kind), actor = s(v.actor_id);
    auto subject_type = s(v.subject_type), subject = s(v.subject_id), record_type = s(v.record_type);
    auto record = s(v.record_id), resource = s(v.resource), query = s(v.query), address = s(v.address);
    auto agent = s(v.user_agent), request = s(v.request_id);
    auto root = fb::CreateRecordViewed(b, view_id, agency, v.occurred_at, actor_kind, actor, subject_type, subject,
                                       record_type, record, resource, query, v.item_count, address, agent, request);
    fb::FinishRecordViewedBuffer(b, root);
    return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

namespace {
result<const fb::RecordViewed*> verified(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 8 || bytes.size() > (1u << 20))
        return fail(errc::malformed, "buffer size " + std::to_string(bytes.size()) + " out of range");
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!fb::VerifyRecordViewedBuffer(verifier))
        return fail(errc::malformed, "FlatBuffers verifier rejected the record view");
    const auto* r = fb::GetRecordViewed(bytes.data());
    if (!r->view_id() || r->view_id()->size() == 0 || !r->agency_id() || r->agency_id()->size() == 0 ||
        !r->actor_id() || r->actor_id()->size() == 0)
        return fail(errc::malformed, "view_id, agency_id or actor_id missing");
    return r;
}
}  // namespace

result<record_viewed_keys> peek_record_viewed(std::span<const std::uint8_t> bytes) {
    auto r = verified(bytes);
    if (!r) return std::unexpected(r.error());
    auto sv = [](const flatbuffers::String* x) { return x ? x->string_view() : std::string_view(); };
    return record_viewed_keys{sv((*r)->view_id()), sv((*r)->agency_id()), sv((*r)->actor_id()),
                              sv((*r)->subject_id()), (*r)->occurred_at()};
}

result<record_viewed> decode_record_viewed(std::span<const std::uint8_t> bytes) {
    auto checked = verified(bytes);
    if (!checked) return std::unexpected(checked.error());
    const auto* r = *checked;
    auto s = [](const flatbuffers::String* x) { return x ? x->str() : std::string(); };
    return record_viewed{s(r->view_id()),      s(r->agency_id()),   r->occurred_at(),   s(r->actor_kind()),
                         s(r->actor_id()),     s(r->subject_type()), s(r->subject_id()), s(r->record_type()),
                         s(r->record_id()),    s(r->resource()),     s(r->query()),      r->item_count(),
                         s(r->address()),      s(r->user_agent()),   s(r->request_id())};
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
