// carelog's only contact with librdkafka: topic administration, the transactional producer of a
// partition's writer, and readers of the log. librdkafka headers stay inside kafka/src.
//
// Every call is bounded by `timeout`; an unreachable broker is errc::unavailable, never a hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/base/errc.hpp"

namespace carelog::kafka {

struct config {
    std::string brokers = "127.0.0.1:9092";
    std::string topic_prefix = "carelog.";
    int partitions = 12;               // when creating the topic
    int replication_factor = 1;        // 3 in production
    int min_insync_replicas = 1;       // 2 in production
    std::chrono::milliseconds timeout{5000};  // bounded wait for any broker round trip

    std::string events_topic() const { return topic_prefix + "events"; }
    // Outgoing notifications (reset links, invitations) for the notifier: finite retention.
    std::string notifications_topic() const { return topic_prefix + "notifications"; }
    // Records of the events topic that projections refused to apply (undecodable, or not
    // continuing their agency's hash chain), with their source partition, offset and reason.
    std::string quarantine_topic() const { return topic_prefix + "quarantine"; }
    // Record views (who read which record, when, from where), keyed by agency: kept like events.
    std::string access_topic() const { return topic_prefix + "access"; }
};

// Creates `topic` when missing (retention.ms=-1, cleanup.policy=delete, min.insync.replicas) and
// refuses (errc::internal with a clear message) a topic with finite retention or compaction.
// Returns the topic's partition count.
result<int> ensure_topic(const config& cfg, const std::string& topic);

// Creates the notifications topic when missing with a FINITE retention (`retention_ms`): its records
// are deliveries to make, not history, and they carry sealed links that should not live forever.
// Only this topic may have one; an existing topic is accepted as it is. Returns its partition count.
result<int> ensure_notifications_topic(const config& cfg, const std::string& topic, std::int64_t retention_ms);

// The Java client's default partitioner (murmur2 of the key), so analytics consumers and other
// producers agree on where an agency lives.
int partition_for(std::string_view key, int partition_count);

// The librdkafka this process runs: its version and the file it was loaded from.
std::string library_in_use();

struct header {
    std::string name;
    std::string value;
};

struct outgoing {
    int partition = -1;  // explicit partition (the writer's); -1 = murmur2 of the key
    std::string key;
    std::vector<std::uint8_t> value;
    std::vector<header> headers;
};

// How a transactional call failed, as far as what is in the log goes.
enum class txn_outcome {
    not_committed,  // certainly nothing of the transaction is or will be visible (aborted, or never begun)
    unknown,        // the commit may or may not have completed (timeout, fatal error): read the log to know
    fenced,         // a newer producer took over the transactional.id; nothing of ours will be committed
};

struct txn_error {
    error err;
    txn_outcome outcome = txn_outcome::not_committed;
    bool fenced() const { return outcome == txn_outcome::fenced; }
};

// One transactional producer (acks=all, idempotent) writing to any partitions of one topic. A
// transaction is begin(), produce() (returns once every record is acknowledged, with its offset),
// then commit() or abort(). Records of one produce() call are acknowledged before it returns, so a
// second producer may write after them to the same partitions and keep their order.
class txn_producer {
public:
    struct options {
        // Producer settings chosen by measurement (docs/architecture.md, "Group commit").
        int linger_ms = 0;
        std::string compression = "none";
        std::size_t max_message_bytes = 1000000;  // librdkafka's message.max.bytes
    };
    static std::expected<std::unique_ptr<txn_producer>, txn_error> create(const config& cfg, std::string topic,
                                                                           std::string transactional_id,
                                                                           const options& opts);
    ~txn_producer();
    std::expected<void, txn_error> begin();
    // Offsets of the records, in order, once all are acknowledged (not yet committed).
    std::expected<std::vector<std::int64_t>, txn_error> produce(std::span<const outgoing> records);
    std::expected<void, txn_error> commit();
    // Aborts the open transaction; an error means its outcome is not known from here.
    std::expected<void, txn_error> abort();
    const std::string& transactional_id() const;

    struct impl;

private:
    explicit txn_producer(std::unique_ptr<impl> p);
    std::expected<std::vector<std::int64_t>, txn_error> produce_all(std::span<const outgoing> records);
    std::expected<void, txn_error> commit_once();
    std::unique_ptr<impl> impl_;
};

// A plain (non-transactional) producer: acks=all, idempotent. send() answers once the record is
// acknowledged by every in-sync replica (or fails within cfg.timeout). For the notifications topic.
class producer {
public:
    static result<std::unique_ptr<producer>> create(const config& cfg);
    ~producer();
    // The record's offset once acknowledged; the partition comes from the key (murmur2).
    result<std::int64_t> send(const std::string& topic, const std::string& key, std::span<const std::uint8_t> value,
                              const std::vector<header>& headers);

    struct impl;

private:
    explicit producer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

// A producer for records that may wait a little but must not be lost (record views): send() only
// queues the record and returns; librdkafka batches it (linger_ms) and retries it until the broker
// acknowledges it (acks=all, idempotent, no delivery timeout). At most `max_buffered` records are
// unacknowledged: beyond that send() answers errc::unavailable at once, without queueing. A failed
// delivery (a permanent error) is counted and logged. A record may stand for several items (its
// `weight`: the views it carries); the counts are of items. The destructor waits up to cfg.timeout
// for what is still buffered.
class buffered_producer {
public:
    struct options {
        std::size_t max_buffered = 10000;
        int linger_ms = 20;
        std::string compression = "none";
    };
    static result<std::unique_ptr<buffered_producer>> create(const config& cfg, std::string topic, const options& opts);
    ~buffered_producer();
    result<void> send(std::string_view key, std::span<const std::uint8_t> value, const std::vector<header>& headers,
                      std::size_t weight = 1);

    struct counts {
        std::uint64_t delivered = 0;
        std::uint64_t failed = 0;
        std::size_t buffered = 0;  // queued or in flight, not yet acknowledged
    };
    counts stats() const;

    struct impl;

private:
    explicit buffered_producer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

struct record {
    int partition = 0;
    std::int64_t offset = 0;
    std::span<const std::uint8_t> value;
    std::string_view key;
    std::int64_t timestamp_ms = -1;  // the record's Kafka timestamp (the producer's CreateTime); -1 none
};

// How a log_reader fetches. librdkafka 2.0.2 stops fetching a partition for about a second
// whenever its queue passes the first two bounds: a reader that consumes faster than that
// (carelog-replay, ~800,000 records/s) idles most of the time unless they are high, while a reader
// that applies as it reads (the projections) keeps its memory bound with the defaults.
struct reader_tuning {
    int max_kbytes = 65536;     // queued.max.messages.kbytes
    int min_messages = 100000;  // queued.min.messages (per partition)
    // fetch.wait.max.ms: how long the broker holds a fetch that finds nothing new. A fetch returns
    // as soon as records arrive, so this bounds only how late the end of the log is reported
    // (on_eof) and how often a reader at the end asks again. Each ask costs the broker CPU: three
    // readers asking every 20 ms kept ~8 % of a core busy on an idle broker. A reader that reads
    // to the end and stops wants it short; one that follows the log for good wants it long
    // (follow_tuning).
    int idle_fetch_ms = 20;
};
// For a reader that follows the log as long as the process runs (the projections, the audit
// model): its end is reported up to 250 ms late (once, at start), and it asks 4 times a second
// while nothing is written. It applies as it reads, ~15,000 records (~11 MB) a second per
// applier while catching up, so 16 MiB fetched ahead outlasts librdkafka's one-second pause and
// the applier never waits for the broker; each reader of a rebuild holds ~65 MiB less than with
// 64 MiB ahead (docs/performance.md, "A rebuild's peak memory").
inline constexpr reader_tuning follow_tuning{.max_kbytes = 16384, .idle_fetch_ms = 250};

// Reads committed records (isolation.level=read_committed) of the given partitions from the
// given offsets. `poll` hands records to the callback and reports partitions that reached their
// end (the last stable offset) through `on_eof`.
class log_reader {
public:
    struct start {
        int partition;
        std::int64_t offset;  // 0 = beginning
    };
    static result<std::unique_ptr<log_reader>> open(const config& cfg, const std::string& topic,
                                                    const std::vector<start>& starts, reader_tuning ahead = {});
    ~log_reader();

    // Waits up to `wait` for records. Returns the number of records handed out, or an error
    // (errc::unavailable on transport trouble that persisted, errc::internal on a fatal one).
    result<int> poll(std::chrono::milliseconds wait, const std::function<void(const record&)>& on_record,
                     const std::function<void(int partition, std::int64_t next_offset)>& on_eof);
    // Next offset the reader will return for a partition (after control records too).
    std::int64_t position(int partition) const;
    // High watermark as last seen (cached, no round trip); -1 unknown.
    std::int64_t high_watermark(int partition) const;

    struct impl;

private:
    explicit log_reader(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

// A member of a consumer group (the notifier): the group splits the topic's partitions among its
// members, and each member commits how far it got. Offsets are committed only by commit(), never
// automatically, so a record is done when its handler says so; after a restart or a rebalance the
// group resumes at the last committed offset (auto.offset.reset=earliest for a new group).
class group_consumer {
public:
    static result<std::unique_ptr<group_consumer>> open(const config& cfg, const std::string& topic,
                                                        const std::string& group_id);
    ~group_consumer();  // leaves the group (commits nothing more)

    // One record, waiting up to `wait`; nullopt when none arrived. Transport trouble is retried by
    // librdkafka; only fatal errors are returned.
    result<std::optional<record>> next(std::chrono::milliseconds wait);
    // Commits `next_offset` for `partition` (synchronously: returns once the coordinator has it).
    result<void> commit(int partition, std::int64_t next_offset);
    // Delivers `partition` again from `offset` (a record whose handling failed and will be retried).
    result<void> rewind(int partition, std::int64_t offset);

    struct impl;

private:
    explicit group_consumer(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

// Where each partition's first record with a Kafka timestamp at or after `time_ms` is (Kafka's
// offsets-for-times); a partition with none gets its end offset. errc::unavailable when the
// broker does not answer within the config's timeout.
result<std::map<int, std::int64_t>> offsets_for_time(const config& cfg, const std::string& topic,
                                                      const std::vector<int>& partitions, std::int64_t time_ms);

// Each partition's first and end offsets (low and high watermarks), asked of the broker.
result<std::map<int, std::pair<std::int64_t, std::int64_t>>> watermarks(const config& cfg, const std::string& topic,
                                                                         const std::vector<int>& partitions);

// Reads one partition from `from` to its current end and returns the offset after the end.
// Used by a writer to catch up before it accepts commands. Bounded by `deadline`.
result<std::int64_t> read_to_end(const config& cfg, const std::string& topic, int partition, std::int64_t from,
                                 std::chrono::milliseconds deadline,
                                 const std::function<void(const record&)>& on_record);

// High watermark of every partition of `topic` (one round trip each, bounded by cfg.timeout).
result<std::vector<std::int64_t>> high_watermarks(const config& cfg, const std::string& topic, int partitions);

}  // namespace carelog::kafka
