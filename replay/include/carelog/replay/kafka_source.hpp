// Where carelog-replay's records come from: the `<prefix>events` topic, read with read_committed
// from the beginning of each partition to its end (the first end the reader reaches: records
// appended while the tool runs may be left out, never half of a transaction). The auditors'
// tool only reads: it never creates a topic, never commits offsets, never joins a group that
// another reader shares.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "carelog/base/errc.hpp"
#include "carelog/replay/replay.hpp"

namespace carelog::replay {

struct source_options {
    std::string brokers = "127.0.0.1:9092";
    std::string topic_prefix = "carelog.";
    // Bounded wait for any broker round trip, and for progress while reading: a partition that
    // yields neither a record nor its end within this time fails the run (errc::unavailable).
    std::chrono::milliseconds timeout{10000};
    // A span of the log by time: start each partition at its first record whose Kafka timestamp is
    // at or after `from` (Kafka's offsets-for-times) and stop it at its first record past `to`,
    // instead of reading from the beginning to the end. Both are widened by `clock_margin`: a
    // record's Kafka timestamp is taken when it is produced, after its envelope's occurred_at, and
    // the writer's producers take turns; callers filter by occurred_at exactly.
    std::optional<micros> from;
    std::optional<micros> to;
    // Progress on stderr about once a second (position, records/s, time left): for a terminal.
    bool progress = false;

    // How far the span is widened on both sides: the time between an event's occurred_at and its
    // record's produce (a moment, the same clock), plus room for the clock being stepped.
    std::chrono::milliseconds clock_margin{5000};

    std::string events_topic() const { return topic_prefix + "events"; }
};

// The topic's partition count from the broker's metadata; errc::not_found when the topic does not
// exist (it is not created), errc::unavailable when the broker does not answer in time.
result<int> partition_count(const source_options& opts, const std::string& topic);

// The partition an agency's events live on (murmur2 of the agency id, as the writer and the Java
// client pick it).
int partition_of(std::string_view agency_id, int partition_count);

enum class read_order {
    partition_by_partition,  // all of partition 0, then 1, ...: a deterministic output order
    interleaved,             // one reader for all partitions at once: faster; per-partition order only
};

// What a read covered, for the summary line.
struct read_stats {
    std::size_t records = 0;
    double seconds = 0;
};
// "read N records in S s (R records/s)"
std::string describe(const read_stats& s);

// Reads each partition in `partitions` from its first offset (or from opts.from) to its end (read_committed: the last
// stable offset) as first reached, handing every record to `on_record`, each partition's records in
// offset order. Returns the number of records read.
result<std::size_t> read_partitions(const source_options& opts, const std::string& topic,
                                    const std::vector<int>& partitions, read_order order,
                                    const std::function<void(const record_view&)>& on_record,
                                    read_stats* stats = nullptr);

}  // namespace carelog::replay
