// Who may do what: the permission names an HTTP route table declares, the five roles' permission
// sets (SPEC §1 "Staff", seed 004), the two module permissions, what a restricted session may do,
// and the one client-visibility rule of staff types. Pure data and functions: the API's route table
// references these names and a generated test walks every route x every role against them.
//
// Choices where SPEC §1 is silent:
// - `scheduler` is the default set; every role includes it (the seed: "... + default").
// - `admin` = organization settings and activities + therapist + billing + default. `org_admin` has
//   every permission; the only one an admin lacks is staff.grant_org_admin (creating an org_admin or
//   giving someone the role), and an admin cannot act on an org_admin (can_act_on), so an admin can
//   never take over the agency's top account by resetting its password.
// - Module permissions are never implied by a role, org_admin included: SPEC grants them per staff
//   member, and they also need the agency's switch (client_portal_enabled / messaging_enabled).
// - A deactivated staff member has no permission at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "carelog/aggregates/agency.hpp"
#include "carelog/aggregates/identity.hpp"

namespace carelog::aggregates::access {

// ---- permission names (what a route requires) ----
// Every staff member, whatever the role (part of the default set):
inline constexpr const char* self_read = "self.read";          // own profile, own permissions
inline constexpr const char* self_password = "self.password";  // change own password
inline constexpr const char* self_mfa = "self.mfa";            // enrol / confirm own TOTP
inline constexpr const char* self_sessions = "self.sessions";  // logout, own sessions
inline constexpr const char* agency_read = "agency.read";      // agency name, locations, programs, services
inline constexpr const char* staff_read = "staff.read";        // staff directory
// Default set (General Staff & Schedulers):
inline constexpr const char* agenda_read = "agenda.read";
inline constexpr const char* appointments_manage = "appointments.manage";
inline constexpr const char* staff_calendars = "staff.calendars";
inline constexpr const char* clients_read = "clients.read";  // basic client data (visibility: can_see_client)
inline constexpr const char* clients_create = "clients.create";
inline constexpr const char* clients_update = "clients.update";
inline constexpr const char* clients_assign_staff = "clients.assign_staff";
inline constexpr const char* groups_manage = "groups.manage";
inline constexpr const char* reports_client = "reports.client";
inline constexpr const char* kiosk_start = "kiosk.start";
// Therapist:
inline constexpr const char* cases_manage = "cases.manage";
inline constexpr const char* clinical_read = "clinical.read";
inline constexpr const char* clinical_write = "clinical.write";
inline constexpr const char* reports_case = "reports.case";
// Biller:
inline constexpr const char* billing_ledgers = "billing.ledgers";
inline constexpr const char* billing_insurance = "billing.insurance";
inline constexpr const char* billing_payments = "billing.payments";
inline constexpr const char* reports_billing = "reports.billing";
// Administration (organization settings and activities):
inline constexpr const char* agency_settings = "agency.settings";  // incl. the security policy
inline constexpr const char* locations_manage = "locations.manage";
inline constexpr const char* programs_manage = "programs.manage";
inline constexpr const char* staff_create = "staff.create";
inline constexpr const char* staff_update = "staff.update";  // profile, type, locations, programs
inline constexpr const char* staff_roles = "staff.roles";
inline constexpr const char* staff_permissions = "staff.permissions";  // module permissions
inline constexpr const char* staff_deactivate = "staff.deactivate";
inline constexpr const char* staff_lock_state = "staff.lock_state";  // see whether an account is locked
inline constexpr const char* staff_unlock = "staff.unlock";
inline constexpr const char* staff_password_reset = "staff.password_reset";  // set a temporary password
inline constexpr const char* staff_mfa_reset = "staff.mfa_reset";
inline constexpr const char* staff_sessions = "staff.sessions";  // list / end others' sessions
inline constexpr const char* clients_import = "clients.import";
inline constexpr const char* events_read = "events.read";  // staff and client histories
inline constexpr const char* audit_read = "audit.read";    // the audit trail: changes and record views
// Organization Administration only:
inline constexpr const char* staff_grant_org_admin = "staff.grant_org_admin";
// Modules (need the staff member's grant AND the agency's switch):
inline constexpr const char* portal_invite = "portal.invite";  // invitations, resend, revoke
inline constexpr const char* portal_manage = "portal.manage";  // kiosk forms, portal accounts
inline constexpr const char* messaging_use = "messaging.use";

// Every permission name above, once (for route-table checks and generated tests).
std::span<const char* const> all_permissions() noexcept;

// A set of permissions of the catalogue: one bit each, so building, copying and asking it
// allocates nothing (a session's permissions are judged on every request). Iterates in name order.
class permission_set {
public:
    bool contains(std::string_view permission) const noexcept;
    // A name outside the catalogue is not a permission and is not added.
    void insert(std::string_view permission) noexcept;
    void insert(std::span<const char* const> permissions) noexcept;
    bool empty() const noexcept { return bits_ == 0; }
    std::size_t size() const noexcept;
    friend bool operator==(permission_set, permission_set) = default;

    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = const char*;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = const char*;
        iterator() = default;
        const char* operator*() const noexcept;
        iterator& operator++() noexcept;
        iterator operator++(int) noexcept {
            auto old = *this;
            ++*this;
            return old;
        }
        friend bool operator==(const iterator&, const iterator&) = default;

    private:
        friend class permission_set;
        iterator(std::uint64_t bits, std::size_t at) noexcept;
        std::uint64_t bits_ = 0;
        std::size_t at_ = 0;  // position in name order
    };
    iterator begin() const noexcept;
    iterator end() const noexcept;

private:
    std::uint64_t bits_ = 0;
};

// The permissions a role grants ("" for an unknown role -> empty set). Never module permissions.
permission_set role_permissions(std::string_view role);
bool role_grants(std::string_view role, std::string_view permission);

// The permissions a module permission ("client_portal" | "messaging") brings.
std::span<const char* const> module_grants(std::string_view module) noexcept;

// Everything the staff member may do now: role + granted modules switched on in the agency;
// nothing when deactivated.
permission_set effective_permissions(const agency_state& s, const staff_state& st);
bool can(const agency_state& s, const staff_state& st, std::string_view permission);

// Whether `actor` may manage `target` (update, role, deactivate, unlock, reset password or MFA, end
// sessions): org_admin anyone; admin anyone but an org_admin; anybody else nobody (self-service
// goes through the self.* permissions instead).
bool can_act_on(const staff_state& actor, const staff_state& target);

// What a restricted session may still do: change_password -> self.read, self.password,
// self.sessions; enrol_mfa -> self.read, self.mfa, self.sessions; none -> everything.
bool allowed_during(session_restriction r, std::string_view permission);

// SPEC §1: administration and administration_time_tracking staff see every client of the agency,
// whatever else their permissions say; therapy_counseling staff only the clients assigned to them;
// an unknown type sees none.
bool can_see_client(std::string_view staff_type, bool assigned);

}  // namespace carelog::aggregates::access
