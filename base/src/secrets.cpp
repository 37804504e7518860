// Tokens, token hashes and sealed secrets (see secrets.hpp).
#include "carelog/base/secrets.hpp"

#include <sodium.h>

#include <stdexcept>
#include <vector>

#include "carelog/base/sha256.hpp"

namespace carelog {
namespace {

constexpr std::string_view sealed_prefix = "sb1:";

bool sodium_ready() {
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::array<std::uint8_t, crypto_secretbox_KEYBYTES> subkey(const secret_key& key, std::string_view context) {
    static_assert(crypto_secretbox_KEYBYTES == 32);
    std::string msg = "carelog.sealed:" + std::string(context);
    std::array<std::uint8_t, crypto_secretbox_KEYBYTES> out{};
    crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                       key.bytes.data(), key.bytes.size());
    return out;
}

}  // namespace

std::string random_token() {
    if (!sodium_ready()) throw std::runtime_error("libsodium failed to initialise");
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(out, sizeof out, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(b, sizeof b);
    return std::string(out);
}

std::string token_hash(std::string_view token) { return to_hex(sha256(token)); }

bool is_token_hash(std::string_view s) noexcept {
    if (s.size() != 64) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

result<secret_key> secret_key_from_hex(std::string_view hex) {
    secret_key k;
    if (hex.size() != 64 || !from_hex(hex, k.bytes))
        return fail(errc::malformed, "the server key must be 64 hex digits (32 bytes)");
    return k;
}

std::string seal(const secret_key& key, std::string_view context, std::span<const std::uint8_t> plaintext) {
    if (!sodium_ready()) throw std::runtime_error("libsodium failed to initialise");
    auto k = subkey(key, context);
    std::vector<std::uint8_t> buf(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size());
    randombytes_buf(buf.data(), crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(buf.data() + crypto_secretbox_NONCEBYTES, plaintext.data(), plaintext.size(), buf.data(),
                          k.data());
    sodium_memzero(k.data(), k.size());
    return std::string(sealed_prefix) + to_hex(buf);
}

std::string seal(const secret_key& key, std::string_view context, std::string_view plaintext) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(plaintext.data());
    return seal(key, context, std::span<const std::uint8_t>(bytes, plaintext.size()));
}

result<std::string> open_sealed(const secret_key& key, std::string_view context, std::string_view sealed) {
    if (!sodium_ready()) return fail(errc::internal, "libsodium failed to initialise");
    if (!sealed.starts_with(sealed_prefix)) return fail(errc::malformed, "sealed text: unknown format");
    auto hex = sealed.substr(sealed_prefix.size());
    constexpr std::size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    if (hex.size() % 2 != 0 || hex.size() / 2 < overhead || hex.size() > 8192)
        return fail(errc::malformed, "sealed text: bad length");
    std::vector<std::uint8_t> buf(hex.size() / 2);
    if (!from_hex(hex, buf)) return fail(errc::malformed, "sealed text: not hex");
    std::string out(buf.size() - overhead, '\0');
    auto k = subkey(key, context);
    int rc = crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(out.data()),
                                        buf.data() + crypto_secretbox_NONCEBYTES,
                                        buf.size() - crypto_secretbox_NONCEBYTES, buf.data(), k.data());
    sodium_memzero(k.data(), k.size());
    if (rc != 0) return fail(errc::malformed, "sealed text does not open with this key and context");
    return out;
}

}  // namespace carelog
