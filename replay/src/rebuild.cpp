// Rebuild: one agency's state as of a time, folded with the same evolve the writer uses.
#include <boost/json.hpp>

#include <utility>

#include "carelog/aggregates/snapshot.hpp"
#include "carelog/replay/replay.hpp"

namespace carelog::replay {
namespace json = boost::json;

rebuilder::rebuilder(std::string topic, std::string agency, micros as_of, int partition_count,
                     std::function<void(const problem&)> on_problem)
    : agency_(agency),
      as_of_(as_of),
      verifier_(verify_options{std::move(topic), std::move(agency), partition_count}),
      on_problem_(std::move(on_problem)) {}

void rebuilder::add(const record_view& r) {
    const auto before = verifier_.problems().size();
    auto v = verifier_.add(r);
    // What happened after as_of does not concern the state as of then.
    if (!v.event || v.event->occurred_at <= as_of_) {
        for (auto i = before; i < verifier_.problems().size(); ++i) {
            problems_.push_back(verifier_.problems()[i]);
            if (on_problem_) on_problem_(problems_.back());
        }
    }
    // A repeated or backwards record never takes a place in the chain, so it is never folded twice;
    // a record with a bad hash or prev_hash is folded (it is what the log says) and reported.
    if (!v.selected || !v.event || !v.in_chain) return;
    const auto& e = *v.event;
    if (e.agency_id != agency_ || e.occurred_at > as_of_) return;
    aggregates::evolve(state_, e);  // the envelope overload: identity rules need occurred_at
    ++applied_;
    last_sequence_ = e.sequence;
    last_hash_ = e.hash;
}

json::object rebuilder::to_json() const {
    json::value v = aggregates::to_json(state_);
    scrub_secrets(v);
    auto& o = v.as_object();
    o.erase("format");  // the snapshot file's format number, not part of the state
    o["as_of"] = format_rfc3339(as_of_);
    o["events_applied"] = applied_;
    o["sequence"] = last_sequence_;
    o["hash"] = to_hex(last_hash_);
    return std::move(o);
}

}  // namespace carelog::replay
