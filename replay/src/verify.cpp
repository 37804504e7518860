// The chain verifier: per agency, the sequence, the SHA-256 chain, the stored hashes and the
// placement of every record, each problem located by topic, partition and offset.
#include <utility>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/replay/replay.hpp"

namespace carelog::replay {

std::string describe(const problem& p) {
    return "topic=" + p.topic + " partition=" + std::to_string(p.partition) + " offset=" + std::to_string(p.offset) +
           " agency=" + (p.agency.empty() ? std::string("(none)") : p.agency) + ": " + p.what;
}

chain_verifier::chain_verifier(verify_options opts, std::function<void(const problem&)> on_problem)
    : opts_(std::move(opts)), on_problem_(std::move(on_problem)) {}

void chain_verifier::report(const record_view& r, const std::string& agency, std::string what) {
    problems_.push_back(problem{opts_.topic, r.partition, r.offset, agency, std::move(what)});
    if (on_problem_) on_problem_(problems_.back());
}

namespace {
std::string at(std::uint64_t sequence, std::int64_t offset) {
    return "sequence " + std::to_string(sequence) + " at offset " + std::to_string(offset);
}
}  // namespace

verdict chain_verifier::add(const record_view& r) {
    verdict v;
    const std::string key(r.key);
    auto decoded = events::decode(r.value);
    if (!decoded) {
        // Nothing in the bytes can be trusted, not even the agency: the key names whose log it is.
        if (opts_.agency && *opts_.agency != key) return v;
        v.selected = true;
        ++events_;
        auto [it, fresh] = agencies_.try_emplace(key);
        if (fresh) it->second.partition = r.partition;
        ++it->second.events;
        report(r, key, "undecodable record (" + std::to_string(r.value.size()) + " bytes): " + decoded.error().detail);
        return v;
    }
    auto& e = *decoded;
    if (opts_.agency && *opts_.agency != e.agency_id && *opts_.agency != key) return v;
    v.selected = true;
    ++events_;
    bool ok = true;
    auto bad = [&](std::string what) {
        ok = false;
        report(r, e.agency_id, std::move(what));
    };

    if (key != e.agency_id) bad("Kafka key \"" + key + "\" differs from the envelope's agency_id");

    auto [it, fresh] = agencies_.try_emplace(e.agency_id);
    auto& h = it->second;
    if (fresh) h.partition = r.partition;
    ++h.events;
    if (opts_.partition_count > 0) {
        int home = kafka::partition_for(e.agency_id, opts_.partition_count);
        if (home != r.partition)
            bad("the agency's partition is " + std::to_string(home) + " (murmur2 of its id over " +
                std::to_string(opts_.partition_count) + " partitions), the record is on partition " +
                std::to_string(r.partition));
    } else if (h.partition != r.partition) {
        bad("the agency's earlier events are on partition " + std::to_string(h.partition) +
            "; one agency's events must stay on one partition");
    }

    auto computed = events::compute_hash(r.value);
    if (!computed)
        bad("hash cannot be recomputed: " + computed.error().detail);
    else if (*computed != e.hash)
        bad("stored hash " + to_hex(e.hash) + " is not the SHA-256 of the record (" + to_hex(*computed) +
            "): the record was altered after it was written");

    const std::uint64_t expected = h.sequence + 1;
    if (opts_.mid_chain && h.sequence == 0 && e.sequence > 0) {
        v.in_chain = true;  // the first record of a span anchors the agency's chain
    } else if (e.sequence == 0) {
        bad("sequence 0: an agency's sequence starts at 1");
    } else if (e.sequence == expected) {
        if (e.prev_hash != h.hash)
            bad("prev_hash " + to_hex(e.prev_hash) + " is not the hash of the previous event (" +
                (h.sequence == 0 ? std::string("none: the first event's prev_hash is all zeros")
                                 : at(h.sequence, h.offset) + ": " + to_hex(h.hash)) +
                ")");
        v.in_chain = true;
    } else if (e.sequence > expected) {
        if (h.sequence == 0)
            bad("the agency's first event has sequence " + std::to_string(e.sequence) +
                "; an agency's sequence starts at 1");
        else
            bad("sequence gap: expected " + std::to_string(expected) + " after " + at(h.sequence, h.offset) +
                ", found " + std::to_string(e.sequence) + " (" + std::to_string(e.sequence - expected) +
                " missing)");
        v.in_chain = true;  // resume the chain here: one gap is one problem, not one per later event
    } else {
        bad("sequence " + std::to_string(e.sequence) + " repeats or goes back: the chain is already at " +
            at(h.sequence, h.offset));
    }
    if (v.in_chain) {
        h.sequence = e.sequence;
        h.offset = r.offset;
        h.hash = e.hash;
    }
    v.ok = ok;
    v.event = std::move(e);
    return v;
}

std::string chain_verifier::summary() const {
    std::string s = "verified " + std::to_string(events_) + " events of " + std::to_string(agencies_.size()) +
                    " agencies: ";
    return problems_.empty() ? s + "OK" : s + std::to_string(problems_.size()) + " problems";
}

}  // namespace carelog::replay
