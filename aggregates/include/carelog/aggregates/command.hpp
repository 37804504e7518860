// Every command of this slice as one variant, and one entry point that routes it to its decide.
#pragma once

#include <variant>

#include "carelog/aggregates/agency.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/aggregates/identity.hpp"
#include "carelog/aggregates/staff.hpp"

namespace carelog::aggregates {

using command = std::variant<create_agency, change_settings, add_location, add_program, create_staff,
                             update_staff_profile, assign_role, set_staff_type, set_staff_locations,
                             set_staff_programs, set_module_permissions, deactivate_staff,
                             // identity (identity.hpp)
                             record_login, change_password, set_temporary_password, request_password_reset,
                             confirm_password_reset, unlock_staff, enroll_mfa, confirm_mfa, reset_mfa, logout,
                             end_sessions, touch_session, expire_session,
                             // clients and the client portal (clients.hpp)
                             add_client, assign_staff_to_client, unassign_staff_from_client, send_invitation,
                             resend_invitation, revoke_invitation, register_portal_account, change_portal_username,
                             record_portal_login, portal_logout, unlock_portal_account, send_message, start_kiosk,
                             submit_kiosk_form, touch_portal_session, end_portal_sessions,
                             set_portal_temporary_password, change_portal_password,
                             request_portal_password_reset, confirm_portal_password_reset>;

inline result<std::vector<events::decided_event>> decide(const agency_state& s, const command& c) {
    return std::visit([&](const auto& cmd) { return decide(s, cmd); }, c);
}

}  // namespace carelog::aggregates
