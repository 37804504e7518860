// Where agencies live: partition = murmur2(agency id) % the topic's partition count. Adding
// partitions to the topic moves agencies to partitions (and writers) that hold none of their
// history, splitting their chains; carelogd refuses to start instead.
#pragma once

#include <optional>

#include "carelog/base/errc.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::writer {

// Reads the last `tail` committed records of every partition of the event topic and checks that
// each record's agency maps to the partition it is in with `partitions`. errc::conflict naming
// the partition, offset and both counts when one does not (the topic's partitions were changed
// after events were written); errc::unavailable when Kafka cannot be read in time.
result<void> check_placement(const kafka::config& cfg, int partitions, int tail = 64);

}  // namespace carelog::writer
