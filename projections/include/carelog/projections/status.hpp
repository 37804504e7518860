// What the HTTP edge asks of the read side: whether the projections have applied a point of the
// log, whether they caught up at start, and their metrics.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "carelog/base/errc.hpp"

namespace carelog::projections {

// Read-your-writes: consistency tokens name a point in the log; projections report when they
// have applied it.
class status {
public:
    virtual ~status() = default;
    // True once the projections applied the command behind `token`; false after `timeout`.
    // A malformed token is errc::malformed.
    virtual result<bool> wait_for(const std::string& token, std::chrono::milliseconds timeout) = 0;
    // The same without blocking: `done` is called exactly once, from any thread, with what
    // wait_for would answer (true when applied, false once `timeout` passed, or the error). The
    // default blocks the caller in wait_for; a real projection registers the waiter instead.
    using applied_callback = std::function<void(result<bool>)>;
    virtual void when_applied(const std::string& token, std::chrono::milliseconds timeout, applied_callback done) {
        done(wait_for(token, timeout));
    }
    // True once the projections caught up with the log as it was when the server started.
    virtual bool ready() const = 0;
    // Prometheus text lines for lag and counters (may be empty).
    virtual std::string metrics_text() const = 0;
};

}  // namespace carelog::projections
