// Fixture for the HTTP layer's unit tests: handle() over a real projections::store in a temp dir,
// a fake command bus that records what it is given and answers scripted results, a fake
// projection status, fixed time and ids. Fakes fail loudly on calls they were not set up for.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>

#include "carelog/api/app.hpp"
#include "carelog/base/consistency_token.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/base/sha256.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::api::testing {

namespace json = boost::json;
namespace http = boost::beast::http;

inline constexpr const char* operator_key = "test-operator-key-0123456789";
inline constexpr micros t0 = 1'790'000'000'000'000;
inline constexpr micros second = 1'000'000;

// uuid(7) -> "00000000-0000-7000-8000-000000000007"
inline std::string uuid(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-7000-8000-%012d", n);
    return buf;
}

// The Idempotency-Key as the router hands it to the bus: the caller's scope, the request (method,
// route template, digest of the body) and the client's key.
inline std::string bus_key(const std::string& scope, std::string_view method, std::string_view route,
                           std::string_view body, std::string_view key) {
    return scope + ":" + std::string(method) + " " + std::string(route) + ":" + to_hex(sha256(body)).substr(0, 32) +
           ":" + std::string(key);
}

struct unexpected_call : std::logic_error {
    using std::logic_error::logic_error;
};

// Records every submit; answers the scripted results in order. Throws on a submit with nothing
// scripted, so a handler that reaches the bus when it should have refused the request fails the test.
class fake_bus final : public command_bus {
public:
    struct call {
        std::string agency_id;
        command_meta meta;
        aggregates::command cmd;
    };

    void will_return(result<command_result> r) {
        std::lock_guard lock(m_);
        script_.push_back(std::move(r));
    }
    // A created-style success: body {id}, version, token.
    void will_succeed(std::string id, std::uint64_t version = 1, std::string token = "0-1",
                      json::object body = {}) {
        command_result r;
        r.aggregate_id = id;
        r.version = version;
        r.consistency_token = std::move(token);
        r.body = body.empty() ? json::object{{"id", id}} : std::move(body);
        will_return(std::move(r));
    }
    // Blocks every submit for `d` before answering (server tests).
    void delay(std::chrono::milliseconds d) { delay_ = d; }
    // Answers every submit nothing is scripted for (generated tests that walk every route).
    std::function<result<command_result>(const std::string& agency, const aggregates::command&)> responder;

    result<command_result> submit(const std::string& agency_id, const command_meta& meta,
                                  const aggregates::command& cmd) override {
        if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
        std::lock_guard lock(m_);
        calls.push_back({agency_id, meta, cmd});
        if (script_.empty() && responder) return responder(agency_id, cmd);
        if (script_.empty()) throw unexpected_call("fake_bus: unexpected submit for agency " + agency_id);
        auto r = std::move(script_.front());
        script_.pop_front();
        return r;
    }

    // Batches (the CSV import): recorded; answered by batch_responder, else a throw.
    struct batch_call {
        std::string agency_id;
        command_meta meta;
        std::vector<aggregates::command> cmds;
        bool dry_run = false;
    };
    std::vector<batch_call> batches;
    std::function<result<std::vector<result<command_result>>>(const batch_call&)> batch_responder;

    result<std::vector<result<command_result>>> submit_batch(const std::string& agency_id, const command_meta& meta,
                                                             const std::vector<aggregates::command>& cmds,
                                                             bool dry_run) override {
        std::lock_guard lock(m_);
        batches.push_back({agency_id, meta, cmds, dry_run});
        if (!batch_responder) throw unexpected_call("fake_bus: unexpected submit_batch for agency " + agency_id);
        return batch_responder(batches.back());
    }

    template <class C>
    const C& last() const {
        REQUIRE(!calls.empty());
        const C* c = std::get_if<C>(&calls.back().cmd);
        REQUIRE(c != nullptr);
        return *c;
    }

    std::vector<call> calls;

private:
    std::mutex m_;
    std::deque<result<command_result>> script_;
    std::chrono::milliseconds delay_{0};
};

class fake_status final : public projections::status {
public:
    // token -> answer; a token not in the map is applied when its offset is at most `applied`
    // (the fake projections are complete unless a test says otherwise) and throws past it.
    std::map<std::string, result<bool>> answers;
    std::int64_t applied = std::numeric_limits<std::int64_t>::max();
    std::vector<std::pair<std::string, std::chrono::milliseconds>> waits;
    bool is_ready = true;

    // When set, a wait with a timeout answers only this long after it began, as projections that
    // take that long to get there would: wait_for blocks meanwhile, when_applied answers from
    // another thread (the caller's thread goes on). `slow_waits` counts the waits begun so,
    // `slow_answers` those answered.
    std::chrono::milliseconds answer_after{0};
    std::atomic<int> slow_waits{0};
    std::atomic<int> slow_answers{0};
    std::vector<std::jthread> answering;

    void when_applied(const std::string& token, std::chrono::milliseconds timeout, applied_callback done) override {
        if (answer_after.count() == 0 || timeout.count() == 0) return projections::status::when_applied(token, timeout, std::move(done));
        auto answer = answer_of(token, timeout);
        ++slow_waits;
        answering.emplace_back([this, answer, done = std::move(done), d = answer_after] {
            std::this_thread::sleep_for(d);
            ++slow_answers;
            done(answer);
        });
    }
    result<bool> wait_for(const std::string& token, std::chrono::milliseconds timeout) override {
        auto answer = answer_of(token, timeout);
        // Projections that get there only answer_after from now are not there yet.
        if (answer_after.count() != 0 && timeout.count() == 0 && answer) return false;
        if (answer_after.count() != 0 && timeout.count() != 0) {
            ++slow_waits;
            std::this_thread::sleep_for(answer_after);
            ++slow_answers;
        }
        return answer;
    }
    bool ready() const override { return is_ready; }
    std::string metrics_text() const override { return "carelog_projection_lag_records 0\n"; }

private:
    result<bool> answer_of(const std::string& token, std::chrono::milliseconds timeout) {
        waits.emplace_back(token, timeout);
        auto it = answers.find(token);
        if (it != answers.end()) return it->second;
        int partition = 0;
        std::int64_t offset = 0;
        if (parse_token(token, partition, offset) && offset <= applied) return true;
        throw unexpected_call("fake_status: unexpected wait_for(" + token + ")");
    }
};

struct fixed_clock final : clock_source {
    micros t = t0;
    micros now() override { return t; }
};

// uuid(100), uuid(101), ...
struct counting_ids final : id_source {
    std::atomic<int> next{100};
    std::string next_uuid() override { return uuid(next++); }
};

class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("carelog-api-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string str() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

// Real envelopes (encode: sequence, hash chain, versions) applied to the store at increasing offsets.
struct feeder {
    projections::store* db = nullptr;
    std::int64_t offset = 0;
    micros clock = t0;
    std::map<std::string, std::uint64_t> sequences;
    std::map<std::string, sha256_digest> prev_hashes;
    std::map<std::string, std::uint64_t> versions;
    int next_event = 1'000'000;

    void push(const std::string& agency, const std::string& aggregate, events::payload p,
              std::string aggregate_type = "") {
        events::envelope e;
        e.event_id = uuid(next_event++);
        e.agency_id = agency;
        e.aggregate_type = aggregate_type.empty() ? std::string(events::aggregate_type_of(p)) : aggregate_type;
        e.aggregate_id = aggregate;
        e.aggregate_version = ++versions[aggregate];
        e.sequence = ++sequences[agency];
        clock += second;
        e.occurred_at = clock;
        e.actor_id = "operator";
        e.command_id = uuid(next_event++);
        e.correlation_id = e.command_id;
        e.causation_id = e.command_id;
        e.prev_hash = prev_hashes[agency];
        e.data = std::move(p);
        auto bytes = events::encode(e);
        prev_hashes[agency] = e.hash;
        auto r = db->apply(0, offset++, bytes, clock);
        REQUIRE(r.has_value());
        REQUIRE(*r == projections::apply_outcome::applied);
    }
};

inline events::StaffCreated staff_created(std::string first, std::string last, std::string username,
                                          std::string role = "therapist") {
    events::StaffCreated c;
    c.first_name = std::move(first);
    c.last_name = std::move(last);
    c.gender = "female";
    c.position = "Counselor";
    c.email = c.first_name + "@example.org";
    c.username = std::move(username);
    c.role = std::move(role);
    c.staff_type = "therapy_counseling";
    c.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    return c;
}

struct api_fixture {
    temp_dir dir;
    std::unique_ptr<projections::store> store;
    fake_bus bus;
    fake_status status;
    fixed_clock clock;
    counting_ids ids;
    metrics m;
    std::unique_ptr<app_context> ctx;
    feeder feed;
    std::string peer;  // the client's address handle() is given

    // Two agencies: A (uuid(1), slug "sunrise", staff uuid(11) "tjones") and B (uuid(2), "harbor",
    // staff uuid(21) "mgarcia").
    std::string agency_a = uuid(1), agency_b = uuid(2);
    std::string staff_a = uuid(11), staff_b = uuid(21);

    explicit api_fixture(const rate_limit_config& limits = {}) {
        auto s = projections::store::open(dir.str());
        REQUIRE(s.has_value());
        store = std::move(*s);
        config cfg;
        cfg.operator_key = operator_key;
        cfg.read_wait = std::chrono::milliseconds(50);
        cfg.public_url = "http://127.0.0.1:8080";
        cfg.limits = limits;
        ctx = std::make_unique<app_context>(app_context{cfg, bus, status, *store, clock, ids, m});
        feed.db = store.get();
        feed.push(agency_a, agency_a,
                  events::AgencyCreated{"Sunrise Counseling", "sunrise", events::default_settings("Sunrise Counseling")});
        feed.push(agency_a, staff_a, staff_created("Todd", "Jones", "tjones"));
        feed.push(agency_b, agency_b,
                  events::AgencyCreated{"Harbor Health", "harbor", events::default_settings("Harbor Health")});
        feed.push(agency_b, staff_b, staff_created("Maria", "Garcia", "mgarcia"));
    }

    http_response request(http::verb method, std::string target, std::string body = "",
                          std::map<std::string, std::string> headers = {}, bool json_body = true) {
        http_request req{method, target, 11};
        req.set(http::field::host, "localhost");
        for (const auto& [k, v] : headers) req.set(k, v);
        if (!body.empty() || method == http::verb::post || method == http::verb::put || method == http::verb::patch) {
            if (json_body && req.find(http::field::content_type) == req.end())
                req.set(http::field::content_type, "application/json");
            req.body() = std::move(body);
        }
        req.prepare_payload();
        return handle(*ctx, req, peer);
    }

    // A live session for a staff member already in the store: LoginSucceeded with the hash of a
    // token "<agency>.<tag>"; returns the token.
    std::string login(const std::string& agency, const std::string& staff, const std::string& tag) {
        std::string token = agency + "." + tag;
        feed.push(agency, staff, events::LoginSucceeded{token_hash(token), "127.0.0.1", "test", false, false, 0});
        return token;
    }
    static std::map<std::string, std::string> bearer(const std::string& token,
                                                     std::map<std::string, std::string> extra = {}) {
        extra.emplace("Authorization", "Bearer " + token);
        return extra;
    }

    // Each agency's org_admin ("aadmin" uuid(10) in A, "badmin" uuid(20) in B) with a live session,
    // created on first use (so tests that never act as an admin see only their own staff).
    std::map<std::string, std::string> admin_tokens;
    std::string admin_of(const std::string& agency) {
        if (agency == agency_a) return uuid(10);
        if (agency == agency_b) return uuid(20);
        return uuid(90);
    }
    std::string admin_token(const std::string& agency) {
        if (auto it = admin_tokens.find(agency); it != admin_tokens.end()) return it->second;
        if (agency != agency_a && agency != agency_b) return agency + ".no-such-session";
        auto admin = staff_created(agency == agency_a ? "Alice" : "Bert", "Admin", agency == agency_a ? "aadmin" : "badmin",
                                   "org_admin");
        admin.staff_type = "administration";
        admin.require_password_change = false;
        feed.push(agency, admin_of(agency), admin);
        return admin_tokens[agency] = login(agency, admin_of(agency), "admin-session");
    }
    // Switches on the agency's modules (client portal, messaging) and grants its org_admin both, so
    // that module routes (portal.*, messaging.*) get past the permission check.
    void enable_modules(const std::string& agency) {
        admin_token(agency);
        events::Settings on;
        on.client_portal_enabled = true;
        on.messaging_enabled = true;
        feed.push(agency, agency, events::AgencySettingsChanged{on});
        feed.push(agency, admin_of(agency), events::ModulePermissionGranted{"client_portal"});
        feed.push(agency, admin_of(agency), events::ModulePermissionGranted{"messaging"});
    }
    // As the agency's org_admin (a bearer session).
    std::map<std::string, std::string> as_agency(const std::string& agency, std::map<std::string, std::string> extra = {}) {
        return bearer(admin_token(agency), std::move(extra));
    }
    http_response get(std::string target, std::map<std::string, std::string> extra = {}) {
        return request(http::verb::get, std::move(target), "", as_agency(agency_a, std::move(extra)));
    }
    http_response send(http::verb v, std::string target, const json::value& body,
                       std::map<std::string, std::string> extra = {}) {
        return request(v, std::move(target), json::serialize(body), as_agency(agency_a, std::move(extra)));
    }
};

inline json::object body_of(const http_response& res) {
    auto v = json::parse(res.body());
    REQUIRE(v.is_object());
    return v.as_object();
}

inline std::string header_of(const http_response& res, std::string_view name) {
    auto it = res.find(boost::beast::string_view(name.data(), name.size()));
    return it == res.end() ? std::string() : std::string(it->value());
}

// The problem's field names, in order.
inline std::vector<std::string> problem_fields(const http_response& res) {
    std::vector<std::string> out;
    auto b = body_of(res);
    if (auto it = b.find("errors"); it != b.end())
        for (const auto& e : it->value().as_array()) out.emplace_back(e.as_object().at("field").as_string());
    return out;
}

inline bool is_problem(const http_response& res, int status) {
    if (res.result_int() != static_cast<unsigned>(status)) return false;
    if (header_of(res, "Content-Type") != "application/problem+json") return false;
    auto b = body_of(res);
    return b.at("status").as_int64() == status && b.contains("type") && b.contains("title") && b.contains("detail");
}

}  // namespace carelog::api::testing
