// Private to api/: the identity read path. A staff member's identity state (password hash, lock,
// TOTP, sessions) is the domain's own staff_state, folded with aggregates::evolve from the staff
// member's events in the projections store, so that every per-request question (is this session
// live, idle, restricted? is the account locked? is this reset link good?) is answered by the
// domain's functions (aggregates/identity.hpp) on any carelogd reading the topic.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/agency.hpp"
#include "carelog/api/app.hpp"
#include "carelog/api/principal.hpp"
#include "carelog/base/sha256.hpp"

namespace carelog::api::detail {

// Bearer and reset tokens: "<agency id>.<random_token()>". The agency id routes the token to its
// agency's read models; the whole text is hashed (token_hash) and only the hash is ever stored.
std::string new_agency_token(const std::string& agency_id);
// The agency id a token names, when it has the shape above.
std::optional<std::string> token_agency(std::string_view token);

// Folded identity state: immutable, shared by every request that asks while it is current.
using folded_state = std::shared_ptr<const aggregates::agency_state>;
enum class fold_kind { staff, client };

// The agency's settings (from its view) plus the one staff member (or client), folded from the
// store's events with aggregates::evolve: exists=true, id, settings, slug, staff[staff_id] (or
// clients[client_id]) and what their events index (usernames, session_owners, ...). Null when the
// agency or the aggregate is not (yet) in the read models. Cached (identity_cache) until the store
// applies an event of that aggregate or a settings event of the agency.
folded_state fold_state(app_context& ctx, const std::string& agency_id, const std::string& id, fold_kind kind);
folded_state identity_state(app_context& ctx, const std::string& agency_id, const std::string& staff_id);

// What a staff session's principal is built from, shared while it holds (identity_cache): the
// folded state and the principal without its restriction, which check_session gives anew at every
// request (it depends on the time).
struct session_basis {
    folded_state state;
    principal who;
};

// The basis of the staff session whose bearer token has this SHA-256 digest, while it holds (null
// otherwise); and keeping one built from identity_state(agency_id, staff_id), when that state is
// still the current one.
std::shared_ptr<const session_basis> cached_session(app_context& ctx, const sha256_digest& token_digest);
void remember_session(app_context& ctx, const sha256_digest& token_digest, const std::string& agency_id,
                      const std::string& staff_id, std::shared_ptr<const session_basis> basis);

// The owner of a session id or token hash: kind 's' a staff session (its staff id), 'p' a portal
// session (its client id), 'k' a kiosk token (its client id). Remembered: an owner never changes;
// whether the session is still good is for the domain to say over the owner's folded state.
std::optional<std::string> session_owner(app_context& ctx, char kind, const std::string& agency_id,
                                         const std::string& hash);

// What a session token stands on: the agency it names, the session's owner under the token's
// hash (kind as session_owner) and that owner's folded state (a staff member's for 's', a client's
// for 'p' and 'k'). Nothing when any of them is not (yet) in the read models.
struct session_ground {
    std::string agency_id;
    std::string owner_id;
    folded_state state;
};
std::optional<session_ground> ground_of(app_context& ctx, char kind, std::string_view token, const std::string& hash);

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

// Wipes the strings it guards when it goes out of scope, however the handler holding it returns.
class wiped {
public:
    wiped(std::initializer_list<std::string*> secrets) : secrets_(secrets) {}
    wiped(const wiped&) = delete;
    wiped& operator=(const wiped&) = delete;
    ~wiped() {
        for (auto* s : secrets_) wipe(*s);
    }

private:
    std::vector<std::string*> secrets_;
};

// The domain reports a check against stale data (a password hash or TOTP secret that changed
// between our read and its decision) as a conflict saying so; the caller reads again and retries.
bool is_stale_check(const error& e);

}  // namespace carelog::api::detail
