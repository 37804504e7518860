// The agency settings projection's pure part: how an Agency event changes the agency view (JSON).
// Shape: {id, name, slug, version, created_at, updated_at, admin_staff_id (the first org_admin
// created in the agency; store.cpp sets it, absent until then), settings:{client_portal_enabled,
// messaging_enabled, password_policy:{min_length, require_upper, require_lower, require_digit,
// require_symbol, disallow_username}, lockout:{threshold, minutes}, session_idle_minutes,
// password_expiry_days, mfa_required_roles, services}}
#pragma once

#include <optional>

#include <boost/json/object.hpp>

#include "carelog/events/events.hpp"

namespace carelog::projections::agency_settings {

// AgencyCreated builds the view; AgencySettingsChanged merges the fields it carries (onto the
// secure defaults when AgencyCreated was never seen, so a partial history still answers);
// LocationAdded and ProgramAdded only move the version. Events at or below the view's version
// were already applied and are ignored. Staff events leave the view alone.
void evolve(std::optional<boost::json::object>& view, const events::envelope& e);

}  // namespace carelog::projections::agency_settings
