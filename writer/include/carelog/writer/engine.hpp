// The write engine over Kafka. The partitions this node owns are split into lanes (partition
// groups); each lane has one thread that decides every command of its agencies against their
// state in memory, including what is decided but not yet committed, and group-commits everything
// queued across the lane's partitions in one Kafka transaction. Two transactional producers take
// turns, so the next batch is decided and produced while the previous one's commit is on the
// wire (see docs/architecture.md, "The write engine"). Answers go out only after the commit. A
// batch job of many rows runs beside them as a bulk job on a third producer (bulk_rows).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "carelog/base/ids.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/writer/command_bus.hpp"

namespace carelog::writer {

// Entries of several namespaces: (namespace, its (key, value)s).
using namespaced_entries = std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>;

// Where a lane keeps its snapshots: the node's local key/value state (RocksDB in carelogd).
class snapshot_store {
public:
    virtual ~snapshot_store() = default;
    virtual std::optional<std::string> get(const std::string& ns, const std::string& key) const = 0;
    virtual std::vector<std::pair<std::string, std::string>> scan(const std::string& ns,
                                                                  const std::string& prefix) const = 0;
    // fn(key, value) for every key under prefix, in key order, without copying them out.
    virtual void each(const std::string& ns, const std::string& prefix,
                      const std::function<void(std::string_view, std::string_view)>& fn) const = 0;
    virtual result<void> put(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs) = 0;
    // Several namespaces' entries, each namespace's all or nothing. A store that can write them
    // in one batch overrides it; this one puts each namespace in turn (a failure may leave the
    // namespaces before it written, which the writer then writes again).
    virtual result<void> put_all(const namespaced_entries& batches) {
        for (const auto& [ns, kvs] : batches)
            if (auto r = put(ns, kvs); !r) return r;
        return {};
    }
};

struct engine_options {
    // Partition groups of the topic: partition p belongs to group p % groups, and each group is one
    // lane with its own transactional ids (<prefix>writer-g<g>of<groups>-a|b|bulk). Fixed per topic: every
    // node of a topic must use the same value, or fencing does not reach across them.
    int groups = 1;
    // The groups this node owns (empty = all of them).
    std::vector<int> owned_groups;
    std::size_t max_batch = 4096;        // commands per transaction
    // Under load a lane takes its queue at most once per `gather`, unless `gather_batch` commands
    // are queued before that: once a batch of at least `gather_from` commands was taken, the next
    // waits until `gather` after it or until the queue holds gather_batch. Fewer, larger
    // transactions cost the broker and librdkafka less per command (docs/performance.md); a lane
    // with little to do (batches below gather_from) takes each command at once, so a light load's
    // latency does not change; a lane with more to do than gather_batch per `gather` commits as
    // soon as a transaction's worth is queued, so gathering never caps commands/s at what the
    // clients keep in flight per `gather`. A zero `gather` turns it off.
    std::chrono::milliseconds gather{40};
    std::size_t gather_from = 128;
    std::size_t gather_batch = 512;
    std::size_t max_queue = 20000;       // commands waiting per lane; beyond: errc::unavailable at once
    std::chrono::milliseconds queue_timeout{10000};  // a command waiting longer is dropped undecided
    // A batch job of more rows than this (a client import) runs as a bulk job: bulk_chunk rows per
    // turn of the lane, in a transaction of its own kept open across turns, so the lane's other
    // agencies go on committing meanwhile; only its own agency's commands wait for it.
    std::size_t bulk_rows = 2000;
    std::size_t bulk_chunk = 2000;
    // Dirty agencies are snapshotted this often. A round runs on the lane between batches, one
    // partition per turn, and commands arriving meanwhile wait for that turn; its cost grows with
    // what changed since the last round, so rounds every second keep that wait short
    // (docs/performance.md, "Snapshot rounds every second", "Snapshot rounds in turns").
    std::chrono::seconds snapshot_interval{1};
    // Staff members and clients the node's lanes hold in memory together (split evenly between
    // them). Beyond it, after each snapshot, a lane lets go of those whose committed state its
    // snapshot holds, the least recently used first, and reads them back when a command or an event
    // needs them. Aggregates changed since their last written snapshot always stay, so a lane may
    // hold more for a while (a catch-up snapshots as it reads and lets go of what its snapshots
    // wrote).
    std::size_t resident_aggregates = 100000;
    // The same while a lane catches up with the log (at start, and when it re-initialises), at
    // most resident_aggregates. A catch-up folds each aggregate's events and seldom meets it
    // again before the lane is live, so it keeps few: every round of its snapshots writes what
    // was read and lets it go, and the lane goes live holding this many; commands read back what
    // they need. A rebuild of 1M events (100,000 staff) peaked at 462-481 MiB against 658-695 MiB
    // with 100,000, and was no slower (docs/performance.md, "A catch-up that keeps few aggregates").
    std::size_t catch_up_resident_aggregates = 10000;
    // A catch-up whose reader brings nothing (no record, no partition's end) for this long fails
    // (errc::unavailable); the lane tries again on its next command.
    std::chrono::milliseconds catch_up_deadline{60000};
    kafka::txn_producer::options producer;
    // Largest encoded event the log takes (below the producer's message.max.bytes and the topic's
    // max.message.bytes, with room for key and headers).
    std::size_t max_event_bytes = 1000000 - 16 * 1024;
    // Tests only: called before each commit with the lane's transaction number; true = abort it
    // instead (as a broker would on a failed commit). Normal transactions are committed by the
    // committer thread while the lane produces the next one, so the abort is seen where a real
    // failed commit is.
    std::function<bool(int group, std::uint64_t txn)> fail_commit;
    // Tests only: called on the lane before it produces a batch (not a bulk job's rows), with its
    // transaction number; the lane waits for it to return.
    std::function<void(int group, std::uint64_t txn)> before_produce;
};

class engine final : public command_bus {
public:
    engine(kafka::config cfg, int partitions, snapshot_store& local, clock_source& clock, id_source& ids,
           engine_options opts = {});
    ~engine() override;

    // Starts the lanes; each initialises its producers (fencing older writers of its group) and
    // catches up in the background. Commands wait for that (bounded by queue_timeout).
    void start();
    // Answers what is queued, writes final snapshots, stops the threads.
    void stop();

    void submit(const std::string& agency_id, const command_meta& meta, aggregates::command cmd,
                command_done done) override;
    void submit_batch(const std::string& agency_id, const command_meta& meta, std::vector<aggregates::command> cmds,
                      bool dry_run, batch_done done) override;
    std::int64_t committed_end(int partition) const override;

    int partition_of(const std::string& agency_id) const override;
    // Partitions whose lane was fenced by a newer process.
    std::vector<int> fenced_partitions() const;
    // Every lane this node owns has caught up with the log and answers commands.
    bool caught_up() const;
    std::string metrics_text() const;

    class lane;

private:
    struct timings;

    kafka::config cfg_;
    int partitions_;
    engine_options opts_;
    std::unique_ptr<timings> timings_;          // every lane's, one set per engine
    std::vector<std::unique_ptr<lane>> lanes_;  // by group; null when not owned
};

}  // namespace carelog::writer
