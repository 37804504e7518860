// What HTTP handlers see of the write side: submit a command for an agency, get its outcome only
// once its events are durably in Kafka (or an error saying what the log holds).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "carelog/aggregates/command.hpp"
#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"
#include "carelog/writer/command_bus.hpp"

namespace carelog::api {

using writer::command_meta;

struct command_result {
    std::string aggregate_id;
    std::uint64_t version = 0;      // the aggregate's version after the command
    std::string consistency_token;  // "" when the command appended nothing
    // Command-specific fields for the response, derived from the events:
    //   create_agency: {agency_id, slug, admin:{staff_id, username}}
    //   create_staff:  {id, username}
    //   others:        {id}
    // Shaped by the API from `events` (writer_gateway.cpp `body_of`).
    boost::json::object body;
    bool replayed = false;  // a repeated Idempotency-Key: the first result, nothing appended
    std::vector<events::envelope> events;  // what the command appended (a replay: the first answer's)
};

// What handlers call: a command's outcome as a value. The production implementation
// (writer_gateway) hands the command to the write engine and suspends the request's fiber until
// the engine answers, so no thread waits for Kafka.
class command_bus {
public:
    virtual ~command_bus() = default;
    // Errors: domain errors from decide (validation/conflict/not_found/stale), errc::unavailable
    // when the command is certainly not in the log, errc::outcome_unknown when that could not be
    // learned in time, errc::too_large for an event larger than the log accepts.
    virtual result<command_result> submit(const std::string& agency_id, const command_meta& meta,
                                          const aggregates::command& cmd) = 0;
    // Many commands of one agency as one unit (the CSV import): decided in order, each against the
    // state the previous ones left, so a rule joining two of them (a repeated external_id) refuses
    // the later one. Each command gets its own result (a refusal refuses only that command). With
    // `dry_run` nothing is appended; otherwise every accepted event goes to the log in ONE
    // transaction: either all accepted commands are durable or none is (errc::unavailable for the
    // whole batch). A non-empty meta.idempotency_key gives command i the key "<key>/<i>", so a
    // repeated batch replays each command's first result.
    virtual result<std::vector<result<command_result>>> submit_batch(const std::string& agency_id,
                                                                     const command_meta& meta,
                                                                     const std::vector<aggregates::command>& cmds,
                                                                     bool dry_run) = 0;
    // The position a reader must have applied to see every command this node acknowledged for
    // the agency: a consistency token, or "" when there is nothing to wait for (no writer here).
    virtual std::string committed_position(const std::string& agency_id) const {
        (void)agency_id;
        return {};
    }
};

}  // namespace carelog::api
