#include "agency_settings.hpp"

#include "json_util.hpp"

namespace carelog::projections::agency_settings {
namespace {

json::object& child(json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_object()) v = &(o[key] = json::object{});
    return v->as_object();
}

template <class T>
void merge(json::object& o, std::string_view key, const std::optional<T>& v) {
    if (v) o[key] = json::value_from(*v);
}

void merge_settings(json::object& view, const events::Settings& s) {
    if (s.name) view["name"] = *s.name;
    auto& st = child(view, "settings");
    merge(st, "client_portal_enabled", s.client_portal_enabled);
    merge(st, "messaging_enabled", s.messaging_enabled);
    auto& pw = child(st, "password_policy");
    merge(pw, "min_length", s.password_min_length);
    merge(pw, "require_upper", s.password_require_upper);
    merge(pw, "require_lower", s.password_require_lower);
    merge(pw, "require_digit", s.password_require_digit);
    merge(pw, "require_symbol", s.password_require_symbol);
    merge(pw, "disallow_username", s.password_disallow_username);
    auto& lock = child(st, "lockout");
    merge(lock, "threshold", s.lockout_threshold);
    merge(lock, "minutes", s.lockout_minutes);
    merge(st, "session_idle_minutes", s.session_idle_minutes);
    merge(st, "password_expiry_days", s.password_expiry_days);
    merge(st, "mfa_required_roles", s.mfa_required_roles);
    merge(st, "services", s.services);
}

json::object new_view(const events::envelope& e, const std::string& name, const std::string& slug) {
    auto at = format_rfc3339(e.occurred_at);
    json::object v{{"id", e.agency_id}, {"name", name}, {"slug", slug}, {"version", e.aggregate_version},
                   {"created_at", at}, {"updated_at", at}};
    merge_settings(v, events::default_settings(name));
    return v;
}

}  // namespace

void evolve(std::optional<json::object>& view, const events::envelope& e) {
    if (events::aggregate_type_of(e.data) != "Agency") return;
    if (view && e.aggregate_version != 0 && u64_of(*view, "version") >= e.aggregate_version) return;

    std::visit(overloaded{
                   [&](const events::AgencyCreated& c) {
                       view = new_view(e, c.name, c.slug);
                       merge_settings(*view, c.settings);
                   },
                   [&](const events::AgencySettingsChanged& c) {
                       if (!view) view = new_view(e, c.settings.name.value_or(""), "");
                       merge_settings(*view, c.settings);
                   },
                   [](const events::LocationAdded&) {},
                   [](const events::ProgramAdded&) {},
                   [](const events::StaffCreated&) {},
                   [](const events::StaffProfileUpdated&) {},
                   [](const events::RoleAssigned&) {},
                   [](const events::StaffTypeSet&) {},
                   [](const events::StaffLocationsSet&) {},
                   [](const events::StaffProgramsSet&) {},
                   [](const events::ModulePermissionGranted&) {},
                   [](const events::ModulePermissionRevoked&) {},
                   [](const events::StaffDeactivated&) {},
                   [](const auto&) {},  // identity events change nothing shown here
               },
               e.data);

    if (view) {
        (*view)["version"] = e.aggregate_version;
        (*view)["updated_at"] = format_rfc3339(e.occurred_at);
    }
}

}  // namespace carelog::projections::agency_settings
