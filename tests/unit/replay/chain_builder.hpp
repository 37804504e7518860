// Hand-made event logs for the replay tests: each agency's chain is built the way the writer
// builds it (sequence from 1, prev_hash = the previous event's hash, events::encode computing the
// hash), placed on a partition with increasing offsets, so tests can then break it on purpose.
#pragma once

#include <cstdint>
#include <deque>
#include <stdexcept>
#include <map>
#include <string>
#include <vector>

#include "carelog/base/ids.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/events/events.hpp"
#include "carelog/replay/replay.hpp"

namespace carelog::replay::testing {

struct stored {
    int partition = 0;
    std::int64_t offset = 0;
    std::string key;
    std::vector<std::uint8_t> bytes;
    events::envelope env;  // as encoded (hash filled in)

    record_view view() const { return record_view{partition, offset, key, bytes}; }
};

inline micros at(const char* rfc3339) {
    micros t = 0;
    if (!parse_rfc3339(rfc3339, t)) throw std::runtime_error(std::string("bad time in test: ") + rfc3339);
    return t;
}

inline const char* const argon2_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

inline events::AgencyCreated agency_created(const std::string& name, const std::string& slug) {
    return events::AgencyCreated{name, slug, events::default_settings(name)};
}

inline events::StaffCreated staff_created(const std::string& first, const std::string& last,
                                          const std::string& username, const std::string& role) {
    events::StaffCreated s;
    s.first_name = first;
    s.last_name = last;
    s.gender = "female";
    s.position = "Counselor";
    s.email = username + "@example.org";
    s.username = username;
    s.role = role;
    s.staff_type = "therapy_counseling";
    s.password_hash = argon2_hash;
    return s;
}

// A topic of several partitions; agencies append to the partition they are given.
class log_builder {
public:
    // Appends the agency's next event (sequence, prev_hash continue its chain) at the partition's
    // next offset.
    stored& append(const std::string& agency, int partition, std::string aggregate_id, std::uint64_t version,
                   events::payload data, micros occurred_at) {
        auto& c = chains_[agency];
        events::envelope e;
        e.event_id = "00000000-0000-7000-8000-" + twelve(++events_);
        e.agency_id = agency;
        e.aggregate_type = std::string(events::aggregate_type_of(data));
        e.aggregate_id = std::move(aggregate_id);
        e.aggregate_version = version;
        e.sequence = ++c.sequence;
        e.occurred_at = occurred_at;
        e.actor_id = "actor-1";
        e.command_id = "cmd-" + std::to_string(events_);
        e.correlation_id = "corr-" + std::to_string(events_);
        e.causation_id = "";
        e.prev_hash = c.last_hash;
        e.data = std::move(data);
        auto bytes = events::encode(e);
        c.last_hash = e.hash;
        return put(partition, agency, std::move(bytes), std::move(e));
    }

    // Appends raw bytes (a copy, a forgery, garbage) at the partition's next offset.
    stored& put(int partition, std::string key, std::vector<std::uint8_t> bytes, events::envelope env = {}) {
        records_.push_back(stored{partition, next_offset_[partition]++, std::move(key), std::move(bytes),
                                  std::move(env)});
        return records_.back();
    }

    std::deque<stored>& records() { return records_; }

private:
    static std::string twelve(std::uint64_t n) {
        std::string s = std::to_string(n);
        return std::string(12 - s.size(), '0') + s;
    }
    struct chain {
        std::uint64_t sequence = 0;
        sha256_digest last_hash{};
    };
    std::map<std::string, chain> chains_;
    std::map<int, std::int64_t> next_offset_;
    std::deque<stored> records_;  // deque: references to earlier records stay valid
    std::uint64_t events_ = 0;
};

}  // namespace carelog::replay::testing
