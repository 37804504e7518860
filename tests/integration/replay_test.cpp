// carelog-replay against the real log carelogd writes: verify passes, export lists every event
// without a secret, rebuild answers as of a time; then a tampered copy of a real record (one byte
// of a payload string flipped, produced with the same key to the same partition) fails verify,
// which names its offset.
#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <sys/wait.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "carelog/base/ids.hpp"
#include "process.hpp"

using namespace carelog::testing;
namespace json = boost::json;

namespace {

struct run_result {
    int status = -1;
    std::string out;  // stdout
    std::string err;  // stderr
};

// Runs build/bin/carelog-replay with the server's broker and topic prefix in its environment;
// its stderr goes to a file in the server's data dir.
run_result replay(const carelogd& d, const std::string& args) {
    const auto err_file = d.options().data_dir + "/carelog-replay.stderr";
    std::string cmd = "CARELOG_BROKERS='" + d.options().brokers + "' CARELOG_TOPIC_PREFIX='" +
                      d.options().topic_prefix + "' '" + bin_dir() + "/carelog-replay' " + args + " 2>'" + err_file +
                      "'";
    run_result r;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::ifstream in(err_file);
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    return r;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

json::object staff_body(const std::string& first, const std::string& last, const std::string& role) {
    return json::object{{"first_name", first},   {"last_name", last},
                        {"gender", "female"},    {"position", "Counselor"},
                        {"email", first + "@example.org"},
                        {"role", role},          {"type", "therapy_counseling"}};
}

struct kafka_record {
    std::string key;
    std::string value;
};

// Reads one record (partition, offset) with a plain read_committed consumer.
kafka_record fetch_record(const std::string& brokers, const std::string& topic, int partition, std::int64_t offset) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", ("replay-test-" + fresh_suffix()).c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    REQUIRE(rk);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
    REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    kafka_record out;
    bool found = false;
    for (int i = 0; i < 300 && !found; ++i) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (!m->err && m->partition == partition && m->offset == offset) {
            out.key.assign(static_cast<const char*>(m->key), m->key_len);
            out.value.assign(static_cast<const char*>(m->payload), m->len);
            found = true;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    REQUIRE(found);
    return out;
}

// Produces raw bytes to an explicit partition with a plain (non-transactional) producer and
// returns the offset the broker gave them.
std::int64_t produce_to(const std::string& brokers, const std::string& topic, int partition, const std::string& key,
                        const std::string& value) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
    std::int64_t offset = -1;
    rd_kafka_conf_set_opaque(conf, &offset);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        if (!m->err) *static_cast<std::int64_t*>(opaque) = m->offset;
    });
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    REQUIRE(rk);
    auto rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    REQUIRE(rc == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(rk, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);
    REQUIRE(offset >= 0);
    return offset;
}

}  // namespace

TEST_CASE("replay: the log carelogd writes verifies, exports without secrets, and a tampered copy fails verify",
          "[integration][replay]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    const auto slug = "replay-" + fresh_suffix();
    const auto agency = create_agency(c, d.options().operator_key, slug);
    const std::string agency_id(agency.at("agency_id").as_string());
    const auto h = as_agency(c, agency_id);
    std::vector<std::string> staff_ids;
    for (auto [first, last, role] : {std::tuple{"Todd", "Jones", "therapist"}, std::tuple{"Mary", "Smith", "biller"},
                                     std::tuple{"Nora", "Quinn", "scheduler"}}) {
        auto r = c.post("/v1/staff", staff_body(first, last, role), h);
        INFO(r.body);
        REQUIRE(r.status == 201);
        staff_ids.emplace_back(r.json().at("id").as_string());
    }
    const std::string topic = d.options().topic_prefix + "events";

    // export: the admin's and three staff members' creation after the agency's, oldest first
    auto exp = replay(d, "export");
    INFO("export stderr: " << exp.err);
    REQUIRE(exp.status == 0);
    auto lines = lines_of(exp.out);
    REQUIRE(lines.size() >= 5);
    std::vector<std::string> types;
    std::uint64_t expected_sequence = 1;
    int partition = -1;
    std::int64_t todd_offset = -1;
    for (const auto& line : lines) {
        auto o = json::parse(line).as_object();
        types.emplace_back(o.at("event_type").as_string());
        CHECK(o.at("agency_id").as_string() == agency_id);
        CHECK(o.at("sequence").to_number<std::uint64_t>() == expected_sequence++);
        for (const char* f : {"event_id", "aggregate_type", "aggregate_id", "aggregate_version", "occurred_at",
                              "actor_id", "data", "partition", "offset"})
            CHECK(o.contains(f));
        partition = o.at("partition").to_number<int>();
        if (o.at("event_type").as_string() == "StaffCreated" && o.at("data").at("first_name").as_string() == "Todd")
            todd_offset = o.at("offset").to_number<std::int64_t>();
    }
    CHECK(types.front() == "AgencyCreated");
    CHECK(std::count(types.begin(), types.end(), "StaffCreated") == 4);  // the first admin and three staff
    CHECK(exp.out.find("\"password\"") == std::string::npos);
    CHECK(exp.out.find("password_hash") == std::string::npos);
    CHECK(exp.out.find("$argon2") == std::string::npos);
    REQUIRE(todd_offset >= 0);

    // export filters: one agency (by slug), one type
    auto staff_only = replay(d, "export --agency " + slug + " --type StaffCreated");
    REQUIRE(staff_only.status == 0);
    CHECK(lines_of(staff_only.out).size() == 4);
    CHECK(replay(d, "export --type NoSuchEvent").status == 2);

    // verify: every event, one agency, OK
    auto ok = replay(d, "verify");
    INFO("verify stdout: " << ok.out << "\nstderr: " << ok.err);
    CHECK(ok.status == 0);
    CHECK(lines_of(ok.out).back() == "verified " + std::to_string(lines.size()) + " events of 1 agencies: OK");

    // rebuild: now, and before the agency existed
    auto now = replay(d, "rebuild --agency " + agency_id + " --as-of 2999-01-01T00:00:00Z");
    INFO("rebuild stderr: " << now.err);
    REQUIRE(now.status == 0);
    auto state = json::parse(now.out).as_object();
    CHECK(state.at("id").as_string() == agency_id);
    CHECK(state.at("staff").as_array().size() == 4);
    CHECK(now.out.find("$argon2") == std::string::npos);
    CHECK(now.out.find("password_hash") == std::string::npos);
    auto before = replay(d, "rebuild --agency " + agency_id + " --as-of 2000-01-01T00:00:00Z");
    CHECK(before.status == 1);
    CHECK(before.out.empty());

    // tamper: a copy of Todd's StaffCreated with one byte of "Todd" flipped, same key, same partition
    auto original = fetch_record(d.options().brokers, topic, partition, todd_offset);
    CHECK(original.key == agency_id);
    auto tampered = original.value;
    auto pos = tampered.find("Todd");
    REQUIRE(pos != std::string::npos);
    tampered[pos] = static_cast<char>(tampered[pos] ^ 0x01);  // "Uodd"
    auto bad_offset = produce_to(d.options().brokers, topic, partition, original.key, tampered);

    auto failed = replay(d, "verify");
    INFO("verify stdout: " << failed.out << "\nstderr: " << failed.err);
    CHECK(failed.status == 1);
    const std::string where = "topic=" + topic + " partition=" + std::to_string(partition) +
                              " offset=" + std::to_string(bad_offset) + " agency=" + agency_id + ": ";
    auto out_lines = lines_of(failed.out);
    auto named = std::count_if(out_lines.begin(), out_lines.end(),
                               [&](const std::string& l) { return l.starts_with(where); });
    CHECK(named >= 1);
    CHECK(failed.out.find(where + "stored hash") != std::string::npos);
    CHECK(failed.out.find("repeats or goes back") != std::string::npos);
    CHECK(out_lines.back().starts_with("verified " + std::to_string(lines.size() + 1) + " events of 1 agencies: "));
    CHECK(out_lines.back().ends_with(" problems"));
}

TEST_CASE("replay: --from starts at Kafka's offsets for a time and --to stops, so an auditor reads a span without "
          "what comes before it, and a summary line says what was read",
          "[integration][replay]") {
    carelogd d({});
    d.wait_ready();
    auto c = d.client();
    const auto agency = create_agency(c, d.options().operator_key, "span-" + fresh_suffix());
    const std::string agency_id(agency.at("agency_id").as_string());
    const auto h = as_agency(c, agency_id);
    auto add = [&](const char* first, const char* last) {
        auto r = c.post("/v1/staff", staff_body(first, last, "biller"), h);
        INFO(r.body);
        REQUIRE(r.status == 201);
    };
    add("Ann", "Early");
    add("Bob", "Early");
    add("Cyd", "Early");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const auto mid = carelog::format_rfc3339(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    add("Dee", "Late");
    add("Eve", "Late");

    auto count_read = [](const std::string& err) {
        auto at = err.find("read ");
        REQUIRE(at != std::string::npos);
        return std::stoul(err.substr(at + 5));
    };
    auto created = [](const std::vector<std::string>& lines, std::string_view last_name) {
        int n = 0;
        for (const auto& line : lines) {
            auto o = json::parse(line).as_object();
            if (o.at("event_type") == "StaffCreated" && line.find(last_name) != std::string::npos) ++n;
        }
        return n;
    };

    auto all = replay(d, "export --agency " + agency_id);
    INFO("export stderr: " << all.err);
    REQUIRE(all.status == 0);
    const auto read_all = count_read(all.err);

    auto late = replay(d, "export --agency " + agency_id + " --from " + mid + " --clock-margin-ms 0");
    INFO("export --from stderr: " << late.err);
    REQUIRE(late.status == 0);
    auto late_lines = lines_of(late.out);
    CHECK(created(late_lines, "Late") == 2);
    CHECK(created(late_lines, "Early") == 0);
    for (const auto& line : late_lines) CHECK(std::string(json::parse(line).at("occurred_at").as_string()) >= mid);
    // Started at the span: fewer records read than the whole partition holds.
    CHECK(count_read(late.err) < read_all);

    auto early = replay(d, "export --agency " + agency_id + " --to " + mid + " --clock-margin-ms 0");
    INFO("export --to stderr: " << early.err);
    REQUIRE(early.status == 0);
    auto early_lines = lines_of(early.out);
    CHECK(created(early_lines, "Early") == 3);
    CHECK(created(early_lines, "Late") == 0);
    CHECK(count_read(early.err) < read_all);

    // verify from the middle: the chain is anchored at each agency's first event read.
    auto ver = replay(d, "verify --agency " + agency_id + " --from " + mid + " --clock-margin-ms 0");
    INFO("verify --from: " << ver.out << ver.err);
    CHECK(ver.status == 0);
    CHECK(ver.out.find(": OK (from " + mid) != std::string::npos);
    auto whole = replay(d, "verify --agency " + agency_id);
    CHECK(whole.status == 0);
    CHECK(whole.err.find("read ") != std::string::npos);
}
