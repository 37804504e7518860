// Secrets at the edge (libsodium): opaque bearer tokens and their log-safe hashes, and sealing of
// secrets that must be stored but never in clear (TOTP secrets). The domain (aggregates/) only ever
// sees token hashes and sealed text; the API makes tokens, hashes them and seals/opens with the key.
//
// Tokens: 32 random bytes as unpadded base64url (43 characters). What enters the event log and the
// read models is token_hash(token) = lower-case hex SHA-256 of the token text: a session id, a reset
// token hash. Presenting a hash instead of a token does not authenticate (it gets hashed again).
//
// Sealed text: "sb1:" + hex(nonce[24] || crypto_secretbox_easy(plaintext)) under a subkey derived
// from the server key and a context (BLAKE2b keyed by the server key over "carelog.sealed:" +
// context). The API passes the staff id as the context, so a sealed secret moved to another staff
// member's events does not open. Rotating the server key needs a new "sbN:" version.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "carelog/base/errc.hpp"

namespace carelog {

// 32 random bytes (libsodium randombytes), unpadded base64url.
std::string random_token();
// Lower-case hex SHA-256 of the token's text: the only form of a token that is ever stored.
std::string token_hash(std::string_view token);
// 64 lower-case hex digits (what token_hash returns, and what a session id looks like).
bool is_token_hash(std::string_view s) noexcept;

struct secret_key {
    std::array<std::uint8_t, 32> bytes{};
};
// The server key from configuration: 64 hex digits (e.g. `openssl rand -hex 32`).
result<secret_key> secret_key_from_hex(std::string_view hex);

// Seals `plaintext` under `key` for `context` with a fresh random nonce.
std::string seal(const secret_key& key, std::string_view context, std::span<const std::uint8_t> plaintext);
std::string seal(const secret_key& key, std::string_view context, std::string_view plaintext);
// Opens what seal() made with the same key and context; errc::malformed for anything else (wrong
// key, wrong context, damaged or foreign text), never a partial result.
result<std::string> open_sealed(const secret_key& key, std::string_view context, std::string_view sealed);

}  // namespace carelog
