// SHA-256 (OpenSSL) for the per-agency hash chain and for storing token hashes, plus hex helpers.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace carelog {

using sha256_digest = std::array<std::uint8_t, 32>;

sha256_digest sha256(std::span<const std::uint8_t> data);
sha256_digest sha256(std::string_view data);
// SHA-256 over a || b without copying.
sha256_digest sha256(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);
// SHA-256 over the parts in order, without copying.
sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts);

std::string to_hex(std::span<const std::uint8_t> bytes);
bool from_hex(std::string_view hex, std::span<std::uint8_t> out);

}  // namespace carelog
