#include "staff_directory.hpp"

#include <algorithm>

#include "carelog/base/text.hpp"
#include "json_util.hpp"
#include "keys.hpp"

namespace carelog::projections::staff_directory {
namespace {

json::array to_array(const events::strings& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
}

json::array to_array(const std::vector<events::Phone>& v) {
    json::array a;
    for (const auto& p : v) a.emplace_back(json::object{{"kind", p.kind}, {"number", p.number}});
    return a;
}

json::object created_view(const events::envelope& e, const events::StaffCreated& c) {
    auto at = format_rfc3339(e.occurred_at);
    return json::object{
        {"id", e.aggregate_id},
        {"username", c.username},
        {"first_name", c.first_name},
        {"middle_name", str_or_null(c.middle_name)},
        {"last_name", c.last_name},
        {"gender", c.gender},
        {"position", c.position},
        {"email", c.email},
        {"role", c.role},
        {"type", c.staff_type},
        {"location_ids", to_array(c.location_ids)},
        {"program_ids", to_array(c.program_ids)},
        {"permissions", json::object{{"client_portal", false}, {"messaging", false}}},
        {"active", true},
        {"version", e.aggregate_version},
        {"require_password_change", c.require_password_change},
        {"hire_date", str_or_null(c.hire_date)},
        {"phones", to_array(c.phones)},
        {"npi", str_or_null(c.npi)},
        {"supervisor_id", str_or_null(c.supervisor_id)},
        {"created_at", at},
        {"updated_at", at},
        {"deactivated_at", nullptr},
    };
}

void set_permission(json::object& view, const std::string& permission, bool granted) {
    auto* p = view.if_contains("permissions");
    if (!p || !p->is_object()) p = &(view["permissions"] = json::object{});
    p->as_object()[permission] = granted;
}

// Letters and digits of a folded, lower-cased word.
std::string alnum_only(std::string_view w) {
    std::string out;
    for (char c : w)
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) out.push_back(c);
    return out;
}

std::vector<std::string> folded_words(std::string_view text) {
    std::string folded = ascii_lower(fold_to_ascii(text));
    std::vector<std::string> words;
    std::string cur;
    for (char c : folded) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!cur.empty()) words.push_back(std::move(cur));
            cur.clear();
        } else {
            cur.push_back(c);
        }
    }
    if (!cur.empty()) words.push_back(std::move(cur));
    return words;
}

void add_tokens(std::set<std::string>& out, std::string_view text) {
    for (const auto& w : folded_words(text)) {
        if (auto joined = alnum_only(w); !joined.empty()) out.insert(std::move(joined));
        std::string run;
        for (char c : w) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                run.push_back(c);
            } else if (!run.empty()) {
                out.insert(std::move(run));
                run.clear();
            }
        }
        if (!run.empty()) out.insert(std::move(run));
    }
}

std::vector<std::string> strings_of(const json::object& view, std::string_view key) {
    std::vector<std::string> out;
    if (const auto* v = view.if_contains(key); v && v->is_array())
        for (const auto& x : v->get_array())
            if (x.is_string()) out.emplace_back(x.get_string());
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

void evolve(std::optional<json::object>& view, const events::envelope& e) {
    if (events::aggregate_type_of(e.data) != "Staff") return;
    if (view && e.aggregate_version != 0 && u64_of(*view, "version") >= e.aggregate_version) return;

    // Each overload changes the fields its event names; a Staff event that arrives before
    // StaffCreated has nothing to change (it is still kept in the staff member's history).
    std::visit(overloaded{
                   [&](const events::StaffCreated& c) { view = created_view(e, c); },
                   [&](const events::StaffProfileUpdated& u) {
                       if (!view) return;
                       auto& v = *view;
                       if (u.first_name) v["first_name"] = *u.first_name;
                       if (u.middle_name) v["middle_name"] = str_or_null(*u.middle_name);
                       if (u.last_name) v["last_name"] = *u.last_name;
                       if (u.gender) v["gender"] = *u.gender;
                       if (u.position) v["position"] = *u.position;
                       if (u.email) v["email"] = *u.email;
                       if (u.hire_date) v["hire_date"] = str_or_null(*u.hire_date);
                       if (u.phones) v["phones"] = to_array(*u.phones);
                       if (u.npi) v["npi"] = str_or_null(*u.npi);
                       if (u.supervisor_id) v["supervisor_id"] = str_or_null(*u.supervisor_id);
                   },
                   [&](const events::RoleAssigned& r) {
                       if (view) (*view)["role"] = r.role;
                   },
                   [&](const events::StaffTypeSet& t) {
                       if (view) (*view)["type"] = t.staff_type;
                   },
                   [&](const events::StaffLocationsSet& l) {
                       if (view) (*view)["location_ids"] = to_array(l.location_ids);
                   },
                   [&](const events::StaffProgramsSet& p) {
                       if (view) (*view)["program_ids"] = to_array(p.program_ids);
                   },
                   [&](const events::ModulePermissionGranted& g) {
                       if (view) set_permission(*view, g.permission, true);
                   },
                   [&](const events::ModulePermissionRevoked& r) {
                       if (view) set_permission(*view, r.permission, false);
                   },
                   [&](const events::StaffDeactivated&) {
                       if (!view) return;
                       (*view)["active"] = false;
                       (*view)["deactivated_at"] = format_rfc3339(e.occurred_at);
                   },
                   [](const events::AgencyCreated&) {},
                   [](const events::AgencySettingsChanged&) {},
                   [](const events::LocationAdded&) {},
                   [](const events::ProgramAdded&) {},
                   [](const auto&) {},  // identity events change nothing shown here
               },
               e.data);

    if (view) {
        (*view)["version"] = e.aggregate_version;
        (*view)["updated_at"] = format_rfc3339(e.occurred_at);
    }
}

std::set<std::string> search_tokens(const json::object& view) {
    std::set<std::string> out;
    for (auto key : {"first_name", "middle_name", "last_name", "username"}) add_tokens(out, str_of(view, key));
    return out;
}

std::vector<std::string> query_words(std::string_view q) {
    std::vector<std::string> out;
    for (const auto& w : folded_words(q))
        if (auto a = alnum_only(w); !a.empty()) out.push_back(std::move(a));
    return out;
}

std::string order_suffix(const json::object& view) {
    return keys::make(ascii_lower(str_of(view, "username")), str_of(view, "id"));
}

std::set<std::string> index_keys(const std::string& agency_id, const json::object& view) {
    const std::string suffix = order_suffix(view);
    std::set<std::string> out;
    auto add = [&](std::string_view kind, const std::optional<std::string>& value) {
        keys::tuple t;
        t.add(kind).add(agency_id);
        if (value) t.add(*value);
        out.insert(std::move(t.raw(suffix)).str());
    };
    add(index_kind::username, std::nullopt);
    add(index_kind::role, str_of(view, "role"));
    add(index_kind::type, str_of(view, "type"));
    for (const auto& l : strings_of(view, "location_ids")) add(index_kind::location, l);
    for (const auto& p : strings_of(view, "program_ids")) add(index_kind::program, p);
    add(index_kind::active, bool_of(view, "active") ? "1" : "0");
    for (const auto& tok : search_tokens(view)) add(index_kind::name_token, tok);
    return out;
}

bool matches(const json::object& view, const staff_filter& f, const std::vector<std::string>& q_words) {
    if (f.role && str_of(view, "role") != *f.role) return false;
    if (f.type && str_of(view, "type") != *f.type) return false;
    if (f.location_id && !contains(strings_of(view, "location_ids"), *f.location_id)) return false;
    if (f.program_id && !contains(strings_of(view, "program_ids"), *f.program_id)) return false;
    if (f.active && bool_of(view, "active") != *f.active) return false;
    if (!q_words.empty()) {
        auto tokens = search_tokens(view);
        for (const auto& w : q_words) {
            bool hit = std::any_of(tokens.begin(), tokens.end(),
                                   [&](const std::string& t) { return t.starts_with(w); });
            if (!hit) return false;
        }
    }
    return true;
}

}  // namespace carelog::projections::staff_directory
