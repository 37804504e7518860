#include "carelog/events/events.hpp"

namespace carelog::events {

Settings default_settings(std::string name) {
    Settings s;
    s.name = std::move(name);
    s.client_portal_enabled = false;
    s.messaging_enabled = false;
    s.password_min_length = 12;
    s.password_require_upper = true;
    s.password_require_lower = true;
    s.password_require_digit = true;
    s.password_require_symbol = true;
    s.password_disallow_username = true;
    s.lockout_threshold = 5;
    s.lockout_minutes = 30;
    s.session_idle_minutes = 30;
    s.password_expiry_days = 90;
    s.mfa_required_roles = strings{};
    s.services = strings{};
    return s;
}

namespace {
struct names {
    std::string_view operator()(const AgencyCreated&) const { return "AgencyCreated"; }
    std::string_view operator()(const AgencySettingsChanged&) const { return "AgencySettingsChanged"; }
    std::string_view operator()(const LocationAdded&) const { return "LocationAdded"; }
    std::string_view operator()(const ProgramAdded&) const { return "ProgramAdded"; }
    std::string_view operator()(const StaffCreated&) const { return "StaffCreated"; }
    std::string_view operator()(const StaffProfileUpdated&) const { return "StaffProfileUpdated"; }
    std::string_view operator()(const RoleAssigned&) const { return "RoleAssigned"; }
    std::string_view operator()(const StaffTypeSet&) const { return "StaffTypeSet"; }
    std::string_view operator()(const StaffLocationsSet&) const { return "StaffLocationsSet"; }
    std::string_view operator()(const StaffProgramsSet&) const { return "StaffProgramsSet"; }
    std::string_view operator()(const ModulePermissionGranted&) const { return "ModulePermissionGranted"; }
    std::string_view operator()(const ModulePermissionRevoked&) const { return "ModulePermissionRevoked"; }
    std::string_view operator()(const StaffDeactivated&) const { return "StaffDeactivated"; }
    std::string_view operator()(const PasswordChanged&) const { return "PasswordChanged"; }
    std::string_view operator()(const PasswordResetRequested&) const { return "PasswordResetRequested"; }
    std::string_view operator()(const LoginSucceeded&) const { return "LoginSucceeded"; }
    std::string_view operator()(const LoginFailed&) const { return "LoginFailed"; }
    std::string_view operator()(const AccountLocked&) const { return "AccountLocked"; }
    std::string_view operator()(const AccountUnlocked&) const { return "AccountUnlocked"; }
    std::string_view operator()(const MfaEnrolled&) const { return "MfaEnrolled"; }
    std::string_view operator()(const MfaConfirmed&) const { return "MfaConfirmed"; }
    std::string_view operator()(const MfaReset&) const { return "MfaReset"; }
    std::string_view operator()(const SessionEnded&) const { return "SessionEnded"; }
    std::string_view operator()(const SessionTouched&) const { return "SessionTouched"; }
};
}  // namespace

std::string_view event_type_name(const payload& p) noexcept { return std::visit(names{}, p); }

std::string_view aggregate_type_of(const payload& p) noexcept {
    return std::visit(
        [](const auto& e) -> std::string_view {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, AgencyCreated> || std::is_same_v<T, AgencySettingsChanged> ||
                          std::is_same_v<T, LocationAdded> || std::is_same_v<T, ProgramAdded>)
                return "Agency";
            else
                return "Staff";
        },
        p);
}

std::string_view aggregate_type_of(const decided_event& d) noexcept {
    return d.aggregate_type.empty() ? aggregate_type_of(d.data) : std::string_view(d.aggregate_type);
}

}  // namespace carelog::events
