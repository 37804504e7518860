// The agencies read model: agency views (settings folded by agency_settings::evolve), slugs,
// locations and programs.
#include "store_impl.hpp"

namespace carelog::projections {

result<void> store::impl::apply_agency(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    const auto key = keys::make("a", e.agency_id);
    w.put_borrowed(agencies, keys::make("e", e.agency_id) + keys::be64(e.sequence),
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (const auto* l = std::get_if<events::LocationAdded>(&e.data))
        w.put(agencies, keys::make("l", e.agency_id, l->location_id),
              json::serialize(json::object{{"id", l->location_id}, {"name", l->name}, {"address", l->address}}));
    if (const auto* p = std::get_if<events::ProgramAdded>(&e.data))
        w.put(agencies, keys::make("p", e.agency_id, p->program_id),
              json::serialize(json::object{{"id", p->program_id}, {"name", p->name}}));
    auto old = read_json(w, agencies, key);
    if (!old) return std::unexpected(old.error());
    std::optional<json::object> view = *old;
    agency_settings::evolve(view, e);
    if (!view) return {};
    const auto old_slug = *old ? ascii_lower(str_of(**old, "slug")) : std::string();
    const auto new_slug = ascii_lower(str_of(*view, "slug"));
    if (old_slug != new_slug && !old_slug.empty()) w.del(agencies, keys::make("s", old_slug));
    if (!new_slug.empty()) w.put(agencies, keys::make("s", new_slug), e.agency_id);
    w.put(agencies, key, json::serialize(*view));
    return {};
}

// ---------------------------------------------------------------- agency queries

std::optional<std::string> store::agency_id_by_slug(const std::string& slug) const {
    return or_throw(impl_->read(impl_->agencies, keys::make("s", ascii_lower(slug))));
}

std::optional<json::object> store::agency(const std::string& agency_id) const {
    return or_throw(impl_->read_json(impl_->agencies, keys::make("a", agency_id)));
}

std::optional<json::object> store::agency_as_of(const std::string& agency_id, micros as_of) const {
    return impl_->fold_as_of(impl_->agencies, keys::make("e", agency_id), as_of,
                             [](std::optional<json::object>& v, const events::envelope& e) { agency_settings::evolve(v, e); },
                             "agency");
}

namespace {
json::array scan_objects(const store::impl& s, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix) {
    json::array out;
    bool corrupt = false;
    or_throw(s.scan(cf, prefix, [&](std::string_view, std::string_view v) {
        auto o = parse_object(v);
        if (!o) return !(corrupt = true);
        out.emplace_back(std::move(*o));
        return true;
    }));
    if (corrupt) throw store_error("corrupt JSON value in the projections store");
    return out;
}
}  // namespace

json::array store::locations(const std::string& agency_id) const {
    return scan_objects(*impl_, impl_->agencies, keys::make("l", agency_id));
}

json::array store::programs(const std::string& agency_id) const {
    return scan_objects(*impl_, impl_->agencies, keys::make("p", agency_id));
}

}  // namespace carelog::projections
