// Password policy of an agency (SPEC §1 "Agency settings"): checking a password against the
// agency's Settings, generating a strong temporary password, and Argon2id hashing (libsodium).
// Takes events::Settings so the default policy and every agency's own policy go through one path.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "carelog/events/events.hpp"

namespace carelog::api {

// Messages for every rule the password breaks (empty = acceptable). `usernames` are the names it
// must not contain (case-insensitive) when the policy disallows the username.
std::vector<std::string> password_policy_violations(const events::Settings& policy, std::string_view password,
                                                    std::span<const std::string> usernames);

// A random password (libsodium randombytes) of at least max(16, min_length) characters with every
// character class, satisfying `policy` for `usernames`.
std::string generate_password(const events::Settings& policy, std::span<const std::string> usernames);

// Argon2id string (crypto_pwhash_str, OPSLIMIT/MEMLIMIT_INTERACTIVE); nullopt when out of memory.
std::optional<std::string> hash_password(std::string_view password);
bool verify_password(const std::string& hash, std::string_view password);

// The agency view's `settings` object (projections::store::agency) as Settings; fields the view
// lacks keep the secure defaults.
events::Settings settings_from_view(const boost::json::object& settings_view);

}  // namespace carelog::api
