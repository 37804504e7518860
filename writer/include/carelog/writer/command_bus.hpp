// What the HTTP edge sees of the write engine: submit a command for an agency and be called back
// once with its outcome, only after its events are durably in Kafka (or with an error, and then
// nothing of it is in the log unless the error says the outcome is unknown).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "carelog/aggregates/command.hpp"
#include "carelog/base/errc.hpp"
#include "carelog/events/events.hpp"

namespace carelog::writer {

struct command_meta {
    std::string actor_id;  // staff id, portal account id, or "operator" / "anonymous"
    // The scoped Idempotency-Key ("<caller scope>:<key>"); "" = none: no idempotency record is
    // kept, and the command gets a fresh UUID as its command id.
    std::string idempotency_key;
    std::string correlation_id;  // X-Request-Id or generated
};

// A command's outcome. The handler shapes its response from `events` (the events the command
// appended, or for an Idempotency-Key replay the first answer's), never from text.
struct command_result {
    std::string aggregate_id;       // the aggregate the command targets
    std::uint64_t version = 0;      // that aggregate's version after the command
    std::string consistency_token;  // "<partition>-<offset>" of the last event; "" when nothing was appended
    std::vector<events::envelope> events;
    bool replayed = false;  // a repeated Idempotency-Key: the first result, nothing appended
};

using command_done = std::function<void(result<command_result>)>;
using batch_answer = result<std::vector<result<command_result>>>;
using batch_done = std::function<void(batch_answer)>;

// Errors a completion may carry besides the domain's (validation, conflict, not_found, stale...):
//   errc::unavailable      the command is certainly not in the log (Kafka away, writer overloaded,
//                          fenced, shutting down); a retry is safe
//   errc::outcome_unknown  the commit's outcome could not be learned in time; a retry with the same
//                          Idempotency-Key answers the real outcome
//   errc::too_large        an event of the command is larger than the log accepts
class command_bus {
public:
    virtual ~command_bus() = default;
    // `done` is called exactly once, from a writer thread (or inline when refused at once). It
    // must not block.
    virtual void submit(const std::string& agency_id, const command_meta& meta, aggregates::command cmd,
                        command_done done) = 0;
    // Many commands of one agency as one unit (the CSV import): decided in order, each against the
    // state the previous ones left; each gets its own result. With `dry_run` nothing is appended;
    // otherwise every accepted event goes to the log in ONE transaction: all accepted commands are
    // durable or none is. A non-empty idempotency key gives command i the key "<key>/<i>".
    virtual void submit_batch(const std::string& agency_id, const command_meta& meta,
                              std::vector<aggregates::command> cmds, bool dry_run, batch_done done) = 0;
    // The offset after the last event the writer of `partition` knows committed (on this node),
    // -1 when this node does not write that partition: what a reader must have applied to see
    // every acknowledged command of the partition's agencies.
    virtual std::int64_t committed_end(int partition) const = 0;
    // The partition an agency's events go to.
    virtual int partition_of(const std::string& agency_id) const = 0;
};

}  // namespace carelog::writer
