// The hash chain enforced against a real broker: a record produced straight to the events topic
// by someone other than the agency's writer, not continuing the agency's chain, is quarantined
// (counted, logged, copied to the quarantine topic) and never applied: the session it would open
// does not exist, and the agency goes on working.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <thread>

#include "carelog/base/secrets.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/kafka/kafka.hpp"
#include "metrics_text.hpp"
#include "process.hpp"

using namespace carelog;
using namespace carelog::testing;
namespace json = boost::json;

namespace {

std::span<const std::uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The agency's LoginSucceeded records on the topic, decoded.
std::vector<events::envelope> logins_of(const carelogd& d, const std::string& agency_id) {
    std::vector<events::envelope> out;
    for (const auto& rec : read_topic(d.options().brokers, d.options().topic_prefix + "events")) {
        std::vector<std::uint8_t> aligned(rec.begin(), rec.end());
        auto e = events::decode(aligned);
        if (e && e->agency_id == agency_id && std::holds_alternative<events::LoginSucceeded>(e->data))
            out.push_back(std::move(*e));
    }
    return out;
}

}  // namespace

TEST_CASE("chain: a forged session record produced straight to the topic is quarantined and its token opens nothing",
          "[integration][chain][security]") {
    carelogd_options o;
    o.topic_prefix = "test." + fresh_suffix() + ".";
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    const auto slug = "chain-" + fresh_suffix();
    auto created = create_agency(c, o.operator_key, slug);
    const auto agency_id = str(created, "agency_id");
    auto genuine = as_agency(c, agency_id);
    REQUIRE(c.get("/v1/staff", genuine).status == 200);

    // The forger copies the admin's login record, names a session of their own, and produces it
    // with an ordinary Kafka client under the agency's key. encode() computes a correct hash for
    // the new bytes, but the record repeats a sequence the chain already has.
    auto logins = logins_of(d, agency_id);
    REQUIRE_FALSE(logins.empty());
    auto forged = logins.back();
    const std::string forged_token = agency_id + ".forged-" + fresh_suffix();
    std::get<events::LoginSucceeded>(forged.data).session_id = token_hash(forged_token);
    forged.event_id = "00000000-0000-4000-8000-" + std::string(12, '9');
    auto forged_bytes = events::encode(forged);

    kafka::config kc;
    kc.brokers = d.options().brokers;
    kc.topic_prefix = o.topic_prefix;
    auto producer = kafka::producer::create(kc);
    REQUIRE(producer);
    auto sent = (*producer)->send(kc.events_topic(), agency_id, forged_bytes, {});
    REQUIRE(sent);

    // Once the projections have passed it, it is counted, logged and on the quarantine topic.
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text = c.get("/metrics").body;
        if (metric_value(text, "carelog_projection_quarantined_total") == "1") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(metric_value(text, "carelog_projection_quarantined_total") == "1");
    CHECK(d.log_shows("does not follow the agency's last applied sequence"));
    std::vector<std::string> quarantined;
    for (int i = 0; i < 50 && quarantined.empty(); ++i) {
        quarantined = read_topic(kc.brokers, o.topic_prefix + "quarantine");
        if (quarantined.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE(quarantined.size() == 1);
    CHECK(std::equal(forged_bytes.begin(), forged_bytes.end(), bytes_of(quarantined[0]).begin(),
                     bytes_of(quarantined[0]).end()));

    // The forged token opens nothing; the genuine session and new work go on.
    auto h = bearer(forged_token);
    CHECK(c.get("/v1/staff", h).status == 401);
    CHECK(c.get("/v1/agency/settings", h).status == 401);
    CHECK(c.get("/v1/staff", genuine).status == 200);
    auto r = c.post("/v1/clients",
                    json::object{{"first_name", "Ann"}, {"last_name", "Lee"}, {"date_of_birth", "1990-01-02"}},
                    genuine);
    INFO(r.body);
    CHECK(r.status == 201);
    CHECK(c.get("/v1/clients/" + str(r.json(), "id"), genuine).status == 200);
    CHECK(metric_value(c.get("/metrics").body, "carelog_projection_quarantined_total") == "1");
}
