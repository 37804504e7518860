// carelog-bench: an open-loop load generator against a carelogd on loopback, with the baselines
// of the same run beside every figure (docs/performance.md).
//
// Open loop: requests are due at a fixed arrival rate and their latency counts from the time they
// were due, not from when a connection was free, so a stall shows as latency instead of hiding as
// a lower offered rate. One thread and Asio drive every connection, so the generator stays light
// on a machine it shares with the broker and the server.
//
//   carelog-bench --url 127.0.0.1:PORT --operator-key KEY --brokers HOST:PORT [--pid N]
//                 [--agencies 100] [--seconds 5] [--nginx-url 127.0.0.1:PORT]
//
// Baselines (same broker, same message size): a bare librdkafka producer (acks=all, idempotence)
// and a bare transactional producer committing batches; nginx serving a file of the size of a
// read's answer when --nginx-url is given.
#include <CLI/CLI.hpp>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include <boost/asio.hpp>

#include "http_client.hpp"

using carelog::testing::http_client;
namespace json = boost::json;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

double pct(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

struct figures {
    std::string name;
    double offered = 0;  // requests/s due; 0 = saturation
    std::size_t ok = 0, failed = 0, late = 0;
    std::size_t ok_in_window = 0;  // completed while requests were still being offered
    double seconds = 0;
    std::vector<double> lat_ms;
    // Completions per second inside the window: what the server kept up with. (At a fixed rate,
    // what completes during the drain after it still counts in the latencies, never in the rate.)
    double rate() const { return seconds > 0 ? static_cast<double>(ok_in_window) / seconds : 0; }
};

void print(figures& f) {
    std::printf("%-26s offered %7s  done %8.0f/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  ok %zu failed %zu "
                "unfinished %zu\n",
                f.name.c_str(), f.offered > 0 ? std::to_string(static_cast<int>(f.offered)).c_str() : "max",
                f.rate(), pct(f.lat_ms, 0.5), pct(f.lat_ms, 0.99), pct(f.lat_ms, 0.999), f.ok, f.failed, f.late);
    std::fflush(stdout);
}

// Builds the i-th request (full HTTP/1.1 text).
using request_fn = std::function<std::string(std::size_t i)>;

// One keep-alive connection: writes a request, reads one response (Content-Length bodies).
struct conn : std::enable_shared_from_this<conn> {
    tcp::socket sock;
    std::string out;
    // What reads land in, reused and grown to the largest answer (a 50-row list fits whole): one
    // allocated (and zeroed) per read was the generator's largest user-space cost, and a buffer
    // smaller than an answer took two reads and a copy of it.
    std::vector<char> in = std::vector<char>(64 * 1024);
    std::size_t have = 0;     // bytes of the answer read so far
    std::size_t scanned = 0;  // of those, searched for the header's end without finding it
    std::size_t whole = 0;    // the answer's length, once its header is read (0 before)
    bool busy = false;
    explicit conn(net::io_context& io) : sock(io) {}
    std::string_view text() const { return {in.data(), std::min<std::size_t>(have, 200)}; }
};

// Runs `make` at `rate` per second (0 = as fast as `conns` connections allow) for `seconds`.
figures open_loop(const std::string& name, const std::string& host, unsigned short port, double rate, double seconds,
                  int conns, const request_fn& make, int ok_status) {
    figures f;
    f.name = name;
    f.offered = rate;
    net::io_context io;
    std::vector<std::shared_ptr<conn>> cs;
    tcp::endpoint ep(net::ip::make_address(host), port);
    for (int i = 0; i < conns; ++i) {
        auto c = std::make_shared<conn>(io);
        c->sock.connect(ep);
        c->sock.set_option(tcp::no_delay(true));
        c->sock.non_blocking(true);
        cs.push_back(c);
    }
    std::deque<steady::time_point> due;  // requests due and not yet sent
    // Idle connections are taken oldest first, so every connection keeps sending: one left unused
    // past the server's first-request timeout would be closed by it (its slow-client guard).
    std::deque<std::shared_ptr<conn>> idle(cs.begin(), cs.end());
    const auto start = steady::now();
    const auto stop_at = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    const auto drain_until = stop_at + std::chrono::seconds(5);
    std::size_t issued = 0, sent = 0, inflight = 0;
    bool measuring = true;
    bool closing = false;  // the drain is over: what is still in flight ends unanswered
    std::function<void(std::shared_ptr<conn>)> send;
    std::function<void(std::shared_ptr<conn>, steady::time_point)> read;

    auto finish = [&](const std::shared_ptr<conn>& c, steady::time_point intended, int status) {
        --inflight;
        auto now = steady::now();
        if (now <= stop_at || measuring) {
            if (status == ok_status) {
                ++f.ok;
                if (now <= stop_at) ++f.ok_in_window;
                f.lat_ms.push_back(std::chrono::duration<double, std::milli>(now - intended).count());
            } else {
                ++f.failed;
                if (f.failed <= 3) {
                    const auto t = c->text();
                    std::fprintf(stderr, "%s: status %d: %.*s\n", name.c_str(), status, static_cast<int>(t.size()), t.data());
                }
            }
        }
        c->busy = false;
        idle.push_back(c);
    };
    // Reads an answer: wait until the socket is readable, then read what it holds without
    // blocking, into the connection's buffer. (As many system calls as an asynchronous read: that
    // one first tries a read, which right after a request finds nothing, and Asio arms a wait for
    // readability with an epoll_ctl.)
    read = [&](std::shared_ptr<conn> c, steady::time_point intended) {
        c->sock.async_wait(tcp::socket::wait_read, [&, c, intended](boost::system::error_code ec) {
            std::size_t n = 0;
            if (!ec) n = c->sock.read_some(net::buffer(c->in.data() + c->have, c->in.size() - c->have), ec);
            if (ec == net::error::would_block || ec == net::error::try_again) return read(c, intended);
            if (ec) {
                --inflight;
                if (closing) return;  // closed here after the drain: counted as unfinished
                ++f.failed;
                if (f.failed <= 3) std::fprintf(stderr, "%s: reading an answer: %s\n", name.c_str(), ec.message().c_str());
                return;
            }
            c->have += n;
            if (c->whole == 0) {
                const std::string_view got(c->in.data(), c->have);
                const auto from = c->scanned >= 3 ? c->scanned - 3 : 0;
                const auto hdr_end = got.find("\r\n\r\n", from);
                if (hdr_end == std::string_view::npos) {
                    c->scanned = c->have;
                    if (c->have == c->in.size()) c->in.resize(2 * c->in.size());
                    return read(c, intended);
                }
                std::size_t len = 0;
                const std::string_view head = got.substr(0, hdr_end);
                auto cl = head.find("Content-Length: ");
                if (cl == std::string_view::npos) cl = head.find("content-length: ");
                if (cl != std::string_view::npos) len = std::strtoul(c->in.data() + cl + 16, nullptr, 10);
                c->whole = hdr_end + 4 + len;
                if (c->whole > c->in.size()) c->in.resize(c->whole);
            }
            if (c->have < c->whole) return read(c, intended);
            const int status = std::atoi(c->in.data() + 9);
            finish(c, intended, status);
            // One request in flight per connection: nothing follows an answer.
            c->have = c->scanned = c->whole = 0;
            if (!due.empty() && !idle.empty()) {
                auto next = idle.front();
                idle.pop_front();
                send(next);
            }
        });
    };
    send = [&](std::shared_ptr<conn> c) {
        auto intended = due.front();
        due.pop_front();
        c->busy = true;
        c->out = make(sent++);
        ++inflight;
        net::async_write(c->sock, net::buffer(c->out), [&, c, intended](boost::system::error_code ec, std::size_t) {
            if (ec) {
                --inflight;
                if (closing) return;
                ++f.failed;
                if (f.failed <= 3) std::fprintf(stderr, "%s: sending a request: %s\n", name.c_str(), ec.message().c_str());
                return;
            }
            read(c, intended);
        });
    };
    net::steady_timer tick(io);
    std::function<void()> on_tick = [&] {
        auto now = steady::now();
        if (now < stop_at) {
            if (rate > 0) {
                // Every request due by now, each with its own due time.
                auto should = static_cast<std::size_t>(std::chrono::duration<double>(now - start).count() * rate);
                for (; issued < should; ++issued)
                    due.push_back(start + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(static_cast<double>(issued) / rate)));
            } else {
                while (due.size() < idle.size()) {
                    due.push_back(now);
                    ++issued;
                }
            }
            while (!due.empty() && !idle.empty()) {
                auto c = idle.front();
                idle.pop_front();
                send(c);
            }
            tick.expires_after(std::chrono::microseconds(rate > 0 ? 500 : 200));
            tick.async_wait([&](boost::system::error_code) { on_tick(); });
        } else if (inflight > 0 && now < drain_until) {
            measuring = rate > 0;  // at saturation, what completes after the window is not counted
            tick.expires_after(std::chrono::milliseconds(5));
            tick.async_wait([&](boost::system::error_code) { on_tick(); });
        } else {
            f.late = inflight + due.size();
            closing = true;
            for (auto& c : cs) {
                boost::system::error_code ignored;
                c->sock.close(ignored);
            }
        }
    };
    on_tick();
    io.run();
    f.seconds = seconds;
    return f;
}

std::string http_request(const std::string& method, const std::string& target, const std::string& token,
                         const std::string& body) {
    std::string r = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.empty()) r += "Authorization: Bearer " + token + "\r\n";
    if (!body.empty() || method == "POST")
        r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    r += "\r\n" + body;
    return r;
}

std::string client_body(std::size_t i) {
    return "{\"first_name\":\"Load" + std::to_string(i) + "\",\"last_name\":\"Client\",\"date_of_birth\":\"1980-01-01\","
           "\"email\":\"load" + std::to_string(i) + "@bench.example\",\"phone\":\"+15550100\"}";
}

long rss_kib(int pid) {
    if (pid <= 0) return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// User + system CPU seconds of a proc(5) stat file (a process's or one of its threads'): fields
// 14 and 15, counted from after the command name's closing parenthesis. 0 when unreadable.
double stat_cpu_seconds(const std::filesystem::path& stat_file) {
    std::ifstream f(stat_file);
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    unsigned long long ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
        if (i == 14 || i == 15) ticks += std::stoull(field);
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU time (user + system, all threads) a process has used so far, in seconds; 0 without a pid.
double cpu_seconds(int pid) { return pid <= 0 ? 0 : stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat"); }

// CPU seconds a process has used, by thread name with its trailing number dropped ("http-0" and
// "http-1" count as "http"): which of carelogd's threads a read or a command costs.
std::map<std::string, double> cpu_by_thread(int pid) {
    std::map<std::string, double> by;
    if (pid <= 0) return by;
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream cf(task.path() / "comm");
        std::string comm;
        std::getline(cf, comm);
        while (!comm.empty() && (std::isdigit(static_cast<unsigned char>(comm.back())) || comm.back() == '-'))
            comm.pop_back();
        if (!comm.empty()) by[comm] += stat_cpu_seconds(task.path() / "stat");
    }
    return by;
}

// " name us name us ...": what each thread group spent per operation between two readings of
// cpu_by_thread, largest first, groups under 0.05 us left out. The broker's JIT compilers
// ("C2 CompilerThre") show how much of its figure is a young JVM still compiling.
std::string per_op_by_thread(const std::map<std::string, double>& before, const std::map<std::string, double>& after,
                             double ops) {
    std::vector<std::pair<double, std::string>> spent;
    for (const auto& [thread, s] : after) {
        auto b = before.find(thread);
        const double us = (s - (b == before.end() ? 0.0 : b->second)) * 1e6 / ops;
        if (us >= 0.05) spent.emplace_back(us, thread);
    }
    std::sort(spent.rbegin(), spent.rend());
    std::string out;
    char buf[64];
    for (const auto& [us, thread] : spent) {
        std::snprintf(buf, sizeof buf, " %.2f", us);
        out += " " + thread + buf;
    }
    return out;
}

// CPU seconds a JVM's JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre") have used.
double jit_seconds(int pid) {
    double s = 0;
    for (const auto& [thread, spent] : cpu_by_thread(pid))
        if (thread.find("CompilerThre") != std::string::npos) s += spent;
    return s;
}

// Every series of one metric in Prometheus text: (its labels as printed, its value as printed).
std::vector<std::pair<std::string, std::string>> series_of(const std::string& text, const std::string& name) {
    std::vector<std::pair<std::string, std::string>> out;
    const std::string opener = "\n" + name + "{";
    for (auto at = text.find(opener); at != std::string::npos; at = text.find(opener, at + 1)) {
        const auto labels = at + opener.size(), close = text.find("} ", labels);
        if (close == std::string::npos) break;
        out.emplace_back(text.substr(labels, close - labels), text.substr(close + 2, text.find('\n', close) - close - 2));
    }
    return out;
}

// One histogram of Prometheus text without other labels: its bounds (+Inf last) and cumulative counts.
struct histogram_counts {
    std::vector<double> le, cumulative;

    static histogram_counts of(const std::string& text, const std::string& name) {
        histogram_counts h;
        for (const auto& [labels, value] : series_of(text, name + "_bucket")) {
            if (!labels.starts_with("le=\"")) continue;
            const auto bound = labels.substr(4, labels.size() - 5);
            h.le.push_back(bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::strtod(bound.c_str(), nullptr));
            h.cumulative.push_back(std::strtod(value.c_str(), nullptr));
        }
        return h;
    }
    // What was observed between `before` and this.
    histogram_counts since(const histogram_counts& before) const {
        histogram_counts d = *this;
        if (before.cumulative.size() == d.cumulative.size())
            for (std::size_t i = 0; i < d.cumulative.size(); ++i) d.cumulative[i] -= before.cumulative[i];
        return d;
    }
    double count() const { return cumulative.empty() ? 0 : cumulative.back(); }
    // The q-quantile as Prometheus's histogram_quantile() estimates it: linear within its bucket;
    // the last finite bound when it falls in +Inf.
    double quantile(double q) const {
        if (count() <= 0) return 0;
        const double rank = q * count();
        for (std::size_t i = 0; i < le.size(); ++i) {
            if (cumulative[i] < rank) continue;
            if (std::isinf(le[i])) return i > 0 ? le[i - 1] : 0;
            const double lo = i > 0 ? le[i - 1] : 0, below = i > 0 ? cumulative[i - 1] : 0;
            const double in = cumulative[i] - below;
            return in > 0 ? lo + (le[i] - lo) * (rank - below) / in : le[i];
        }
        return le.empty() ? 0 : le.back();
    }
};

// Waits (at most 20 s) until the process uses under 5 % of a core over 200 ms: the work a scenario
// left behind (views drained, consumed and stored) is then counted in its CPU figures.
void wait_cpu_quiet(int pid) {
    if (pid <= 0) return;
    double before = cpu_seconds(pid);
    for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const double now = cpu_seconds(pid);
        if (now - before < 0.2 * 0.05) return;
        before = now;
    }
}

// ------------------------------------------------------------------ Kafka baselines

struct kafka_figures {
    double msgs_per_s = 0;
    double txn_per_s = 0;
    std::vector<double> commit_ms;
};

rd_kafka_t* make_producer(const std::string& brokers, bool transactional, const std::string& txn_id) {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    auto set = [&](const char* k, const std::string& v) {
        if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            std::fprintf(stderr, "%s: %s\n", k, err);
            std::exit(2);
        }
    };
    set("bootstrap.servers", brokers);
    set("enable.idempotence", "true");
    set("acks", "all");
    set("linger.ms", "5");
    set("socket.nagle.disable", "true");
    set("queue.buffering.max.messages", "1000000");
    if (transactional) {
        set("transactional.id", txn_id);
        set("linger.ms", "0");
    }
    auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        std::fprintf(stderr, "producer: %s\n", err);
        std::exit(2);
    }
    if (transactional) {
        if (auto* e = rd_kafka_init_transactions(rk, 10000)) {
            std::fprintf(stderr, "init_transactions: %s\n", rd_kafka_error_string(e));
            std::exit(2);
        }
    }
    return rk;
}

// Plain produce, acks=all and idempotence, messages of `size` bytes over every partition.
kafka_figures raw_produce(const std::string& brokers, const std::string& topic, std::size_t size, double seconds) {
    auto* rk = make_producer(brokers, false, "");
    std::string value(size, 'x');
    std::size_t n = 0;
    auto start = steady::now();
    auto until = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    while (steady::now() < until) {
        for (int i = 0; i < 1000; ++i) {
            std::string key = "agency-" + std::to_string(n % 100);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                                     RD_KAFKA_V_VALUE(value.data(), value.size()),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 1);
            ++n;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 30000);
    double secs = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_destroy(rk);
    return {static_cast<double>(n) / secs, 0, {}};
}

// A bare transactional producer committing batches of `batch` messages over every partition, one
// after another: the floor a group-committing writer of the same shape works against.
kafka_figures txn_produce(const std::string& brokers, const std::string& topic, std::size_t size, std::size_t batch,
                          double seconds) {
    auto* rk = make_producer(brokers, true, "bench-baseline-" + std::to_string(::getpid()));
    std::string value(size, 'x');
    kafka_figures out;
    std::size_t n = 0, txns = 0;
    auto start = steady::now();
    auto until = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(seconds));
    while (steady::now() < until) {
        auto t0 = steady::now();
        if (auto* e = rd_kafka_begin_transaction(rk)) {
            std::fprintf(stderr, "begin: %s\n", rd_kafka_error_string(e));
            break;
        }
        for (std::size_t i = 0; i < batch; ++i, ++n) {
            std::string key = "agency-" + std::to_string(n % 100);
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END);
        }
        if (auto* e = rd_kafka_commit_transaction(rk, 30000)) {
            std::fprintf(stderr, "commit: %s\n", rd_kafka_error_string(e));
            break;
        }
        ++txns;
        out.commit_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
    }
    double secs = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_destroy(rk);
    out.msgs_per_s = static_cast<double>(n) / secs;
    out.txn_per_s = static_cast<double>(txns) / secs;
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelog-bench: open-loop load against a carelogd on loopback, with same-run baselines"};
    std::string url = "127.0.0.1:8080", key, brokers, nginx_url, nginx_root, baseline_topic;
    int agencies_n = 100, conns = 1024, read_conns = 64, pid = 0, broker_pid = 0, import_rows = 100000;
    double warmup_seconds = 90;
    double seconds = 5, import_rate = 1000, import_seconds = 20;
    std::size_t txn_batch = 500;
    std::string only;
    app.add_option("--url", url, "host:port of carelogd (loopback only)");
    app.add_option("--operator-key", key)->required();
    app.add_option("--brokers", brokers, "the broker carelogd uses (for the baselines)")->required();
    app.add_option("--baseline-topic", baseline_topic, "a topic for the baselines (12 partitions)")->required();
    app.add_option("--nginx-url", nginx_url, "nginx serving --nginx-root (the read baseline)");
    app.add_option("--nginx-root", nginx_root, "where the bench writes static.json, a copy of a read's answer");
    app.add_option("--pid", pid, "carelogd's pid (RSS before and after, CPU per read)");
    app.add_option("--broker-pid", broker_pid, "the broker's pid (its CPU per read)");
    app.add_option("--agencies", agencies_n);
    app.add_option("--connections", conns, "for commands (many in flight: a commit carries many)");
    app.add_option("--read-connections", read_conns, "for reads and their nginx baselines");
    app.add_option("--seconds", seconds, "per scenario");
    app.add_option("--txn-batch", txn_batch, "messages per transaction of the transactional baseline");
    app.add_option("--only", only, "run only these scenarios (comma list of: baselines,saturation,fixed,single,reads,import)");
    app.add_option("--import-rows", import_rows, "rows of the CSV import the import scenario runs beside its neighbours");
    app.add_option("--import-rate", import_rate, "commands/s the other agencies send in the import scenario");
    app.add_option("--import-seconds", import_seconds, "length of each half of the import scenario");
    app.add_option("--warmup-seconds", warmup_seconds,
                   "at most this long, before any figure: load until the broker's JIT compilers are quiet");
    CLI11_PARSE(app, argc, argv);
    auto wanted = [&](const std::string& s) { return only.empty() || ("," + only + ",").find("," + s + ",") != std::string::npos; };
    auto split = [](const std::string& u) {
        auto colon = u.rfind(':');
        return std::make_pair(u.substr(0, colon), static_cast<unsigned short>(std::stoi(u.substr(colon + 1))));
    };
    auto [host, port] = split(url);
    if (host != "127.0.0.1") {
        std::fprintf(stderr, "carelog-bench only targets 127.0.0.1\n");
        return 2;
    }

    // Setup: agencies, their admins' sessions, one client each to read.
    std::vector<std::string> tokens, client_ids, staff_ids;
    std::size_t event_bytes = 0;
    {
        http_client c(host, port);
        auto stamp = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
        for (int i = 0; i < agencies_n; ++i) {
            auto slug = "bench-" + stamp + "-" + std::to_string(i);
            auto r = c.post("/v1/agencies",
                            json::object{{"name", "Bench " + std::to_string(i)},
                                         {"slug", slug},
                                         {"admin", json::object{{"first_name", "Ben"},
                                                                {"last_name", "Admin"},
                                                                {"email", "ben@bench.example"},
                                                                {"password", "Bench-Password-123!"}}}},
                            {{"X-Operator-Key", key}});
            if (r.status != 201) {
                std::fprintf(stderr, "creating agency: %d %s\n", r.status, r.body.c_str());
                return 1;
            }
            auto l = c.post("/v1/auth/login", json::object{{"agency", slug},
                                                           {"username", r.json().at("admin").at("username")},
                                                           {"password", "Bench-Password-123!"}});
            if (l.status != 200) {
                std::fprintf(stderr, "login: %d %s\n", l.status, l.body.c_str());
                return 1;
            }
            tokens.push_back(std::string(l.json().at("token").as_string()));
            staff_ids.push_back(std::string(r.json().at("admin").at("staff_id").as_string()));
            auto cl = c.post("/v1/clients", json::parse(client_body(0)), {{"Authorization", "Bearer " + tokens.back()}});
            if (cl.status != 201) {
                std::fprintf(stderr, "client: %d %s\n", cl.status, cl.body.c_str());
                return 1;
            }
            client_ids.push_back(std::string(cl.json().at("id").as_string()));
        }
        // What one ClientAdded weighs on the topic: the read answer's size is close to it.
        auto g = c.get("/v1/clients/" + client_ids[0], {{"Authorization", "Bearer " + tokens[0]},
                                                        {"X-Consistency-Token", "0-0"}});
        event_bytes = std::max<std::size_t>(g.body.size() + 300, 512);
        if (!nginx_root.empty()) std::ofstream(nginx_root + "/static.json") << g.body;
    }
    std::printf("carelog-bench: %d agencies, %d connections for commands, %d for reads, %.0f s per scenario; "
                "event ~%zu bytes\n",
                agencies_n, conns, read_conns, seconds, event_bytes);
    long rss_before = rss_kib(pid);

    std::size_t counter = 1;
    auto post_client = [&](bool single_agency) {
        return [&, single_agency](std::size_t i) {
            auto a = single_agency ? 0 : i % tokens.size();
            return http_request("POST", "/v1/clients", tokens[a], client_body(counter++));
        };
    };
    auto get_client = [&](std::size_t i) {
        auto a = i % tokens.size();
        return http_request("GET", "/v1/clients/" + client_ids[a], tokens[a], "");
    };
    auto get_staff = [&](std::size_t i) {
        auto a = i % tokens.size();
        return http_request("GET", "/v1/staff/" + staff_ids[a], tokens[a], "");
    };
    auto list_clients = [&](std::size_t i) {
        auto a = i % tokens.size();
        return http_request("GET", "/v1/clients?limit=50", tokens[a], "");
    };

    // Each scenario starts on a quiet server: what the previous one left queued (an open-loop
    // run over capacity leaves a backlog) is committed and projected first, so a figure measures
    // its own load only. Bounded; says how long it waited.
    auto settle = [&] {
        const auto t0 = steady::now();
        for (int i = 0; i < 600; ++i) {
            http_client c(host, port);
            auto m = c.get("/metrics", {});
            bool quiet = m.status == 200 && m.body.find("carelog_writer_queued_commands 0\n") != std::string::npos;
            for (const auto& [partition, lag] : series_of(m.body, "carelog_projection_lag")) quiet = quiet && lag == "0";
            if (quiet) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        const double waited = std::chrono::duration<double>(steady::now() - t0).count();
        if (waited > 0.5) std::printf("  (waited %.1f s for the previous scenario's backlog to drain)\n", waited);
    };
    // Warm-up, before any figure: the broker is a JVM started for this run, and for its first
    // minute under load its JIT compilers take up to half a core (a 5 s saturation run right after
    // the setup: 118 of the broker's 220 us per command were its C2 compiler; over 60 s, 28 of 88),
    // which a broker in service for days no longer pays. Rounds of what the wanted scenarios send
    // until the compilers use under 5 % of a core over a round, bounded by warmup_seconds.
    if (broker_pid > 0 && warmup_seconds > 0) {
        const bool commands = wanted("saturation") || wanted("fixed") || wanted("single") || wanted("import");
        const auto t0 = steady::now();
        double jit_share = 0;
        int rounds = 0;
        while (std::chrono::duration<double>(steady::now() - t0).count() < warmup_seconds) {
            const double jit0 = jit_seconds(broker_pid);
            const auto r0 = steady::now();
            if (commands) (void)open_loop("warm-up", host, port, 0, 3, conns, post_client(false), 201);
            if (wanted("reads"))
                for (const request_fn& read : {request_fn(get_client), request_fn(get_staff), request_fn(list_clients)})
                    (void)open_loop("warm-up", host, port, 0, 1, read_conns, read, 200);
            if (wanted("baselines")) {
                (void)raw_produce(brokers, baseline_topic, event_bytes, 0.5);
                (void)txn_produce(brokers, baseline_topic, event_bytes, txn_batch, 0.5);
            }
            ++rounds;
            jit_share = (jit_seconds(broker_pid) - jit0) / std::chrono::duration<double>(steady::now() - r0).count();
            if (jit_share < 0.05) break;
        }
        settle();
        std::printf("warm-up: %.0f s in %d rounds; the broker's JIT compilers used %.0f %% of a core in the last\n",
                    std::chrono::duration<double>(steady::now() - t0).count(), rounds, jit_share * 100);
        std::fflush(stdout);
    }

    // The baselines, on the same broker, before carelogd's scenarios.
    kafka_figures raw{1, 0, {}}, tx{1, 0, {1}};
    if (wanted("baselines")) {
        raw = raw_produce(brokers, baseline_topic, event_bytes, seconds);
        std::printf("%-26s %9.0f msgs/s   (acks=all, idempotent, %zu-byte messages)\n", "baseline raw produce",
                    raw.msgs_per_s, event_bytes);
        tx = txn_produce(brokers, baseline_topic, event_bytes, txn_batch, seconds);
        std::printf("%-26s %9.0f msgs/s  %6.0f txn/s  commit p50 %6.2f ms  p99 %6.2f ms   (%zu messages per transaction)\n",
                    "baseline transactional", tx.msgs_per_s, tx.txn_per_s, pct(tx.commit_ms, 0.5),
                    pct(tx.commit_ms, 0.99), txn_batch);
        std::fflush(stdout);
    }

    // carelogd's /metrics (empty when it cannot be read), and one counter of it (0 when absent):
    // how many transactions a scenario's commands took.
    auto metrics_text = [&] {
        http_client c(host, port);
        auto m = c.get("/metrics", {});
        return m.status == 200 ? m.body : std::string();
    };
    auto metric = [](const std::string& text, const std::string& name) {
        const std::string line = "\n" + name + " ";
        const auto at = text.find(line);
        return at != std::string::npos ? std::strtod(text.c_str() + at + line.size(), nullptr) : 0.0;
    };
    std::vector<figures> all;
    auto run = [&](const std::string& group, const std::string& name, double rate, const request_fn& make, int ok) {
        if (!wanted(group)) return figures{};
        settle();
        // At saturation, also the CPU carelogd and the broker spent per acknowledged command,
        // counted until both are quiet again (the projection of the commands is in it).
        const bool cpu = rate == 0 && pid > 0;
        if (cpu) {
            wait_cpu_quiet(pid);
            wait_cpu_quiet(broker_pid);
        }
        const double server0 = cpu_seconds(pid), broker0 = cpu_seconds(broker_pid), self0 = cpu_seconds(::getpid());
        const auto threads0 = cpu_by_thread(pid), broker_threads0 = cpu_by_thread(broker_pid);
        const auto writer0 = metrics_text();
        const double txns0 = metric(writer0, "carelog_writer_transactions_total");
        all.push_back(open_loop(name, host, port, rate, seconds, conns, make, ok));
        print(all.back());
        // carelogd's own account of the same commands: its commits, beside the bare transactional
        // producer's commit times above, and the commands' wait for their writer.
        {
            const auto writer1 = metrics_text();
            auto delta = [&](const std::string& h) {
                return histogram_counts::of(writer1, h).since(histogram_counts::of(writer0, h));
            };
            const auto waits = delta("carelog_writer_queue_wait_seconds"), produces = delta("carelog_writer_produce_seconds"),
                       commits = delta("carelog_writer_commit_seconds"), sizes = delta("carelog_writer_transaction_commands"),
                       turns = delta("carelog_writer_snapshot_turn_seconds");
            std::printf("%-26s carelogd's histograms, p50 / p99: a command's wait for its writer %.1f / %.1f ms, "
                        "produce to acknowledgement %.1f / %.1f ms, commit %.1f / %.1f ms; %.0f / %.0f commands per "
                        "transaction; %.0f turns on snapshots, p50 / p99 %.1f / %.1f ms\n",
                        "", waits.quantile(0.5) * 1e3, waits.quantile(0.99) * 1e3, produces.quantile(0.5) * 1e3,
                        produces.quantile(0.99) * 1e3, commits.quantile(0.5) * 1e3, commits.quantile(0.99) * 1e3,
                        sizes.quantile(0.5), sizes.quantile(0.99), turns.count(), turns.quantile(0.5) * 1e3,
                        turns.quantile(0.99) * 1e3);
        }
        if (cpu) {
            wait_cpu_quiet(pid);
            wait_cpu_quiet(broker_pid);
            const double n = static_cast<double>(std::max<std::size_t>(all.back().ok, 1));
            const double txns = metric(metrics_text(), "carelog_writer_transactions_total") - txns0;
            std::printf("%-26s CPU per command: carelogd %.1f us, broker %.1f us, this load generator %.1f us; %.0f "
                        "transactions, %.0f commands each\n",
                        "", (cpu_seconds(pid) - server0) * 1e6 / n, (cpu_seconds(broker_pid) - broker0) * 1e6 / n,
                        (cpu_seconds(::getpid()) - self0) * 1e6 / n, txns, n / std::max(1.0, txns));
            std::printf("%-26s carelogd's threads:%s us\n", "", per_op_by_thread(threads0, cpu_by_thread(pid), n).c_str());
            std::printf("%-26s the broker's threads:%s us\n", "",
                        per_op_by_thread(broker_threads0, cpu_by_thread(broker_pid), n).c_str());
        }
        return all.back();
    };
    auto sat = run("saturation", "commands, 100 agencies", 0, post_client(false), 201);
    auto at1k = run("fixed", "commands @1k, 100 agencies", 1000, post_client(false), 201);
    auto at5k = run("fixed", "commands @5k, 100 agencies", 5000, post_client(false), 201);
    auto at20k = run("fixed", "commands @20k, 100 agencies", 20000, post_client(false), 201);
    auto one = run("single", "commands, 1 agency", 0, post_client(true), 201);
    auto one10k = run("single", "commands @10k, 1 agency", 10000, post_client(true), 201);
    // Reads at 64 connections, each beside nginx serving a file of the same bytes.
    figures reads, staff_read, list_read, nginx, nginx_staff, nginx_list;
    if (wanted("reads")) {
        settle();
        http_client c(host, port);
        // The list reads 50 rows in every agency: clients up to 50 where the scenarios before
        // (or none) left fewer.
        for (std::size_t a = 0; a < tokens.size(); ++a) {
            const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + tokens[a]}};
            auto page = c.get("/v1/clients?limit=50", auth);
            const std::size_t have = page.status == 200 ? page.json().at("items").as_array().size() : 0;
            for (std::size_t i = have; i < 50; ++i)
                if (auto r = c.post("/v1/clients", json::parse(client_body(counter++)), auth); r.status != 201) {
                    std::fprintf(stderr, "client for the list: %d %s\n", r.status, r.body.c_str());
                    return 1;
                }
        }
        const std::map<std::string, std::string> h{{"Authorization", "Bearer " + tokens[0]}};
        if (!nginx_root.empty()) {
            std::ofstream(nginx_root + "/static-staff.json") << c.get("/v1/staff/" + staff_ids[0], h).body;
            std::ofstream(nginx_root + "/static-list.json") << c.get("/v1/clients?limit=50", h).body;
        }
        // Each read scenario also prints the CPU carelogd and the broker spent per answered read,
        // counted until both are quiet again (so the audit's work after the answers is in it):
        // unlike a rate, it hardly moves when other work shares the machine.
        auto read = [&](const std::string& name, const request_fn& make) {
            wait_cpu_quiet(pid);
            wait_cpu_quiet(broker_pid);
            const double server0 = cpu_seconds(pid), broker0 = cpu_seconds(broker_pid), self0 = cpu_seconds(::getpid());
            const auto threads0 = cpu_by_thread(pid), broker_threads0 = cpu_by_thread(broker_pid);
            all.push_back(open_loop(name, host, port, 0, seconds, read_conns, make, 200));
            print(all.back());
            wait_cpu_quiet(pid);
            wait_cpu_quiet(broker_pid);
            const double n = static_cast<double>(std::max<std::size_t>(all.back().ok, 1));
            if (pid > 0) {
                std::printf("%-26s CPU per read: carelogd %.1f us, broker %.1f us, this load generator %.1f us\n", "",
                            (cpu_seconds(pid) - server0) * 1e6 / n, (cpu_seconds(broker_pid) - broker0) * 1e6 / n,
                            (cpu_seconds(::getpid()) - self0) * 1e6 / n);
                std::printf("%-26s carelogd's threads:%s us\n", "", per_op_by_thread(threads0, cpu_by_thread(pid), n).c_str());
                std::printf("%-26s the broker's threads:%s us\n", "",
                            per_op_by_thread(broker_threads0, cpu_by_thread(broker_pid), n).c_str());
            }
            return all.back();
        };
        auto file = [&](const std::string& name, const std::string& path) {
            if (nginx_url.empty()) return figures{};
            auto [nh, np] = split(nginx_url);
            auto f = open_loop(name, nh, np, 0, seconds, read_conns,
                               [path](std::size_t) { return http_request("GET", path, "", ""); }, 200);
            print(f);
            return f;
        };
        // Reads are measured on a store at rest: once no record has been applied for a while,
        // carelogd merges the families reads use into one sorted run each, and the figures are
        // taken after that merge (bounded; says how long it waited and what it found). A carelogd
        // that does not merge (CARELOG_QUIET_MERGE_MS=0) shows no runs and is not waited for.
        {
            const auto t0 = steady::now();
            const double cpu0 = cpu_seconds(pid);
            std::string first_runs;
            for (int i = 0; i < 600; ++i) {
                auto m = c.get("/metrics", {});
                std::string runs;
                bool merged = true;
                for (const auto& [family, n] : series_of(m.body, "carelog_projection_sorted_runs")) {
                    runs += " " + family + " " + n;  // family="clients" 4
                    merged = merged && std::atoi(n.c_str()) <= 1;
                }
                if (i == 0) first_runs = runs;
                if (merged) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
            if (!first_runs.empty())
                std::printf("  (sorted runs before the reads:%s; waited %.1f s for the quiet merge, carelogd used %.1f CPU s)\n",
                            first_runs.c_str(), std::chrono::duration<double>(steady::now() - t0).count(),
                            cpu_seconds(pid) - cpu0);
        }
        // Warm-up, not measured: every read once at full speed, so caches, the broker's JIT (the
        // access topic's produce and fetch paths) and the audit consumer are warm for the figures.
        for (const request_fn& warm : {request_fn(get_client), request_fn(get_staff), request_fn(list_clients)})
            (void)open_loop("warm-up", host, port, 0, std::min(seconds, 2.0), read_conns, warm, 200);
        wait_cpu_quiet(pid);
        reads = read("GET /v1/clients/{id}", get_client);
        nginx = file("nginx, same bytes as a client", "/static.json");
        staff_read = read("GET /v1/staff/{id}", get_staff);
        nginx_staff = file("nginx, same bytes as a staff member", "/static-staff.json");
        list_read = read("GET /v1/clients?limit=50", list_clients);
        nginx_list = file("nginx, same bytes as the list", "/static-list.json");
    }
    // A big import beside the other agencies' commands: the same open-loop load on every agency but
    // the first, once alone and once while the first imports import_rows rows in one request.
    figures quiet, busy;
    double import_ms = 0;
    int import_status = 0;
    if (wanted("import") && tokens.size() > 1) {
        auto neighbours = [&](std::size_t i) {
            auto a = 1 + i % (tokens.size() - 1);
            return http_request("POST", "/v1/clients", tokens[a], client_body(counter++));
        };
        std::string csv = "first_name,last_name,date_of_birth\n";
        for (int i = 0; i < import_rows; ++i)
            csv += "Imported" + std::to_string(i) + ",Bulkclient,19" + std::to_string(50 + i % 50) + "-0" +
                   std::to_string(1 + i % 9) + "-1" + std::to_string(i % 9) + "\n";
        settle();
        quiet = open_loop("neighbours, no import", host, port, import_rate, import_seconds, conns, neighbours, 201);
        print(quiet);
        std::thread importer([&] {
            std::this_thread::sleep_for(std::chrono::seconds(1));
            http_client c(host, port);
            auto t0 = steady::now();
            auto r = c.request("POST", "/v1/clients/import", csv, {{"Authorization", "Bearer " + tokens[0]}}, "text/csv");
            import_ms = std::chrono::duration<double, std::milli>(steady::now() - t0).count();
            import_status = r.status;
            if (r.status != 200) std::fprintf(stderr, "import: %d %.300s\n", r.status, r.body.c_str());
        });
        busy = open_loop("neighbours, during the import", host, port, import_rate, import_seconds, conns, neighbours, 201);
        importer.join();
        print(busy);
        std::printf("%-26s %9d rows  status %d  in %.0f ms (%zu bytes of CSV)\n", "import", import_rows, import_status,
                    import_ms, csv.size());
    }
    long rss_after = rss_kib(pid);

    std::printf("\nratios (same run):\n");
    // Only ratios whose two figures were both measured in this run.
    const bool baselines = wanted("baselines");
    if (baselines && wanted("saturation")) {
        std::printf("  commands/s at saturation, 100 agencies / raw produce msgs/s        %.3f\n", sat.rate() / raw.msgs_per_s);
        std::printf("  commands/s at saturation, 100 agencies / transactional msgs/s      %.3f\n", sat.rate() / tx.msgs_per_s);
    }
    if (baselines && wanted("fixed")) {
        std::printf("  @20k/s p50 / transactional commit p50                              %.2f\n",
                    pct(at20k.lat_ms, 0.5) / std::max(0.001, pct(tx.commit_ms, 0.5)));
        std::printf("  @20k/s p99 / transactional commit p99                              %.2f\n",
                    pct(at20k.lat_ms, 0.99) / std::max(0.001, pct(tx.commit_ms, 0.99)));
    }
    if (wanted("single")) std::printf("  single agency commands/s                                           %.0f\n", one.rate());
    if (!nginx_url.empty() && wanted("reads")) {
        std::printf("  GET /v1/clients/{id} / nginx same-size file                        %.3f\n",
                    reads.rate() / std::max(1.0, nginx.rate()));
        std::printf("  GET /v1/staff/{id} / nginx same-size file                          %.3f\n",
                    staff_read.rate() / std::max(1.0, nginx_staff.rate()));
        std::printf("  GET /v1/clients?limit=50 / nginx same-size file                    %.3f\n",
                    list_read.rate() / std::max(1.0, nginx_list.rate()));
    }
    if (wanted("import") && tokens.size() > 1) {
        std::printf("  neighbours' p99 during a %d-row import / without                  %.2f\n", import_rows,
                    pct(busy.lat_ms, 0.99) / std::max(0.001, pct(quiet.lat_ms, 0.99)));
        if (baselines)
            std::printf("  neighbours' max during the import / the transactional commit p99   %.2f\n",
                        pct(busy.lat_ms, 1.0) / std::max(0.001, pct(tx.commit_ms, 0.99)));
    }
    std::printf("  carelogd RSS before %ld KiB, after %ld KiB\n", rss_before, rss_after);
    (void)at1k;
    (void)at5k;
    (void)one10k;
    return wanted("saturation") && sat.ok == 0 ? 1 : 0;
}
