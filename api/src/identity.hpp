// Private to api/: the identity read path. A staff member's identity state (password hash, lock,
// TOTP, sessions) is the domain's own staff_state, folded with aggregates::evolve from the staff
// member's events in the projections store, so that every per-request question (is this session
// live, idle, restricted? is the account locked? is this reset link good?) is answered by the
// domain's functions (aggregates/identity.hpp) on any carelogd reading the topic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "carelog/aggregates/agency.hpp"
#include "carelog/api/app.hpp"

namespace carelog::api::detail {

// Bearer and reset tokens: "<agency id>.<random_token()>". The agency id routes the token to its
// agency's read models; the whole text is hashed (token_hash) and only the hash is ever stored.
std::string new_agency_token(const std::string& agency_id);
// The agency id a token names, when it has the shape above.
std::optional<std::string> token_agency(std::string_view token);

// The agency's settings (from its view) plus the one staff member, folded from the store:
// exists=true, id, settings, staff[staff_id], usernames, session_owners. nullopt when the agency
// or the staff member is not (yet) in the read models.
std::optional<aggregates::agency_state> identity_state(app_context& ctx, const std::string& agency_id,
                                                       const std::string& staff_id);

// The cache behind identity_state and client_state (portal.hpp), by "<agency id>/<staff or client
// id>": the folded state and the aggregate's version it reached.
std::optional<aggregates::agency_state> cached_state(app_context& ctx, const std::string& key);
void cache_state(app_context& ctx, const std::string& key, const aggregates::agency_state& s, std::uint64_t version);

// RFC 6238 (SHA-1, 6 digits, 30 s) with liboath, window ±1 step around `now`.
struct totp_match {
    bool ok = false;
    std::int64_t step = 0;  // the absolute step the code matched
};
totp_match check_totp(std::string_view secret, std::string_view code, micros now);
// A fresh 20-byte TOTP secret (raw) and its base32 form.
struct totp_secret {
    std::string raw;
    std::string base32;
};
totp_secret new_totp_secret();

// Zeroes a string holding a secret before it is freed.
void wipe(std::string& s);

// The domain reports a check against stale data (a password hash or TOTP secret that changed
// between our read and its decision) as a conflict saying so; the caller reads again and retries.
bool is_stale_check(const error& e);

}  // namespace carelog::api::detail
