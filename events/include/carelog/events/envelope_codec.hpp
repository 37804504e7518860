// Envelope codec: C++ envelope <-> FlatBuffers bytes. Every buffer goes through the FlatBuffers
// verifier before a single field is read; the hash chain is computed on encode and checked on demand.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"

namespace carelog::events {

// Serializes `e` with e.prev_hash as given, computes the chain hash, stores it in e.hash and in
// the returned buffer.
std::vector<std::uint8_t> encode(envelope& e);

// Verifies the buffer (FlatBuffers verifier, identifier, required fields, 32-byte hashes) and
// decodes it. Fails with errc::malformed and a reason; never reads an unverified buffer.
result<envelope> decode(std::span<const std::uint8_t> bytes);

// Recomputes the chain hash of a verified buffer: SHA-256 of the buffer with its hash bytes zeroed.
result<sha256_digest> compute_hash(std::span<const std::uint8_t> bytes);

// decode and compute_hash of one buffer in one pass (one verification, one aligned copy): for a
// reader that checks the chain of every record it decodes. `recomputed` is compute_hash's answer,
// to be compared with `decoded.hash`.
struct hashed_envelope {
    envelope decoded;
    sha256_digest recomputed;
};
result<hashed_envelope> decode_and_hash(std::span<const std::uint8_t> bytes);

inline constexpr const char* content_type = "application/x-flatbuffers; schema=carelog.fb.Envelope";

}  // namespace carelog::events
