// The Beast HTTP/1.1 server around handle(), after Beast's example/advanced/server-flex-awaitable
// (coroutines, as_tuple error codes, cancellation; no TLS) with advanced_server.cpp's limits:
// body and header limits, a header-read timeout, an idle keep-alive timeout, and a bounded
// pipeline: a connection has one request in flight, later pipelined requests wait in its
// (bounded) buffer and in the kernel, so a client cannot queue unbounded work.
//
// Threads: N io threads, each running an io_context of its own (Beast's io_context per thread);
// the acceptor hands connections to them in turn, and a connection lives on its thread for its
// life, so its handlers never need a strand and the io threads share no queue. Each connection
// runs on a fiber of its own (fiber.hpp), its handlers on that fiber: a command, a consistency
// wait or a password hash suspends the fiber instead of holding a thread, and thousands of
// requests can wait for the write engine on two io threads. A fiber per connection, not per
// request: a request costs no fiber's start and end and no trip through the scheduler to and from
// it; an open connection holds a stack (fiber.hpp: 256 KiB mapped, the pages it has touched
// resident).
#include "carelog/api/server.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "carelog/api/problem.hpp"
#include "carelog/base/thread_name.hpp"
#include "fiber.hpp"

namespace carelog::api {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Lingering close after refusing a request mid-body (413 and friends): the client may still be
// sending; discarding what it sends for a moment lets it read our answer instead of a reset.
constexpr std::size_t linger_max_bytes = 8u << 20;
constexpr auto linger_time = std::chrono::seconds(2);

std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

struct connection {
    explicit connection(tcp::socket s) : stream(std::move(s)), idle_timer(stream.get_executor()) {}
    beast::tcp_stream stream;
    // The wait for a request's first byte ends idle_limit after idle_since (watch_idle). Only this
    // connection's thread reads or writes these three.
    net::steady_timer idle_timer;
    std::chrono::steady_clock::time_point idle_since{};
    std::chrono::steady_clock::duration idle_limit{};
    std::atomic<bool> idle{true};  // waiting for the first byte of the next request
    std::string head;              // the answer's status line and fields, rendered for sending
};

// Closes the connection once it has waited idle_limit for a request's first byte, with one timer
// for its life instead of a timer operation per request (Beast's stream arms and cancels its timer
// around every read, two trips through the reactor's timer queue under its lock): the timer is
// armed for the deadline as it stood, and when it fires early, because requests came since or one
// is being answered, it is armed again for the deadline as it stands now. A connection waiting
// for its first byte is cancelled; its read ends and the session closes it.
void watch_idle(const std::shared_ptr<connection>& c) {
    const auto now = std::chrono::steady_clock::now();
    c->idle_timer.expires_at(c->idle ? c->idle_since + c->idle_limit : now + c->idle_limit);
    c->idle_timer.async_wait([c](const beast::error_code& ec) {
        if (ec) return;  // the session ended
        if (c->idle && std::chrono::steady_clock::now() >= c->idle_since + c->idle_limit) {
            beast::error_code ignored;
            c->stream.socket().cancel(ignored);
            return;
        }
        watch_idle(c);
    });
}

// An answer's status line and fields as Beast's serializer writes them: "HTTP/1.1 200 OK", each
// field in order as "Name: value", and a blank line.
void render_head(const http_response& res, std::string& out) {
    out.clear();
    const unsigned v = res.version();
    const unsigned status = res.result_int();
    const char line[] = {'H', 'T', 'T', 'P', '/', static_cast<char>('0' + v / 10), '.', static_cast<char>('0' + v % 10),
                         ' ', static_cast<char>('0' + status / 100 % 10), static_cast<char>('0' + status / 10 % 10),
                         static_cast<char>('0' + status % 10), ' '};
    out.append(line, sizeof line);
    out.append(sv(res.reason()));
    out.append("\r\n");
    for (const auto& f : res) {
        out.append(sv(f.name_string()));
        out.append(": ");
        out.append(sv(f.value()));
        out.append("\r\n");
    }
    out.append("\r\n");
}

}  // namespace

struct server::impl {
    impl(app_context& c, server_options o) : ctx(c), opts(std::move(o)) {
        for (int i = 0; i < std::max(1, opts.io_threads); ++i) {
            // One thread runs each context: the hint lets Asio skip what only many runners need.
            iocs.push_back(std::make_unique<net::io_context>(1));
            keep_running.emplace_back(iocs.back()->get_executor());
        }
    }

    app_context& ctx;
    server_options opts;
    std::vector<std::unique_ptr<net::io_context>> iocs;  // one per io thread
    std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;  // until stop()
    std::size_t next_ioc = 0;  // the accept loop's turn
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::atomic<bool> stopping{false};
    std::uint16_t bound_port = 0;

    std::mutex m;  // guards conns, accepting, started, stopped
    std::condition_variable cv;
    std::set<std::shared_ptr<connection>> conns;
    std::map<net::ip::address, std::size_t> per_address;  // open connections by source address
    std::chrono::steady_clock::time_point refused_logged{};
    bool accepting = false;
    bool started = false;
    bool stopped = false;
    std::mutex stop_m;  // serialises stop()

    void log_request(std::string_view method, std::string_view route, int status, std::chrono::microseconds us) {
        spdlog::info("http {} {} {} {}us", method, route, status, us.count());
    }

    net::awaitable<void> accept_loop() {
        for (;;) {
            auto& to = *iocs[next_ioc++ % iocs.size()];
            auto [ec, sock] = co_await acceptor->async_accept(to.get_executor(), use_tuple);
            if (ec) {
                if (stopping || ec == net::error::operation_aborted) break;
                spdlog::warn("http accept: {}", ec.message());
                if (ec == net::error::no_descriptors) {
                    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(100));
                    co_await t.async_wait(use_tuple);
                }
                continue;
            }
            // Non-blocking for the synchronous first attempt at sending an answer (send): it
            // must return what it could write, never wait for the client to read.
            boost::system::error_code nbec;
            sock.non_blocking(true, nbec);
            if (nbec) {
                sock.close(nbec);
                continue;
            }
            boost::system::error_code pec;
            const auto peer = sock.remote_endpoint(pec).address();
            const config& cfg = ctx.cfg;
            {
                std::lock_guard lock(m);
                if (stopping) break;
                if (conns.size() >= cfg.max_connections || per_address[peer] >= cfg.max_connections_per_address) {
                    // Over a cap: closed before a byte is read, then counted; logged at most once a second.
                    boost::system::error_code cec;
                    sock.close(cec);
                    const std::uint64_t refused = ctx.m.connection_refused();
                    auto now = std::chrono::steady_clock::now();
                    if (now - refused_logged >= std::chrono::seconds(1)) {
                        refused_logged = now;
                        spdlog::warn("http: connection from {} refused: {} open in total, {} from it (caps {} and {}); "
                                     "{} refused so far",
                                     peer.to_string(), conns.size(), per_address[peer], cfg.max_connections,
                                     cfg.max_connections_per_address, refused);
                    }
                    if (per_address[peer] == 0) per_address.erase(peer);
                    continue;
                }
                ++per_address[peer];
            }
            auto c = std::make_shared<connection>(tcp::socket(std::move(sock)));
            {
                std::lock_guard lock(m);
                conns.insert(c);
            }
            auto ended = [this, c, peer] {
                std::lock_guard lock(m);
                conns.erase(c);
                if (auto it = per_address.find(peer); it != per_address.end() && --it->second == 0) per_address.erase(it);
                cv.notify_all();
            };
            try {
                net::spawn(
                    c->stream.get_executor(), std::allocator_arg, fiber::recycled_stack{},
                    [this, c](fiber::yield y) { session(c, std::move(y)); },
                    [ended](std::exception_ptr e) {
                        if (e) {
                            try {
                                std::rethrow_exception(e);
                            } catch (const std::exception& ex) {
                                spdlog::error("http session ended by exception: {}", ex.what());
                            } catch (...) {
                                spdlog::error("http session ended by an unknown exception");
                            }
                        }
                        ended();
                    });
            } catch (const std::exception& e) {
                // No stack for its fiber (the mapping failed): this connection is closed unserved,
                // and the server goes on accepting.
                spdlog::error("http: connection from {} closed unserved: {}", peer.to_string(), e.what());
                beast::error_code ignored;
                c->stream.socket().close(ignored);
                ended();
            }
        }
        std::lock_guard lock(m);
        accepting = false;
        cv.notify_all();
    }

    // Answers a request the parser refused (no handler ran), then closes with a linger.
    void refuse(connection& c, const problem& p, unsigned version, std::string_view method,
                std::chrono::steady_clock::time_point t0, fiber::yield& y) {
        http_response res = problem_response(p, version == 10 ? 10 : 11);
        res.keep_alive(false);
        res.set(http::field::cache_control, "no-store");
        res.prepare_payload();
        c.stream.expires_after(ctx.cfg.header_timeout);
        beast::error_code ec;
        http::async_write(c.stream, res, y[ec]);
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        ctx.m.observe(method, "-", p.spec.status, us);
        log_request(method, "-", p.spec.status, us);
        if (ec) return;
        beast::error_code ignored;
        c.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        std::vector<char> scratch(64 * 1024);
        std::size_t drained = 0;
        // The linger is an idle wait like the keep-alive one: watch_idle ends it at linger_time,
        // and the reads go to the socket itself, not through the stream's own timer.
        c.idle_since = std::chrono::steady_clock::now();
        c.idle_limit = linger_time;
        c.idle = true;  // nothing in flight: stop() may cut the linger short
        if (stopping) return;
        while (drained < linger_max_bytes) {
            beast::error_code rec;
            const std::size_t rn = c.stream.socket().async_read_some(net::buffer(scratch), y[rec]);
            if (rec) break;
            drained += rn;
        }
    }

    // Parses a request from what the connection has buffered, reading more only when the parser
    // needs more: a request that arrived whole, as nearly every one on a keep-alive connection
    // does, is parsed without an asynchronous operation. The loop is Beast's own (read_some_op in
    // boost/beast/http/impl/read.hpp): parse, and read when the parser says need_more. It stops
    // once the header is parsed when `header_only`, else at the message's end; `timeout` bounds
    // the reads of this phase together, from its first read.
    static beast::error_code parse(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                   http::request_parser<http::string_body>& parser, bool header_only,
                                   std::chrono::steady_clock::duration timeout, fiber::yield& y) {
        bool timed = false;
        for (;;) {
            if (header_only ? parser.is_header_done() : parser.is_done()) return {};
            if (buffer.size() > 0) {
                beast::error_code ec;
                const std::size_t used = parser.put(buffer.data(), ec);
                buffer.consume(used);
                if (!ec && used > 0) continue;
                if (ec && ec != http::error::need_more) return ec;
            }
            const std::size_t size = beast::read_size(buffer, 64 * 1024);
            if (size == 0) return http::error::buffer_overflow;
            if (!timed) {
                stream.expires_after(timeout);
                timed = true;
            }
            beast::error_code ec;
            const std::size_t n = stream.async_read_some(buffer.prepare(size), y[ec]);
            if (ec == net::error::eof) {
                if (!parser.got_some()) return http::error::end_of_stream;
                beast::error_code eof_ec;
                parser.put_eof(eof_ec);  // a request never ends at the end of the stream: partial_message
                return eof_ec;
            }
            if (ec) return ec;
            buffer.commit(n);
        }
    }

    // Sends an answer: its head and body in one non-blocking sendmsg, which on loopback and on an
    // idle connection takes all of it at once; what the socket does not take goes out through an
    // asynchronous write bounded by the idle timeout. The bytes are those of Beast's serializer
    // (answers here have a Content-Length body, never a chunked one; one that names a
    // Transfer-Encoding goes through the serializer); skipping it and the asynchronous
    // operation's round through the scheduler is most of what an answer's write costs in user
    // space.
    beast::error_code send(connection& c, http_response& res, fiber::yield& y) {
        beast::error_code ec;
        if (res.find(http::field::transfer_encoding) != res.end()) {
            c.stream.expires_after(ctx.cfg.idle_timeout);
            http::async_write(c.stream, res, y[ec]);
            return ec;
        }
        render_head(res, c.head);
        const std::array<net::const_buffer, 2> bufs{net::buffer(c.head), net::buffer(res.body())};
        const std::size_t total = c.head.size() + res.body().size();
        std::size_t sent = c.stream.socket().write_some(bufs, ec);  // the socket is non-blocking
        if (ec == net::error::would_block || ec == net::error::try_again) {
            ec = {};
            sent = 0;
        }
        if (ec || sent == total) return ec;
        beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(bufs);
        rest.consume(sent);
        c.stream.expires_after(ctx.cfg.idle_timeout);
        net::async_write(c.stream, rest, y[ec]);
        return ec;
    }

    // A connection's life, on its own fiber (fiber.hpp): read a request, run its handler on this
    // fiber, answer, and again while the connection is kept alive. A handler that waits (the write
    // engine, a projection, a password hash) suspends the fiber, and the io thread serves other
    // connections meanwhile; one that does not wait answers without a switch.
    void session(const std::shared_ptr<connection>& c, fiber::yield y) {
        const config& cfg = ctx.cfg;
        auto& stream = c->stream;
        beast::flat_buffer buffer(cfg.header_limit + 128 * 1024);
        bool first = true;
        // The client's address as the socket sees it: what login events record (no header is trusted).
        std::string peer;
        {
            beast::error_code pec;
            auto ep = stream.socket().remote_endpoint(pec);
            if (!pec) peer = ep.address().to_string();
        }
        try {
            c->idle_since = std::chrono::steady_clock::now();
            c->idle_limit = cfg.header_timeout;
            watch_idle(c);
            for (;;) {
                if (stopping) break;
                if (buffer.size() == 0) {
                    c->idle = true;
                    if (stopping) break;  // stop() cancels idle reads; re-check after announcing idleness
                    if (!first) {
                        c->idle_since = std::chrono::steady_clock::now();
                        c->idle_limit = cfg.idle_timeout;
                    }
                    // On the socket itself: watch_idle bounds this wait, not the stream's timer.
                    beast::error_code ec;
                    const std::size_t n = stream.socket().async_read_some(buffer.prepare(16 * 1024), y[ec]);
                    c->idle = false;
                    if (ec) break;  // closed by the client, idle timeout, or stop()
                    buffer.commit(n);
                }
                first = false;
                auto t0 = std::chrono::steady_clock::now();

                http::request_parser<http::string_body> parser;
                parser.header_limit(static_cast<std::uint32_t>(cfg.header_limit));
                // The largest route limit until the request line names the route (Beast refuses a
                // Content-Length over the limit while parsing the header).
                parser.body_limit(max_body_limit(cfg));
                auto hec = parse(stream, buffer, parser, true, cfg.header_timeout, y);
                const std::size_t limit =
                    body_limit_for(cfg, sv(parser.get().method_string()), sv(parser.get().target()));
                if (!hec) {
                    if (auto cl = parser.content_length(); cl && *cl > limit)
                        hec = http::error::body_limit;
                    else
                        parser.body_limit(limit);  // chunked bodies: counted against the route's limit
                }
                // The start line may be parsed even when the header failed (e.g. a Content-Length over the limit).
                std::string method(sv(parser.get().method_string()));
                if (method.empty() || parser.get().method() == http::verb::unknown) method = "-";
                unsigned version = parser.get().version() == 10 ? 10 : 11;
                if (!hec && !parser.is_done()) {
                    if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                        http::response<http::empty_body> cont{http::status::continue_, version};
                        beast::error_code cec;
                        http::async_write(stream, cont, y[cec]);
                        if (cec) break;
                    }
                    hec = parse(stream, buffer, parser, false, cfg.body_timeout, y);
                }
                if (hec) {
                    std::optional<problem> refusal;
                    if (hec == http::error::body_limit) {
                        refusal.emplace(problem(error::make(
                            errc::too_large, "the request body is larger than " + std::to_string(limit) + " bytes")));
                    } else if (hec == http::error::header_limit) {
                        refusal.emplace(problem(http_problem::header_too_large, "the request header is too large"));
                    } else if (hec.category() == http::make_error_code(http::error::bad_method).category() &&
                               hec != http::error::end_of_stream && hec != http::error::partial_message) {
                        refusal.emplace(problem(error::make(errc::malformed, "malformed HTTP request")));
                    }
                    if (refusal) refuse(*c, *refusal, version, method, t0, y);
                    // timeouts, resets, a client gone mid-request: nobody to answer
                    break;
                }

                stream.expires_never();  // handlers bound their own waits (bus and consistency timeouts)
                const http_request req = parser.release();
                handled h;
                try {
                    const fiber::scope on(y);
                    h = dispatch(ctx, req, peer);
                } catch (const std::exception& e) {
                    spdlog::error("http handler failed: {}", e.what());
                    h.response = problem_response(error::make(errc::internal, "the server failed to answer this request"),
                                                  req.version());
                    h.route = "-";
                }
                bool keep = req.keep_alive() && !stopping;
                h.response.keep_alive(keep);
                auto wec = send(*c, h.response, y);
                log_request(sv(req.method_string()), h.route, h.response.result_int(),
                            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0));
                if (wec || !keep) break;
            }
        } catch (const std::exception& e) {
            spdlog::error("http session: {}", e.what());
        }
        c->idle_timer.cancel();
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream.close();
    }
};

server::server(app_context& ctx, server_options opts) : impl_(std::make_unique<impl>(ctx, std::move(opts))) {}

server::~server() { stop(); }

result<void> server::start() {
    auto& s = *impl_;
    {
        std::lock_guard lock(s.m);
        if (s.started) return fail(errc::internal, "the server was already started");
    }
    beast::error_code ec;
    auto address = net::ip::make_address(s.opts.address, ec);
    if (ec) return fail(errc::unavailable, "bad listen address '" + s.opts.address + "': " + ec.message());
    tcp::endpoint endpoint(address, s.opts.port);
    s.acceptor.emplace(s.iocs.front()->get_executor());
    s.acceptor->open(endpoint.protocol(), ec);
    if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor->bind(endpoint, ec);
    if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code ignored;
        s.acceptor->close(ignored);
        return fail(errc::unavailable, "cannot listen on " + s.opts.address + ":" + std::to_string(s.opts.port) + ": " +
                                           ec.message());
    }
    s.bound_port = s.acceptor->local_endpoint().port();
    {
        std::lock_guard lock(s.m);
        s.accepting = true;
        s.started = true;
    }
    net::co_spawn(s.acceptor->get_executor(), s.accept_loop(), [](std::exception_ptr e) {
        if (e) spdlog::error("http accept loop ended by an exception");
    });
    for (std::size_t i = 0; i < s.iocs.size(); ++i) {
        s.threads.emplace_back([&s, i] {
            name_this_thread("http-" + std::to_string(i));
            for (;;) {
                try {
                    s.iocs[i]->run();
                    return;
                } catch (const std::exception& e) {
                    spdlog::error("http io thread: {}", e.what());
                }
            }
        });
    }
    spdlog::info("http listening on {}:{} ({} io threads)", s.opts.address, s.bound_port, s.opts.io_threads);
    return {};
}

std::uint16_t server::port() const { return impl_->bound_port; }

void server::stop() {
    auto& s = *impl_;
    std::lock_guard stop_lock(s.stop_m);
    {
        std::lock_guard lock(s.m);
        if (!s.started || s.stopped) return;
        s.stopped = true;
    }
    s.stopping = true;
    // 1. no new connections
    net::post(s.acceptor->get_executor(), [&s] {
        beast::error_code ignored;
        s.acceptor->close(ignored);
    });
    // 2. idle keep-alive connections close now; busy ones finish their request (Connection: close)
    std::vector<std::shared_ptr<connection>> snapshot;
    {
        std::lock_guard lock(s.m);
        snapshot.assign(s.conns.begin(), s.conns.end());
    }
    for (auto& c : snapshot)
        net::post(c->stream.get_executor(), [c] {
            if (c->idle) c->stream.cancel();
        });
    // 3. wait for in-flight requests, bounded
    std::unique_lock lock(s.m);
    bool drained = s.cv.wait_for(lock, s.opts.shutdown_grace, [&] { return s.conns.empty() && !s.accepting; });
    if (!drained) {
        spdlog::warn("http stop: {} connections still busy after the grace period; closing them", s.conns.size());
        for (auto& c : s.conns) net::post(c->stream.get_executor(), [c] { c->stream.cancel(); });
        s.cv.wait_for(lock, std::chrono::seconds(1), [&] { return s.conns.empty() && !s.accepting; });
    }
    lock.unlock();
    s.keep_running.clear();
    for (auto& ioc : s.iocs) ioc->stop();
    for (auto& t : s.threads)
        if (t.joinable()) t.join();
    spdlog::info("http stopped");
}

void server::run_until_signal() {
    net::io_context sig_ioc;
    net::signal_set signals(sig_ioc, SIGINT, SIGTERM);
    std::atomic<bool> signalled{false};
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (!ec) {
            spdlog::info("signal {}: stopping", sig);
            signalled = true;
        }
    });
    while (!signalled && !impl_->stopping) sig_ioc.run_for(std::chrono::milliseconds(200));
    stop();
}

}  // namespace carelog::api
