// The Agency aggregate: creation (with its first org_admin), settings, locations and programs, and
// the evolve that folds every event of an agency into its state.
#include "carelog/aggregates/agency.hpp"

#include <algorithm>

#include "carelog/aggregates/staff.hpp"
#include "carelog/base/text.hpp"
#include "rules.hpp"

namespace carelog::aggregates {
using detail::decision;
using detail::field_errors;

namespace {

void merge(events::Settings& into, const events::Settings& p) {
    auto m = [](auto& dst, const auto& src) {
        if (src) dst = src;
    };
    m(into.name, p.name);
    m(into.client_portal_enabled, p.client_portal_enabled);
    m(into.messaging_enabled, p.messaging_enabled);
    m(into.password_min_length, p.password_min_length);
    m(into.password_require_upper, p.password_require_upper);
    m(into.password_require_lower, p.password_require_lower);
    m(into.password_require_digit, p.password_require_digit);
    m(into.password_require_symbol, p.password_require_symbol);
    m(into.password_disallow_username, p.password_disallow_username);
    m(into.lockout_threshold, p.lockout_threshold);
    m(into.lockout_minutes, p.lockout_minutes);
    m(into.session_idle_minutes, p.session_idle_minutes);
    m(into.password_expiry_days, p.password_expiry_days);
    m(into.mfa_required_roles, p.mfa_required_roles);
    m(into.services, p.services);
}

std::unexpected<error> agency_not_found() { return fail(errc::not_found, "agency not found"); }

// A bool switch: present and different from the current value -> part of the change.
void diff_bool(const std::optional<bool>& patch, const std::optional<bool>& cur, std::optional<bool>& out) {
    if (patch && patch != cur) out = patch;
}

void diff_int(field_errors& errs, const char* field, const std::optional<int>& patch, int lo, int hi,
              const std::optional<int>& cur, std::optional<int>& out) {
    if (!patch) return;
    if (*patch < lo || *patch > hi) {
        errs.add(field, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return;
    }
    if (patch != cur) out = patch;
}

bool same_name(std::string_view a, std::string_view b) { return ascii_lower(a) == ascii_lower(b); }

}  // namespace

bool is_valid_slug(std::string_view s) {
    if (s.size() < 3 || s.size() > 63) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(s.front()) || !alnum(s.back())) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return alnum(c) || c == '-'; });
}

void evolve(agency_state& s, const events::envelope& e) {
    evolve(s, e.aggregate_id, e.aggregate_version, e.data, e.occurred_at);
}

void evolve(agency_state& s, const std::string& aggregate_id, std::uint64_t aggregate_version,
            const events::payload& e, micros occurred_at) {
    // A Staff-type event addressed to the agency itself (LoginFailed for an unknown username) is an
    // Agency aggregate event: it only advances the agency's version.
    bool on_agency = !s.id.empty() && aggregate_id == s.id;
    if (events::aggregate_type_of(e) == "Client" && !on_agency) {
        detail::evolve_client(s, aggregate_id, aggregate_version, e, occurred_at);
        return;
    }
    if (events::aggregate_type_of(e) != "Agency" && !on_agency) {
        detail::evolve_staff(s, aggregate_id, aggregate_version, e, occurred_at);
        return;
    }
    std::visit(detail::overloaded{
                   [&](const events::AgencyCreated& x) {
                       if (s.id.empty()) s.id = aggregate_id;
                       s.exists = true;
                       s.slug = x.slug;
                       s.settings = events::default_settings(x.name);
                       merge(s.settings, x.settings);
                   },
                   [&](const events::AgencySettingsChanged& x) { merge(s.settings, x.settings); },
                   [&](const events::LocationAdded& x) {
                       s.locations[x.location_id] = location{x.location_id, x.name, x.address};
                   },
                   [&](const events::ProgramAdded& x) { s.programs[x.program_id] = program{x.program_id, x.name}; },
                   [](const auto&) {},
               },
               e);
    s.version = aggregate_version;
}

decision decide(const agency_state& s, const create_agency& c) {
    if (s.exists) return fail(errc::conflict, "agency '" + s.slug + "' already exists");
    field_errors errs;
    if (c.agency_id.empty()) errs.add("agency_id", "is required");
    auto name = detail::check_text(errs, "name", c.name, true, 200);
    if (!is_valid_slug(c.slug))
        errs.add("slug",
                 "must be 3 to 63 lower-case letters, digits or hyphens, starting and ending with a letter or digit");
    if (c.admin_staff_id.empty()) errs.add("admin.staff_id", "is required");
    std::size_t before = errs.size();
    auto first = detail::check_text(errs, "admin.first_name", c.admin_first_name, true, 100);
    auto last = detail::check_text(errs, "admin.last_name", c.admin_last_name, true, 100);
    if (errs.size() == before) {
        if (username_part(first).empty())
            errs.add("admin.first_name", "must contain a Latin letter or digit (the username is formed from it)");
        if (username_part(last).empty())
            errs.add("admin.last_name", "must contain a Latin letter or digit (the username is formed from it)");
    }
    auto email = detail::check_email(errs, "admin.email", c.admin_email);
    if (!errs.empty()) return fail(errs.to_error());

    events::StaffCreated admin;
    admin.first_name = first;
    admin.last_name = last;
    admin.email = email;
    admin.username = base_username(first, last);  // the agency is empty: the base form is free
    admin.role = "org_admin";
    admin.staff_type = "administration";
    admin.require_password_change = false;  // the operator's request set the admin's own password
    admin.password_hash = c.admin_password_hash;

    std::vector<events::decided_event> out;
    out.push_back({c.agency_id, 1, events::AgencyCreated{name, c.slug, events::default_settings(name)}});
    out.push_back({c.admin_staff_id, 1, std::move(admin)});
    return out;
}

decision decide(const agency_state& s, const change_settings& c) {
    if (!s.exists) return agency_not_found();
    const auto& p = c.patch;
    const auto& cur = s.settings;
    field_errors errs;
    events::Settings out;

    if (p.name) {
        std::size_t before = errs.size();
        auto name = detail::check_text(errs, "name", *p.name, true, 200);
        if (errs.size() == before && name != cur.name) out.name = name;
    }
    diff_bool(p.client_portal_enabled, cur.client_portal_enabled, out.client_portal_enabled);
    diff_bool(p.messaging_enabled, cur.messaging_enabled, out.messaging_enabled);
    diff_int(errs, "password_min_length", p.password_min_length, 8, 128, cur.password_min_length,
             out.password_min_length);
    diff_bool(p.password_require_upper, cur.password_require_upper, out.password_require_upper);
    diff_bool(p.password_require_lower, cur.password_require_lower, out.password_require_lower);
    diff_bool(p.password_require_digit, cur.password_require_digit, out.password_require_digit);
    diff_bool(p.password_require_symbol, cur.password_require_symbol, out.password_require_symbol);
    diff_bool(p.password_disallow_username, cur.password_disallow_username, out.password_disallow_username);
    diff_int(errs, "lockout_threshold", p.lockout_threshold, 0, 100, cur.lockout_threshold, out.lockout_threshold);
    diff_int(errs, "lockout_minutes", p.lockout_minutes, 0, 10080, cur.lockout_minutes, out.lockout_minutes);
    diff_int(errs, "session_idle_minutes", p.session_idle_minutes, 1, 1440, cur.session_idle_minutes,
             out.session_idle_minutes);
    diff_int(errs, "password_expiry_days", p.password_expiry_days, 0, 3650, cur.password_expiry_days,
             out.password_expiry_days);

    if (p.mfa_required_roles) {
        bool ok = true;
        for (const auto& r : *p.mfa_required_roles)
            if (!detail::is_one_of(r, role_values)) {
                errs.add("mfa_required_roles",
                         "unknown role '" + r + "'; roles are " + detail::joined(role_values));
                ok = false;
            }
        auto roles = detail::canonical_set(*p.mfa_required_roles);
        if (ok && roles != detail::canonical_set(cur.mfa_required_roles.value_or(strings{})))
            out.mfa_required_roles = roles;
    }
    if (p.services) {
        // An ordered list (as the agency presents it); blanks refused, case-insensitive repeats dropped.
        if (p.services->size() > 500) errs.add("services", "must have at most 500 entries");
        strings services;
        std::size_t before = errs.size();
        for (std::size_t i = 0; i < p.services->size(); ++i) {
            auto v = detail::check_text(errs, "services[" + std::to_string(i) + "]", (*p.services)[i], true, 200);
            if (std::none_of(services.begin(), services.end(), [&](const auto& x) { return same_name(x, v); }))
                services.push_back(std::move(v));
        }
        if (errs.size() == before && services != cur.services.value_or(strings{})) out.services = services;
    }

    if (!errs.empty()) return fail(errs.to_error());
    if (out == events::Settings{}) return std::vector<events::decided_event>{};
    std::vector<events::decided_event> evs;
    evs.push_back({s.id, s.version + 1, events::AgencySettingsChanged{std::move(out)}});
    return evs;
}

decision decide(const agency_state& s, const add_location& c) {
    if (!s.exists) return agency_not_found();
    field_errors errs;
    if (c.location_id.empty()) errs.add("location_id", "is required");
    auto name = detail::check_text(errs, "name", c.name, true, 200);
    auto address = detail::check_text(errs, "address", c.address, false, 500);
    if (!errs.empty()) return fail(errs.to_error());
    if (s.locations.contains(c.location_id))
        return fail(errc::conflict, "location '" + c.location_id + "' already exists");
    for (const auto& [id, l] : s.locations)
        if (same_name(l.name, name)) return fail(errc::conflict, "a location named '" + l.name + "' already exists");
    std::vector<events::decided_event> evs;
    evs.push_back({s.id, s.version + 1, events::LocationAdded{c.location_id, name, address}});
    return evs;
}

decision decide(const agency_state& s, const add_program& c) {
    if (!s.exists) return agency_not_found();
    field_errors errs;
    if (c.program_id.empty()) errs.add("program_id", "is required");
    auto name = detail::check_text(errs, "name", c.name, true, 200);
    if (!errs.empty()) return fail(errs.to_error());
    if (s.programs.contains(c.program_id))
        return fail(errc::conflict, "program '" + c.program_id + "' already exists");
    for (const auto& [id, p] : s.programs)
        if (same_name(p.name, name)) return fail(errc::conflict, "a program named '" + p.name + "' already exists");
    std::vector<events::decided_event> evs;
    evs.push_back({s.id, s.version + 1, events::ProgramAdded{c.program_id, name}});
    return evs;
}

}  // namespace carelog::aggregates
