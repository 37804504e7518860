// carelog-bench: load against a running carelogd over loopback, bounded in count and time.
// Prints, for each scenario, throughput and latency percentiles, next to a baseline measured in
// the same run (GET /healthz: the HTTP floor of this machine), so figures compare across machines.
//
//   carelog-bench --url 127.0.0.1:8080 --operator-key KEY [--clients 16] [--seconds 10]
//
// Scenarios:
//   healthz      GET /healthz                              (baseline: HTTP round trip, no work)
//   command-1    PUT /v1/staff/{id}/role, 1 client          (durable: answered after the Kafka commit)
//   command-N    PUT /v1/staff/{id}/role, N clients         (one agency per client: writers batch)
//   create-N     POST /v1/staff, N clients                  (includes Argon2id of the temp password)
//   get-N        GET /v1/staff/{id}, N clients              (projection read)
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "http_client.hpp"

using carelog::testing::http_client;
namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

struct figures {
    std::string name;
    std::size_t ok = 0, failed = 0;
    double seconds = 0;
    std::vector<double> lat_ms;
};

double pct(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    return v[i];
}

void print(figures& f) {
    double rate = f.seconds > 0 ? static_cast<double>(f.ok) / f.seconds : 0;
    std::printf("%-12s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  ok %zu  failed %zu\n", f.name.c_str(), rate,
                pct(f.lat_ms, 0.50), pct(f.lat_ms, 0.99), f.ok, f.failed);
    std::fflush(stdout);
}

// Runs `op(client, thread index, iteration) -> status ok?` on `clients` threads for `seconds`
// (and at most `max_ops` operations in all).
template <class Op>
figures run(const std::string& name, const std::string& host, unsigned short port, int clients, double seconds,
            std::size_t max_ops, Op op) {
    figures f;
    f.name = name;
    std::mutex mu;
    std::atomic<std::size_t> issued{0};
    auto start = clock_type::now();
    auto until = start + std::chrono::duration<double>(seconds);
    std::vector<std::thread> ts;
    for (int t = 0; t < clients; ++t) {
        ts.emplace_back([&, t] {
            http_client c(host, port);
            std::vector<double> lat;
            std::size_t ok = 0, failed = 0;
            for (std::size_t i = 0; clock_type::now() < until && issued.fetch_add(1) < max_ops; ++i) {
                auto t0 = clock_type::now();
                bool good = false;
                try {
                    good = op(c, t, i);
                } catch (const std::exception&) {
                    good = false;
                }
                auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
                if (good) {
                    ++ok;
                    lat.push_back(ms);
                } else {
                    ++failed;
                }
            }
            std::lock_guard lk(mu);
            f.ok += ok;
            f.failed += failed;
            f.lat_ms.insert(f.lat_ms.end(), lat.begin(), lat.end());
        });
    }
    for (auto& t : ts) t.join();
    f.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelog-bench: bounded load against a carelogd on loopback"};
    std::string url = "127.0.0.1:8080", key;
    int clients = 16;
    double seconds = 10;
    std::size_t max_ops = 200000;
    app.add_option("--url", url, "host:port of carelogd (loopback only)");
    app.add_option("--operator-key", key)->required();
    app.add_option("--clients", clients);
    app.add_option("--seconds", seconds, "per scenario");
    app.add_option("--max-ops", max_ops, "per scenario");
    CLI11_PARSE(app, argc, argv);
    auto colon = url.rfind(':');
    std::string host = url.substr(0, colon);
    if (host != "127.0.0.1" && host != "localhost") {
        std::fprintf(stderr, "carelog-bench only targets loopback\n");
        return 2;
    }
    auto port = static_cast<unsigned short>(std::stoi(url.substr(colon + 1)));

    // One agency and one staff member per client, so commands spread over partitions.
    std::vector<std::string> agencies, staff, tokens;
    {
        http_client c(host, port);
        auto stamp = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
        for (int i = 0; i < clients; ++i) {
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
            auto agency = std::string(r.json().at("agency_id").as_string());
            agencies.push_back(agency);
            // The agency's admin logs in (the operator key only creates agencies).
            std::string token;
            for (int attempt = 0; attempt < 50 && token.empty(); ++attempt) {
                auto l = c.post("/v1/auth/login", json::object{{"agency", slug},
                                                               {"username", r.json().at("admin").at("username")},
                                                               {"password", "Bench-Password-123!"}});
                if (l.status == 200)
                    token = std::string(l.json().at("token").as_string());
                else
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            if (token.empty()) {
                std::fprintf(stderr, "logging in as the admin of %s failed\n", slug.c_str());
                return 1;
            }
            tokens.push_back(token);
            auto s = c.post("/v1/staff",
                            json::object{{"first_name", "Pat"},
                                         {"last_name", "Load"},
                                         {"gender", "x"},
                                         {"position", "Counselor"},
                                         {"email", "pat@bench.example"},
                                         {"role", "therapist"},
                                         {"type", "therapy_counseling"}},
                            {{"Authorization", "Bearer " + tokens.back()}});
            if (s.status != 201) {
                std::fprintf(stderr, "creating staff: %d %s\n", s.status, s.body.c_str());
                return 1;
            }
            staff.push_back(std::string(s.json().at("id").as_string()));
        }
    }
    auto headers = [&](int t) {
        return std::map<std::string, std::string>{{"Authorization", "Bearer " + tokens[t]}};
    };
    static const char* roles[] = {"biller", "therapist"};
    auto set_role = [&](http_client& c, int t, std::size_t i) {
        return c.put("/v1/staff/" + staff[t] + "/role", json::object{{"role", roles[i % 2]}}, headers(t)).status ==
               200;
    };

    std::printf("carelog-bench: %d clients, %.0f s per scenario, loopback %s\n", clients, seconds, url.c_str());
    auto base = run("healthz", host, port, clients, seconds, max_ops,
                    [&](http_client& c, int, std::size_t) { return c.get("/healthz").status == 200; });
    print(base);
    auto one = run("command-1", host, port, 1, seconds, max_ops, set_role);
    print(one);
    auto many = run("command-" + std::to_string(clients), host, port, clients, seconds, max_ops, set_role);
    print(many);
    auto creates = run("create-" + std::to_string(clients), host, port, clients, seconds, std::min<std::size_t>(max_ops, 5000),
                       [&](http_client& c, int t, std::size_t i) {
                           // distinct first letters and middle names keep usernames apart
                           std::string first = std::string(1, static_cast<char>('a' + (i % 26))) + "bench";
                           std::string last = "L" + std::to_string(t) + "x" + std::to_string(i);
                           return c.post("/v1/staff",
                                         json::object{{"first_name", first},
                                                      {"last_name", last},
                                                      {"gender", "x"},
                                                      {"position", "Counselor"},
                                                      {"email", "b@bench.example"},
                                                      {"role", "scheduler"},
                                                      {"type", "administration"}},
                                         headers(t))
                                      .status == 201;
                       });
    print(creates);
    auto gets = run("get-" + std::to_string(clients), host, port, clients, seconds, max_ops,
                    [&](http_client& c, int t, std::size_t) {
                        return c.get("/v1/staff/" + staff[t], headers(t)).status == 200;
                    });
    print(gets);
    double floor = base.seconds > 0 ? static_cast<double>(base.ok) / base.seconds : 1;
    auto rate = [](const figures& f) { return f.seconds > 0 ? static_cast<double>(f.ok) / f.seconds : 0; };
    std::printf("relative to the healthz floor: command-%d %.3f, get-%d %.3f; batching gain command-%d/command-1 %.1fx\n",
                clients, rate(many) / floor, clients, rate(gets) / floor, clients,
                rate(one) > 0 ? rate(many) / rate(one) : 0);
    return (many.ok == 0 || gets.ok == 0) ? 1 : 0;
}
