// FlatBuffers <-> C++ for a record view (schema/carelog_access.fbs).
#include "carelog/events/access_record.hpp"

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <unordered_map>

#include "carelog/base/ids.hpp"
#include "carelog/events/carelog_access_generated.h"

namespace carelog::events {

namespace {
using fb_string = flatbuffers::Offset<flatbuffers::String>;

// The strings of one record: each distinct string stored once. A record's views repeat most of
// their strings (agency, actor, route, address, user agent, ...), usually from one view to the next,
// so each field first compares with the same field of the previous view; a hash lookup only when it
// differs. (FlatBuffers' CreateSharedString keeps a std::set ordered by comparing the strings in the
// buffer: several times the cost.)
class string_pool {
public:
    explicit string_pool(flatbuffers::FlatBufferBuilder& b, std::size_t views = 0) : b_(b) {
        seen_.reserve(views * 2 + 16);
    }
    void clear() {
        last_ = {};
        seen_.clear();
    }
    // `s` must stay valid as long as the pool: the views' strings outlive the encoding.
    fb_string get(std::size_t field, std::string_view s) {
        auto& last = last_[field];
        if (!last.offset.IsNull() && last.text == s) return last.offset;
        auto [it, fresh] = seen_.try_emplace(s);
        if (fresh) it->second = b_.CreateString(s.data(), s.size());
        last = {s, it->second};
        return it->second;
    }

private:
    struct recent {
        std::string_view text;
        fb_string offset;
    };
    flatbuffers::FlatBufferBuilder& b_;
    std::array<recent, 12> last_{};
    std::unordered_map<std::string_view, fb_string> seen_;
};

// Builds one view. With a pool, strings that repeat across the views of a record (actor, subject,
// route, address, user agent, ...) are stored once per record; ids that are unique per view never
// are.
flatbuffers::Offset<fb::RecordViewed> build(flatbuffers::FlatBufferBuilder& b, const record_viewed_ref& v,
                                            string_pool* pool) {
    auto s = [&](std::size_t field, std::string_view x) {
        return pool ? pool->get(field, x) : b.CreateString(x.data(), x.size());
    };
    auto view_id = b.CreateString(v.view_id.data(), v.view_id.size());
    // A request id is unique per request when there is one; most callers send none.
    auto request = v.request_id.empty() ? s(0, v.request_id) : b.CreateString(v.request_id.data(), v.request_id.size());
    auto agency = s(1, v.agency_id), actor_kind = s(2, v.actor_kind), actor = s(3, v.actor_id);
    auto subject_type = s(4, v.subject_type), subject = s(5, v.subject_id), record_type = s(6, v.record_type);
    auto record = s(7, v.record_id), resource = s(8, v.resource), query = s(9, v.query), address = s(10, v.address);
    auto agent = s(11, v.user_agent);
    return fb::CreateRecordViewed(b, view_id, agency, v.occurred_at, actor_kind, actor, subject_type, subject,
                                  record_type, record, resource, query, v.item_count, address, agent, request);
}

std::string_view what_is_missing(const fb::RecordViewed* r) {
    if (!r->view_id() || r->view_id()->size() == 0 || !r->agency_id() || r->agency_id()->size() == 0 ||
        !r->actor_id() || r->actor_id()->size() == 0)
        return "view_id, agency_id or actor_id missing";
    return {};
}

record_viewed_ref ref_from(const fb::RecordViewed* r) {
    auto s = [](const flatbuffers::String* x) { return x ? x->string_view() : std::string_view(); };
    return record_viewed_ref{s(r->view_id()),     s(r->agency_id()),   r->occurred_at(),   s(r->actor_kind()),
                             s(r->actor_id()),    s(r->subject_type()), s(r->subject_id()), s(r->record_type()),
                             s(r->record_id()),   s(r->resource()),     s(r->query()),      r->item_count(),
                             s(r->address()),     s(r->user_agent()),   s(r->request_id())};
}

// The verified root of a RecordViews record, or why not.
result<const fb::RecordViews*> verified_views(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 8 || bytes.size() > (16u << 20))
        return fail(errc::malformed, "buffer size " + std::to_string(bytes.size()) + " out of range");
    flatbuffers::Verifier verifier(bytes.data(), bytes.size());
    if (!fb::VerifyRecordViewsBuffer(verifier)) return fail(errc::malformed, "FlatBuffers verifier rejected the record");
    const auto* batch = fb::GetRecordViews(bytes.data());
    if (batch->views())
        for (const auto* r : *batch->views())
            if (auto missing = what_is_missing(r); !missing.empty()) return fail(errc::malformed, std::string(missing));
    return batch;
}
}  // namespace

record_viewed_ref ref_of(const record_viewed& v) {
    return record_viewed_ref{v.view_id,     v.agency_id,   v.occurred_at, v.actor_kind, v.actor_id,
                             v.subject_type, v.subject_id, v.record_type, v.record_id,  v.resource,
                             v.query,        v.item_count, v.address,     v.user_agent, v.request_id};
}

record_viewed owned(const record_viewed_ref& r) {
    auto s = [](std::string_view x) { return std::string(x); };
    return record_viewed{s(r.view_id),     s(r.agency_id),   r.occurred_at,   s(r.actor_kind), s(r.actor_id),
                         s(r.subject_type), s(r.subject_id), s(r.record_type), s(r.record_id), s(r.resource),
                         s(r.query),        r.item_count,    s(r.address),     s(r.user_agent), s(r.request_id)};
}

std::vector<std::uint8_t> encode(const record_viewed& v) {
    view_encoder e;
    auto bytes = e.encode(ref_of(v));
    return {bytes.begin(), bytes.end()};
}

struct view_encoder::impl {
    flatbuffers::FlatBufferBuilder b{512};
};
view_encoder::view_encoder() : impl_(std::make_unique<impl>()) {}
view_encoder::~view_encoder() = default;

std::span<const std::uint8_t> view_encoder::encode(const record_viewed_ref& v) {
    auto& b = impl_->b;
    b.Clear();
    b.Finish(build(b, v, nullptr), "CLAX");
    return {b.GetBufferPointer(), b.GetSize()};
}

std::vector<std::uint8_t> encode_views(std::span<const record_viewed> views) {
    std::vector<record_viewed_ref> refs;
    refs.reserve(views.size());
    for (const auto& v : views) refs.push_back(ref_of(v));
    return encode_views(std::span<const record_viewed_ref>(refs));
}

std::vector<std::uint8_t> encode_views(std::span<const record_viewed_ref> views) {
    views_encoder e;
    for (const auto& v : views) e.add(v);
    auto bytes = e.finish();
    return {bytes.begin(), bytes.end()};
}

struct views_encoder::impl {
    flatbuffers::FlatBufferBuilder b{64 * 1024};
    string_pool pool{b};
    std::vector<flatbuffers::Offset<fb::RecordViewed>> offsets;
    bool finished = false;
};
views_encoder::views_encoder() : impl_(std::make_unique<impl>()) {}
views_encoder::~views_encoder() = default;

void views_encoder::add(const record_viewed_ref& v) {
    if (impl_->finished) reset();
    impl_->offsets.push_back(build(impl_->b, v, &impl_->pool));
}

std::size_t views_encoder::size() const { return impl_->offsets.size(); }

std::span<const std::uint8_t> views_encoder::finish() {
    auto& b = impl_->b;
    if (!impl_->finished) {
        fb::FinishRecordViewsBuffer(b, fb::CreateRecordViews(b, b.CreateVector(impl_->offsets)));
        impl_->finished = true;
    }
    return {b.GetBufferPointer(), b.GetSize()};
}

void views_encoder::reset() {
    impl_->b.Clear();
    impl_->pool.clear();
    impl_->offsets.clear();
    impl_->finished = false;
}

result<std::vector<record_viewed_ref>> view_refs(std::span<const std::uint8_t> bytes) {
    auto batch = verified_views(bytes);
    if (!batch) return std::unexpected(batch.error());
    std::vector<record_viewed_ref> out;
    if (!(*batch)->views()) return out;
    out.reserve((*batch)->views()->size());
    for (const auto* r : *(*batch)->views()) out.push_back(ref_from(r));
    return out;
}

result<std::vector<record_viewed>> decode_record_views(std::span<const std::uint8_t> bytes) {
    auto refs = view_refs(bytes);
    if (!refs) return std::unexpected(refs.error());
    std::vector<record_viewed> out;
    out.reserve(refs->size());
    for (const auto& r : *refs) out.push_back(owned(r));
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
    return owned(ref_from(r));
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
