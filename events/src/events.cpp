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
    std::string_view operator()(const ClientAdded&) const { return "ClientAdded"; }
    std::string_view operator()(const StaffAssignedToClient&) const { return "StaffAssignedToClient"; }
    std::string_view operator()(const StaffUnassignedFromClient&) const { return "StaffUnassignedFromClient"; }
    std::string_view operator()(const InvitationSent&) const { return "InvitationSent"; }
    std::string_view operator()(const InvitationResent&) const { return "InvitationResent"; }
    std::string_view operator()(const InvitationRevoked&) const { return "InvitationRevoked"; }
    std::string_view operator()(const InvitationAccepted&) const { return "InvitationAccepted"; }
    std::string_view operator()(const PortalUsernameChosen&) const { return "PortalUsernameChosen"; }
    std::string_view operator()(const PortalLoginSucceeded&) const { return "PortalLoginSucceeded"; }
    std::string_view operator()(const PortalLoginFailed&) const { return "PortalLoginFailed"; }
    std::string_view operator()(const PortalAccountLocked&) const { return "PortalAccountLocked"; }
    std::string_view operator()(const PortalAccountUnlocked&) const { return "PortalAccountUnlocked"; }
    std::string_view operator()(const PortalSessionEnded&) const { return "PortalSessionEnded"; }
    std::string_view operator()(const PortalSessionTouched&) const { return "PortalSessionTouched"; }
    std::string_view operator()(const PortalPasswordChanged&) const { return "PortalPasswordChanged"; }
    std::string_view operator()(const PortalPasswordResetRequested&) const { return "PortalPasswordResetRequested"; }
    std::string_view operator()(const MessageSent&) const { return "MessageSent"; }
    std::string_view operator()(const KioskSessionStarted&) const { return "KioskSessionStarted"; }
    std::string_view operator()(const KioskFormSubmitted&) const { return "KioskFormSubmitted"; }
};

template <class T>
constexpr bool is_client_event =
    std::is_same_v<T, ClientAdded> || std::is_same_v<T, StaffAssignedToClient> ||
    std::is_same_v<T, StaffUnassignedFromClient> || std::is_same_v<T, InvitationSent> ||
    std::is_same_v<T, InvitationResent> || std::is_same_v<T, InvitationRevoked> ||
    std::is_same_v<T, InvitationAccepted> || std::is_same_v<T, PortalUsernameChosen> ||
    std::is_same_v<T, PortalLoginSucceeded> || std::is_same_v<T, PortalLoginFailed> ||
    std::is_same_v<T, PortalAccountLocked> || std::is_same_v<T, PortalAccountUnlocked> ||
    std::is_same_v<T, PortalSessionEnded> || std::is_same_v<T, MessageSent> ||
    std::is_same_v<T, KioskSessionStarted> || std::is_same_v<T, KioskFormSubmitted> ||
    std::is_same_v<T, PortalSessionTouched> || std::is_same_v<T, PortalPasswordChanged> ||
    std::is_same_v<T, PortalPasswordResetRequested>;
}  // namespace

std::string_view event_type_name(const payload& p) noexcept { return std::visit(names{}, p); }

std::string_view aggregate_type_of(const payload& p) noexcept {
    return std::visit(
        [](const auto& e) -> std::string_view {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, AgencyCreated> || std::is_same_v<T, AgencySettingsChanged> ||
                          std::is_same_v<T, LocationAdded> || std::is_same_v<T, ProgramAdded>)
                return "Agency";
            else if constexpr (is_client_event<T>)
                return "Client";
            else
                return "Staff";
        },
        p);
}

std::string_view aggregate_type_of(const decided_event& d) noexcept {
    return d.aggregate_type.empty() ? aggregate_type_of(d.data) : std::string_view(d.aggregate_type);
}

}  // namespace carelog::events
