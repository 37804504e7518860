#include "fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <latch>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <boost/asio/thread_pool.hpp>

#include "carelog/base/thread_name.hpp"

namespace carelog::api::fiber {

namespace {
thread_local yield* current_fiber = nullptr;

// Argon2id and other CPU-heavy work: a few threads, so io threads keep serving while it runs
// (password_policy bounds how many hashes run at once on top of this).
// Its threads are named "blocking-N" (not the name of the thread that first used the pool,
// which they would inherit): each takes one naming task, held until all have taken theirs. The
// tasks share ownership of the latch: the last arrival releases the caller, which may return
// while the other tasks are still inside arrive_and_wait reading the latch.
boost::asio::thread_pool& blocking_pool() {
    static boost::asio::thread_pool& pool = []() -> boost::asio::thread_pool& {
        const unsigned n = std::max(2u, std::thread::hardware_concurrency());
        static boost::asio::thread_pool p(n);
        auto named = std::make_shared<std::latch>(n);
        for (unsigned i = 0; i < n; ++i)
            boost::asio::post(p, [i, named] {
                name_this_thread("blocking-" + std::to_string(i));
                named->arrive_and_wait();
            });
        named->wait();
        return p;
    }();
    return pool;
}
// Stacks of ended fibers, ready for the next. Bounded: beyond it a stack is unmapped, so a burst
// of connections does not keep its stacks' touched pages resident for good.
struct stack_pool {
    std::mutex mu;
    std::vector<void*> free;  // each the lowest address of a mapping of guard + stack
    static constexpr std::size_t keep = 1024;
};
stack_pool& stacks() {
    static stack_pool* pool = new stack_pool;  // never destroyed: fibers may end during exit
    return *pool;
}
std::size_t page_bytes() {
    static const auto n = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return n;
}
}  // namespace

boost::context::stack_context recycled_stack::allocate() {
    void* base = nullptr;
    {
        auto& pool = stacks();
        std::lock_guard lock(pool.mu);
        if (!pool.free.empty()) {
            base = pool.free.back();
            pool.free.pop_back();
        }
    }
    const std::size_t guard = page_bytes();
    if (!base) {
        base = ::mmap(nullptr, guard + bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base == MAP_FAILED) throw std::bad_alloc();
        if (::mprotect(base, guard, PROT_NONE) != 0) {
            ::munmap(base, guard + bytes);
            throw std::bad_alloc();
        }
    }
    boost::context::stack_context sctx;
    sctx.size = bytes;
    sctx.sp = static_cast<char*>(base) + guard + bytes;  // stacks grow down from here
    return sctx;
}

void recycled_stack::deallocate(boost::context::stack_context& sctx) noexcept {
    const std::size_t guard = page_bytes();
    void* base = static_cast<char*>(sctx.sp) - sctx.size - guard;
    {
        auto& pool = stacks();
        std::lock_guard lock(pool.mu);
        if (pool.free.size() < stack_pool::keep) {
            pool.free.push_back(base);
            return;
        }
    }
    ::munmap(base, guard + sctx.size);
}

yield* current() noexcept { return current_fiber; }

scope::scope(yield& y) noexcept : saved_(current_fiber) { current_fiber = &y; }
scope::~scope() { current_fiber = saved_; }
void scope::suspending() noexcept { current_fiber = nullptr; }
void scope::restore(yield* y) noexcept { current_fiber = y; }

void sleep(std::chrono::milliseconds d) {
    yield* y = current();
    if (!y) {
        std::this_thread::sleep_for(d);
        return;
    }
    boost::asio::steady_timer t(y->get_executor(), d);
    boost::system::error_code ec;
    scope::suspending();
    const scope::resumed again(y);
    t.async_wait((*y)[ec]);
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
        y->get_executor(), std::allocator_arg, recycled_stack{},
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
