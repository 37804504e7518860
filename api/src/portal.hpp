// Private to api/: the portal and kiosk read path. A client's state (portal account, its sessions
// and lock, threads, kiosk sessions) is the domain's own client_state, folded with
// aggregates::evolve from the client's events in the projections store plus the agency's settings,
// so that "is this portal session live?" and "what does this kiosk token open?" are answered by the
// domain's check_portal_session and find_live_kiosk (aggregates/clients.hpp) on any carelogd
// reading the topic, exactly as identity.hpp does for staff sessions.
//
// Tokens are "<agency id>.<random>" (identity.hpp new_agency_token); only their hash is looked up
// (projections: portal session id -> client, kiosk token hash -> client) and stored.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "carelog/aggregates/agency.hpp"
#include "carelog/api/app.hpp"

namespace carelog::api::detail {

// The agency's settings (and slug) plus the one client, folded from the store and cached:
// exists=true, id, settings, clients[client_id] and the indexes evolve derives from it
// (portal_session_owners, kiosk_tokens, thread_owners, ...). Null when the agency or the
// client is not (yet) in the read models. Shared and immutable (identity.hpp's fold_state).
std::shared_ptr<const aggregates::agency_state> client_state(app_context& ctx, const std::string& agency_id,
                                                             const std::string& client_id);

}  // namespace carelog::api::detail
