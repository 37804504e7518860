// The audit read model: every applied event (a change) and every record view (from the access
// topic) of an agency, in time order, indexed by actor and by subject, so that "who opened this
// client's record" and "what did this user open or change" are one range read each, over any span.
//
//   key (column family audit)                           value
//   ("t", agency) be64(occurred_at) 'c' be64(sequence)  a change: where its envelope is (below)
//   ("t", agency) group                                 a group of views: varint(n), n varint
//                                                       positions (0: all of the record's views),
//                                                       the RecordViews record's bytes as consumed
//   ("a", agency, actor_id) be64(occurred_at) 'c' ...   "" (a change by that actor)
//   ("a", agency, actor_id) group'                      varint(size) group, varint(n), n varint
//                                                       positions: the group's views by that actor
//   ("s", agency, subject_id) ...                       the same by subject (the aggregate of a
//                                                       change, the client or staff member of a view)
//   group  = be64(occurred_at) 'r' view_id of the group's first view, in (occurred_at, view_id)
//   group' = the same of the first view the index entry lists
//
// A change's value refers to the history entry its read model wrote in the same batch, so the
// envelope (~650 bytes, most of what an event writes) is stored once: 'a' (the agency's events,
// agencies ("e", agency) be64(sequence)), 's' or 'c' followed by be64(aggregate_version) and the
// aggregate's id (staff_events or client_events, (agency, id) be64(version) be64(sequence)); or
// 'e' followed by the envelope's bytes for an event kept in no history (a login failure of an
// unknown username). Agency and sequence come from the change's own key. History entries are
// never deleted, so a reference always finds its envelope.
//
// A record of the access topic (one node's views of one agency over one drain) is stored whole,
// once, with one index entry per distinct actor and per distinct subject in it: the consumer
// writes a few entries per record instead of three per view, and a query decodes the records it
// touches. A record whose views span more than `group_span` is stored as several groups (each
// listing its views' positions), so that every entry's views lie within `group_span` after the
// time in its key.
//
// A listing is in the order of its items' positions, be64(occurred_at) kind id with kind 'c' (id =
// be64(sequence)) or 'v' (id = view_id); its cursor is the last item's position. Entries are read
// in key order and their items merged: oldest first, an item is listed once the next entry's key is
// past it (an entry's items are never before its key); newest first, once the next entry's time is
// more than `group_span` before the item's. So a range also reads the entries keyed up to
// `group_span` before the time where it begins (oldest first: from, or the cursor) or ends (newest
// first: from). An index entry only refers: a page reads the changes and groups it lists from
// ("t", agency). A query examines at most `examine_limit` items: a filter that matches rarely
// answers fewer items (or none) with a next_cursor to go on from, so no request scans a whole
// agency's history at once.
#include "store_impl.hpp"

#include <queue>

#include "carelog/events/access_record.hpp"

namespace carelog::projections {

namespace {
constexpr std::size_t examine_limit = 20000;
constexpr char change_kind = 'c';
constexpr char view_kind = 'v';
constexpr char group_kind = 'r';  // below 'v': a group's key sorts before its first view's suffix
// Twice what a drain's views span (500 ms); a record spanning longer (a drain thread held up) is
// split. Entries written under a shorter span stay valid: a longer span only reads further back.
constexpr micros group_span = 1'000'000;

std::string time_key(micros t) { return keys::be64(static_cast<std::uint64_t>(std::max<micros>(t, 0))); }
micros clamped(micros t) { return std::max<micros>(t, 0); }
micros time_of(std::string_view suffix) { return static_cast<micros>(keys::read_be64(suffix.substr(0, 8))); }

std::string access_offset_key(int partition) {
    return "x" + keys::be32(static_cast<std::uint32_t>(partition));
}

void put_entry(write_set& w, rocksdb::ColumnFamilyHandle* cf, const std::string& agency, const std::string& actor,
               const std::string& subject, const std::string& suffix, std::string bytes) {
    w.put_moved(cf, keys::make("t", agency) + suffix, std::move(bytes));
    if (!actor.empty()) w.put(cf, keys::make("a", agency, actor) + suffix, "");
    if (!subject.empty()) w.put(cf, keys::make("s", agency, subject) + suffix, "");
}

std::string_view as_chars(std::span<const std::uint8_t> b) {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}
bool take_varint(std::string_view& in, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
        const auto b = static_cast<std::uint8_t>(in.front());
        in.remove_prefix(1);
        v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) return true;
    }
    return false;
}

// A view's suffix in the listing (and its cursor).
std::string view_suffix(const events::record_viewed_ref& v) {
    std::string s = time_key(v.occurred_at);
    s += view_kind;
    s.append(v.view_id);
    return s;
}
// The key suffix of a group (or of an index entry) whose first view is v.
std::string group_suffix(const events::record_viewed_ref& v) {
    std::string s = time_key(v.occurred_at);
    s += group_kind;
    s.append(v.view_id);
    return s;
}

// A stored record decoded: its views point into `bytes`.
struct decoded_group {
    std::vector<std::uint8_t> bytes;  // aligned for FlatBuffers
    std::vector<events::record_viewed_ref> views;
};

// A group's value: varint(n), n varint positions in the record (n = 0: all its views), the record.
result<void> decode_group(std::string_view value, decoded_group& g, std::vector<std::uint32_t>& positions) {
    std::uint64_t n = 0;
    if (!take_varint(value, n) || n > value.size()) return fail(errc::internal, "audit group: bad header");
    positions.clear();
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint64_t p = 0;
        if (!take_varint(value, p)) return fail(errc::internal, "audit group: bad position");
        positions.push_back(static_cast<std::uint32_t>(p));
    }
    g.bytes.assign(value.begin(), value.end());
    auto views = events::view_refs(g.bytes);
    if (!views) return fail(errc::internal, "stored audit entry does not decode: " + views.error().detail);
    g.views = std::move(*views);
    if (n == 0)
        for (std::uint32_t i = 0; i < g.views.size(); ++i) positions.push_back(i);
    for (auto p : positions)
        if (p >= g.views.size()) return fail(errc::internal, "audit group: position beyond the record");
    return {};
}

// One item of a listing on its way through the merge.
struct pending_item {
    std::string suffix;
    std::shared_ptr<const decoded_group> group;  // a view: group->views[position]
    std::uint32_t position = 0;
    std::string change;                          // a change: the envelope's bytes
};
}  // namespace

void store::impl::apply_audit_change(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes,
                                     history_kind where) {
    const std::string suffix = time_key(e.occurred_at) + change_kind + keys::be64(e.sequence);
    std::string value(1, static_cast<char>(where));
    switch (where) {
        case history_kind::none: value.append(as_chars(bytes)); break;
        case history_kind::agency: break;
        case history_kind::staff:
        case history_kind::client:
            value += keys::be64(e.aggregate_version);
            value += e.aggregate_id;
            break;
    }
    put_entry(w, audit, e.agency_id, e.actor_id, e.aggregate_id, suffix, std::move(value));
}

// The envelope of a change: `value` as apply_audit_change stored it under ("t", agency) + suffix.
result<std::string> store::impl::change_envelope(const std::string& agency, std::string_view suffix,
                                                 std::string_view value) const {
    if (value.empty() || suffix.size() != 17) return fail(errc::internal, "audit change: bad entry");
    const auto where = static_cast<history_kind>(value.front());
    value.remove_prefix(1);
    const std::string sequence(suffix.substr(9));
    std::optional<std::string> bytes;
    switch (where) {
        case history_kind::none: return std::string(value);
        case history_kind::agency: {
            auto v = read(agencies, keys::make("e", agency) + sequence);
            if (!v) return std::unexpected(v.error());
            bytes = std::move(*v);
            break;
        }
        case history_kind::staff:
        case history_kind::client: {
            if (value.size() < 8) return fail(errc::internal, "audit change: bad reference");
            keys::tuple k;
            k.add(agency).add(value.substr(8)).raw(value.substr(0, 8)).raw(sequence);
            auto v = read(where == history_kind::staff ? staff_events : client_events, k.str());
            if (!v) return std::unexpected(v.error());
            bytes = std::move(*v);
            break;
        }
        default:
            return fail(errc::internal,
                        "stored audit entry of another layout: rebuild the projections store from the topic");
    }
    if (!bytes) return fail(errc::internal, "audit change: its history entry is missing");
    return std::move(*bytes);
}

result<access_outcome> store::apply_access_batch(std::span<const incoming_record> records) {
    // Views are only added (each key once), so they go straight into a WriteBatch: no read of what
    // the batch wrote is needed.
    std::lock_guard lock(impl_->write_mu);
    rocksdb::WriteBatch batch;
    access_outcome out;
    std::map<int, std::int64_t> next;
    thread_local std::vector<std::uint8_t> aligned;  // a record's copy when unaligned; kept: records are ~100s of KB
    struct entry {
        std::string key;
        std::string head;                       // the value, or its header when `record` follows
        std::span<const std::uint8_t> record;   // the record's bytes (a group's value)
    };
    std::vector<entry> entries;
    std::vector<std::uint32_t> order, group, by;
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
        std::string reason = !views ? views.error().detail
                             : !wrong_key.empty() ? "keyed " + std::string(rec.key) + " but names agency " + wrong_key
                                                  : std::string();
        if (views && reason.empty())
            for (const auto& v : *views)
                if (v.agency_id != views->front().agency_id)
                    reason = "names agencies " + std::string(views->front().agency_id) + " and " + std::string(v.agency_id);
        if (!reason.empty()) {
            out.rejected.push_back({rec.partition, rec.offset, std::move(reason), 0});
            continue;
        }
        const auto& vs = *views;
        if (vs.empty()) continue;
        const std::string agency(vs.front().agency_id);
        // The record's views in listing order, cut into groups of at most group_span.
        order.resize(vs.size());
        for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
        auto before = [&](std::uint32_t a, std::uint32_t b) {
            const auto ta = clamped(vs[a].occurred_at), tb = clamped(vs[b].occurred_at);
            return ta != tb ? ta < tb : vs[a].view_id < vs[b].view_id;
        };
        // Usually already so: a record holds its views in the order the node served them.
        if (!std::is_sorted(order.begin(), order.end(), before)) std::sort(order.begin(), order.end(), before);
        const bool split = clamped(vs[order.back()].occurred_at) - clamped(vs[order.front()].occurred_at) > group_span;
        for (std::size_t i = 0; i < order.size();) {
            std::size_t j = i + 1;
            while (j < order.size() &&
                   clamped(vs[order[j]].occurred_at) - clamped(vs[order[i]].occurred_at) <= group_span)
                ++j;
            group.assign(order.begin() + static_cast<std::ptrdiff_t>(i), order.begin() + static_cast<std::ptrdiff_t>(j));
            const std::string gs = group_suffix(vs[group.front()]);
            std::string head;
            put_varint(head, split ? group.size() : 0);
            if (split)
                for (auto p : group) put_varint(head, p);
            entries.push_back({keys::make("t", agency) + gs, std::move(head), rec.value});
            // One index entry per distinct actor and subject: the group's views of it, in order.
            auto index = [&](const char* name, auto field) {
                by = group;
                std::stable_sort(by.begin(), by.end(), [&](std::uint32_t a, std::uint32_t b) {
                    return field(vs[a]) < field(vs[b]);
                });
                for (std::size_t k = 0; k < by.size();) {
                    std::size_t m = k + 1;
                    while (m < by.size() && field(vs[by[m]]) == field(vs[by[k]])) ++m;
                    const auto who = field(vs[by[k]]);
                    if (!(name[0] == 's' && who.empty())) {
                        std::string ref;
                        put_varint(ref, gs.size());
                        ref += gs;
                        put_varint(ref, m - k);
                        for (std::size_t q = k; q < m; ++q) put_varint(ref, by[q]);
                        entries.push_back({keys::make(name, agency, who) + group_suffix(vs[by[k]]), std::move(ref), {}});
                    }
                    k = m;
                }
            };
            index("a", [](const events::record_viewed_ref& v) { return v.actor_id; });
            index("s", [](const events::record_viewed_ref& v) { return v.subject_id; });
            i = j;
        }
        out.applied += vs.size();
    }
    // In key order: consecutive inserts land next to each other in the memtable's skiplist, which
    // then finds each place from the last one instead of from its top.
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    for (const auto& e : entries) {
        const rocksdb::Slice key(e.key);
        rocksdb::Status s;
        if (e.record.empty()) {
            s = batch.Put(impl_->audit, key, e.head);
        } else {
            const rocksdb::Slice parts[] = {rocksdb::Slice(e.head),
                                            rocksdb::Slice(reinterpret_cast<const char*>(e.record.data()), e.record.size())};
            s = batch.Put(impl_->audit, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
        }
        if (!s.ok()) return fail(errc::internal, "rocksdb batch: audit entry");
    }
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
    // The narrowest index the filter allows; the others are checked on each item.
    const std::string primary = keys::make("t", agency_id);
    std::string prefix = f.subject_id ? keys::make("s", agency_id, *f.subject_id)
                         : f.actor_id ? keys::make("a", agency_id, *f.actor_id)
                                      : primary;
    const bool covering = prefix == primary;
    const bool check_actor = f.actor_id && f.subject_id;
    const bool oldest_first = !f.newest_first;

    // The items listed lie in [from, to) and after the cursor (before it, newest first); the keys
    // read reach group_span further back, for the groups keyed before their views.
    const std::string from_key = f.from ? time_key(*f.from) : std::string();
    const std::string to_key = f.to ? time_key(*f.to) : std::string();
    micros lookback_from = f.from ? clamped(*f.from) : 0;
    if (oldest_first && after) lookback_from = std::max<micros>(lookback_from, time_of(*after));
    const bool bounded_below = f.from || (oldest_first && after);
    std::string lower = prefix + (bounded_below ? time_key(lookback_from - group_span) : std::string());
    std::string upper = f.to ? prefix + to_key : keys::prefix_successor(prefix);
    rocksdb::ReadOptions ro;
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    ro.iterate_lower_bound = &lower_slice;
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->audit));
    if (f.newest_first) {
        if (after) it->SeekForPrev(prefix + *after);
        else if (!upper.empty()) it->SeekForPrev(upper);
        else it->SeekToLast();
        if (it->Valid() && !upper.empty() && it->key().ToStringView() >= upper) it->Prev();
    } else {
        it->Seek(lower);
    }

    auto in_range = [&](const std::string& s) {
        if (!from_key.empty() && s < from_key) return false;
        if (!to_key.empty() && s >= to_key) return false;
        if (after && (oldest_first ? s <= *after : s >= *after)) return false;
        return true;
    };
    auto later = [&](const pending_item& a, const pending_item& b) {
        return oldest_first ? a.suffix > b.suffix : a.suffix < b.suffix;
    };
    std::priority_queue<pending_item, std::vector<pending_item>, decltype(later)> waiting(later);
    std::optional<std::string> problem;  // a stored entry that does not decode
    std::vector<std::uint32_t> positions;
    // Reads the entry under the iterator into `waiting`.
    auto load = [&](std::string_view suffix) -> result<void> {
        if (suffix.size() < 9) return {};
        const char kind = suffix[8];
        if (kind == change_kind) {
            pending_item item{std::string(suffix), nullptr, 0, {}};
            if (!in_range(item.suffix)) return {};
            std::string ref;
            if (covering) {
                ref.assign(it->value().ToStringView());
            } else {
                auto v = impl_->read(impl_->audit, primary + item.suffix);
                if (!v) return std::unexpected(v.error());
                if (!*v) return {};
                ref = std::move(**v);
            }
            auto bytes = impl_->change_envelope(agency_id, item.suffix, ref);
            if (!bytes) return std::unexpected(bytes.error());
            item.change = std::move(*bytes);
            waiting.push(std::move(item));
            return {};
        }
        if (kind != group_kind)
            return fail(errc::internal, "stored audit entry of another layout: rebuild the projections store from the topic");
        auto g = std::make_shared<decoded_group>();
        if (covering) {
            if (auto r = decode_group(it->value().ToStringView(), *g, positions); !r) return r;
        } else {
            std::string_view ref = it->value().ToStringView();
            std::uint64_t n = 0;
            if (!take_varint(ref, n) || n > ref.size()) return fail(errc::internal, "audit index entry: bad reference");
            const std::string gs(ref.substr(0, n));
            ref.remove_prefix(n);
            auto v = impl_->read(impl_->audit, primary + gs);
            if (!v) return std::unexpected(v.error());
            if (!*v) return {};
            std::vector<std::uint32_t> all;
            if (auto r = decode_group(**v, *g, all); !r) return r;
            positions.clear();
            if (!take_varint(ref, n)) return fail(errc::internal, "audit index entry: bad positions");
            for (std::uint64_t i = 0; i < n; ++i) {
                std::uint64_t p = 0;
                if (!take_varint(ref, p) || p >= g->views.size())
                    return fail(errc::internal, "audit index entry: bad position");
                positions.push_back(static_cast<std::uint32_t>(p));
            }
        }
        for (auto p : positions) {
            pending_item item{view_suffix(g->views[p]), g, p, {}};
            if (in_range(item.suffix)) waiting.push(std::move(item));
        }
        return {};
    };
    // The next item of the listing in its order, merged from the entries read so far and those
    // still ahead of the iterator.
    std::string last_listed;
    auto next_item = [&]() -> result<std::optional<pending_item>> {
        for (;;) {
            const bool more = it->Valid() && it->key().ToStringView().starts_with(prefix);
            if (more) {
                const auto suffix = it->key().ToStringView().substr(prefix.size());
                bool ready = false;
                if (!waiting.empty()) {
                    if (oldest_first) {
                        ready = waiting.top().suffix < suffix;
                    } else {
                        // Entries still ahead are keyed at or before `suffix`: their items are at
                        // most group_span later.
                        ready = suffix.size() < 8 || time_of(waiting.top().suffix) > time_of(suffix) + group_span;
                    }
                }
                if (!ready) {
                    if (auto r = load(suffix); !r) return std::unexpected(r.error());
                    oldest_first ? it->Next() : it->Prev();
                    continue;
                }
            } else if (!it->status().ok()) {
                return fail(errc::internal, status_text("iterate", it->status()));
            }
            if (waiting.empty()) return std::optional<pending_item>();
            pending_item item = waiting.top();
            waiting.pop();
            if (item.suffix == last_listed) continue;  // the same view delivered twice
            last_listed = item.suffix;
            return std::optional<pending_item>(std::move(item));
        }
    };

    page out;
    std::size_t examined = 0;
    std::string last_suffix;
    bool stopped_early = false;
    for (;;) {
        auto next = next_item();
        if (!next) return std::unexpected(next.error());
        if (!*next) break;
        if (out.items.size() >= static_cast<std::size_t>(limit) || examined >= examine_limit) {
            stopped_early = true;
            break;
        }
        ++examined;
        const pending_item& item = **next;
        last_suffix = item.suffix;
        const char kind = item.suffix[8];
        if (f.kind && *f.kind != (kind == change_kind ? audit_kind::change : audit_kind::view)) continue;
        json::object entry;
        if (kind == change_kind) {
            auto e = decode_stored(item.change);
            if (!e) {
                problem = e.error().detail;
                break;
            }
            if (check_actor && e->actor_id != *f.actor_id) continue;
            if (f.event_type && events::event_type_name(e->data) != *f.event_type) continue;
            entry = events::listing_json(*e);
            entry["kind"] = "change";
        } else {
            const auto& v = item.group->views[item.position];
            if (check_actor && v.actor_id != *f.actor_id) continue;
            if (f.event_type && *f.event_type != "RecordViewed") continue;
            entry = events::listing_json(events::owned(v));
            entry["kind"] = "view";
        }
        out.items.emplace_back(std::move(entry));
    }
    if (problem) return fail(errc::internal, "stored audit entry does not decode: " + *problem);
    if (stopped_early) out.next_cursor = keys::base64url_encode(last_suffix);
    return out;
}

}  // namespace carelog::projections
