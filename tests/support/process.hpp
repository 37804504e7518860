// Test fixtures that run real processes: carelogd (built in build/bin) and a dedicated Kafka
// broker via ops/kafka. Each stops only what it started, by the pid it recorded.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "carelog/base/secrets.hpp"
#include "http_client.hpp"

namespace carelog::testing {

// Path helpers: the repository root (from CARELOG_SOURCE_DIR or the compiled-in path) and build/bin.
std::string source_dir();
std::string bin_dir();
unsigned short free_port();
std::string fresh_suffix();  // unique per call: for topic prefixes and data dirs
std::string make_temp_dir(const std::string& hint);

// The broker the test run uses (CARELOG_TEST_BROKERS, set by ops/test).
std::string test_brokers();

struct carelogd_options {
    std::string brokers;
    std::string topic_prefix;      // fresh per test
    std::string data_dir;          // fresh per test unless reused for restart tests
    std::string operator_key = "test-operator-key";
    // CARELOG_SECRET_KEY (tests open sealed notifications and TOTP secrets with it).
    std::string secret_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    int kafka_timeout_ms = 3000;
    std::map<std::string, std::string> extra_env;
    std::vector<std::string> extra_args;
};

class carelogd {
public:
    explicit carelogd(carelogd_options o);
    ~carelogd();  // SIGTERM, wait, SIGKILL if it will not stop
    carelogd(const carelogd&) = delete;

    // Waits for /readyz to answer 200 (or fails the test).
    void wait_ready(std::chrono::seconds limit = std::chrono::seconds(60));
    // SIGTERM and wait for exit; returns the exit status.
    int stop();
    void kill_hard();  // SIGKILL: a crash
    bool running();

    unsigned short port() const { return port_; }
    int pid() const { return pid_; }
    const carelogd_options& options() const { return opts_; }
    http_client client() const { return http_client("127.0.0.1", port_); }
    std::string log_path() const { return log_; }
    std::string log_text() const;
    // carelogd logs through an asynchronous logger: a line reaches the file shortly after the work
    // that logged it. Reads the log until it holds `text` (true) or `limit` has passed (false).
    bool log_shows(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(30)) const;

private:
    carelogd_options opts_;
    unsigned short port_;
    int pid_ = -1;
    std::string log_;
};

// A Kafka broker of its own (for fault tests that stop and restart it), via ops/kafka.
class private_broker {
public:
    private_broker();
    ~private_broker();
    void start();
    void stop();
    std::string brokers() const;

private:
    std::string dir_;
    unsigned short port_;
    bool started_ = false;  // once started, the port is the one clients were given
};

// A real SMTP server for notifier tests: Debian's aiosmtpd (under /usr/bin/python3) on loopback,
// keeping every message it accepts in a Maildir. Stopped by its pid.
class smtp_sink {
public:
    // 0 = a free port. bounce_marked: recipients starting with "bounce" are refused for good (550).
    explicit smtp_sink(unsigned short port = 0, bool bounce_marked = false);
    ~smtp_sink();
    void start();  // returns once the port accepts connections
    void stop();
    unsigned short port() const { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
    // The accepted messages (headers and body as received), oldest first.
    std::vector<std::string> messages() const;
    // Waits up to `limit` for at least `count` messages; returns what is there then.
    std::vector<std::string> wait_for(std::size_t count, std::chrono::seconds limit) const;

private:
    std::string dir_;
    unsigned short port_;
    bool bounce_marked_ = false;
    int pid_ = -1;
};

// A string field of a JSON object (fails the test when missing or not a string).
std::string str(const boost::json::value& v, std::string_view key);

// Every record value of a topic (all partitions, read_committed, from the beginning), as text;
// with_keys appends "|key=<record key>" to each (for scans that must cover keys too).
std::vector<std::string> read_topic(const std::string& brokers, const std::string& topic, int partitions = 4,
                                    bool with_keys = false);

// The server key (CARELOG_SECRET_KEY) a test carelogd runs with: opens sealed notifications.
secret_key server_key(const carelogd& d);

// Creates an agency through the operator endpoint; returns the 201 body.
boost::json::object create_agency(http_client& c, const std::string& operator_key, const std::string& slug,
                                  const std::string& admin_first = "Ada", const std::string& admin_last = "Admin");

// The password create_agency gives every agency's first admin.
inline constexpr const char* admin_password = "Correct-Horse-9-Battery";

// POST /v1/auth/login; returns the 200 body (fails the test on anything else).
boost::json::object login(http_client& c, const std::string& slug, const std::string& username,
                          const std::string& password, const std::string& totp = "");
std::map<std::string, std::string> bearer(const std::string& token);
// Bearer headers of a fresh session of the agency's first admin (an agency create_agency made in
// this process: it remembers slug and admin username).
std::map<std::string, std::string> as_agency(http_client& c, const std::string& agency_id);

}  // namespace carelog::testing
