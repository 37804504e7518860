// Faults against real processes: the broker going away and coming back, a crash, a second
// carelogd on the same topic, a poisoned record, a topic that could lose events or whose partition
// count changed, kill -9 under load.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "carelog/events/envelope_codec.hpp"

#include "metrics_text.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

json::object staff_body(const std::string& first, const std::string& last) {
    return json::object{{"first_name", first},     {"last_name", last},   {"gender", "male"},
                        {"position", "Biller"},    {"email", "b@x.org"},  {"role", "biller"},
                        {"type", "administration"}};
}

// Produces raw bytes to a topic with the plain (non-transactional) librdkafka producer.
void produce_raw(const std::string& brokers, const std::string& topic, const std::string& key,
                 const std::string& value) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk);
    auto rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    REQUIRE(rc == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
}

// Creates a topic with one extra config through librdkafka's admin API.
void create_topic(const std::string& brokers, const std::string& topic, const std::string& key,
                  const std::string& value) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk);
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 2, 1, err, sizeof err);
    REQUIRE(nt);
    REQUIRE(rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str()) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
    REQUIRE(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    REQUIRE(n == 1);
    CHECK(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

}  // namespace

TEST_CASE("faults: with the broker gone commands get 503, and succeed again once it is back",
          "[integration][faults]") {
    private_broker broker;
    broker.start();
    carelogd_options o;
    o.brokers = broker.brokers();
    o.kafka_timeout_ms = 2000;
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto agency_id =
        std::string(create_agency(c, o.operator_key, "down-" + fresh_suffix()).at("agency_id").as_string());
    auto h = as_agency(c, agency_id);
    auto ok = c.post("/v1/staff", staff_body("Ann", "Lee"), h);
    REQUIRE(ok.status == 201);
    auto token = std::string(ok.json().at("consistency_token").as_string());

    broker.stop();
    auto down = c.post("/v1/staff", staff_body("Bob", "Ray"), h);
    INFO(down.body);
    CHECK(down.status == 503);
    CHECK(down.header("content-type").find("application/problem+json") == 0);
    CHECK(!down.header("retry-after").empty());

    broker.start();
    int status = 0;
    json::value body;
    for (int i = 0; i < 30 && status != 201; ++i) {
        auto r = c.post("/v1/staff", staff_body("Bob", "Ray"), h);
        status = r.status;
        if (status == 201) body = r.json();
        else std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    REQUIRE(status == 201);
    CHECK(body.at("username").as_string() == "bray");  // the 503 attempt left nothing behind
    auto hh = h;
    hh["X-Consistency-Token"] = std::string(body.at("consistency_token").as_string());
    auto list = c.get("/v1/staff?role=biller", hh);
    REQUIRE(list.status == 200);
    CHECK(list.json().at("items").as_array().size() == 2);
}

TEST_CASE("faults: the broker stopped for 10 s under write load: only 503 or 504 meanwhile, nothing acknowledged lost, "
          "and writes come back by themselves once it returns",
          "[integration][faults]") {
    private_broker broker;
    broker.start();
    carelogd_options o;
    o.brokers = broker.brokers();
    o.kafka_timeout_ms = 2000;
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto agency_id = std::string(create_agency(c, o.operator_key, "outage-" + fresh_suffix()).at("agency_id").as_string());
    auto h = as_agency(c, agency_id);

    std::mutex mu;
    std::map<std::string, std::string> acknowledged;  // external_id -> client id
    std::set<std::string> refused;                    // answered 503: certainly not in the log
    std::map<int, int> statuses_while_down;
    std::atomic<bool> down{false}, stop{false};
    std::atomic<long long> first_201_after_return_ms{-1};
    const auto t0 = std::chrono::steady_clock::now();
    std::atomic<long long> returned_at_ms{-1};
    auto ms_now = [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    };
    std::vector<std::thread> ts;
    for (int w = 0; w < 6; ++w) {
        ts.emplace_back([&, w, port = d.port()] {
            http_client wc("127.0.0.1", port);
            for (int i = 0; !stop; ++i) {
                std::string ext = "w" + std::to_string(w) + "-" + std::to_string(i);
                json::object body{{"first_name", "Outage"},        {"last_name", "Client" + ext},
                                  {"date_of_birth", "1980-01-01"}, {"external_id", ext}};
                auto r = wc.post("/v1/clients", body, h);
                std::lock_guard lk(mu);
                const bool was_down = down;
                if (r.status == 201) {
                    acknowledged[ext] = std::string(r.json().at("id").as_string());
                    if (returned_at_ms >= 0 && first_201_after_return_ms < 0) first_201_after_return_ms = ms_now();
                } else if (r.status == 503) {
                    refused.insert(ext);
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
                if (was_down) ++statuses_while_down[r.status];  // answered while the broker was away
            }
        });
    }
    auto acked = [&] {
        std::lock_guard lk(mu);
        return acknowledged.size();
    };
    for (int i = 0; i < 500 && acked() < 100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(acked() >= 1);

    broker.stop();
    down = true;
    std::this_thread::sleep_for(std::chrono::seconds(10));
    {
        std::lock_guard lk(mu);
        down = false;
    }
    broker.start();
    returned_at_ms = ms_now();
    // Bounded: the writes must come back by themselves (the measured time is printed, not asserted).
    for (int i = 0; i < 600 && first_201_after_return_ms < 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto after_return = acked();
    for (int i = 0; i < 200 && acked() < after_return + 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
    for (auto& t : ts) t.join();

    REQUIRE(first_201_after_return_ms >= 0);
    const double recovery_s = static_cast<double>(first_201_after_return_ms - returned_at_ms) / 1000.0;
    WARN("writes came back " << recovery_s << " s after the broker returned (" << acknowledged.size()
                             << " acknowledged, " << refused.size() << " refused with 503)");
    CHECK(recovery_s <= 60.0);
    {
        std::lock_guard lk(mu);
        for (const auto& [status, n] : statuses_while_down) {
            // A 201 answered meanwhile was committed before the broker left (the log is checked
            // below); anything else but 503 / 504 would be an error the client cannot act on.
            INFO("status " << status << " x" << n << " while the broker was down");
            CHECK((status == 201 || status == 503 || status == 504));
        }
        CHECK(statuses_while_down.count(503) == 1);
    }

    // The log: every 201 exactly once, no 503.
    std::map<std::string, int> times;
    std::map<std::string, std::string> id_of;
    for (const auto& bytes : read_topic(broker.brokers(), d.options().topic_prefix + "events")) {
        auto e = events::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        REQUIRE(e.has_value());
        if (e->agency_id != agency_id) continue;
        if (const auto* added = std::get_if<events::ClientAdded>(&e->data)) {
            ++times[added->external_id];
            id_of[added->external_id] = e->aggregate_id;
        }
    }
    for (const auto& [ext, id] : acknowledged) {
        INFO(ext);
        CHECK(times[ext] == 1);
        CHECK(id_of[ext] == id);
    }
    for (const auto& ext : refused) {
        INFO(ext);
        CHECK(times.count(ext) == 0);
    }
}

TEST_CASE("faults: after a crash the projections resume exactly where their data ends", "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("crash");
    std::string agency_id, last_token;
    std::vector<std::string> ids;
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        agency_id = std::string(create_agency(c, o.operator_key, "crash-" + fresh_suffix()).at("agency_id").as_string());
        auto h = as_agency(c, agency_id);
        for (int i = 0; i < 20; ++i) {
            auto r = c.post("/v1/staff", staff_body(std::string(1, char('A' + i)) + "lex", "Member"), h);
            // every first letter differs, so every username differs
            INFO(r.body);
            REQUIRE(r.status == 201);
            ids.push_back(std::string(r.json().at("id").as_string()));
            last_token = std::string(r.json().at("consistency_token").as_string());
        }
        d.kill_hard();
    }
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto h = as_agency(c, agency_id);
    h["X-Consistency-Token"] = last_token;
    auto list = c.get("/v1/staff?role=biller&limit=500", h);
    REQUIRE(list.status == 200);
    CHECK(list.json().at("items").as_array().size() == 20);
    for (const auto& id : ids) {
        auto hist = c.get("/v1/staff/" + id + "/history", h);
        REQUIRE(hist.status == 200);
        CHECK(hist.json().at("items").as_array().size() == 1);  // nothing applied twice
    }
    // The writer also recovered from the log: the next command continues without a conflict.
    auto next = c.post("/v1/staff", staff_body("Zed", "Member"), h);
    CHECK(next.status == 201);
    auto dup = c.post("/v1/staff", staff_body("Sue", "Member"), h);  // "smember" is taken by "Slex"
    CHECK(dup.status == 409);
}

TEST_CASE("faults: a second carelogd on the same topic fences the first", "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    carelogd first(o);
    first.wait_ready();
    auto c1 = first.client();
    auto agency_id =
        std::string(create_agency(c1, o.operator_key, "fence-" + fresh_suffix()).at("agency_id").as_string());
    auto h = as_agency(c1, agency_id);
    REQUIRE(c1.post("/v1/staff", staff_body("Ann", "Lee"), h).status == 201);

    carelogd_options o2 = o;
    o2.data_dir = make_temp_dir("fence2");
    carelogd second(o2);
    second.wait_ready();
    auto c2 = second.client();
    // The newer process writes; it caught up with everything the first one wrote.
    auto dup = c2.post("/v1/staff", staff_body("Andy", "Lee"), h);
    CHECK(dup.status == 409);
    auto ok = c2.post("/v1/staff", staff_body("Bea", "Lee"), h);
    REQUIRE(ok.status == 201);
    // The older process may no longer write this agency's partition.
    auto fenced = c1.post("/v1/staff", staff_body("Cal", "Lee"), h);
    INFO(fenced.body);
    CHECK(fenced.status == 503);
    CHECK(fenced.body.find("fenced") != std::string::npos);
    auto metrics = c1.get("/metrics").body;
    CHECK(metrics.find("carelog_writer_fenced{partition=") != std::string::npos);
    CHECK(carelog::testing::format_problem(metrics) == "");
}

TEST_CASE("faults: a poisoned record is quarantined with its offset and the projection goes on",
          "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    auto agency_id =
        std::string(create_agency(c, o.operator_key, "poison-" + fresh_suffix()).at("agency_id").as_string());
    produce_raw(d.options().brokers, o.topic_prefix + "events", agency_id, "this is not a flatbuffer");
    auto h = as_agency(c, agency_id);
    auto r = c.post("/v1/staff", staff_body("Ann", "Lee"), h);
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto hh = h;
    hh["X-Consistency-Token"] = std::string(r.json().at("consistency_token").as_string());
    CHECK(c.get("/v1/staff/" + std::string(r.json().at("id").as_string()), hh).status == 200);
    CHECK(c.get("/metrics").body.find("carelog_projection_quarantined_total 1") != std::string::npos);
    CHECK(d.log_shows("quarantined record"));
}

TEST_CASE("faults: carelogd refuses a topic with finite retention or compaction", "[integration][faults]") {
    auto prefix = "test." + fresh_suffix() + ".";
    for (const char* bad : {"retention.ms=86400000", "cleanup.policy=compact"}) {
        std::string kv(bad);
        auto key = kv.substr(0, kv.find('=')), value = kv.substr(kv.find('=') + 1);
        auto p = prefix + (key == "cleanup.policy" ? "c." : "r.");
        create_topic(test_brokers(), p + "events", key, value);
        carelogd_options o;
        o.topic_prefix = p;
        carelogd d(o);
        for (int i = 0; i < 300 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        CHECK_FALSE(d.running());
        auto log = d.log_text();
        INFO(log);
        CHECK(log.find(std::string(bad).substr(0, std::string(bad).find('='))) != std::string::npos);
    }
}

namespace {
// Grows a topic to `total` partitions through librdkafka's admin API.
void add_partitions(const std::string& brokers, const std::string& topic, int total) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk);
    rd_kafka_NewPartitions_t* np = rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total), err, sizeof err);
    REQUIRE(np);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreatePartitions(rk, &np, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
    REQUIRE(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
    REQUIRE(n == 1);
    CHECK(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewPartitions_destroy(np);
    rd_kafka_destroy(rk);
}

// Waits (bounded) for a carelogd that should refuse to start; returns its log.
std::string refused_start(carelogd& d) {
    for (int i = 0; i < 600 && d.running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(d.running());
    return d.log_text();
}
}  // namespace

TEST_CASE("faults: after partitions are added to the event topic, carelogd refuses to start, with or without its "
          "data dir",
          "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("partitions");
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        // Enough agencies that some of them would move under another count.
        for (int i = 0; i < 6; ++i) create_agency(c, o.operator_key, "parts-" + std::to_string(i) + "-" + fresh_suffix());
        CHECK(d.stop() == 0);
    }
    add_partitions(test_brokers(), o.topic_prefix + "events", 13);
    {
        carelogd d(o);  // the data dir remembers the count it was built with
        auto log = refused_start(d);
        INFO(log);
        CHECK(log.find("has 13 partitions, but this data dir was built with") != std::string::npos);
    }
    {
        carelogd_options fresh = o;
        fresh.data_dir = make_temp_dir("partitions-fresh");  // a new node: only the log can tell
        carelogd d(fresh);
        auto log = refused_start(d);
        INFO(log);
        CHECK(log.find("the partition count changed after events were written") != std::string::npos);
    }
}

TEST_CASE("faults: kill -9 under write load, five times: every acknowledged command is in the log exactly once, "
          "the chain has no gap, the projections hold exactly the log, and a deleted data directory is rebuilt "
          "from Kafka and answers the same",
          "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("kill9");
    std::string agency_id;
    std::map<std::string, std::string> h;
    std::mutex mu;
    std::map<std::string, std::string> acknowledged;  // external_id -> client id
    constexpr int rounds = 5, writers = 8;
    for (int round = 0; round < rounds; ++round) {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        if (round == 0) {
            agency_id = std::string(create_agency(c, o.operator_key, "kill-" + fresh_suffix()).at("agency_id").as_string());
            h = as_agency(c, agency_id);  // sessions are events: the token outlives the process
        }
        std::atomic<bool> stop{false};
        std::vector<std::thread> ts;
        for (int w = 0; w < writers; ++w) {
            ts.emplace_back([&, w, port = d.port()] {
                http_client wc("127.0.0.1", port);
                for (int i = 0; !stop; ++i) {
                    std::string ext = "r" + std::to_string(round) + "-w" + std::to_string(w) + "-" + std::to_string(i);
                    json::object body{{"first_name", "Load"},        {"last_name", "Client" + ext},
                                      {"date_of_birth", "1980-01-01"}, {"external_id", ext}};
                    try {
                        auto r = wc.post("/v1/clients", body, h);
                        if (r.status == 201) {
                            std::lock_guard lk(mu);
                            acknowledged[ext] = std::string(r.json().at("id").as_string());
                        }
                    } catch (const std::exception&) {
                        return;  // the server is gone: whatever was not answered 201 is not promised
                    }
                }
            });
        }
        // Kill once this round has had commands acknowledged (bounded: the test fails below if none).
        const auto before = [&] {
            std::lock_guard lk(mu);
            return acknowledged.size();
        }();
        for (int i = 0; i < 300; ++i) {
            {
                std::lock_guard lk(mu);
                if (acknowledged.size() >= before + 100) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        d.kill_hard();
        stop = true;
        for (auto& t : ts) t.join();
        std::lock_guard lk(mu);
        REQUIRE(acknowledged.size() > before);  // the crash came under load
    }

    // The log, read as an auditor reads it.
    std::map<std::string, int> in_log;  // client id -> times added
    std::uint64_t seq = 0;
    sha256_digest last{};
    for (const auto& bytes : read_topic(o.brokers.empty() ? test_brokers() : o.brokers, o.topic_prefix + "events")) {
        auto e = events::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        REQUIRE(e.has_value());
        if (e->agency_id != agency_id) continue;
        REQUIRE(e->sequence == seq + 1);  // no gap, no repeat
        REQUIRE(e->prev_hash == last);
        seq = e->sequence;
        last = e->hash;
        if (std::holds_alternative<events::ClientAdded>(e->data)) ++in_log[e->aggregate_id];
    }
    for (const auto& [ext, id] : acknowledged) {
        INFO(ext);
        CHECK(in_log.count(id) == 1);
    }
    for (const auto& [id, times] : in_log) CHECK(times == 1);

    // One more start: the projections hold exactly the clients of the log.
    auto answers = [&](http_client& c) {
        json::array clients;
        std::string cursor;
        for (;;) {
            auto page = c.get("/v1/clients?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), h);
            REQUIRE(page.status == 200);
            auto body = page.json().as_object();
            for (auto& it : body.at("items").as_array()) clients.push_back(it);
            if (!body.contains("next_cursor") || body.at("next_cursor").is_null()) break;
            cursor = std::string(body.at("next_cursor").as_string());
        }
        auto staff = c.get("/v1/staff?limit=500", h);
        auto settings = c.get("/v1/agency/settings", h);
        REQUIRE(staff.status == 200);
        REQUIRE(settings.status == 200);
        return json::object{{"clients", clients}, {"staff", staff.json()}, {"settings", settings.json()}};
    };
    json::object before_deletion;
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        before_deletion = answers(c);
        std::set<std::string> listed;
        for (const auto& it : before_deletion.at("clients").as_array()) listed.insert(std::string(it.at("id").as_string()));
        std::set<std::string> logged;
        for (const auto& [id, times] : in_log) logged.insert(id);
        CHECK(listed == logged);
        CHECK(d.stop() == 0);
    }

    // The data directory deleted: the node rebuilds every projection from the topic alone and
    // answers the same, byte for byte as JSON (the session token is an event too).
    std::filesystem::remove_all(o.data_dir);
    std::filesystem::create_directories(o.data_dir);  // the harness keeps carelogd's log there
    carelogd rebuilt(o);
    rebuilt.wait_ready();
    auto c = rebuilt.client();
    auto after_deletion = answers(c);
    CHECK(after_deletion.at("clients").as_array().size() == before_deletion.at("clients").as_array().size());
    CHECK(after_deletion == before_deletion);
}

TEST_CASE("faults: SIGTERM under write load loses no acknowledged command, and what it refused is not in the log",
          "[integration][faults]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.data_dir = make_temp_dir("sigterm");
    std::mutex mu;
    std::map<std::string, std::string> acknowledged;  // external_id -> client id
    std::set<std::string> refused;                    // answered 503
    std::string agency_id;
    std::map<std::string, std::string> h;
    {
        carelogd d(o);
        d.wait_ready();
        auto c = d.client();
        agency_id = std::string(create_agency(c, o.operator_key, "term-" + fresh_suffix()).at("agency_id").as_string());
        h = as_agency(c, agency_id);
        std::atomic<bool> stop{false};
        std::vector<std::thread> ts;
        for (int w = 0; w < 8; ++w) {
            ts.emplace_back([&, w, port = d.port()] {
                http_client wc("127.0.0.1", port);
                for (int i = 0; !stop; ++i) {
                    std::string ext = "w" + std::to_string(w) + "-" + std::to_string(i);
                    json::object body{{"first_name", "Term"},          {"last_name", "Client" + ext},
                                      {"date_of_birth", "1980-01-01"}, {"external_id", ext}};
                    try {
                        auto r = wc.post("/v1/clients", body, h);
                        std::lock_guard lk(mu);
                        if (r.status == 201)
                            acknowledged[ext] = std::string(r.json().at("id").as_string());
                        else if (r.status == 503)
                            refused.insert(ext);  // a 504 (outcome unknown) promises neither
                    } catch (const std::exception&) {
                        return;  // the connection closed: the command was answered or never read
                    }
                }
            });
        }
        for (int i = 0; i < 300; ++i) {
            {
                std::lock_guard lk(mu);
                if (acknowledged.size() >= 200) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        CHECK(d.stop() == 0);  // SIGTERM while the writers are still sending
        stop = true;
        for (auto& t : ts) t.join();
        std::lock_guard lk(mu);
        REQUIRE(acknowledged.size() >= 1);
    }

    std::map<std::string, std::string> external_in_log;  // external_id -> client id
    std::uint64_t seq = 0;
    for (const auto& bytes : read_topic(test_brokers(), o.topic_prefix + "events")) {
        auto e = events::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        REQUIRE(e.has_value());
        if (e->agency_id != agency_id) continue;
        REQUIRE(e->sequence == seq + 1);
        seq = e->sequence;
        if (const auto* added = std::get_if<events::ClientAdded>(&e->data)) {
            CHECK(external_in_log.count(added->external_id) == 0);  // never twice
            external_in_log[added->external_id] = e->aggregate_id;
        }
    }
    for (const auto& [ext, id] : acknowledged) {
        INFO(ext);
        CHECK(external_in_log[ext] == id);
    }
    // A 503 promises the command is not there.
    for (const auto& ext : refused) {
        INFO(ext);
        CHECK(external_in_log.count(ext) == 0);
    }

    // Started again on the same data: it answers every acknowledged client.
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    for (const auto& [ext, id] : acknowledged) {
        auto r = c.get("/v1/clients/" + id, h);
        INFO(ext);
        CHECK(r.status == 200);
    }
}
