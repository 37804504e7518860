// The audit read model: every applied event (a change) and every record view (from the access
// topic) of an agency, in time order, indexed by actor and by subject, so that "who opened this
// client's record" and "what did this user open or change" are one range read each, over any span.
//
//   audit  ("t", agency) suffix                 the record's bytes (envelope or RecordViewed)
//          ("a", agency, actor_id) suffix       ""   (actor index)
//          ("s", agency, subject_id) suffix     ""   (subject index: the aggregate of a change,
//                                                     the client or staff member of a view)
//   suffix = be64(occurred_at) kind id, kind 'c' (id = be64(sequence)) or 'v' (id = view_id)
//
// The index entries are keys only: a page reads the primary entries it lists by key. A query
// examines at most `examine_limit` entries: a filter that matches rarely answers fewer items (or
// none) with a next_cursor to go on from, so no request scans a whole agency's history at once.
#include "store_impl.hpp"

#include "carelog/events/access_record.hpp"

namespace carelog::projections {

namespace {
constexpr std::size_t examine_limit = 20000;
constexpr char change_kind = 'c';
constexpr char view_kind = 'v';

std::string time_key(micros t) { return keys::be64(static_cast<std::uint64_t>(std::max<micros>(t, 0))); }

std::string access_offset_key(int partition) {
    return "x" + keys::be32(static_cast<std::uint32_t>(partition));
}

void put_entry(write_set& w, rocksdb::ColumnFamilyHandle* cf, const std::string& agency, const std::string& actor,
               const std::string& subject, const std::string& suffix, std::string_view bytes) {
    w.put(cf, keys::make("t", agency) + suffix, bytes);
    if (!actor.empty()) w.put(cf, keys::make("a", agency, actor) + suffix, "");
    if (!subject.empty()) w.put(cf, keys::make("s", agency, subject) + suffix, "");
}

std::string_view as_chars(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

result<events::record_viewed> decode_view(std::string_view v) {
    std::vector<std::uint8_t> copy(v.begin(), v.end());  // aligned for FlatBuffers
    return events::decode_record_viewed(copy);
}
}  // namespace

void store::impl::apply_audit_change(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    const std::string suffix = time_key(e.occurred_at) + change_kind + keys::be64(e.sequence);
    put_entry(w, audit, e.agency_id, e.actor_id, e.aggregate_id, suffix, as_chars(bytes));
}

result<access_outcome> store::apply_access_batch(std::span<const incoming_record> records) {
    // Views are only added (each key once), so they go straight into a WriteBatch: no read of what
    // the batch wrote is needed.
    std::lock_guard lock(impl_->write_mu);
    rocksdb::WriteBatch batch;
    access_outcome out;
    std::map<int, std::int64_t> next;
    std::vector<std::uint8_t> aligned;
    std::string suffix;
    events::view_encoder encoder;
    std::vector<std::pair<std::string, std::string>> entries;  // audit key, value
    for (const auto& rec : records) {
        auto n = next.find(rec.partition);
        if (n == next.end()) {
            auto stored = impl_->read(impl_->offsets, access_offset_key(rec.partition));
            if (!stored) return std::unexpected(stored.error());
            std::int64_t at = *stored && (*stored)->size() == 8 ? static_cast<std::int64_t>(keys::read_be64(**stored)) : 0;
            n = next.emplace(rec.partition, at).first;
        }
        if (rec.offset < n->second) continue;
        n->second = rec.offset + 1;
        auto bytes = rec.value;
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 8 != 0) {
            aligned.assign(bytes.begin(), bytes.end());
            bytes = aligned;
        }
        auto views = events::view_refs(bytes);
        std::string wrong_key;
        if (views && !rec.key.empty())
            for (const auto& v : *views)
                if (v.agency_id != rec.key) wrong_key = v.agency_id;
        if (!views || !wrong_key.empty()) {
            out.rejected.push_back({rec.partition, rec.offset,
                                    views ? "keyed " + std::string(rec.key) + " but names agency " + wrong_key
                                          : views.error().detail,
                                    0});
            continue;
        }
        for (const auto& v : *views) {
            suffix = time_key(v.occurred_at);
            suffix += view_kind;
            suffix.append(v.view_id);
            const auto one = encoder.encode(v);  // each entry holds its own view
            entries.push_back({keys::make("t", v.agency_id) + suffix, std::string(as_chars(one))});
            entries.push_back({keys::make("a", v.agency_id, v.actor_id) + suffix, {}});
            if (!v.subject_id.empty()) entries.push_back({keys::make("s", v.agency_id, v.subject_id) + suffix, {}});
            ++out.applied;
        }
    }
    // In key order: consecutive inserts land next to each other in the memtable's skiplist, which
    // then finds each place from the last one instead of from its top (in served order, the time,
    // actor and subject entries of a view are far apart, and every insert was a walk of cache misses).
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [k, v] : entries)
        if (!batch.Put(impl_->audit, k, v).ok()) return fail(errc::internal, "rocksdb batch: audit entry");
    for (const auto& [p, off] : next) {
        auto k = access_offset_key(p);
        auto v = keys::be64(static_cast<std::uint64_t>(off));
        if (!batch.Put(impl_->offsets, k, v).ok()) return fail(errc::internal, "rocksdb batch: access offset");
        out.next_offsets.emplace_back(p, off);
    }
    if (batch.Count() == 0) return out;
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;  // derived from the topic, flushed with the offsets (store_impl.hpp)
    if (auto s = impl_->db->Write(wo, &batch); !s.ok()) return fail(errc::internal, status_text("write", s));
    return out;
}

std::int64_t store::next_access_offset(int partition) const {
    auto v = or_throw(impl_->read(impl_->offsets, access_offset_key(partition)));
    return v && v->size() == 8 ? static_cast<std::int64_t>(keys::read_be64(*v)) : 0;
}

result<page> store::audit_events(const std::string& agency_id, const audit_filter& f, int limit,
                                 const std::optional<std::string>& cursor) const {
    limit = std::clamp(limit, 1, 500);
    std::optional<std::string> after;
    if (cursor) {
        auto c = keys::base64url_decode(*cursor);
        if (!c || c->size() < 9 || ((*c)[8] != change_kind && (*c)[8] != view_kind))
            return fail(errc::malformed, "cursor is not one this listing gave");
        after = std::move(*c);
    }
    // The narrowest index the filter allows; the others are checked on each entry.
    const std::string primary = keys::make("t", agency_id);
    std::string prefix = f.subject_id ? keys::make("s", agency_id, *f.subject_id)
                         : f.actor_id ? keys::make("a", agency_id, *f.actor_id)
                                      : primary;
    const bool covering = prefix == primary;
    const bool check_actor = f.actor_id && f.subject_id;

    // Bounds: [prefix + from, prefix + to), narrowed by the cursor (exclusive).
    std::string lower = prefix + (f.from ? time_key(*f.from) : std::string());
    std::string upper = f.to ? prefix + time_key(*f.to) : keys::prefix_successor(prefix);
    rocksdb::ReadOptions ro;
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    ro.iterate_lower_bound = &lower_slice;
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->audit));
    if (f.newest_first) {
        if (after) it->SeekForPrev(prefix + *after);
        else if (!upper.empty()) it->SeekForPrev(upper);
        else it->SeekToLast();
        // SeekForPrev lands on the cursor's own entry (or the upper bound's); step past it.
        if (it->Valid() && (after ? it->key().ToStringView() == prefix + *after : it->key().ToStringView() >= upper))
            it->Prev();
    } else {
        it->Seek(after ? prefix + *after + '\0' : lower);
    }

    page out;
    std::size_t examined = 0;
    std::string last_suffix;
    bool stopped_early = false;
    std::optional<std::string> corrupt;
    for (; it->Valid(); f.newest_first ? it->Prev() : it->Next()) {
        auto k = it->key().ToStringView();
        if (!k.starts_with(prefix)) break;
        if (out.items.size() >= static_cast<std::size_t>(limit) || examined >= examine_limit) {
            stopped_early = true;
            break;
        }
        ++examined;
        std::string_view suffix = k.substr(prefix.size());
        last_suffix.assign(suffix);
        if (suffix.size() < 9) continue;
        const char kind = suffix[8];
        if (f.kind && *f.kind != (kind == change_kind ? audit_kind::change : audit_kind::view)) continue;
        std::string value;
        if (covering) {
            value.assign(it->value().ToStringView());
        } else {
            auto v = impl_->read(impl_->audit, primary + std::string(suffix));
            if (!v) return std::unexpected(v.error());
            if (!*v) continue;
            value = std::move(**v);
        }
        json::object item;
        if (kind == change_kind) {
            auto e = decode_stored(value);
            if (!e) {
                corrupt = e.error().detail;
                break;
            }
            if (check_actor && e->actor_id != *f.actor_id) continue;
            if (f.event_type && events::event_type_name(e->data) != *f.event_type) continue;
            item = events::listing_json(*e);
            item["kind"] = "change";
        } else {
            auto v = decode_view(value);
            if (!v) {
                corrupt = v.error().detail;
                break;
            }
            if (check_actor && v->actor_id != *f.actor_id) continue;
            if (f.event_type && *f.event_type != "RecordViewed") continue;
            item = events::listing_json(*v);
            item["kind"] = "view";
        }
        out.items.emplace_back(std::move(item));
    }
    if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
    if (corrupt) return fail(errc::internal, "stored audit entry does not decode: " + *corrupt);
    if (stopped_early) out.next_cursor = keys::base64url_encode(last_suffix);
    return out;
}

}  // namespace carelog::projections
