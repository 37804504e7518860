// Who is calling: the staff member behind a live session (or the platform operator for the
// operator-key routes), with what the session may do right now; or a portal client / a kiosk, who
// may see one client only. Every handler takes one.
#pragma once

#include <string>
#include <string_view>

#include "carelog/aggregates/access.hpp"
#include "carelog/aggregates/identity.hpp"

namespace carelog::api {

struct principal {
    std::string agency_id;
    std::string staff_id;  // "operator" for the platform operator
    std::string role;      // org_admin | admin | biller | therapist | scheduler
    std::string staff_type;
    bool is_operator = false;
    std::string session_id;  // token_hash of the bearer token ("" for the operator)
    aggregates::session_restriction restriction = aggregates::session_restriction::none;
    aggregates::access::permission_set permissions;  // aggregates::access::effective_permissions
    // Each module's two conditions (the agency's switch, the staff member's grant): a route refused
    // for one of the module's permissions says which is missing (check_permission) instead of
    // "your role ...".
    struct module_state {
        bool switched_on = false;
        bool granted = false;
    };
    module_state client_portal, messaging;

    // A portal client (auth_kind::portal_session) or a kiosk (auth_kind::kiosk): staff_id is empty,
    // no permission is held, and everything it may see is this one client's.
    std::string client_id;
    std::string portal_account_id;  // portal sessions: the client's portal account
    std::string kiosk_session_id;   // kiosk tokens: the one kiosk session the token opens
    bool kiosk_submitted = false;   // its form was submitted (the token is good for nothing more)

    bool can(std::string_view permission) const { return permissions.contains(permission); }
};

}  // namespace carelog::api
