#include "fiber.hpp"

#include <thread>

#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/context/fixedsize_stack.hpp>
#include <spdlog/spdlog.h>
#include <boost/asio/thread_pool.hpp>

namespace carelog::api::fiber {

namespace {
thread_local yield* current_fiber = nullptr;

// Argon2id and other CPU-heavy work: a few threads, so io threads keep serving while it runs
// (password_policy bounds how many hashes run at once on top of this).
boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool pool(std::max(2u, std::thread::hardware_concurrency()));
    return pool;
}
}  // namespace

yield* current() noexcept { return current_fiber; }

scope::scope(yield& y) noexcept : saved_(current_fiber) { current_fiber = &y; }
scope::~scope() { current_fiber = saved_; }
void scope::restore(yield* y) noexcept { current_fiber = y; }

void sleep(std::chrono::milliseconds d) {
    yield* y = current();
    if (!y) {
        std::this_thread::sleep_for(d);
        return;
    }
    boost::asio::steady_timer t(y->get_executor(), d);
    boost::system::error_code ec;
    t.async_wait((*y)[ec]);
    scope::restore(y);
}

void spawn_detached(std::function<void()> work) {
    auto run = [](const std::function<void()>& w) {
        try {
            w();
        } catch (const std::exception& e) {
            spdlog::error("api: work after the answer threw: {}", e.what());
        }
    };
    yield* y = current();
    if (!y) {
        run(work);
        return;
    }
    boost::asio::spawn(
        y->get_executor(), std::allocator_arg, boost::context::fixedsize_stack(256 * 1024),
        [run, w = std::move(work)](yield inner) {
            scope on(inner);
            run(w);
        },
        boost::asio::detached);
}

void run_blocking(const std::function<void()>& work) {
    if (!current()) {
        work();
        return;
    }
    // Wrapped: a yield context treats a bare exception_ptr argument as its own error channel.
    struct outcome {
        std::exception_ptr failure;
    };
    auto out = await<outcome>([&work](std::function<void(outcome)> done) {
        boost::asio::post(blocking_pool(), [&work, done = std::move(done)] {
            outcome o;
            try {
                work();
            } catch (...) {
                o.failure = std::current_exception();
            }
            done(std::move(o));
        });
    });
    if (out.failure) std::rethrow_exception(out.failure);
}

}  // namespace carelog::api::fiber
