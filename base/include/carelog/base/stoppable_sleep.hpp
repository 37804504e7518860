// A sleep that a std::jthread's stop request ends at once: for threads that look at something
// every so often and must not hold up a shutdown by a whole period.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>

namespace carelog {

// Sleeps for `d` or until `stop` is requested, whichever comes first; false when it was stopped.
inline bool sleep_unless_stopped(std::stop_token stop, std::chrono::milliseconds d) {
    std::mutex mu;
    std::condition_variable_any never_notified;
    std::unique_lock lock(mu);
    never_notified.wait_for(lock, stop, d, [] { return false; });
    return !stop.stop_requested();
}

}  // namespace carelog
