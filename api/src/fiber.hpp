// Connection fibers: the server runs each connection, its handlers included, on a stackful
// coroutine (Boost.Asio spawn) on the connection's io thread, so a handler written as plain
// sequential code can wait for the write engine, a projection or a password hash without holding
// a thread: the wait suspends the fiber and the io thread serves other connections. Outside a
// fiber (unit tests, tools) the same calls simply block the calling thread.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/context/stack_context.hpp>

namespace carelog::api::fiber {

using yield = boost::asio::basic_yield_context<boost::asio::any_io_executor>;

// The stacks fibers run on (a Boost.Context StackAllocator): 256 KiB each (JSON parsing, RocksDB
// reads and the domain's decide run on them; Argon2id runs on the blocking pool), mapped once with a
// guard page below (an overflow faults instead of writing over the heap), and kept for the next
// fiber when one ends. A connection's fiber would otherwise map (or malloc) and fault in a fresh
// stack for every connection, and give its pages back after.
class recycled_stack {
public:
    static constexpr std::size_t bytes = 256 * 1024;
    boost::context::stack_context allocate();
    void deallocate(boost::context::stack_context& sctx) noexcept;
};

// The fiber the calling code runs on, or null. Set by `scope` and restored after every suspension
// (a fiber may resume on another io thread).
yield* current() noexcept;

// Marks the calling code as running on `y` for the scope's lifetime.
class scope {
public:
    explicit scope(yield& y) noexcept;
    ~scope();
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
    // Before a suspension: the thread runs no fiber until another starts or one resumes.
    static void suspending() noexcept;
    // After a suspension: the fiber is current again on whatever thread resumed it.
    static void restore(yield* y) noexcept;
    // Restores `y` when it goes out of scope, however the suspension ends (a throw included).
    struct resumed {
        yield* y;
        ~resumed() { restore(y); }
    };

private:
    yield* saved_;
};

// Suspends the current fiber until `start(complete)` calls `complete(value)` (from any thread),
// and returns the value. Without a fiber, blocks the calling thread instead.
template <class T>
T await(const std::function<void(std::function<void(T)>)>& start) {
    yield* y = current();
    if (!y) {
        auto p = std::make_shared<std::promise<T>>();
        auto f = p->get_future();
        start([p](T v) { p->set_value(std::move(v)); });
        return f.get();
    }
    auto ex = y->get_executor();
    scope::suspending();
    const scope::resumed again(y);
    return boost::asio::async_initiate<yield&, void(T)>(
        [&start, ex](auto handler) {
            using handler_t = decltype(handler);
            auto h = std::make_shared<handler_t>(std::move(handler));
            start([h, ex](T v) mutable {
                boost::asio::post(boost::asio::get_associated_executor(*h, ex),
                                  [h, v = std::move(v)]() mutable { (*h)(std::move(v)); });
            });
        },
        *y);
}

// Sleeps without holding a thread when on a fiber.
void sleep(std::chrono::milliseconds d);

// Runs `work` on a fiber of its own on the calling fiber's executor, after the caller's answer: the
// caller does not wait for it. Without a fiber (unit tests, tools) it runs at once. An exception
// ends only the work (logged).
void spawn_detached(std::function<void()> work);

// Runs CPU-heavy work (Argon2id) on the blocking pool and suspends the fiber meanwhile; inline
// without a fiber.
void run_blocking(const std::function<void()>& work);

}  // namespace carelog::api::fiber
