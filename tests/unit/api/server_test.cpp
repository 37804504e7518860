// The real server on 127.0.0.1, port 0: limits, a normal exchange, and a graceful stop that lets
// an in-flight command finish.
#include <catch2/catch.hpp>
#include <poll.h>

#include <future>
#include <thread>

#include "api_fixture.hpp"
#include "carelog/api/server.hpp"
#include "http_client.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;

namespace {
server_options local() {
    server_options o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.shutdown_grace = std::chrono::milliseconds(5000);
    return o;
}
std::map<std::string, std::string> agency_headers(api_fixture& f) { return f.as_agency(f.agency_a); }
}  // namespace

TEST_CASE("server: a body over 1 MiB is 413, the server keeps answering, and stop is graceful", "[api][server]") {
    api_fixture f;
    server srv(*f.ctx, local());
    REQUIRE(srv.start().has_value());
    REQUIRE(srv.port() != 0);

    carelog::testing::http_client client("127.0.0.1", srv.port());
    auto health = client.get("/healthz");
    CHECK(health.status == 200);
    CHECK(health.json().as_object().at("status").as_string() == "ok");

    (void)agency_headers(f);  // the admin's session, made before requests run on the server's threads
    std::string huge = "{\"name\":\"" + std::string(2u << 20, 'x') + "\"}";
    auto big = client.request("POST", "/v1/locations", huge, agency_headers(f));
    CHECK(big.status == 413);
    CHECK(big.header("content-type") == "application/problem+json");
    CHECK(big.json().as_object().at("type").as_string() == "https://carelog.dev/problems/too-large");
    CHECK(f.bus.calls.empty());

    auto staff = client.get("/v1/staff/" + f.staff_a, agency_headers(f));
    CHECK(staff.status == 200);
    CHECK(staff.json().as_object().at("username").as_string() == "tjones");
    auto missing = client.get("/v1/staff/nope", agency_headers(f));
    CHECK(missing.status == 404);

    // keep-alive: several requests on one connection
    for (int i = 0; i < 3; ++i) CHECK(client.get("/healthz").status == 200);

    srv.stop();
    carelog::testing::http_client after("127.0.0.1", srv.port());
    CHECK_THROWS(after.get("/healthz"));
}

TEST_CASE("server: stop() lets an in-flight command finish and closes idle connections", "[api][server]") {
    api_fixture f;
    f.bus.delay(std::chrono::milliseconds(400));
    f.bus.will_succeed(uuid(100), 2, "0-9");
    auto opts = local();
    opts.shutdown_grace = std::chrono::minutes(2);  // what an idle connection left open would hold stop() for
    server srv(*f.ctx, opts);
    REQUIRE(srv.start().has_value());

    carelog::testing::http_client idle("127.0.0.1", srv.port());
    CHECK(idle.get("/healthz").status == 200);  // then stays open, idle

    auto headers = agency_headers(f);  // the admin's session, made before any thread runs
    auto slow = std::async(std::launch::async, [&] {
        carelog::testing::http_client c("127.0.0.1", srv.port());
        return c.post("/v1/programs", json::object{{"name", "Family"}}, headers);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the command is on the bus now
    // stop() returns once the command is answered and the idle connection closed; had it left the
    // idle connection open, it would wait out the grace. The bound, far inside the grace and far
    // above the command's 400 ms, makes that a failure instead of a two-minute wait.
    auto stopped = std::async(std::launch::async, [&] { srv.stop(); });
    REQUIRE(stopped.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    auto reply = slow.get();
    CHECK(reply.status == 201);
    CHECK(reply.header("connection") == "close");
    CHECK(reply.json().as_object().at("version").as_int64() == 2);
    REQUIRE(f.bus.calls.size() == 1);
}

TEST_CASE("server: a malformed request costs one 400, not the process", "[api][server]") {
    api_fixture f;
    server srv(*f.ctx, local());
    REQUIRE(srv.start().has_value());
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), srv.port()});
    std::string garbage = "THIS IS NOT HTTP\r\n\r\n";
    net::write(sock, net::buffer(garbage));
    std::string reply;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
        auto n = sock.read_some(net::buffer(buf), ec);
        if (ec) break;
        reply.append(buf, n);
    }
    CHECK(reply.starts_with("HTTP/1.1 400"));
    CHECK(reply.find("application/problem+json") != std::string::npos);
    carelog::testing::http_client client("127.0.0.1", srv.port());
    CHECK(client.get("/healthz").status == 200);
    srv.stop();
}

namespace {
// Reads from a raw socket until the peer closes or `deadline` passes.
std::string read_all(boost::asio::ip::tcp::socket& sock) {
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
        auto n = sock.read_some(boost::asio::buffer(buf), ec);
        if (ec) break;
        out.append(buf, n);
    }
    return out;
}
// What the server sends until it closes the connection. `closed` is true only for an orderly close
// (EOF: no reset); it is false when the server has not closed it within `bound`, a bound far above
// any timeout under test, so that a server that never closes fails the test instead of hanging it.
struct until_close {
    std::string bytes;
    bool closed = false;
};
until_close read_until_closed(boost::asio::ip::tcp::socket& sock, std::chrono::milliseconds bound = std::chrono::seconds(30)) {
    until_close out;
    pollfd p{sock.native_handle(), POLLIN, 0};
    char buf[4096];
    for (;;) {
        if (::poll(&p, 1, static_cast<int>(bound.count())) != 1) return out;
        boost::system::error_code ec;
        auto n = sock.read_some(boost::asio::buffer(buf), ec);
        if (ec == boost::asio::error::eof) {
            out.closed = true;
            return out;
        }
        if (ec) return out;
        out.bytes.append(buf, n);
    }
}
}  // namespace

TEST_CASE("server: pipelined requests are answered in order on one connection", "[api][server]") {
    api_fixture f;
    server srv(*f.ctx, local());
    REQUIRE(srv.start().has_value());
    namespace net = boost::asio;
    net::io_context ioc;
    net::ip::tcp::socket sock(ioc);
    sock.connect({net::ip::make_address("127.0.0.1"), srv.port()});
    std::string two = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    net::write(sock, net::buffer(two));
    std::string reply = read_all(sock);
    auto first = reply.find("HTTP/1.1 200");
    auto second = reply.find("HTTP/1.1 404");
    auto third = reply.find("HTTP/1.1 200", second == std::string::npos ? 0 : second);
    CHECK(first == 0);
    CHECK(second != std::string::npos);
    CHECK(third != std::string::npos);
    CHECK(first < second);
    srv.stop();
}

TEST_CASE("server: a connection that sends nothing, a header that stops, and an idle keep-alive connection are closed",
          "[api][server]") {
    api_fixture f;
    f.ctx->cfg.header_timeout = std::chrono::seconds(1);
    f.ctx->cfg.idle_timeout = std::chrono::seconds(1);
    server srv(*f.ctx, local());
    REQUIRE(srv.start().has_value());
    namespace net = boost::asio;
    net::io_context ioc;
    auto connect = [&] {
        net::ip::tcp::socket sock(ioc);
        sock.connect({net::ip::make_address("127.0.0.1"), srv.port()});
        return sock;
    };
    {
        auto silent = connect();
        const auto got = read_until_closed(silent);
        CHECK(got.closed);
        CHECK(got.bytes.empty());
    }
    {
        auto partial = connect();
        net::write(partial, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));  // never finished
        const auto got = read_until_closed(partial);
        CHECK(got.closed);
        CHECK(got.bytes.empty());
    }
    {
        // Two requests answered, then nothing more asked: closed after the second answer, which
        // came whole.
        auto kept = connect();
        const std::string ask = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        net::write(kept, net::buffer(ask));
        char buf[4096];
        const std::size_t n = kept.read_some(net::buffer(buf));
        CHECK(std::string_view(buf, n).starts_with("HTTP/1.1 200"));
        net::write(kept, net::buffer(ask));
        const auto rest = read_until_closed(kept);
        CHECK(rest.closed);
        CHECK(rest.bytes.starts_with("HTTP/1.1 200"));
        CHECK(rest.bytes.find("HTTP/1.1", 1) == std::string::npos);
    }
    {
        // Refused before its body (a Content-Length over every limit): the server answers 413 and
        // ends its side at once, then drains what still comes for a while (the linger) and closes.
        // Once it has closed, a byte sent is answered with a reset, which fails a later send.
        auto refused = connect();
        net::write(refused, net::buffer(std::string("POST /v1/programs HTTP/1.1\r\nHost: x\r\n"
                                                    "Content-Type: application/json\r\n"
                                                    "Content-Length: 1073741824\r\n\r\n")));
        const auto got = read_until_closed(refused);
        CHECK(got.closed);
        CHECK(got.bytes.starts_with("HTTP/1.1 413"));
        CHECK(f.bus.calls.empty());
        boost::system::error_code ec;
        for (int probe = 0; probe < 300 && !ec; ++probe) {  // 30 s: far above the 2 s linger
            net::write(refused, net::buffer("x", 1), ec);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));  // paces the probes only
        }
        CHECK(ec);  // the linger ended and the server closed the connection
    }
    srv.stop();
}

TEST_CASE("server: a request that arrives in pieces is one request; a body that stops arriving is dropped unanswered",
          "[api][server]") {
    api_fixture f;
    f.ctx->cfg.body_timeout = std::chrono::seconds(1);
    f.bus.will_succeed(uuid(100), 2, "0-9");
    const auto headers = agency_headers(f);  // the admin's session, made before any thread runs
    server srv(*f.ctx, local());
    REQUIRE(srv.start().has_value());
    namespace net = boost::asio;
    net::io_context ioc;
    auto head_of = [&](std::size_t content_length, bool close) {
        std::string h = "POST /v1/programs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
        for (const auto& [name, value] : headers) h += name + ": " + value + "\r\n";
        h += "Content-Length: " + std::to_string(content_length) + "\r\n";
        if (close) h += "Connection: close\r\n";
        return h + "\r\n";
    };
    const std::string body = R"({"name":"Family services"})";
    {
        // The header split inside a field, the body in three writes, with pauses between them.
        const std::string whole = head_of(body.size(), true) + body;
        net::ip::tcp::socket sock(ioc);
        sock.connect({net::ip::make_address("127.0.0.1"), srv.port()});
        sock.set_option(net::ip::tcp::no_delay(true));
        const std::size_t head_size = whole.size() - body.size();
        std::size_t from = 0;
        for (const std::size_t cut : {std::size_t{20}, head_size - 3, head_size, head_size + 5, head_size + 17, whole.size()}) {
            net::write(sock, net::buffer(whole.data() + from, cut - from));
            from = cut;
            std::this_thread::sleep_for(std::chrono::milliseconds(60));  // so each piece arrives on its own
        }
        const std::string reply = read_all(sock);
        CHECK(reply.starts_with("HTTP/1.1 201"));
        REQUIRE(f.bus.calls.size() == 1);
        CHECK(f.bus.last<aggregates::add_program>().name == "Family services");
    }
    {
        // Content-Length promises more than ever comes: no answer, no command, the connection closed.
        net::ip::tcp::socket sock(ioc);
        sock.connect({net::ip::make_address("127.0.0.1"), srv.port()});
        const std::string part = head_of(body.size(), false) + body.substr(0, 10);
        net::write(sock, net::buffer(part));
        const auto got = read_until_closed(sock);
        CHECK(got.closed);  // the server closed it (the body timeout): no reset, no answer
        CHECK(got.bytes.empty());
        CHECK(f.bus.calls.size() == 1);
    }
    carelog::testing::http_client client("127.0.0.1", srv.port());
    CHECK(client.get("/healthz").status == 200);
    srv.stop();
}

TEST_CASE("server: reads that wait for the projections hold no io thread, and answer once they get there",
          "[api][server][consistency]") {
    api_fixture f;
    auto headers = agency_headers(f);  // the admin's session, made before requests run on the server's threads
    f.status.answers["0-30"] = true;
    f.status.answer_after = std::chrono::milliseconds(3000);
    auto one = local();
    one.io_threads = 1;  // the waiting reads and the next request share the one io thread
    server srv(*f.ctx, one);
    REQUIRE(srv.start().has_value());

    auto waiting_headers = headers;
    waiting_headers["X-Consistency-Token"] = "0-30";
    auto wait_for_it = [&] {
        carelog::testing::http_client c("127.0.0.1", srv.port());
        return c.get("/v1/staff/" + f.staff_a, waiting_headers);
    };
    // At most 5 s for the fake to see the nth wait begin; the REQUIREs below fail when it does not.
    auto until_waiting = [&](int n) {
        for (int i = 0; i < 500 && f.status.slow_waits < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return f.status.slow_waits.load();
    };
    // The second begins its wait while the first is suspended in its own.
    auto first = std::async(std::launch::async, wait_for_it);
    REQUIRE(until_waiting(1) == 1);
    auto second = std::async(std::launch::async, wait_for_it);
    REQUIRE(until_waiting(2) == 2);

    // Answered while both still wait: their waits hold fibers, not the thread.
    carelog::testing::http_client other("127.0.0.1", srv.port());
    auto staff = other.get("/v1/staff/" + f.staff_a, headers);
    CHECK(staff.status == 200);
    CHECK(f.status.slow_answers == 0);

    for (auto* w : {&first, &second}) {
        auto reply = w->get();
        CHECK(reply.status == 200);
        CHECK(reply.json().as_object().at("username").as_string() == "tjones");
    }
    CHECK(f.status.slow_waits == 2);  // one each: a read tried first on the thread began no wait
    srv.stop();
}

TEST_CASE("test client: a server that accepts and never answers fails the request with a timeout, sent once",
          "[api][server][client]") {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    carelog::testing::http_client client("127.0.0.1", silent.local_endpoint().port());
    client.timeout = std::chrono::seconds(1);
    try {
        (void)client.get("/healthz");
        FAIL("the request was answered");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == boost::beast::error::timeout);
    }
    // The connection was taken from the backlog once: the request was not sent again.
    boost::asio::ip::tcp::socket first(io);
    silent.accept(first);
    silent.non_blocking(true);
    boost::asio::ip::tcp::socket second(io);
    boost::system::error_code ec;
    silent.accept(second, ec);
    CHECK(ec == boost::asio::error::would_block);
}
