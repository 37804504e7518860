#include "process.hpp"

#include "carelog/kafka/kafka.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace carelog::testing {
namespace fs = std::filesystem;

std::string source_dir() {
    if (const char* s = std::getenv("CARELOG_SOURCE_DIR")) return s;
    return CARELOG_SOURCE_DIR_DEFAULT;
}
std::string bin_dir() {
    if (const char* s = std::getenv("CARELOG_BIN_DIR")) return s;
    return CARELOG_BIN_DIR_DEFAULT;
}

// A port free now, below Linux's ephemeral range (32768 and up), as ops/kafka picks its own: a
// server that a test stops and starts again on the same port (a broker coming back) must find it
// free, and a port in the ephemeral range can meanwhile be taken by any outgoing connection, even
// by a client reconnecting to that very port (TCP's simultaneous open connects it to itself).
unsigned short free_port() {
    static thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> below_ephemeral(20000, 32000 - 1);
    for (int attempt = 0; attempt < 200; ++attempt) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) throw std::runtime_error("socket failed");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<unsigned short>(below_ephemeral(rng)));
        const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (bound) return ntohs(a.sin_port);
    }
    throw std::runtime_error("no free port below the ephemeral range");
}

std::string fresh_suffix() {
    static std::atomic<int> n{0};
    std::random_device rd;
    std::ostringstream s;
    s << ::getpid() << "-" << std::hex << (rd() & 0xffffff) << "-" << n++;
    return s.str();
}

std::string make_temp_dir(const std::string& hint) {
    auto base = fs::path(source_dir()) / "var" / "test-tmp" / (hint + "-" + fresh_suffix());
    fs::create_directories(base);
    return base.string();
}

std::string test_brokers() {
    if (const char* s = std::getenv("CARELOG_TEST_BROKERS")) return s;
    return "127.0.0.1:9092";
}

namespace {
int spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& log) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        auto name = kv.substr(0, kv.find('='));
        if (!env.count(name)) envs.push_back(kv);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
    return pid;
}

int run_and_wait(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 const std::string& log) {
    int pid = spawn(argv, env, log);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
}  // namespace

carelogd::carelogd(carelogd_options o) : opts_(std::move(o)), port_(free_port()) {
    if (opts_.brokers.empty()) opts_.brokers = test_brokers();
    if (opts_.topic_prefix.empty()) opts_.topic_prefix = "test." + fresh_suffix() + ".";
    if (opts_.data_dir.empty()) opts_.data_dir = make_temp_dir("carelogd");
    log_ = opts_.data_dir + "/carelogd.log";
    std::map<std::string, std::string> env = {
        {"CARELOG_HTTP_ADDR", "127.0.0.1:" + std::to_string(port_)},
        {"CARELOG_BROKERS", opts_.brokers},
        {"CARELOG_TOPIC_PREFIX", opts_.topic_prefix},
        {"CARELOG_DATA_DIR", opts_.data_dir},
        {"CARELOG_OPERATOR_KEY", opts_.operator_key},
        {"CARELOG_SECRET_KEY", opts_.secret_key},
        {"CARELOG_KAFKA_TIMEOUT_MS", std::to_string(opts_.kafka_timeout_ms)},
        {"CARELOG_PARTITIONS", "4"},
    };
    for (const auto& [k, v] : opts_.extra_env) env[k] = v;
    std::vector<std::string> argv = {bin_dir() + "/carelogd"};
    argv.insert(argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());
    pid_ = spawn(argv, env, log_);
}

carelogd::~carelogd() {
    if (pid_ > 0) stop();
}

bool carelogd::running() {
    if (pid_ <= 0) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

std::string carelogd::log_text() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool carelogd::log_shows(const std::string& text, std::chrono::seconds limit) const {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (log_text().find(text) != std::string::npos) return true;
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void carelogd::wait_ready(std::chrono::seconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (!running()) FAIL("carelogd exited during start; log:\n" << log_text());
        try {
            auto c = client();
            if (c.get("/readyz").status == 200) return;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("carelogd not ready in time; log:\n" << log_text());
}

int carelogd::stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; ++i) {
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return -1;
}

void carelogd::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

private_broker::private_broker() : dir_(make_temp_dir("broker")), port_(free_port()) {}
private_broker::~private_broker() { stop(); }

void private_broker::start() {
    // The port is chosen before the broker binds it, and ctest runs several tests at once: another
    // test's process can take it (or the controller port ops/kafka picks) first. A first start that
    // fails is stopped and tried again on a fresh port; a later start keeps its port, since clients
    // were given it (brokers()).
    for (int attempt = 1;; ++attempt) {
        std::map<std::string, std::string> env = {{"KAFKA_DIR", dir_}, {"KAFKA_PORT", std::to_string(port_)}};
        int rc = run_and_wait({"/bin/bash", source_dir() + "/ops/kafka", "start"}, env, dir_ + "/ops.log");
        if (rc == 0) {
            started_ = true;
            return;
        }
        if (started_ || attempt == 3) FAIL("ops/kafka start failed (" << rc << "); see " << dir_ << "/ops.log");
        stop();
        port_ = free_port();
    }
}

void private_broker::stop() {
    std::map<std::string, std::string> env = {{"KAFKA_DIR", dir_}, {"KAFKA_PORT", std::to_string(port_)}};
    run_and_wait({"/bin/bash", source_dir() + "/ops/kafka", "stop"}, env, dir_ + "/ops.log");
}

std::string private_broker::brokers() const { return "127.0.0.1:" + std::to_string(port_); }

smtp_sink::smtp_sink(unsigned short port, bool bounce_marked)
    : dir_(make_temp_dir("smtp")), port_(port ? port : free_port()), bounce_marked_(bounce_marked) {}
smtp_sink::~smtp_sink() { stop(); }

void smtp_sink::start() {
    if (pid_ > 0) return;
    pid_ = spawn({"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:" + std::to_string(port_), "-c",
                  bounce_marked_ ? "smtp_reject.RejectingMailbox" : "aiosmtpd.handlers.Mailbox", dir_ + "/maildir"},
                 {{"PYTHONPATH", source_dir() + "/tests/support"}}, dir_ + "/aiosmtpd.log");
    for (int i = 0; i < 200; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port_);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (up) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("aiosmtpd did not listen on port " << port_ << "; see " << dir_ << "/aiosmtpd.log");
}

void smtp_sink::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int st = 0;
    for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
}

std::vector<std::string> smtp_sink::messages() const {
    std::vector<std::pair<fs::file_time_type, std::string>> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(dir_) / "maildir" / "new", ec)) {
        std::ifstream in(e.path());
        std::stringstream ss;
        ss << in.rdbuf();
        found.emplace_back(e.last_write_time(), ss.str());
    }
    std::sort(found.begin(), found.end());
    std::vector<std::string> out;
    for (auto& [t, text] : found) out.push_back(std::move(text));
    return out;
}

std::vector<std::string> smtp_sink::wait_for(std::size_t count, std::chrono::seconds limit) const {
    auto until = std::chrono::steady_clock::now() + limit;
    auto got = messages();
    while (got.size() < count && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        got = messages();
    }
    return got;
}

std::string str(const boost::json::value& v, std::string_view key) {
    const auto* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
    INFO("field " << key << " of " << boost::json::serialize(v));
    REQUIRE((f && f->is_string()));
    return std::string(f->as_string());
}

std::vector<std::string> read_topic(const std::string& brokers, const std::string& topic, int partitions,
                                    bool with_keys) {
    kafka::config cfg;
    cfg.brokers = brokers;
    std::vector<std::string> out;
    for (int p = 0; p < partitions; ++p) {
        auto end = kafka::read_to_end(cfg, topic, p, 0, std::chrono::milliseconds(20000), [&](const kafka::record& r) {
            out.emplace_back(reinterpret_cast<const char*>(r.value.data()), r.value.size());
            if (with_keys) out.back() += "|key=" + std::string(r.key);
        });
        REQUIRE(end.has_value());
    }
    return out;
}

secret_key server_key(const carelogd& d) {
    auto k = secret_key_from_hex(d.options().secret_key);
    REQUIRE(k.has_value());
    return *k;
}

namespace {
struct known_agency {
    std::string slug;
    std::string admin_username;
};
std::mutex agencies_mu;
std::map<std::string, known_agency> agencies;
}  // namespace

boost::json::object create_agency(http_client& c, const std::string& operator_key, const std::string& slug,
                                  const std::string& admin_first, const std::string& admin_last) {
    boost::json::object body{{"name", "Agency " + slug},
                             {"slug", slug},
                             {"admin", boost::json::object{{"first_name", admin_first},
                                                           {"last_name", admin_last},
                                                           {"email", "admin@" + slug + ".example"},
                                                           {"password", admin_password}}}};
    auto r = c.post("/v1/agencies", body, {{"X-Operator-Key", operator_key}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto created = r.json().as_object();
    {
        std::lock_guard lock(agencies_mu);
        agencies[std::string(created.at("agency_id").as_string())] =
            known_agency{slug, std::string(created.at("admin").at("username").as_string())};
    }
    // Read-your-writes: once this answers, the agency is visible to every later request.
    auto h = as_agency(c, std::string(created.at("agency_id").as_string()));
    h["X-Consistency-Token"] = std::string(created.at("consistency_token").as_string());
    auto seen = c.get("/v1/agency/settings", h);
    INFO(seen.body);
    REQUIRE(seen.status == 200);
    return created;
}

boost::json::object login(http_client& c, const std::string& slug, const std::string& username,
                          const std::string& password, const std::string& totp) {
    boost::json::object body{{"agency", slug}, {"username", username}, {"password", password}};
    if (!totp.empty()) body["totp"] = totp;
    // Right after the agency's creation the login may reach the read models first: a few tries.
    for (int i = 0;; ++i) {
        auto r = c.post("/v1/auth/login", body);
        if (r.status == 200) return r.json().as_object();
        if (i == 50) {
            INFO(r.body);
            REQUIRE(r.status == 200);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

std::map<std::string, std::string> as_agency(http_client& c, const std::string& agency_id) {
    known_agency a;
    {
        std::lock_guard lock(agencies_mu);
        auto it = agencies.find(agency_id);
        REQUIRE(it != agencies.end());
        a = it->second;
    }
    auto s = login(c, a.slug, a.admin_username, admin_password);
    return bearer(std::string(s.at("token").as_string()));
}

}  // namespace carelog::testing
