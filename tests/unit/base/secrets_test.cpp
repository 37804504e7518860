// Tokens, token hashes and sealed secrets: what the API hands the domain instead of secrets.
#include <catch2/catch.hpp>

#include <set>

#include "carelog/base/secrets.hpp"
#include "carelog/base/sha256.hpp"

using namespace carelog;

namespace {
secret_key key_of(char c) { return *secret_key_from_hex(std::string(64, c)); }
}  // namespace

TEST_CASE("secrets: tokens are 256 random bits in URL-safe text, never repeated", "[base][secrets]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto t = random_token();
        CHECK(t.size() == 43);
        CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              std::string::npos);
        seen.insert(t);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("secrets: a token's hash is the hex SHA-256 of its text", "[base][secrets]") {
    CHECK(token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auto t = random_token();
    CHECK(is_token_hash(token_hash(t)));
    CHECK(token_hash(t).find(t) == std::string::npos);
    CHECK_FALSE(is_token_hash(t));
    CHECK_FALSE(is_token_hash(std::string(64, 'G')));
    CHECK_FALSE(is_token_hash(std::string(64, 'A')));  // lower-case only: one spelling per hash
    CHECK_FALSE(is_token_hash(std::string(63, 'a')));
    CHECK(is_token_hash(std::string(64, 'a')));
}

TEST_CASE("secrets: the server key is 64 hex digits", "[base][secrets]") {
    CHECK(secret_key_from_hex(std::string(64, 'f')).has_value());
    CHECK(secret_key_from_hex(std::string(62, 'f')).error().code == errc::malformed);
    CHECK_FALSE(secret_key_from_hex(std::string(64, 'x')).has_value());
    CHECK_FALSE(secret_key_from_hex("").has_value());
}

TEST_CASE("secrets: a sealed secret opens with its key and context only", "[base][secrets]") {
    const std::string secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";  // a TOTP secret (base32)
    auto k = key_of('1');
    auto sealed = seal(k, "staff-1", secret);
    CHECK(sealed.starts_with("sb1:"));
    CHECK(sealed.find(secret) == std::string::npos);
    CHECK(sealed.size() == 4 + 2 * (24 + 16 + secret.size()));
    REQUIRE(open_sealed(k, "staff-1", sealed).has_value());
    CHECK(*open_sealed(k, "staff-1", sealed) == secret);

    // Fresh nonce every time: the same secret never seals to the same text.
    CHECK(seal(k, "staff-1", secret) != sealed);

    CHECK(open_sealed(key_of('2'), "staff-1", sealed).error().code == errc::malformed);
    CHECK(open_sealed(k, "staff-2", sealed).error().code == errc::malformed);  // moved to someone else
    auto damaged = sealed;
    damaged.back() = damaged.back() == '0' ? '1' : '0';
    CHECK_FALSE(open_sealed(k, "staff-1", damaged).has_value());
    CHECK_FALSE(open_sealed(k, "staff-1", sealed.substr(0, sealed.size() - 2)).has_value());
    CHECK_FALSE(open_sealed(k, "staff-1", "sb2:" + sealed.substr(4)).has_value());
    CHECK_FALSE(open_sealed(k, "staff-1", "sb1:zz").has_value());
    CHECK_FALSE(open_sealed(k, "staff-1", "").has_value());
    CHECK_FALSE(open_sealed(k, "staff-1", secret).has_value());
}

TEST_CASE("secrets: an empty plaintext seals and opens", "[base][secrets]") {
    auto k = key_of('3');
    auto sealed = seal(k, "", std::string_view{});
    auto back = open_sealed(k, "", sealed);
    REQUIRE(back.has_value());
    CHECK(back->empty());
}
