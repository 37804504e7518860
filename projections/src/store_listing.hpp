#pragma once
// The paging the directory listings share (the staff directory and the client list). An index
// range lists candidates under an order suffix, a tuple whose last component is the listed id; the
// view of each candidate decides whether it is listed; a page holds `limit` items in suffix order,
// and its cursor is the last item's suffix, so the next page starts strictly after it. Each
// listing says only which ranges it walks and which views it keeps.
#include "store_impl.hpp"

namespace carelog::projections::listing {

inline result<void> check_limit(int limit) {
    if (limit < 1 || limit > 500) return fail(error::validation("limit", "must be between 1 and 500"));
    return {};
}

// The suffix a cursor names (none without a cursor); malformed when it is not a suffix of
// `parts` components, so not one this listing gave out.
inline result<std::optional<std::string>> after_cursor(const std::optional<std::string>& cursor, std::size_t parts) {
    if (!cursor) return std::optional<std::string>();
    auto raw = keys::base64url_decode(*cursor);
    auto split = raw ? keys::parse(*raw) : std::nullopt;
    if (!split || split->size() != parts) return fail(errc::malformed, "the cursor is not one this server gave out");
    return std::optional<std::string>(std::move(*raw));
}

// One page being filled from candidates in suffix order.
class page_builder {
public:
    explicit page_builder(int limit) : limit_(static_cast<std::size_t>(limit)) {}

    // Whether another item fits. When it does not, that item starts the next page: the page names
    // its cursor, and the walk stops.
    bool room() {
        if (out_.items.size() + out_.stored.size() < limit_) return true;
        out_.next_cursor = keys::base64url_encode(last_);
        return false;
    }
    void add(json::object view, std::string_view suffix) {
        out_.items.emplace_back(std::move(view));
        last_.assign(suffix);
    }
    void add_stored(std::string bytes, std::string_view suffix) {
        out_.stored.push_back(std::move(bytes));
        last_.assign(suffix);
    }

    // The candidate under `suffix` whose view is `key` in `cf` (read from the snapshot): listed
    // when it exists and keep(view) says so. False when the walk should stop (the page is full,
    // or the read failed: failure() says why).
    template <class Keep>
    bool offer(const store::impl& s, rocksdb::ColumnFamilyHandle* cf, std::string_view key,
               const rocksdb::Snapshot* snap, std::string_view suffix, Keep&& keep) {
        auto view = s.read_json(cf, key, snap);
        if (!view) {
            failure_ = view.error();
            return false;
        }
        if (!*view || !keep(**view)) return true;
        if (!room()) return false;
        add(std::move(**view), suffix);
        return true;
    }
    void failed(error e) { failure_ = std::move(e); }

    result<page> finish() && {
        if (failure_) return fail(*failure_);
        return std::move(out_);
    }

private:
    std::size_t limit_;
    page out_;
    std::string last_;
    std::optional<error> failure_;
};

// A name search: the suffixes that have, for every word, an entry base + (token, suffix...) whose
// token starts with the word (`parts`: the suffix's components). Tokens order those entries, not
// the listing, so the matches (usually few) are collected, in suffix order.
inline result<std::set<std::string>> name_matches(const store::impl& s, rocksdb::ColumnFamilyHandle* cf,
                                                  const std::string& base, const std::vector<std::string>& words,
                                                  std::size_t parts, const rocksdb::Snapshot* snap) {
    std::optional<std::set<std::string>> found;
    for (const auto& word : words) {
        std::set<std::string> hits;
        auto r = s.scan(
            cf, base + keys::escape(word),
            [&](std::string_view k, std::string_view) {
                auto split = keys::parse(k.substr(base.size()));
                if (!split || split->size() != parts + 1) return true;
                keys::tuple suffix;
                for (std::size_t i = 1; i <= parts; ++i) suffix.add((*split)[i]);
                if (!found || found->contains(suffix.str())) hits.insert(suffix.str());
                return true;
            },
            snap);
        if (!r) return std::unexpected(r.error());
        found = std::move(hits);
    }
    return found.value_or(std::set<std::string>{});
}

// emit(suffix) for the members of `matches` strictly after `after`, in order, while it returns true.
template <class Emit>
void each_after(const std::set<std::string>& matches, const std::optional<std::string>& after, Emit&& emit) {
    for (auto it = after ? matches.upper_bound(*after) : matches.begin(); it != matches.end(); ++it)
        if (!emit(*it)) return;
}

// Walks the suffixes present under every one of the sorted index ranges `prefixes`, strictly after
// `after` when given, calling emit(suffix, value) (the value of the entry in the first range)
// while it returns true. A leapfrog intersection: each range is in suffix order, so every
// iterator moves to the largest suffix any of them is at, and a suffix is emitted when all agree;
// the most selective range bounds the work. An iterator already at its target moves by Next, not
// by a Seek; one range is a plain walk in order.
template <class Emit>
result<void> walk(const store::impl& s, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snap,
                  const std::vector<std::string>& prefixes, const std::optional<std::string>& after, Emit&& emit) {
    // Each iterator ends at its range's end, so it never reads past it (deleted entries included).
    std::vector<std::string> ends;
    std::vector<rocksdb::Slice> bounds;
    ends.reserve(prefixes.size());
    bounds.reserve(prefixes.size());
    std::vector<std::unique_ptr<rocksdb::Iterator>> its;
    for (const auto& prefix : prefixes) {
        rocksdb::ReadOptions ro;
        ro.snapshot = snap;
        ends.push_back(keys::prefix_successor(prefix));
        bounds.emplace_back(ends.back());
        if (!ends.back().empty()) ro.iterate_upper_bound = &bounds.back();
        its.emplace_back(s.db->NewIterator(ro, cf));
    }
    std::vector<bool> placed(prefixes.size(), false);

    auto check = [&]() -> result<void> {
        for (auto& it : its)
            if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
        return {};
    };
    auto suffix_at = [&](std::size_t i) -> std::optional<std::string_view> {
        if (!its[i]->Valid()) return std::nullopt;
        auto key = its[i]->key().ToStringView();
        if (!key.starts_with(prefixes[i])) return std::nullopt;
        return key.substr(prefixes[i].size());
    };
    // The first suffix >= target (> target when exclusive) in range i, or none at its end.
    auto seek = [&](std::size_t i, const std::string& target, bool exclusive) -> std::optional<std::string_view> {
        if (placed[i]) {
            auto at = suffix_at(i);
            if (!at) return std::nullopt;  // the range is done: nothing after it either
            if (*at > target || (*at == target && !exclusive)) return at;
            if (*at == target) {
                its[i]->Next();
                return suffix_at(i);
            }
        }
        std::string k = prefixes[i] + target;
        if (exclusive) k.push_back('\0');  // no suffix lies between target and this
        its[i]->Seek(k);
        placed[i] = true;
        return suffix_at(i);
    };

    std::string target = after.value_or("");
    bool exclusive = after.has_value();
    if (its.size() == 1) {  // one range: every entry in it, in order
        for (auto at = seek(0, target, exclusive); at; its[0]->Next(), at = suffix_at(0))
            if (!emit(*at, its[0]->value().ToStringView())) break;
        return check();
    }
    for (;;) {
        std::string highest;
        bool agree = true;
        for (std::size_t i = 0; i < its.size(); ++i) {
            auto at = seek(i, target, exclusive);
            if (!at) return check();
            if (i > 0 && *at != highest) agree = false;
            if (i == 0 || *at > highest) highest.assign(*at);
        }
        if (agree) {
            if (!emit(std::string_view(highest), its[0]->value().ToStringView())) return check();
            exclusive = true;
        } else {
            exclusive = false;
        }
        target = std::move(highest);
    }
}

// A page of one aggregate's history, oldest first: the stored envelopes under `prefix` ((agency,
// id) in staff_events or client_events, each key ending in be64(version) be64(sequence)) as
// events::listing_json renders them (no secrets). The cursor is the last item's 16-byte suffix.
inline result<page> history(const store::impl& s, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
                            int limit, const std::optional<std::string>& cursor) {
    if (auto r = check_limit(limit); !r) return std::unexpected(r.error());
    std::optional<std::string> after;
    if (cursor) {
        auto raw = keys::base64url_decode(*cursor);
        if (!raw || raw->size() != 16) return fail(errc::malformed, "the cursor is not one this server gave out");
        after = std::move(*raw);
    }
    page_builder pages(limit);
    std::optional<std::string> corrupt;
    auto r = walk(s, cf, nullptr, {prefix}, after, [&](std::string_view suffix, std::string_view value) {
        if (suffix.size() != 16) return true;
        auto e = decode_stored(value);
        if (!e) return !(corrupt = e.error().detail);
        if (!pages.room()) return false;
        pages.add(events::listing_json(*e), suffix);
        return true;
    });
    if (!r) return std::unexpected(r.error());
    if (corrupt) return fail(errc::internal, "a stored event does not decode: " + *corrupt);
    return std::move(pages).finish();
}

// The whole history, page after page of the walk above; throws store_error as the store's other
// unpaged reads do.
inline boost::json::array whole_history(const store::impl& s, rocksdb::ColumnFamilyHandle* cf,
                                        const std::string& prefix) {
    boost::json::array out;
    std::optional<std::string> cursor;
    do {
        auto p = or_throw(history(s, cf, prefix, 500, cursor));
        for (auto& item : p.items) out.push_back(std::move(item));
        cursor = std::move(p.next_cursor);
    } while (cursor);
    return out;
}

}  // namespace carelog::projections::listing
