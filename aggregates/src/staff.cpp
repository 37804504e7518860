// The Staff aggregate: the username rule of SPEC §1, creation, profile, role, type, locations,
// programs, module permissions and deactivation. Decided against the whole agency because
// usernames, locations, programs and supervisors are agency-wide.
#include "carelog/aggregates/staff.hpp"

#include <algorithm>

#include "carelog/base/text.hpp"
#include "rules.hpp"

namespace carelog::aggregates {
using detail::decision;
using detail::field_errors;

// ---------------------------------------------------------------- the username rule

namespace {

// Unicode dashes people paste into names (U+2010..U+2015, U+2212) count as the ASCII hyphen.
std::string normalize_dashes(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == 0xE2 && i + 2 < s.size()) {
            auto b1 = static_cast<unsigned char>(s[i + 1]), b2 = static_cast<unsigned char>(s[i + 2]);
            if ((b1 == 0x80 && b2 >= 0x90 && b2 <= 0x95) || (b1 == 0x88 && b2 == 0x92)) {
                out.push_back('-');
                i += 2;
                continue;
            }
        }
        out.push_back(static_cast<char>(c));
    }
    return out;
}

}  // namespace

std::string username_part(std::string_view name) {
    if (!is_valid_utf8(name)) return {};
    std::string folded = ascii_lower(fold_to_ascii(normalize_dashes(name)));
    std::string out;
    for (char c : folded) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            out.push_back(c);
        else if (c == '-' && !out.empty() && out.back() != '-')
            out.push_back('-');  // inner hyphens stay (one per run); leading ones never start
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string base_username(std::string_view first, std::string_view last) {
    auto f = username_part(first), l = username_part(last);
    if (f.empty() || l.empty()) return {};
    return f.front() + l;
}

username_preview preview_username(std::string_view first, std::string_view middle, std::string_view last,
                                  const std::function<bool(const std::string&)>& taken) {
    username_preview p;
    p.base = base_username(first, last);
    p.with_middle = middle_username(first, middle, last);
    if (p.base.empty()) {
        p.reason = "the first and last name each need a Latin letter or digit (the username is formed from them)";
        return p;
    }
    p.base_taken = taken(p.base);
    p.with_middle_taken = !p.with_middle.empty() && taken(p.with_middle);
    if (!p.base_taken)
        p.username = p.base;
    else if (p.with_middle.empty())
        p.reason = "username '" + p.base + "' is taken; supply a middle name to use the middle initial";
    else if (p.with_middle_taken)
        p.reason = "usernames '" + p.base + "' and '" + p.with_middle +
                   "' are taken; supply a different middle name to use another middle initial";
    else
        p.username = p.with_middle;
    return p;
}

std::string middle_username(std::string_view first, std::string_view middle, std::string_view last) {
    auto f = username_part(first), m = username_part(middle), l = username_part(last);
    if (f.empty() || m.empty() || l.empty()) return {};
    return std::string{f.front(), m.front()} + l;
}

bool is_valid_npi(std::string_view npi) {
    if (npi.size() != 10 || (npi[0] != '1' && npi[0] != '2')) return false;
    if (!std::all_of(npi.begin(), npi.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    // Luhn over the card-issuer prefix 80840 and the first nine digits; the tenth is the check digit.
    std::string payload = "80840" + std::string(npi.substr(0, 9));
    int sum = 0;
    bool dbl = true;  // the rightmost payload digit is doubled (the check digit would sit right of it)
    for (auto it = payload.rbegin(); it != payload.rend(); ++it, dbl = !dbl) {
        int d = *it - '0';
        if (dbl) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10 == npi[9] - '0';
}

// ---------------------------------------------------------------- shared checks

namespace {

std::unexpected<error> agency_not_found() { return fail(errc::not_found, "agency not found"); }

// The staff member a change targets: it must exist and be active.
result<const staff_state*> changeable(const agency_state& s, const std::string& id) {
    if (!s.exists) return agency_not_found();
    auto it = s.staff.find(id);
    if (it == s.staff.end()) return fail(errc::not_found, "staff member not found");
    if (!it->second.active) return fail(errc::conflict, "staff member is deactivated");
    return &it->second;
}

std::string check_name(field_errors& errs, const std::string& field, std::string_view v, bool required) {
    return detail::check_text(errs, field, v, required, 100);
}

void check_role(field_errors& errs, std::string_view role) {
    if (!detail::is_one_of(role, role_values)) errs.add("role", "must be one of " + detail::joined(role_values));
}
void check_type(field_errors& errs, std::string_view type) {
    if (!detail::is_one_of(type, staff_type_values))
        errs.add("type", "must be one of " + detail::joined(staff_type_values));
}

std::string check_npi(field_errors& errs, std::string_view v) {
    std::string npi(trim(v));
    if (!npi.empty() && !is_valid_npi(npi))
        errs.add("npi", "must be 10 digits starting with 1 or 2 whose last digit is the Luhn check digit");
    return npi;
}

std::string check_hire_date(field_errors& errs, std::string_view v) {
    std::string d(trim(v));
    if (!d.empty() && !detail::is_valid_date(d))
        errs.add("hire_date", "must be a calendar date YYYY-MM-DD (year 1900 or later)");
    return d;
}

std::string check_supervisor(field_errors& errs, const agency_state& s, std::string_view v, std::string_view self) {
    std::string id(trim(v));
    if (id.empty()) return id;
    auto it = s.staff.find(id);
    if (id == self)
        errs.add("supervisor_id", "a staff member cannot supervise themselves");
    else if (it == s.staff.end())
        errs.add("supervisor_id", "no staff member '" + id + "' in this agency");
    else if (!it->second.active)
        errs.add("supervisor_id", "staff member '" + id + "' is deactivated");
    return id;
}

std::vector<events::Phone> check_phones(field_errors& errs, const std::vector<events::Phone>& in) {
    if (in.size() > 10) errs.add("phones", "must have at most 10 entries");
    std::vector<events::Phone> out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        auto at = "phones[" + std::to_string(i) + "]";
        events::Phone p;
        p.kind = detail::check_text(errs, at + ".kind", in[i].kind, true, 50);
        std::size_t before = errs.size();
        p.number = detail::check_text(errs, at + ".number", in[i].number, true, 50);
        if (errs.size() == before && std::none_of(p.number.begin(), p.number.end(), [](char c) {
                return c >= '0' && c <= '9';
            }))
            errs.add(at + ".number", "must contain digits");
        out.push_back(std::move(p));
    }
    return out;
}

bool taken(const agency_state& s, const std::string& username) { return s.usernames.contains(ascii_lower(username)); }

error username_conflict(std::string detail, std::string field, std::string message) {
    return error{errc::conflict, std::move(detail), {{std::move(field), std::move(message)}}};
}

// The last active org_admin cannot lose the role or be deactivated: the agency would be locked out.
bool is_last_org_admin(const agency_state& s, const staff_state& st) {
    if (!detail::is_active_org_admin(st)) return false;
    return std::none_of(s.org_admins.begin(), s.org_admins.end(), [&](const auto& id) { return id != st.id; });
}

std::vector<events::decided_event> one(const staff_state& st, events::payload p) {
    std::vector<events::decided_event> out;
    out.push_back({st.id, st.version + 1, std::move(p)});
    return out;
}

}  // namespace

// ---------------------------------------------------------------- decisions

decision decide(const agency_state& s, const create_staff& c) {
    if (!s.exists) return agency_not_found();
    if (!c.staff_id.empty() && s.staff.contains(c.staff_id))
        return fail(errc::conflict, "staff member '" + c.staff_id + "' already exists");

    field_errors errs;
    if (c.staff_id.empty()) errs.add("id", "is required");
    std::size_t before = errs.size();
    auto first = check_name(errs, "first_name", c.first_name, true);
    auto middle = check_name(errs, "middle_name", c.middle_name, false);
    auto last = check_name(errs, "last_name", c.last_name, true);
    bool names_ok = errs.size() == before;
    if (names_ok) {
        if (username_part(first).empty()) {
            errs.add("first_name", "must contain a Latin letter or digit (the username is formed from it)");
            names_ok = false;
        }
        if (username_part(last).empty()) {
            errs.add("last_name", "must contain a Latin letter or digit (the username is formed from it)");
            names_ok = false;
        }
    }
    events::StaffCreated e;
    e.gender = detail::check_text(errs, "gender", c.gender, true, 50);
    e.position = detail::check_text(errs, "position", c.position, true, 200);
    e.email = detail::check_email(errs, "email", c.email);
    check_role(errs, c.role);
    check_type(errs, c.staff_type);
    e.location_ids = detail::check_ids(errs, "location_ids", c.location_ids, s.locations, "location");
    e.program_ids = detail::check_ids(errs, "program_ids", c.program_ids, s.programs, "program");
    e.npi = check_npi(errs, c.npi);
    e.supervisor_id = check_supervisor(errs, s, c.supervisor_id, c.staff_id);
    e.hire_date = check_hire_date(errs, c.hire_date);
    e.phones = check_phones(errs, c.phones);

    std::string base = names_ok ? base_username(first, last) : "";
    std::string with_middle = names_ok ? middle_username(first, middle, last) : "";
    std::string explicit_name = c.username ? ascii_lower(trim(*c.username)) : "";  // "" = let the rule choose
    if (names_ok && !explicit_name.empty() && explicit_name != base && explicit_name != with_middle) {
        errs.add("username",
                 with_middle.empty()
                     ? "must be '" + base +
                           "': the first letter of the first name and the full last name (with a middle name, "
                           "its initial may follow the first letter)"
                     : "must be '" + base + "' or '" + with_middle +
                           "': the first letter of the first name, optionally the middle initial, and the full "
                           "last name");
    }
    if (!errs.empty()) return fail(errs.to_error());

    // Usernames are unique per agency, case-insensitively, forever (deactivated staff keep theirs).
    std::string username;
    if (!explicit_name.empty()) {
        if (taken(s, explicit_name))
            return fail(username_conflict("username '" + explicit_name + "' is taken", "username",
                                          "'" + explicit_name + "' is taken"));
        username = explicit_name;
    } else if (!taken(s, base)) {
        username = base;
    } else if (with_middle.empty()) {
        return fail(username_conflict(
            "username '" + base + "' is taken; supply a middle name to use the middle initial", "middle_name",
            "required: '" + base + "' is taken"));
    } else if (taken(s, with_middle)) {
        return fail(username_conflict("usernames '" + base + "' and '" + with_middle +
                                          "' are taken; supply a different middle name to use another middle "
                                          "initial",
                                      "middle_name", "'" + base + "' and '" + with_middle + "' are taken"));
    } else {
        username = with_middle;
    }

    e.first_name = first;
    e.middle_name = middle;
    e.last_name = last;
    e.username = username;
    e.role = c.role;
    e.staff_type = c.staff_type;
    e.require_password_change = c.require_password_change;
    e.password_hash = c.password_hash;
    std::vector<events::decided_event> out;
    out.push_back({c.staff_id, 1, std::move(e)});
    return out;
}

decision decide(const agency_state& s, const update_staff_profile& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    const auto& cur = (*st)->profile;
    const auto& p = c.patch;
    field_errors errs;
    events::StaffProfileUpdated out;

    // Each present field is checked; a valid one that differs from the current value is part of the event.
    auto field = [&](const std::optional<std::string>& in, std::optional<std::string>& o, const std::string& current,
                     auto check) {
        if (!in) return;
        std::size_t before = errs.size();
        auto v = check(*in);
        if (errs.size() == before && v != current) o = std::move(v);
    };
    field(p.first_name, out.first_name, cur.first_name,
          [&](const std::string& v) { return check_name(errs, "first_name", v, true); });
    field(p.middle_name, out.middle_name, cur.middle_name,
          [&](const std::string& v) { return check_name(errs, "middle_name", v, false); });
    field(p.last_name, out.last_name, cur.last_name,
          [&](const std::string& v) { return check_name(errs, "last_name", v, true); });
    field(p.gender, out.gender, cur.gender,
          [&](const std::string& v) { return detail::check_text(errs, "gender", v, true, 50); });
    field(p.position, out.position, cur.position,
          [&](const std::string& v) { return detail::check_text(errs, "position", v, true, 200); });
    field(p.email, out.email, cur.email, [&](const std::string& v) { return detail::check_email(errs, "email", v); });
    field(p.hire_date, out.hire_date, cur.hire_date, [&](const std::string& v) { return check_hire_date(errs, v); });
    field(p.npi, out.npi, cur.npi, [&](const std::string& v) { return check_npi(errs, v); });
    field(p.supervisor_id, out.supervisor_id, cur.supervisor_id,
          [&](const std::string& v) { return check_supervisor(errs, s, v, c.staff_id); });
    if (p.phones) {
        std::size_t before = errs.size();
        auto phones = check_phones(errs, *p.phones);
        if (errs.size() == before && phones != cur.phones) out.phones = std::move(phones);
    }

    if (!errs.empty()) return fail(errs.to_error());
    if (out == events::StaffProfileUpdated{}) return std::vector<events::decided_event>{};
    return one(**st, std::move(out));
}

decision decide(const agency_state& s, const assign_role& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    field_errors errs;
    check_role(errs, c.role);
    if (!errs.empty()) return fail(errs.to_error());
    if ((*st)->profile.role == c.role) return std::vector<events::decided_event>{};
    if (is_last_org_admin(s, **st))
        return fail(errc::conflict, "the agency's last active org_admin cannot give up the role");
    return one(**st, events::RoleAssigned{c.role});
}

decision decide(const agency_state& s, const set_staff_type& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    field_errors errs;
    check_type(errs, c.staff_type);
    if (!errs.empty()) return fail(errs.to_error());
    if ((*st)->profile.staff_type == c.staff_type) return std::vector<events::decided_event>{};
    return one(**st, events::StaffTypeSet{c.staff_type});
}

decision decide(const agency_state& s, const set_staff_locations& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    field_errors errs;
    auto ids = detail::check_ids(errs, "location_ids", c.location_ids, s.locations, "location");
    if (!errs.empty()) return fail(errs.to_error());
    if (ids == detail::canonical_set((*st)->profile.location_ids)) return std::vector<events::decided_event>{};
    return one(**st, events::StaffLocationsSet{std::move(ids)});
}

decision decide(const agency_state& s, const set_staff_programs& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    field_errors errs;
    auto ids = detail::check_ids(errs, "program_ids", c.program_ids, s.programs, "program");
    if (!errs.empty()) return fail(errs.to_error());
    if (ids == detail::canonical_set((*st)->profile.program_ids)) return std::vector<events::decided_event>{};
    return one(**st, events::StaffProgramsSet{std::move(ids)});
}

decision decide(const agency_state& s, const set_module_permissions& c) {
    auto st = changeable(s, c.staff_id);
    if (!st) return std::unexpected(st.error());
    std::vector<events::decided_event> out;
    auto version = (*st)->version;
    auto apply = [&](const std::optional<bool>& want, const char* permission) {
        if (!want) return;
        bool has = (*st)->permissions.contains(permission);
        if (*want && !has) out.push_back({c.staff_id, ++version, events::ModulePermissionGranted{permission}});
        if (!*want && has) out.push_back({c.staff_id, ++version, events::ModulePermissionRevoked{permission}});
    };
    apply(c.client_portal, "client_portal");
    apply(c.messaging, "messaging");
    return out;
}

decision decide(const agency_state& s, const deactivate_staff& c) {
    if (!s.exists) return agency_not_found();
    auto it = s.staff.find(c.staff_id);
    if (it == s.staff.end()) return fail(errc::not_found, "staff member not found");
    if (!it->second.active) return fail(errc::conflict, "staff member is already deactivated");
    field_errors errs;
    auto reason = detail::check_text(errs, "reason", c.reason, false, 500);
    if (!errs.empty()) return fail(errs.to_error());
    if (is_last_org_admin(s, it->second))
        return fail(errc::conflict, "the agency's last active org_admin cannot be deactivated");
    // Deactivation also ends every live session of the staff member, in the same decision.
    auto out = one(it->second, events::StaffDeactivated{std::move(reason)});
    auto version = it->second.version + 1;
    for (const auto& [sid, info] : it->second.credentials.sessions)
        out.push_back({c.staff_id, ++version, events::SessionEnded{sid, events::session_end::deactivated}});
    return out;
}

// ---------------------------------------------------------------- evolve

void detail::evolve_staff(agency_state& s, const std::string& staff_id, std::uint64_t version,
                          const events::payload& e, micros occurred_at) {
    if (const auto* created = std::get_if<events::StaffCreated>(&e)) {
        if (s.staff.contains(staff_id)) return;  // a chain the writer produced never repeats a creation
        staff_state st;
        st.id = staff_id;
        st.version = version;
        st.profile = *created;
        st.credentials.password_changed_at = occurred_at;
        index_staff(s, st);
        s.staff.emplace(staff_id, std::move(st));
        return;
    }
    auto it = s.staff.find(staff_id);
    if (it == s.staff.end()) return;
    auto& st = it->second;
    auto& pr = st.profile;
    const std::string old_reset_token = st.credentials.reset_token_hash;
    const bool was_org_admin = is_active_org_admin(st);
    auto m = [](auto& dst, const auto& src) {
        if (src) dst = *src;
    };
    std::visit(overloaded{
                   [&](const events::StaffProfileUpdated& x) {
                       m(pr.first_name, x.first_name);
                       m(pr.middle_name, x.middle_name);
                       m(pr.last_name, x.last_name);
                       m(pr.gender, x.gender);
                       m(pr.position, x.position);
                       m(pr.email, x.email);
                       m(pr.hire_date, x.hire_date);
                       m(pr.phones, x.phones);
                       m(pr.npi, x.npi);
                       m(pr.supervisor_id, x.supervisor_id);
                   },
                   [&](const events::RoleAssigned& x) { pr.role = x.role; },
                   [&](const events::StaffTypeSet& x) { pr.staff_type = x.staff_type; },
                   [&](const events::StaffLocationsSet& x) { pr.location_ids = x.location_ids; },
                   [&](const events::StaffProgramsSet& x) { pr.program_ids = x.program_ids; },
                   [&](const events::ModulePermissionGranted& x) { st.permissions.insert(x.permission); },
                   [&](const events::ModulePermissionRevoked& x) { st.permissions.erase(x.permission); },
                   [&](const events::StaffDeactivated&) { st.active = false; },
                   [&](const auto&) { evolve_identity(s, st, e, occurred_at); },
               },
               e);
    st.version = version;
    reindex_staff(s, st, old_reset_token, was_org_admin);
}

bool detail::is_active_org_admin(const staff_state& st) { return st.active && st.profile.role == "org_admin"; }

void detail::index_staff(agency_state& s, const staff_state& st) {
    s.usernames[ascii_lower(st.profile.username)] = st.id;
    for (const auto& [sid, info] : st.credentials.sessions) s.session_owners[sid] = st.id;
    if (is_active_org_admin(st)) s.org_admins.insert(st.id);
    if (!st.credentials.reset_token_hash.empty()) s.reset_token_owners[st.credentials.reset_token_hash] = st.id;
}

void detail::reindex_staff(agency_state& s, const staff_state& st, const std::string& old_reset_token,
                           bool was_org_admin) {
    if (const bool admin = is_active_org_admin(st); admin != was_org_admin) {
        if (admin)
            s.org_admins.insert(st.id);
        else
            s.org_admins.erase(st.id);
    }
    const auto& reset = st.credentials.reset_token_hash;
    if (reset == old_reset_token) return;
    if (!old_reset_token.empty())
        if (auto it = s.reset_token_owners.find(old_reset_token); it != s.reset_token_owners.end() && it->second == st.id)
            s.reset_token_owners.erase(it);
    if (!reset.empty()) s.reset_token_owners[reset] = st.id;
}

}  // namespace carelog::aggregates
