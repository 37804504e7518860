// The HTTP/1.1 server around handle(): Boost.Beast with C++20 coroutines (after Beast's
// example/advanced/server-flex-awaitable, without TLS) and the limits of advanced_server.cpp.
// Handlers run on fibers on the io threads (api/src/fiber.hpp): a command or a consistency wait
// suspends its fiber rather than holding a thread. Beast stays behind the pimpl.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "carelog/api/app.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

struct server_options {
    std::string address = "127.0.0.1";
    std::uint16_t port = 8080;           // 0 = any free port (see server::port())
    int io_threads = 2;
    std::chrono::milliseconds shutdown_grace{10000};  // stop(): in-flight requests get this long
};

class server {
public:
    // `ctx` must outlive the server.
    server(app_context& ctx, server_options opts);
    ~server();  // stop()s if still running
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds, listens and starts the io threads. errc::unavailable when the
    // address cannot be bound.
    result<void> start();
    // The bound port (after start()).
    std::uint16_t port() const;
    // Graceful: stops accepting, closes idle keep-alive connections, lets in-flight requests
    // finish (their responses carry Connection: close) for up to shutdown_grace, then closes
    // whatever is left and joins every thread. Idempotent; safe from any thread but the server's.
    void stop();
    // For main(): blocks until SIGINT or SIGTERM arrives (or stop() is called from elsewhere),
    // then stop()s gracefully.
    void run_until_signal();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace carelog::api
