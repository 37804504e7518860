// The staff directory: staff views and their indexes (staff_directory), the listing, and each
// member's events (history, as_of, the identity cache's fold).
#include "store_listing.hpp"

namespace carelog::projections {

result<void> store::impl::apply_staff(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    const auto key = keys::make(e.agency_id, e.aggregate_id);
    // A StaffCreated reads no view, as a ClientAdded reads none (store_clients.cpp).
    auto old = std::holds_alternative<events::StaffCreated>(e.data)
                   ? result<std::optional<json::object>>(std::optional<json::object>())
                   : read_json(w, staff, key);
    if (!old) return std::unexpected(old.error());
    std::optional<json::object> view = *old;
    staff_directory::evolve(view, e);

    if (view) {
        const auto before = *old ? staff_directory::index_keys(e.agency_id, **old) : std::set<std::string>{};
        const auto after = staff_directory::index_keys(e.agency_id, *view);
        for (const auto& k : before)
            if (!after.contains(k)) w.del(staff_index, k);
        for (const auto& k : after)
            if (!before.contains(k)) w.put(staff_index, k, "");
        w.put_moved(staff, key, json::serialize(*view));
    }

    // The agency's founding admin (the first org_admin created in it) is part of the agency view:
    // agency creation decides AgencyCreated and then the admin's StaffCreated.
    if (view && !*old && std::holds_alternative<events::StaffCreated>(e.data) && str_of(*view, "role") == "org_admin") {
        const auto akey = keys::make("a", e.agency_id);
        auto agency = read_json(w, agencies, akey);
        if (!agency) return std::unexpected(agency.error());
        if (*agency && str_of(**agency, "admin_staff_id").empty()) {
            (**agency)["admin_staff_id"] = e.aggregate_id;
            w.put(agencies, akey, json::serialize(**agency));
        }
    }

    // The history keeps every event of the staff member, also one that came before StaffCreated.
    keys::tuple hk;
    hk.add(e.agency_id).add(e.aggregate_id).raw(keys::be64(e.aggregate_version)).raw(keys::be64(e.sequence));
    w.put_borrowed(staff_events, hk.str(),
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return {};
}

// ---------------------------------------------------------------- staff queries

std::optional<json::object> store::staff(const std::string& agency_id, const std::string& staff_id) const {
    return or_throw(impl_->read_json(impl_->staff, keys::make(agency_id, staff_id)));
}

std::optional<std::string> store::staff_text(const std::string& agency_id, const std::string& staff_id) const {
    return or_throw(impl_->read(impl_->staff, keys::make(agency_id, staff_id)));
}

std::optional<std::string> store::staff_id_by_username(const std::string& agency_id,
                                                       const std::string& username) const {
    const auto prefix = keys::make(staff_directory::index_kind::username, agency_id, ascii_lower(username));
    std::optional<std::string> id;
    or_throw(impl_->scan(impl_->staff_index, prefix, [&](std::string_view k, std::string_view) {
        if (auto parts = keys::parse(k.substr(prefix.size())); parts && parts->size() == 1) id = (*parts)[0];
        return false;
    }));
    return id;
}

result<page> store::list_staff(const std::string& agency_id, const staff_filter& f, int limit,
                               const std::optional<std::string>& cursor) const {
    if (auto r = listing::check_limit(limit); !r) return std::unexpected(r.error());
    auto after = listing::after_cursor(cursor, 2);  // (lower(username), id)
    if (!after) return std::unexpected(after.error());

    // The answer depends on the agency's staff and the parameters alone (not on who asks): kept
    // until the agency's next applied record (page_cache.hpp); the version is taken before the
    // store is read.
    const std::optional<std::string> active =
        f.active ? std::optional<std::string>(*f.active ? "1" : "0") : std::nullopt;
    auto kept_key = page_cache::key_of("staff", {&f.role, &f.type, &f.location_id, &f.program_id, &f.q, &active},
                                       limit, after->value_or(""));
    auto found = impl_->pages.find(agency_id, kept_key);
    if (found.kept) return *found.kept;
    const auto version = found.version;

    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    const auto q_words = f.q ? staff_directory::query_words(*f.q) : std::vector<std::string>{};

    listing::page_builder pages(limit);
    // Index entries are candidates; the view decides (every filter is checked on it).
    auto emit = [&](std::string_view suffix, auto&&...) -> bool {
        auto parts = keys::parse(suffix);
        if (!parts || parts->size() != 2) return true;
        return pages.offer(*impl_, impl_->staff, keys::make(agency_id, (*parts)[1]), snap, suffix,
                           [&](const json::object& view) { return staff_directory::matches(view, f, q_words); });
    };

    using namespace staff_directory;
    if (!q_words.empty()) {
        auto matches = listing::name_matches(*impl_, impl_->staff_index, keys::make(index_kind::name_token, agency_id),
                                             q_words, 2, snap);
        if (!matches) return std::unexpected(matches.error());
        listing::each_after(*matches, *after, emit);
    } else {
        std::vector<std::string> prefixes;
        if (f.role) prefixes.push_back(keys::make(index_kind::role, agency_id, *f.role));
        if (f.type) prefixes.push_back(keys::make(index_kind::type, agency_id, *f.type));
        if (f.location_id) prefixes.push_back(keys::make(index_kind::location, agency_id, *f.location_id));
        if (f.program_id) prefixes.push_back(keys::make(index_kind::program, agency_id, *f.program_id));
        if (f.active) prefixes.push_back(keys::make(index_kind::active, agency_id, *f.active ? "1" : "0"));
        if (prefixes.empty()) prefixes.push_back(keys::make(index_kind::username, agency_id));
        if (auto r = listing::walk(*impl_, impl_->staff_index, snap, prefixes, *after, emit); !r)
            return std::unexpected(r.error());
    }
    auto out = std::move(pages).finish();
    if (out) impl_->pages.keep(agency_id, version, std::move(kept_key), std::make_shared<const page>(*out));
    return out;
}

json::array store::staff_history(const std::string& agency_id, const std::string& staff_id) const {
    return listing::whole_history(*impl_, impl_->staff_events, keys::make(agency_id, staff_id));
}

result<page> store::staff_history_page(const std::string& agency_id, const std::string& staff_id, int limit,
                                      const std::optional<std::string>& cursor) const {
    return listing::history(*impl_, impl_->staff_events, keys::make(agency_id, staff_id), limit, cursor);
}

std::optional<json::object> store::staff_as_of(const std::string& agency_id, const std::string& staff_id,
                                               micros as_of) const {
    return impl_->fold_as_of(impl_->staff_events, keys::make(agency_id, staff_id), as_of,
                             [](std::optional<json::object>& v, const events::envelope& e) { staff_directory::evolve(v, e); },
                             "staff");
}

// ---------------------------------------------------------------- identity lookups

std::vector<events::envelope> store::staff_events(const std::string& agency_id, const std::string& staff_id,
                                                  std::uint64_t after_version) const {
    return events_after(*impl_, impl_->staff_events, agency_id, staff_id, after_version, "staff");
}

result<std::size_t> store::staff_index_problems() const {
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    std::set<std::string> expected;
    std::size_t problems = 0;
    auto r = impl_->scan(
        impl_->staff, "",
        [&](std::string_view k, std::string_view v) {
            auto parts = keys::parse(k);
            auto view = parse_object(v);
            if (!parts || parts->size() != 2 || !view) {
                ++problems;  // a view that cannot be read cannot be indexed
                return true;
            }
            expected.merge(staff_directory::index_keys((*parts)[0], *view));
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    r = impl_->scan(
        impl_->staff_index, "",
        [&](std::string_view k, std::string_view) {
            if (expected.erase(std::string(k)) == 0) ++problems;  // stale entry
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    return problems + expected.size();  // + missing entries
}


}  // namespace carelog::projections
