// The permission tables of access.hpp.
#include "carelog/aggregates/access.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace carelog::aggregates::access {
namespace {

// Every role includes the default set (the seed's "... + default").
constexpr const char* default_set[] = {
    self_read,    self_password,  self_mfa,       self_sessions,        agency_read,   staff_read,
    agenda_read,  appointments_manage, staff_calendars, clients_read,   clients_create, clients_update,
    clients_assign_staff, groups_manage, reports_client, kiosk_start,
};
constexpr const char* therapist_set[] = {cases_manage, clinical_read, clinical_write, reports_case};
constexpr const char* billing_set[] = {billing_ledgers, billing_insurance, billing_payments, reports_billing};
// Organization settings and activities (admin and org_admin).
constexpr const char* administration_set[] = {
    agency_settings,  locations_manage,     programs_manage, staff_create,   staff_update,
    staff_roles,      staff_permissions,    staff_deactivate, staff_lock_state, staff_unlock,
    staff_password_reset, staff_mfa_reset,  staff_sessions,  clients_import, events_read,
    audit_read,
};
constexpr const char* org_admin_set[] = {staff_grant_org_admin};
constexpr const char* client_portal_set[] = {portal_invite, portal_manage};
constexpr const char* messaging_set[] = {messaging_use};

constexpr auto catalogue = [] {
    std::array<const char*, std::size(default_set) + std::size(therapist_set) + std::size(billing_set) +
                                std::size(administration_set) + std::size(org_admin_set) +
                                std::size(client_portal_set) + std::size(messaging_set)>
        out{};
    std::size_t i = 0;
    for (auto set : {std::span<const char* const>(default_set), std::span<const char* const>(therapist_set),
                     std::span<const char* const>(billing_set), std::span<const char* const>(administration_set),
                     std::span<const char* const>(org_admin_set), std::span<const char* const>(client_portal_set),
                     std::span<const char* const>(messaging_set)})
        for (auto p : set) out[i++] = p;
    return out;
}();

static_assert(std::size(catalogue) <= 64, "permission_set holds one bit per permission of the catalogue");

// The catalogue in name order, each name with its bit: looked up by binary search, iterated in
// the order a std::set of the names would give.
struct named_bit {
    std::string_view name;
    std::uint64_t bit;
};
constexpr auto by_name = [] {
    std::array<named_bit, std::size(catalogue)> out{};
    for (std::size_t i = 0; i < catalogue.size(); ++i) out[i] = {catalogue[i], std::uint64_t{1} << i};
    std::sort(out.begin(), out.end(), [](const named_bit& a, const named_bit& b) { return a.name < b.name; });
    return out;
}();

std::uint64_t bit_of(std::string_view name) noexcept {
    auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                               [](const named_bit& a, std::string_view n) { return a.name < n; });
    return it != by_name.end() && it->name == name ? it->bit : 0;
}

void add(permission_set& out, std::span<const char* const> set) { out.insert(set); }

constexpr const char* change_password_allows[] = {self_read, self_password, self_sessions};
constexpr const char* enrol_mfa_allows[] = {self_read, self_mfa, self_sessions};

bool in(std::span<const char* const> set, std::string_view p) {
    return std::any_of(set.begin(), set.end(), [&](const char* x) { return p == x; });
}

}  // namespace

std::span<const char* const> all_permissions() noexcept { return catalogue; }

bool permission_set::contains(std::string_view permission) const noexcept { return (bits_ & bit_of(permission)) != 0; }

void permission_set::insert(std::string_view permission) noexcept { bits_ |= bit_of(permission); }

void permission_set::insert(std::span<const char* const> permissions) noexcept {
    for (auto p : permissions) insert(p);
}

std::size_t permission_set::size() const noexcept { return static_cast<std::size_t>(std::popcount(bits_)); }

permission_set::iterator::iterator(std::uint64_t bits, std::size_t at) noexcept : bits_(bits), at_(at) {
    while (at_ < by_name.size() && (bits_ & by_name[at_].bit) == 0) ++at_;
}

const char* permission_set::iterator::operator*() const noexcept { return by_name[at_].name.data(); }

permission_set::iterator& permission_set::iterator::operator++() noexcept {
    *this = iterator(bits_, at_ + 1);
    return *this;
}

permission_set::iterator permission_set::begin() const noexcept { return iterator(bits_, 0); }
permission_set::iterator permission_set::end() const noexcept { return iterator(bits_, by_name.size()); }

namespace {
// Each role's set, built once (a session's permissions are built on every request).
permission_set build_role(std::string_view role) {
    permission_set out;
    if (role == "scheduler") {
        add(out, default_set);
    } else if (role == "therapist") {
        add(out, default_set);
        add(out, therapist_set);
    } else if (role == "biller") {
        add(out, default_set);
        add(out, billing_set);
    } else if (role == "admin" || role == "org_admin") {
        add(out, default_set);
        add(out, therapist_set);
        add(out, billing_set);
        add(out, administration_set);
        if (role == "org_admin") add(out, org_admin_set);
    }
    return out;
}
}  // namespace

permission_set role_permissions(std::string_view role) {
    static const std::pair<std::string_view, permission_set> roles[] = {
        {"scheduler", build_role("scheduler")}, {"therapist", build_role("therapist")},
        {"biller", build_role("biller")},       {"admin", build_role("admin")},
        {"org_admin", build_role("org_admin")}};
    for (const auto& [name, set] : roles)
        if (name == role) return set;
    return {};
}

bool role_grants(std::string_view role, std::string_view permission) {
    return role_permissions(role).contains(permission);
}

std::span<const char* const> module_grants(std::string_view module) noexcept {
    if (module == "client_portal") return client_portal_set;
    if (module == "messaging") return messaging_set;
    return {};
}

permission_set effective_permissions(const agency_state& s, const staff_state& st) {
    if (!st.active) return {};
    auto out = role_permissions(st.profile.role);
    if (st.permissions.contains("client_portal") && s.settings.client_portal_enabled.value_or(false))
        add(out, client_portal_set);
    if (st.permissions.contains("messaging") && s.settings.messaging_enabled.value_or(false)) add(out, messaging_set);
    return out;
}

bool can(const agency_state& s, const staff_state& st, std::string_view permission) {
    return effective_permissions(s, st).contains(permission);
}

bool can_act_on(const staff_state& actor, const staff_state& target) {
    if (!actor.active) return false;
    if (actor.profile.role == "org_admin") return true;
    if (actor.profile.role == "admin") return target.profile.role != "org_admin";
    return false;
}

bool allowed_during(session_restriction r, std::string_view permission) {
    switch (r) {
        case session_restriction::none: return true;
        case session_restriction::change_password: return in(change_password_allows, permission);
        case session_restriction::enrol_mfa: return in(enrol_mfa_allows, permission);
    }
    return false;
}

bool can_see_client(std::string_view staff_type, bool assigned) {
    if (staff_type == "administration" || staff_type == "administration_time_tracking") return true;
    if (staff_type == "therapy_counseling") return assigned;
    return false;
}

}  // namespace carelog::aggregates::access
