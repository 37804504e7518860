// Record views leave the node through a view_sink: the HTTP edge records each read of a client,
// staff member, thread, kiosk submission or list before it answers, and answers 503 when the
// sink refuses (a read is never served unaudited while fail-closed is on).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "carelog/base/errc.hpp"
#include "carelog/events/access_record.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::audit {

class view_sink {
public:
    virtual ~view_sink() = default;
    // Takes the view for delivery; errc::unavailable when it cannot (the buffer is full).
    virtual result<void> record(const events::record_viewed& v) = 0;
    // Prometheus text of the sink's counters ("" when it has none).
    virtual std::string metrics_text() const { return {}; }
};

// The access topic as a sink: each view is encoded (carelog_access.fbs) and queued on a buffered,
// idempotent producer keyed by agency (kafka::buffered_producer); at most `max_buffered` views
// are unacknowledged at once. With `fail_closed` (the default) a view that does not fit is refused
// (the read answers 503); without it the view is dropped, counted and logged, and the read goes on.
class kafka_view_sink final : public view_sink {
public:
    struct options {
        std::size_t max_buffered = 10000;
        bool fail_closed = true;
        int linger_ms = 20;
    };
    // Creates the access topic when missing (kept like the events: no retention limit).
    static result<std::unique_ptr<kafka_view_sink>> create(const kafka::config& cfg, const options& opts);
    result<void> record(const events::record_viewed& v) override;
    std::string metrics_text() const override;

private:
    kafka_view_sink(std::unique_ptr<kafka::buffered_producer> p, options o) : out_(std::move(p)), opts_(o) {}
    std::unique_ptr<kafka::buffered_producer> out_;
    options opts_;
    std::atomic<std::uint64_t> refused_{0}, dropped_{0};
};

}  // namespace carelog::audit
