// Feeds the projections' audit read model from the access topic: one thread reading every
// partition (read_committed) from the offsets stored with the data, applying each poll's views
// in one batch (projections::store::apply_access_batch). A storage error is retried, never
// skipped; a record that does not decode is logged with its partition and offset and counted.
// The thread runs at a lower priority (nice 10): it yields to requests under load and catches up
// after.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "carelog/kafka/kafka.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::audit {

class access_runner {
public:
    access_runner(kafka::config cfg, projections::store& store) : cfg_(std::move(cfg)), store_(store) {}
    ~access_runner() { stop(); }
    access_runner(const access_runner&) = delete;
    access_runner& operator=(const access_runner&) = delete;

    // Opens the reader at the stored offsets (the topic must exist) and starts the thread.
    result<void> start();
    void stop();
    std::string metrics_text() const;

private:
    void run();
    kafka::config cfg_;
    projections::store& store_;
    int partitions_ = 0;
    std::unique_ptr<kafka::log_reader> reader_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> applied_{0}, rejected_{0}, apply_errors_{0};
    std::thread thread_;
};

}  // namespace carelog::audit
