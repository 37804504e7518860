// Shared librdkafka plumbing: configuration objects and error conversion.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "carelog/kafka/kafka.hpp"

namespace carelog::kafka::detail {

struct rk_deleter {
    void operator()(rd_kafka_t* rk) const noexcept;
};
using rk_ptr = std::unique_ptr<rd_kafka_t, rk_deleter>;

// Every producer places a keyed record as the Java client does (murmur2 of the key, a random
// partition for no key), which is where partition_for puts an agency: an agency's records of every
// carelog topic share its partition number, and other producers agree. librdkafka's own default
// (consistent_random, CRC32) would not.
inline constexpr const char* keyed_partitioner = "murmur2_random";

// Builds a conf from cfg (brokers, timeouts, logging through spdlog) plus extra settings.
// Fails with the offending setting in the message.
result<rd_kafka_conf_t*> make_conf(const config& cfg, const std::vector<std::pair<std::string, std::string>>& extra);

// Creates a client (takes ownership of conf whatever happens).
result<rk_ptr> make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf);

error to_error(rd_kafka_resp_err_t err, const std::string& what);

}  // namespace carelog::kafka::detail
