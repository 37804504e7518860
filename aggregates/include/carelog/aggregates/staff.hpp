// The Staff aggregate: creation with the username rule of SPEC §1, profile, role, type,
// locations, programs, module permissions, deactivation. Decided against the agency's state
// because usernames, locations and programs are agency-wide invariants.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/agency.hpp"

namespace carelog::aggregates {

struct create_staff {
    std::string staff_id;
    std::string first_name;
    std::string middle_name;  // "" when none
    std::string last_name;
    std::string gender;
    std::string position;
    std::string email;
    std::string role;
    std::string staff_type;
    strings location_ids;
    strings program_ids;
    std::optional<std::string> username;  // explicit: only in the rule's shape
    std::string password_hash;            // Argon2id of the temporary password
    bool require_password_change = true;
    std::string hire_date;  // "" or YYYY-MM-DD
    std::vector<events::Phone> phones;
    std::string npi;            // "" or a valid NPI
    std::string supervisor_id;  // "" or an existing active staff id
};
struct update_staff_profile {
    std::string staff_id;
    events::StaffProfileUpdated patch;  // present fields change; "" clears middle_name/hire_date/npi/...
};
struct assign_role {
    std::string staff_id;
    std::string role;
};
struct set_staff_type {
    std::string staff_id;
    std::string staff_type;
};
struct set_staff_locations {
    std::string staff_id;
    strings location_ids;
};
struct set_staff_programs {
    std::string staff_id;
    strings program_ids;
};
struct set_module_permissions {
    std::string staff_id;
    std::optional<bool> client_portal;
    std::optional<bool> messaging;
};
struct deactivate_staff {
    std::string staff_id;
    std::string reason;
};

// Each yields the events to append (possibly none when nothing changes) or an error:
// not_found for an unknown staff id, conflict for a deactivated one or a taken username,
// validation (with field errors) for bad values.
// Choices where SPEC §1 is silent:
// - location_ids/program_ids are sets: repeated ids are dropped and the stored list is sorted, so
//   the same set in another order is no change (no event).
// - the agency's last active org_admin can neither lose the role nor be deactivated (409): the
//   agency would have nobody left to administer it.
// - a deactivated staff member refuses every command (409), even one that would change nothing.
// - deactivation also ends every live session of the staff member (SessionEnded{deactivated}) in the
//   same decision.
// - an explicit `username` that is empty (after trimming) lets the rule choose.
result<std::vector<events::decided_event>> decide(const agency_state& s, const create_staff& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const update_staff_profile& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const assign_role& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_staff_type& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_staff_locations& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_staff_programs& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const set_module_permissions& c);
result<std::vector<events::decided_event>> decide(const agency_state& s, const deactivate_staff& c);

// ---- the username rule (SPEC §1) ----

// Lower-case ASCII letters, digits and hyphens of a name part: accents folded, apostrophes,
// spaces and other punctuation dropped, hyphens kept ("O'Brien" -> "obrien", "García-López" ->
// "garcia-lopez").
std::string username_part(std::string_view name);
// first initial + last name ("Todd Jones" -> "tjones"); "" if either part yields nothing.
std::string base_username(std::string_view first, std::string_view last);
// first initial + middle initial + last name ("Todd D Jones" -> "tdjones"); "" without a middle name.
std::string middle_username(std::string_view first, std::string_view middle, std::string_view last);

// What the rule gives for these names, given which usernames are taken (what create_staff decides
// without an explicit username): the username, or "" with the reason in the domain's words.
struct username_preview {
    std::string username;     // "" = the rule gives none
    std::string base;         // first initial + last name ("" if a name part yields nothing)
    std::string with_middle;  // first + middle initial + last name ("" without a middle name)
    bool base_taken = false;
    bool with_middle_taken = false;
    std::string reason;       // why there is no username ("" when there is one)
};
username_preview preview_username(std::string_view first, std::string_view middle, std::string_view last,
                                  const std::function<bool(const std::string&)>& taken);

// NPI: 10 digits, first 1 or 2, Luhn over "80840" + first 9 digits.
bool is_valid_npi(std::string_view npi);

}  // namespace carelog::aggregates
