// One poll's records, copied out of librdkafka's messages into two arenas — values 8-byte aligned
// (FlatBuffers reads scalars in place), keys beside them — and handed to the store as
// incoming_records. Shared by the consumers that apply the event and access topics in batches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "carelog/kafka/kafka.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::projections {

class polled_batch {
public:
    void clear() {
        at_.clear();
        values_.clear();
        keys_.clear();
        records_.clear();
    }
    void add(const kafka::record& r) {
        values_.resize((values_.size() + 7) & ~std::size_t{7});
        at_.push_back({r.partition, r.offset, values_.size(), r.value.size(), keys_.size(), r.key.size()});
        values_.insert(values_.end(), r.value.begin(), r.value.end());
        keys_.append(r.key);
    }
    bool empty() const { return at_.empty(); }
    // The records added since clear(), valid until the next add() or clear().
    std::span<const incoming_record> records() {
        records_.clear();
        for (const auto& a : at_)
            records_.push_back({a.partition, a.offset, std::span(values_.data() + a.value_at, a.value_size),
                                std::string_view(keys_.data() + a.key_at, a.key_size)});
        return records_;
    }

private:
    struct where {
        int partition;
        std::int64_t offset;
        std::size_t value_at, value_size, key_at, key_size;
    };
    std::vector<where> at_;
    std::vector<std::uint8_t> values_;
    std::string keys_;
    std::vector<incoming_record> records_;
};

}  // namespace carelog::projections
