// The write side over Kafka: one writer thread per partition of the event topic. A writer holds
// the state of every agency on its partition in memory (rebuilt at start from its local snapshot
// plus the topic tail), decides commands one by one, appends the accepted events in one
// transaction (acks=all, idempotent, transactional.id per partition) and answers only after the
// commit. A newer carelogd initialising the same transactional.id fences this one for good.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "carelog/api/command_bus.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::api {

struct writer_options {
    std::size_t max_batch = 256;          // commands per transaction
    std::uint64_t snapshot_every = 1000;  // events between local snapshots
    std::chrono::milliseconds catch_up_deadline{60000};
};

class kafka_command_bus final : public command_bus {
public:
    kafka_command_bus(kafka::config cfg, int partitions, projections::store& local, clock_source& clock,
                      id_source& ids, writer_options opts = {});
    ~kafka_command_bus() override;

    // Starts the writer threads; each initialises its producer (fencing older writers) and catches
    // up in the background. Commands wait for that (bounded by the Kafka timeout).
    void start();
    // Finishes queued commands, writes final snapshots, stops the threads.
    void stop();

    result<command_result> submit(const std::string& agency_id, const command_meta& meta,
                                  const aggregates::command& cmd) override;
    result<std::vector<result<command_result>>> submit_batch(const std::string& agency_id, const command_meta& meta,
                                                             const std::vector<aggregates::command>& cmds,
                                                             bool dry_run) override;

    int partition_of(const std::string& agency_id) const;
    // Partitions whose writer was fenced by a newer process.
    std::vector<int> fenced_partitions() const;
    std::string metrics_text() const;

    class partition_writer;

private:
    kafka::config cfg_;
    int partitions_;
    std::vector<std::unique_ptr<partition_writer>> writers_;
};

}  // namespace carelog::api
