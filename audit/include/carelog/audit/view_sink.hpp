// Record views leave the node through a view_sink: the HTTP edge records each read of a client,
// staff member, thread, kiosk submission or list before it answers, and answers 503 when the
// sink refuses (a read is never served unaudited while fail-closed is on).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "carelog/base/errc.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/events/access_record.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::audit {

class view_sink {
public:
    virtual ~view_sink() = default;
    // Takes the view for delivery (copied: `v` may point into the request; the sink gives it its
    // view_id); errc::unavailable when it cannot (the buffer is full).
    virtual result<void> record(const events::record_viewed_ref& v) = 0;
    // Prometheus text of the sink's counters ("" when it has none).
    virtual std::string metrics_text() const { return {}; }
};

// The access topic as a sink. record() only copies the view's fields into an in-memory arena (one
// buffer, no allocation per view, no encoding, no Kafka call, no id on the request's thread); a
// thread of the sink drains the arena every 500 ms (sooner when tens of thousands wait): it gives
// each view its id (UUIDv7), and sends each agency's views as one record (RecordViews,
// carelog_access.fbs; several when they are many) keyed by the agency on a buffered, idempotent
// producer (kafka::buffered_producer), which retries it until the broker acknowledges it. At most
// `max_buffered` views are on their way at once (queued here or unacknowledged by the broker). With `fail_closed` (the default) a view beyond that is
// refused (the read answers 503); without it the view is dropped, counted and logged.
class kafka_view_sink final : public view_sink {
public:
    struct options {
        std::size_t max_buffered = 100000;
        bool fail_closed = true;
        int linger_ms = 20;
    };
    // Creates the access topic when missing (kept like the events: no retention limit).
    static result<std::unique_ptr<kafka_view_sink>> create(const kafka::config& cfg, const options& opts);
    // Hands what is queued to the producer, which waits up to the config's timeout for it.
    ~kafka_view_sink() override;
    result<void> record(const events::record_viewed_ref& v) override;
    std::string metrics_text() const override;

private:
    kafka_view_sink(std::unique_ptr<kafka::buffered_producer> p, options o);
    void run();
    // Encodes and produces a drained arena of `n` views (the sink's thread).
    void send(std::string_view arena, std::size_t n);

    std::unique_ptr<kafka::buffered_producer> out_;
    options opts_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::string arena_;                         // views taken, one after another; guarded by mu_
    std::size_t arena_views_ = 0;               // how many; guarded by mu_
    bool stopping_ = false;                     // guarded by mu_
    std::atomic<std::size_t> queued_{0};        // views taken and not yet handed to the producer
    std::atomic<std::uint64_t> refused_{0}, dropped_{0}, unsent_{0};
    std::array<unsigned char, 6> node_random_{};  // the random bits of this process's view ids
    std::uint32_t counter_ = 0;                   // the counter of its view ids (the sink's thread)
    std::vector<std::unique_ptr<events::views_encoder>> encoders_;  // reused from drain to drain (the sink's thread)
    std::thread thread_;
};

}  // namespace carelog::audit
