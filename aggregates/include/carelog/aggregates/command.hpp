// Every command of this slice as one variant, and one entry point that routes it to its decide.
#pragma once

#include <variant>

#include "carelog/aggregates/agency.hpp"
#include "carelog/aggregates/identity.hpp"
#include "carelog/aggregates/staff.hpp"

namespace carelog::aggregates {

using command = std::variant<create_agency, change_settings, add_location, add_program, create_staff,
                             update_staff_profile, assign_role, set_staff_type, set_staff_locations,
                             set_staff_programs, set_module_permissions, deactivate_staff,
                             // identity (identity.hpp)
                             record_login, change_password, set_temporary_password, request_password_reset,
                             confirm_password_reset, unlock_staff, enroll_mfa, confirm_mfa, reset_mfa, logout,
                             end_sessions, touch_session, expire_session>;

inline result<std::vector<events::decided_event>> decide(const agency_state& s, const command& c) {
    return std::visit([&](const auto& cmd) { return decide(s, cmd); }, c);
}

}  // namespace carelog::aggregates
