// The clients read model: client views and their indexes (client_views), the list by visibility,
// assignments, and each client's events (history, as_of).
#include "store_listing.hpp"

namespace carelog::projections {

// One Client event: the client view (+ its n / s / t index entries) and the client's history. An
// event at or below the client view's version was applied already (a re-published record): only
// the history entry (keyed by version) is rewritten, to the same bytes, and the answer is false,
// so the read models the event also feeds (record_applier in store.cpp) skip it too.
// A ClientAdded reads no view: the writer decides a creation once per id (as it decides a portal
// username once) and the chain admits each record once, so no view of the client exists yet (an
// event of the client before its ClientAdded keeps only its history). Reading it would be a miss
// through every memtable and sorted run of the family, ~10 % of an applier's time
// (docs/performance.md, "A new client's view is not read first").
result<bool> store::impl::apply_client(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    const auto& agency = e.agency_id;
    const auto ckey = keys::make("c", agency, e.aggregate_id);
    auto old = std::holds_alternative<events::ClientAdded>(e.data)
                   ? result<std::optional<json::object>>(std::optional<json::object>())
                   : read_json(w, clients, ckey);
    if (!old) return std::unexpected(old.error());

    keys::tuple hk;
    hk.add(agency).add(e.aggregate_id).raw(keys::be64(e.aggregate_version)).raw(keys::be64(e.sequence));
    w.put_borrowed(client_events, hk.str(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));

    const bool fresh_client = !*old;
    if (*old && u64_of(**old, "version") >= e.aggregate_version) return false;
    std::optional<json::object> view = *old;
    client_views::evolve(view, e);
    if (!view) return true;  // an event before ClientAdded: history only
    const auto before = fresh_client ? std::set<std::string>{} : client_views::index_keys(agency, **old);
    const auto after = client_views::index_keys(agency, *view);
    // The name-order entry covers the list: it holds the view itself, so listing the agency reads
    // one index range and no view by key.
    auto stored = json::serialize(*view);
    const auto listed = keys::make(client_views::index_kind::by_name, agency) + client_views::order_suffix(*view);
    for (const auto& k : before)
        if (!after.contains(k)) w.del(client_index, k);
    for (const auto& k : after)
        if (k == listed)
            w.put(client_index, k, stored);
        else if (!before.contains(k))
            w.put(client_index, k, "");
    w.put_moved(clients, ckey, std::move(stored));
    return true;
}

// ---------------------------------------------------------------- client queries

std::optional<json::object> store::client(const std::string& agency_id, const std::string& client_id) const {
    return or_throw(impl_->read_json(impl_->clients, keys::make("c", agency_id, client_id)));
}

std::optional<json::object> store::client_for(const std::string& agency_id, const std::string& client_id,
                                              const client_viewer& viewer) const {
    auto v = client(agency_id, client_id);
    if (!v || !client_views::visible(*v, viewer)) return std::nullopt;
    return v;
}

std::optional<std::string> store::client_text_for(const std::string& agency_id, const std::string& client_id,
                                                   const client_viewer& viewer) const {
    const auto scope = client_views::scope_of(viewer.staff_type);
    if (scope == client_scope::none) return std::nullopt;
    auto text = or_throw(impl_->read(impl_->clients, keys::make("c", agency_id, client_id)));
    if (!text || scope == client_scope::all) return text;
    auto view = parse_object(*text);
    if (!view) throw store_error("corrupt JSON value in the projections store");
    if (!client_views::visible(*view, viewer)) return std::nullopt;
    return text;
}

result<page> store::list_clients(const std::string& agency_id, const client_viewer& viewer, const client_filter& f,
                                 int limit, const std::optional<std::string>& cursor) const {
    namespace ik = client_views::index_kind;
    if (auto r = listing::check_limit(limit); !r) return std::unexpected(r.error());
    auto after = listing::after_cursor(cursor, 3);  // client_views::order_suffix
    if (!after) return std::unexpected(after.error());
    const auto scope = client_views::scope_of(viewer.staff_type);
    if (scope == client_scope::none) return page{};

    const auto q_words = f.q ? staff_directory::query_words(*f.q) : std::vector<std::string>{};
    // Everyone in name order is the same page for every viewer who sees all: it may be kept
    // (page_cache.hpp), and the agency's version is taken before the store is read.
    const bool keepable = q_words.empty() && scope == client_scope::all && f.stored_bytes;
    std::string kept_key;
    std::uint64_t version = 0;
    if (keepable) {
        kept_key = page_cache::key_of("clients", {}, limit, after->value_or(""));
        auto found = impl_->pages.find(agency_id, kept_key);
        if (found.kept) return *found.kept;
        version = found.version;
    }
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    listing::page_builder pages(limit);
    // Index entries are candidates; the view decides (visibility and the name query).
    auto emit = [&](std::string_view suffix, auto&&...) -> bool {
        auto parts = keys::parse(suffix);
        if (!parts || parts->size() != 3) return true;
        return pages.offer(*impl_, impl_->clients, keys::make("c", agency_id, (*parts)[2]), snap, suffix,
                           [&](const json::object& view) {
                               return client_views::visible(view, viewer) && client_views::matches(view, q_words);
                           });
    };

    if (!q_words.empty()) {
        auto matches = listing::name_matches(*impl_, impl_->client_index, keys::make(ik::name_token, agency_id), q_words,
                                             3, snap);
        if (!matches) return std::unexpected(matches.error());
        listing::each_after(*matches, *after, emit);
        return std::move(pages).finish();
    }
    if (!keepable) {
        const auto prefix = scope == client_scope::all ? keys::make(ik::by_name, agency_id)
                                                       : keys::make(ik::assigned, agency_id, viewer.staff_id);
        if (auto r = listing::walk(*impl_, impl_->client_index, snap, {prefix}, *after, emit); !r)
            return std::unexpected(r.error());
        return std::move(pages).finish();
    }
    // Everyone listed in name order: the name-order entries hold the views (a store written before
    // they did has empty values; those views are read by key), handed on as the bytes they are
    // stored as: one range read, no parse, no print.
    auto stored = [&](std::string_view suffix, std::string_view value) -> bool {
        std::string bytes(value);
        if (bytes.empty()) {
            auto parts = keys::parse(suffix);
            if (!parts || parts->size() != 3) return true;
            auto v = impl_->read(impl_->clients, keys::make("c", agency_id, (*parts)[2]), snap);
            if (!v) {
                pages.failed(v.error());
                return false;
            }
            if (!*v) return true;
            bytes = std::move(**v);
        }
        if (!pages.room()) return false;
        pages.add_stored(std::move(bytes), suffix);
        return true;
    };
    if (auto r = listing::walk(*impl_, impl_->client_index, snap, {keys::make(ik::by_name, agency_id)}, *after, stored);
        !r)
        return std::unexpected(r.error());
    auto out = std::move(pages).finish();
    if (out) impl_->pages.keep(agency_id, version, std::move(kept_key), std::make_shared<const page>(*out));
    return out;
}

std::vector<std::string> store::assigned_client_ids(const std::string& agency_id, const std::string& staff_id) const {
    std::vector<std::string> out;
    const auto prefix = keys::make(client_views::index_kind::assigned, agency_id, staff_id);
    or_throw(impl_->scan(impl_->client_index, prefix, [&](std::string_view k, std::string_view) {
        if (auto parts = keys::parse(k.substr(prefix.size())); parts && parts->size() == 3) out.push_back((*parts)[2]);
        return true;
    }));
    return out;
}

json::array store::client_history(const std::string& agency_id, const std::string& client_id) const {
    return listing::whole_history(*impl_, impl_->client_events, keys::make(agency_id, client_id));
}

result<page> store::client_history_page(const std::string& agency_id, const std::string& client_id, int limit,
                                       const std::optional<std::string>& cursor) const {
    return listing::history(*impl_, impl_->client_events, keys::make(agency_id, client_id), limit, cursor);
}

result<std::size_t> store::client_index_problems() const {
    namespace ik = client_views::index_kind;
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    std::set<std::string> expected;
    std::size_t problems = 0;
    auto r = impl_->scan(
        impl_->clients, keys::make("c"),
        [&](std::string_view k, std::string_view v) {
            auto parts = keys::parse(k);
            auto view = parse_object(v);
            if (!parts || parts->size() != 3 || !view) {
                ++problems;
                return true;
            }
            expected.merge(client_views::index_keys((*parts)[1], *view));
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    for (auto kind : {ik::by_name, ik::assigned, ik::name_token}) {
        r = impl_->scan(
            impl_->client_index, keys::make(kind),
            [&](std::string_view k, std::string_view v) {
                if (expected.erase(std::string(k)) == 0) ++problems;
                // A name-order entry holds its client's view, byte for byte.
                if (kind == ik::by_name && !v.empty()) {
                    auto parts = keys::parse(k);
                    auto view = parts && parts->size() == 5
                                    ? impl_->read(impl_->clients, keys::make("c", (*parts)[1], (*parts)[4]), snap)
                                    : result<std::optional<std::string>>(std::optional<std::string>());
                    if (!view || !*view || **view != v) ++problems;
                }
                return true;
            },
            snap);
        if (!r) return std::unexpected(r.error());
    }
    return problems + expected.size();
}

std::optional<json::object> store::client_as_of(const std::string& agency_id, const std::string& client_id,
                                                micros as_of) const {
    return impl_->fold_as_of(impl_->client_events, keys::make(agency_id, client_id), as_of,
                             [](std::optional<json::object>& v, const events::envelope& e) { client_views::evolve(v, e); },
                             "client");
}

std::vector<events::envelope> store::client_events(const std::string& agency_id, const std::string& client_id,
                                                   std::uint64_t after_version) const {
    return events_after(*impl_, impl_->client_events, agency_id, client_id, after_version, "client");
}

}  // namespace carelog::projections
