// Events as JSON, for history, audit and `carelog-replay export` lines (SPEC §3 event listings).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "carelog/events/events.hpp"

namespace carelog::events {

// The present fields of a Settings (absent optionals are left out). Shared by listings and the
// writer's snapshots so one settings shape exists.
boost::json::object settings_to_json(const Settings& s);

// The payload's fields as a JSON object. Left out: password hashes (StaffCreated, PasswordChanged) and
// the sealed TOTP secret (MfaEnrolled). Times are RFC 3339; AccountLocked.until is null when only an
// administrator can unlock.
boost::json::object payload_to_json(const payload& p);

// {event_type, event_id, sequence, aggregate_type, aggregate_id, aggregate_version, occurred_at
//  (RFC 3339), actor_id, command_id, correlation_id, causation_id, prev_hash, hash, data}
boost::json::object listing_json(const envelope& e);

}  // namespace carelog::events
