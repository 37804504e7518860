#include "common.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

namespace carelog::kafka::detail {

void rk_deleter::operator()(rd_kafka_t* rk) const noexcept {
    if (rk) rd_kafka_destroy(rk);
}

namespace {
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    // librdkafka levels are syslog levels; connection chatter during an outage is expected.
    if (level <= 3)
        spdlog::warn("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
    else if (level <= 5)
        spdlog::info("kafka {} {}: {}", rd_kafka_name(rk), fac, buf);
}
}  // namespace

result<rd_kafka_conf_t*> make_conf(const config& cfg, const std::vector<std::pair<std::string, std::string>>& extra) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    std::vector<std::pair<std::string, std::string>> all = {
        {"bootstrap.servers", cfg.brokers},
        {"client.id", "carelogd"},
        {"socket.timeout.ms", std::to_string(std::max<long>(1000, cfg.timeout.count()))},
        {"reconnect.backoff.ms", "50"},
        {"reconnect.backoff.max.ms", "1000"},
        {"topic.metadata.refresh.interval.ms", "30000"},
        {"log.connection.close", "false"},
    };
    all.insert(all.end(), extra.begin(), extra.end());
    for (const auto& [k, v] : all) {
        if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(errc::internal, "kafka config " + k + ": " + errstr);
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return conf;
}

result<rk_ptr> make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return fail(errc::internal, std::string("rd_kafka_new: ") + errstr);
    }
    return rk_ptr(rk);
}

error to_error(rd_kafka_resp_err_t err, const std::string& what) {
    errc c = errc::unavailable;
    switch (err) {
        case RD_KAFKA_RESP_ERR__FATAL:
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
            c = errc::internal;
            break;
        default: break;
    }
    return error::make(c, what + ": " + rd_kafka_err2str(err));
}

}  // namespace carelog::kafka::detail
