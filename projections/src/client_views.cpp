#include "client_views.hpp"

#include <algorithm>

#include "carelog/base/text.hpp"
#include "json_util.hpp"
#include "keys.hpp"
#include "staff_directory.hpp"

namespace carelog::projections::client_views {

json::object created_view(const events::envelope& e, const events::ClientAdded& c) {
    auto at = format_rfc3339(e.occurred_at);
    return json::object{{"id", e.aggregate_id},
                        {"first_name", c.first_name},
                        {"last_name", c.last_name},
                        {"date_of_birth", c.date_of_birth},
                        {"email", str_or_null(c.email)},
                        {"phone", str_or_null(c.phone)},
                        {"external_id", str_or_null(c.external_id)},
                        {"staff_ids", json::array{}},
                        {"portal_account_id", nullptr},
                        {"portal_username", nullptr},
                        {"version", e.aggregate_version},
                        {"created_at", at},
                        {"updated_at", at}};
}

void evolve(std::optional<json::object>& view, const events::envelope& e) {
    auto set_staff = [&](const std::string& staff_id, bool assigned) {
        if (!view) return;
        json::array ids;
        bool present = false;
        if (auto* a = view->if_contains("staff_ids"); a && a->is_array())
            for (const auto& x : a->get_array()) {
                if (x.is_string() && x.get_string() == staff_id) {
                    present = true;
                    if (!assigned) continue;
                }
                ids.push_back(x);
            }
        if (assigned && !present) ids.emplace_back(staff_id);
        (*view)["staff_ids"] = std::move(ids);
    };
    std::visit(overloaded{
                   [&](const events::ClientAdded& c) {
                       if (!view) view = created_view(e, c);
                   },
                   [&](const events::StaffAssignedToClient& x) { set_staff(x.staff_id, true); },
                   [&](const events::StaffUnassignedFromClient& x) { set_staff(x.staff_id, false); },
                   [&](const events::InvitationAccepted& x) {
                       if (view) (*view)["portal_account_id"] = x.portal_account_id;
                   },
                   [&](const events::PortalUsernameChosen& x) {
                       if (view) (*view)["portal_username"] = x.username;
                   },
                   [](const auto&) {},
               },
               e.data);
    if (!view) return;
    (*view)["version"] = e.aggregate_version;
    (*view)["updated_at"] = format_rfc3339(e.occurred_at);
}

namespace {
std::string folded(std::string_view s) { return ascii_lower(fold_to_ascii(s)); }

std::vector<std::string> staff_ids(const json::object& view) {
    std::vector<std::string> out;
    if (const auto* v = view.if_contains("staff_ids"); v && v->is_array())
        for (const auto& x : v->get_array())
            if (x.is_string()) out.emplace_back(x.get_string());
    return out;
}
}  // namespace

std::string order_suffix(const json::object& v) {
    return keys::make(folded(str_of(v, "last_name")), folded(str_of(v, "first_name")), str_of(v, "id"));
}

std::set<std::string> index_keys(const std::string& agency_id, const json::object& view) {
    const auto suffix = order_suffix(view);
    std::set<std::string> out;
    out.insert(keys::make(index_kind::by_name, agency_id) + suffix);
    for (const auto& s : staff_ids(view)) out.insert(keys::make(index_kind::assigned, agency_id, s) + suffix);
    for (const auto& t : staff_directory::search_tokens(view))
        out.insert(keys::make(index_kind::name_token, agency_id, t) + suffix);
    return out;
}

bool matches(const json::object& view, const std::vector<std::string>& q_words) {
    if (q_words.empty()) return true;
    auto tokens = staff_directory::search_tokens(view);
    return std::all_of(q_words.begin(), q_words.end(), [&](const std::string& w) {
        return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) { return t.starts_with(w); });
    });
}

client_scope scope_of(std::string_view staff_type) {
    if (staff_type == "administration" || staff_type == "administration_time_tracking") return client_scope::all;
    if (staff_type == "therapy_counseling") return client_scope::assigned;
    return client_scope::none;
}

bool visible(const json::object& view, const client_viewer& viewer) {
    switch (scope_of(viewer.staff_type)) {
        case client_scope::all: return true;
        case client_scope::assigned: {
            auto ids = staff_ids(view);
            return std::find(ids.begin(), ids.end(), viewer.staff_id) != ids.end();
        }
        case client_scope::none: return false;
    }
    return false;
}

json::object invitation_at(json::object stored, micros now) {
    auto status = str_of(stored, "status");
    std::int64_t expires = 0;
    if (const auto* v = stored.if_contains("expires_at_us")) expires = v->to_number<std::int64_t>();
    stored["state"] = status == "sent" && now >= expires ? "expired" : status;
    stored.erase("status");
    stored.erase("expires_at_us");
    return stored;
}

json::object kiosk_at(json::object stored, micros now) {
    std::int64_t expires = 0;
    if (const auto* v = stored.if_contains("expires_at_us")) expires = v->to_number<std::int64_t>();
    stored["state"] = bool_of(stored, "submitted") ? "submitted" : now >= expires ? "expired" : "active";
    stored.erase("expires_at_us");
    return stored;
}

}  // namespace carelog::projections::client_views
