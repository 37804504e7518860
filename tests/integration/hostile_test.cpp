// Hostile input against a running carelogd: malformed, wrong-typed, deeply nested, invalid UTF-8
// and oversized bodies; header floods; a slow client; thousands of idle connections. Each gets a
// clear 4xx problem or a closed connection, nothing changes, a valid client is served meanwhile,
// and the server's memory stays bounded.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "metrics_text.hpp"
#include "process.hpp"

using namespace carelog::testing;
namespace json = boost::json;

namespace {

// A plain TCP socket to the server from `source` (any 127/8 address is loopback on Linux), or -1.
int connect_from(const char* source, unsigned short port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &src.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
        ::close(fd);
        return -1;
    }
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// True when the peer closed the connection (a read sees EOF or a reset), waiting up to `wait`.
bool closed_by_peer(int fd, std::chrono::milliseconds wait) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char buf[4096];
    for (;;) {
        auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return true;
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

// Sends raw bytes and reads what comes back until the server closes or `wait` passes.
std::string exchange(unsigned short port, const std::string& bytes, std::chrono::milliseconds wait) {
    int fd = connect_from("127.0.0.1", port);
    REQUIRE(fd >= 0);
    std::size_t sent = 0;
    while (sent < bytes.size()) {
        auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may close before taking it all
        sent += static_cast<std::size_t>(n);
    }
    std::string out;
    const auto until = std::chrono::steady_clock::now() + wait;
    char buf[8192];
    while (std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.find("\r\n\r\n") != std::string::npos) {
            auto cl = out.find("content-length: ");
            if (cl == std::string::npos) cl = out.find("Content-Length: ");
            if (cl != std::string::npos &&
                out.size() >= out.find("\r\n\r\n") + 4 + std::stoul(out.substr(cl + 16)))
                break;
        }
    }
    ::close(fd);
    return out;
}

int status_of(const std::string& raw) { return raw.size() > 12 ? std::atoi(raw.c_str() + 9) : 0; }

long rss_kib(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

json::object staff_body() {
    return json::object{{"first_name", "Hostile"}, {"last_name", "Probe"}, {"gender", "male"},
                        {"position", "Biller"},    {"email", "p@x.org"},   {"role", "biller"},
                        {"type", "administration"}};
}

}  // namespace

TEST_CASE("hostile: malformed, wrong-typed, 1,000-deep, invalid UTF-8 and 10 MB bodies each get a clear 4xx "
          "problem and change nothing",
          "[integration][hostile]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    auto agency_id =
        std::string(create_agency(c, d.options().operator_key, "hostile-" + fresh_suffix()).at("agency_id").as_string());
    auto h = as_agency(c, agency_id);
    auto before = c.get("/v1/staff?limit=500", h);
    REQUIRE(before.status == 200);

    std::string deep_array(1000, '[');
    deep_array += std::string(1000, ']');
    std::string deep_object;
    for (int i = 0; i < 1000; ++i) deep_object += "{\"a\":";
    deep_object += "1" + std::string(1000, '}');
    const std::vector<std::pair<std::string, std::string>> bodies{
        {"malformed", "{\"first_name\": \"Ann\","},
        {"not an object", "[1,2,3]"},
        {"wrong types", "{\"first_name\": 5, \"last_name\": [], \"role\": {\"x\": 1}, \"type\": true}"},
        {"1,000-deep array", deep_array},
        {"1,000-deep object", deep_object},
        {"invalid UTF-8", "{\"first_name\": \"\xff\xfe\xc3\x28\", \"last_name\": \"Probe\"}"},
        {"a NUL inside", std::string("{\"first_name\": \"A\0B\"}", 22)},
    };
    for (const auto& [what, body] : bodies) {
        INFO(what);
        auto r = c.request("POST", "/v1/staff", body, h);
        INFO(r.body.substr(0, 300));
        CHECK(r.status >= 400);
        CHECK(r.status < 500);
        CHECK(r.header("content-type").find("application/problem+json") == 0);
        if (r.status != 413) CHECK(r.json().as_object().contains("detail"));
    }
    // 10 MB, with the session and without credentials: a 413 problem (or 401 without a session)
    // and the connection closed, however much of the body was sent; nothing is looked up.
    auto raw_post = [&](const std::string& route, const std::string& auth, const std::string& type) {
        std::string req = "POST " + route + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
                          "\r\nContent-Length: " + std::to_string(10u << 20) + "\r\n" + auth + "\r\n";
        req += std::string(10u << 20, 'a');
        return exchange(d.port(), req, std::chrono::seconds(20));
    };
    const std::string bearer = "Authorization: " + h.at("Authorization") + "\r\n";
    for (auto [route, auth, type] : {std::tuple{"/v1/staff", bearer, "application/json"},
                                     std::tuple{"/v1/clients/import", bearer, "text/csv"},
                                     std::tuple{"/v1/auth/login", std::string(), "application/json"},
                                     std::tuple{"/v1/portal/register", std::string(), "application/json"},
                                     std::tuple{"/v1/clients/import", std::string(), "text/csv"}}) {
        INFO(route << (auth.empty() ? " without credentials" : " with a session"));
        auto r = raw_post(route, auth, type);
        INFO(r.substr(0, 300));
        const int status = status_of(r);
        // The import takes files up to 16 MiB: with a session its refusal is the header's 422.
        const bool import_with_session = std::string(route) == "/v1/clients/import" && !auth.empty();
        CHECK((status == 413 || (auth.empty() && status == 401) || (import_with_session && status == 422)));
        CHECK(r.find("application/problem+json") != std::string::npos);
        CHECK(r.size() < 64 * 1024);  // an answer never repeats the body back
    }

    auto after = c.get("/v1/staff?limit=500", h);
    REQUIRE(after.status == 200);
    CHECK(after.json().at("items").as_array().size() == before.json().at("items").as_array().size());
    auto ok = c.post("/v1/staff", staff_body(), h);
    CHECK(ok.status == 201);  // and the server still decides
}

TEST_CASE("hostile: header floods, a slow client and 5,000 idle connections are cut or refused while a valid "
          "client is served, and memory stays bounded",
          "[integration][hostile]") {
    rlimit nofile{};
    ::getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, 16384);
    ::setrlimit(RLIMIT_NOFILE, &nofile);  // inherited by carelogd
    REQUIRE(nofile.rlim_cur >= 8192);

    carelogd_options o;
    o.extra_env["CARELOG_MAX_CONNECTIONS_PER_ADDRESS"] = "1000";
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    const long rss_before = rss_kib(d.pid());

    SECTION("header floods: too many or too large headers get 431 or a close") {
        std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
        for (int i = 0; i < 3000; ++i) many += "X-Flood-" + std::to_string(i) + ": yes\r\n";
        many += "\r\n";
        auto r1 = exchange(d.port(), many, std::chrono::seconds(5));
        CHECK((r1.empty() || status_of(r1) == 431 || status_of(r1) == 400));
        std::string huge = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + std::string(200000, 'h') + "\r\n\r\n";
        auto r2 = exchange(d.port(), huge, std::chrono::seconds(5));
        CHECK((r2.empty() || status_of(r2) == 431 || status_of(r2) == 400));
        CHECK(c.get("/healthz").status == 200);
    }

    SECTION("a slow client sending a header byte by byte is cut at the header timeout, not kept alive by each byte") {
        int fd = connect_from("127.0.0.1", d.port());
        REQUIRE(fd >= 0);
        const std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        REQUIRE(::send(fd, start.data(), start.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(start.size()));
        bool cut = false;
        // Bounded: a byte every 500 ms for up to 30 s (the header timeout is 10 s).
        for (int i = 0; i < 60 && !cut; ++i) {
            if (::send(fd, "s", 1, MSG_NOSIGNAL) != 1) {
                cut = true;
                break;
            }
            cut = closed_by_peer(fd, std::chrono::milliseconds(500));
            CHECK(c.get("/healthz").status == 200);  // served meanwhile
        }
        ::close(fd);
        CHECK(cut);
    }

    SECTION("5,000 idle connections from one address: beyond the per-address cap they are closed at once, the "
            "rest at the first-request timeout; a client from another address is served throughout") {
        std::vector<int> fds;
        for (int i = 0; i < 5000; ++i) {
            int fd = connect_from("127.0.0.2", d.port());
            if (fd >= 0) fds.push_back(fd);
        }
        CHECK(fds.size() >= 4900);
        // The valid client (127.0.0.1) meanwhile.
        for (int i = 0; i < 20; ++i) CHECK(c.get("/healthz").status == 200);
        // The server takes connections in the order they arrived and may still be behind: bounded
        // wait until it has refused every connection beyond the cap (its /metrics counter), each
        // closed before it was counted.
        const auto refused_so_far = [&] {
            auto m = c.get("/metrics");
            REQUIRE(m.status == 200);
            const auto value = metric_value(m.body, "carelog_http_connections_refused_total");
            REQUIRE_FALSE(value.empty());
            return std::stoull(value);
        };
        const std::size_t beyond_cap = fds.size() - 1000;
        std::uint64_t refused = refused_so_far();
        for (int round = 0; round < 100 && refused < beyond_cap; ++round) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            refused = refused_so_far();
        }
        REQUIRE(refused >= beyond_cap);
        std::size_t closed_now = 0;
        for (int fd : fds) closed_now += closed_by_peer(fd, std::chrono::milliseconds(0)) ? 1 : 0;
        INFO("closed at once: " << closed_now << " of " << fds.size() << ", refused " << refused);
        CHECK(closed_now >= beyond_cap);
        // Bounded wait for the first-request timeout (10 s) to close the rest.
        std::size_t closed = 0;
        for (int round = 0; round < 30; ++round) {
            closed = 0;
            for (int fd : fds) closed += closed_by_peer(fd, std::chrono::milliseconds(0)) ? 1 : 0;
            if (closed == fds.size()) break;
            std::this_thread::sleep_for(std::chrono::seconds(1));
            CHECK(c.get("/healthz").status == 200);
        }
        CHECK(closed == fds.size());
        for (int fd : fds) ::close(fd);
        CHECK(d.log_shows("connection from 127.0.0.2 refused"));
    }

    const long rss_after = rss_kib(d.pid());
    INFO("carelogd RSS " << rss_before << " KiB -> " << rss_after << " KiB");
    CHECK(rss_after < rss_before + 256 * 1024);
    CHECK(c.get("/healthz").status == 200);
}
