// The write engine's lanes; see the header and docs/architecture.md ("The write engine").
//
// A lane's thread runs this loop:
//   take what is queued -> decide it against memory (which already holds the transaction still
//   committing) -> produce it on the producer that is not committing, every record acknowledged ->
//   wait for the previous commit -> hand this one to the committer.
// So a commit's round trip (EndTxn and its markers) overlaps the next batch's deciding and
// producing, and the two transactional ids never wait on each other's markers. The committer
// answers a batch's commands as soon as its commit returns (publish), not when the lane next
// looks. Records of a batch are acknowledged before the next batch is produced, so the log keeps
// every agency's order.
//
// A batch job of many rows (a client import) runs as a bulk job beside that loop, so it does not
// hold the lane's other agencies: its rows are decided and produced a chunk per turn of the loop,
// in one transaction of a third transactional id that stays open across turns, while the loop's
// ordinary batches go on committing on the two others. The bulk agency's other commands (and any
// other bulk job) wait until it is committed or refused; its base state was committed before it
// started, so nothing committed elsewhere depends on it, and it depends on nothing uncommitted.
//
// Any failure is handled one way: abort what is open, wait for the commit in flight, rebuild
// memory from the snapshot and the log (which is then exactly the committed state), and answer
// every pending command by what the log holds: its events are there (2xx), or it is certainly not
// (503), or, when the log cannot be read in time, the outcome is unknown (504).
#include "carelog/writer/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <condition_variable>
#include <map>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "carelog/base/histogram.hpp"
#include "carelog/base/metric_text.hpp"
#include "carelog/base/thread_name.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/writer/agency_log.hpp"
#include "carelog/writer/snapshot.hpp"

namespace carelog::writer {
using steady = std::chrono::steady_clock;

namespace {

struct single_cmd {
    std::string agency_id;
    command_meta meta;
    aggregates::command cmd;
    command_done done;
    steady::time_point deadline;
};

struct batch_cmd {
    std::string agency_id;
    command_meta meta;
    std::vector<aggregates::command> cmds;
    bool dry_run = false;
    batch_done done;
    steady::time_point deadline;
};

using work = std::variant<single_cmd, batch_cmd>;

// The aggregate a command targets, for answering a command that changes nothing.
std::string target_of(const aggregates::command& c, const std::string& agency_id, const aggregates::agency_state& s) {
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            // A client command names the client first (assign_staff_to_client also has a staff_id).
            if constexpr (requires { x.client_id; })
                return x.client_id;
            else if constexpr (requires { x.invitation_id; }) {
                // revoking a revoked invitation: the client that holds it
                auto owner = s.invitation_owners.find(x.invitation_id);
                return owner == s.invitation_owners.end() ? agency_id : owner->second;
            } else if constexpr (requires { x.staff_id; })
                return x.staff_id;
            else if constexpr (std::is_same_v<T, aggregates::create_agency>)
                return x.agency_id;
            else
                return agency_id;
        },
        c);
}

std::uint64_t version_of(const aggregates::agency_state& s, const std::string& id) {
    if (id == s.id) return s.version;
    if (auto it = s.staff.find(id); it != s.staff.end()) return it->second.version;
    if (auto it = s.clients.find(id); it != s.clients.end()) return it->second.version;
    return 0;
}

// A command's result from the events it appended: the first event's aggregate and that
// aggregate's last version among them.
command_result result_of(std::vector<events::envelope> evs) {
    command_result r;
    if (!evs.empty()) {
        r.aggregate_id = evs.front().aggregate_id;
        for (const auto& e : evs)
            if (e.aggregate_id == r.aggregate_id) r.version = e.aggregate_version;
    }
    r.events = std::move(evs);
    return r;
}

command_result replay_of(const idem_record& rec) {
    command_result r;
    r.aggregate_id = rec.aggregate_id;
    r.version = rec.version;
    r.consistency_token = rec.token;
    r.events = rec.events;
    r.replayed = true;
    return r;
}

std::unexpected<error> not_accepted(const std::string& why) { return fail(errc::unavailable, why); }

// What a job weighs against the queue bound: its rows, but a bulk job (decided a chunk per turn,
// one at a time) only its chunk, so that a big import still gets in while others are queued.
std::size_t queue_weight(std::size_t rows, const engine_options& o) {
    rows = std::max<std::size_t>(1, rows);
    return rows > o.bulk_rows ? std::min(rows, std::max<std::size_t>(1, o.bulk_chunk)) : rows;
}

// Commands per transaction: 1 to 5,000.
constexpr std::array<double, 12> command_bounds{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

// How a lane's catch-up reads the log: 32 MiB fetched ahead. Holding catch_up_resident_aggregates,
// a rebuild of 1M events read as fast with 32 MiB as with 64 (18-21 s) and peaked ~30-40 MiB lower
// (docs/performance.md, "A catch-up that keeps few aggregates").
constexpr kafka::reader_tuning catch_up_reading{.max_kbytes = 32768};

double seconds_of(steady::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// Where a command's time goes, for an operator: its wait for its writer, the produce and the
// commit of its transaction, and how many commands a transaction carries (engine::metrics_text).
struct engine::timings {
    histogram queue_wait;                       // seconds from submit to decide
    histogram produce;                          // seconds from a transaction's begin to its records' acknowledgement
    histogram commit;                           // seconds of each commit_transaction call
    histogram per_transaction{command_bounds};  // commands in each transaction handed to a commit
    histogram snapshot_turn;                    // seconds a live lane spent on snapshots in one turn
};

class engine::lane {
public:
    lane(const kafka::config& cfg, int group, std::vector<int> partitions, snapshot_store& local, clock_source& clock,
         id_source& ids, const engine_options& opts, timings& times)
        : cfg_(cfg), group_(group), local_(local), clock_(clock), ids_(ids), opts_(opts), times_(times) {
        for (int p : partitions) {
            parts_.emplace(p, part{});
            parts_[p].partition = p;
            committed_end_.emplace(p, std::make_unique<std::atomic<std::int64_t>>(-1));
        }
        name_ = "g" + std::to_string(group) + "of" + std::to_string(opts.groups);
    }

    void start() {
        committer_ = std::thread([this] {
            name_this_thread("commit-" + name_);
            commit_loop();
        });
        snapshotter_ = std::thread([this] {
            name_this_thread("snap-" + name_);
            snapshot_loop();
        });
        thread_ = std::thread([this] {
            name_this_thread("writer-" + name_);
            run();
        });
    }

    void stop() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
        {
            std::lock_guard lk(cmu_);
            cstop_ = true;
        }
        ccv_.notify_all();
        if (committer_.joinable()) committer_.join();
        {
            std::lock_guard lk(smu_);
            sstop_ = true;
        }
        scv_.notify_all();
        if (snapshotter_.joinable()) snapshotter_.join();
    }

    // False when the queue is full or the lane stops: the caller answers at once.
    // Takes `w` only when it returns true.
    // The lane waits with commands queued only while it gathers (`run`), and then only a queue
    // grown to gathered_enough() ends the wait early: the lane is woken for the first command and
    // for that one, not for each command in between (each wake is a futex call on both sides).
    bool enqueue(work& w, std::size_t weight) {
        bool wake = false;
        {
            std::lock_guard lk(mu_);
            if (stopping_ || queued_ + weight > opts_.max_queue) return false;
            queued_ += weight;
            queue_.push_back(std::move(w));
            wake = queue_.size() == 1 || queue_.size() == gathered_enough();
        }
        if (wake) cv_.notify_one();
        return true;
    }

    // How many queued commands end a gathering early (engine_options::gather_batch).
    std::size_t gathered_enough() const {
        return opts_.gather_batch > 0 ? std::min(opts_.gather_batch, opts_.max_batch) : opts_.max_batch;
    }

    std::int64_t committed_end(int p) const {
        auto it = committed_end_.find(p);
        return it == committed_end_.end() ? -1 : it->second->load();
    }
    const std::set<int> partitions() const {
        std::set<int> out;
        for (const auto& [p, _] : committed_end_) out.insert(p);
        return out;
    }
    bool fenced() const { return fenced_.load(); }
    bool ready() const { return ready_.load(); }
    std::uint64_t appended() const { return appended_.load(); }
    std::uint64_t transactions() const { return transactions_.load(); }
    std::uint64_t failures() const { return failures_.load(); }
    std::uint64_t commands() const { return commands_.load(); }
    std::size_t resident() const { return resident_.load(); }
    std::size_t queued() const {
        std::lock_guard lk(mu_);
        return queued_;
    }

private:
    struct part {
        int partition = 0;
        std::unordered_map<std::string, agency_log> agencies;
        std::unordered_set<std::string> dirty;   // agencies changed since the last snapshot
        std::unordered_set<std::string> broken;  // agencies whose chain in the log is broken
        std::int64_t next_offset = 0;            // after the last committed record (or control marker)
        std::vector<std::string> stale_keys;     // an older format's entries, emptied by the next snapshot
        // The entry keys of snapshot jobs handed to the snapshot thread and not yet known written,
        // by job number: their aggregates stay in memory until they are (evict_written).
        std::deque<std::pair<std::uint64_t, std::vector<std::string>>> unwritten;
    };

    // One command's (or one batch job's) answer, pending until its transaction's fate is known.
    struct answer {
        command_done done;                      // a single command
        batch_done batch;                       // or a batch job
        result<command_result> res = fail(errc::internal, "unanswered");
        std::vector<result<command_result>> job_results;
        std::vector<std::size_t> last_record;   // per result: index into records, SIZE_MAX = none
        std::shared_ptr<idem_record> replay;    // an Idempotency-Key replay
        std::string agency_id, key;             // for resolving replays after a rebuild
        int partition = 0;
        std::vector<std::string> last_event_id; // per result: to find the command in the log after a failure
    };

    struct txn {
        int producer = 0;
        std::uint64_t number = 0;
        std::vector<kafka::outgoing> records;
        std::vector<std::int64_t> offsets;
        std::vector<answer> answers;
        std::vector<std::pair<std::shared_ptr<idem_record>, std::size_t>> idem_tokens;  // record -> last record
        kafka::txn_outcome outcome = kafka::txn_outcome::not_committed;  // when it failed
        bool produced = false;
        bool published = false;  // its commit is known outside the lane (publish)
    };

    // ------------------------------------------------------------------ the loop

    void run() {
        if (auto r = init(); !r) spdlog::warn("writer {}: not ready yet: {}", name_, r.error().detail);
        for (;;) {
            std::vector<work> items;
            bool commit_done = false;
            {
                std::unique_lock lk(mu_);
                // The queue is taken when gathering is over (see engine_options::gather); a commit
                // that finishes meanwhile is answered at once.
                const auto gather_until = last_taken_ >= opts_.gather_from ? last_taken_at_ + opts_.gather
                                                                          : steady::time_point{};
                auto gathered = [&] {
                    return stopping_ || queue_.size() >= gathered_enough() || steady::now() >= gather_until;
                };
                // A snapshot round under way goes on between batches, one partition per turn, and
                // one falls due on an idle lane too while something is left to snapshot.
                const bool to_snapshot = ready_ && !inflight_ && !bulk_ && snapshot_pending();
                const auto snapshot_at = round_left_.empty() ? last_snapshot_ + opts_.snapshot_interval : steady::now();
                auto woken = [&] {
                    return stopping_ || (!queue_.empty() && gathered()) || (inflight_ && commit_finished()) ||
                           bulk_ || !held_.empty() || (to_snapshot && steady::now() >= snapshot_at);
                };
                while (!woken()) {
                    if (!queue_.empty())
                        cv_.wait_until(lk, to_snapshot ? std::min(gather_until, snapshot_at) : gather_until);
                    else if (to_snapshot)
                        cv_.wait_until(lk, snapshot_at);
                    else
                        cv_.wait(lk);
                }
                const bool take = gathered();
                // What waited for a bulk job that has ended goes first, in the order it came.
                if (!bulk_)
                    while (!held_.empty()) {
                        items.push_back(std::move(held_.front()));
                        held_.pop_front();
                    }
                std::size_t n = 0, taken = 0;
                while (take && !queue_.empty() && n < opts_.max_batch) {
                    const auto w = weight(queue_.front());
                    taken += w;
                    if (!is_bulk(queue_.front())) n += w;  // a bulk job goes its own way
                    items.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
                queued_ -= std::min(queued_, taken);
                if (take && taken > 0) {
                    last_taken_ = n;
                    last_taken_at_ = steady::now();
                }
                commit_done = inflight_ && commit_finished();
                if (items.empty() && !commit_done && stopping_ && !inflight_ && !bulk_) break;
            }
            try {
                // Route: a bulk job starts when none runs; its agency's later commands and other
                // bulk jobs wait for it; everything else is decided in this turn's batch.
                std::vector<work> now;
                std::optional<batch_cmd> starting;
                for (auto& w : items) {
                    const auto& agency = agency_of(w);
                    if ((bulk_ && (agency == bulk_->agency_id || is_bulk(w))) ||
                        (starting && (agency == starting->agency_id || is_bulk(w))))
                        held_.push_back(std::move(w));
                    else if (is_bulk(w))
                        starting.emplace(std::move(std::get<batch_cmd>(w)));
                    else
                        now.push_back(std::move(w));
                }
                if (!now.empty()) process(now);
                if (starting) start_bulk(std::move(*starting));
                if (bulk_) advance_bulk();
                if (now.empty() && !starting) {
                    if (inflight_ && (commit_done || !bulk_)) finish_inflight();
                    if (!inflight_) snapshot_if_due(false);
                }
            } catch (const std::exception& e) {
                spdlog::error("writer {}: {}; rebuilding from the log", name_, e.what());
                recover(nullptr);
            }
        }
        if (inflight_) finish_inflight();
        if (ready_) snapshot_if_due(true);
    }

    std::size_t weight(const work& w) const {
        if (const auto* b = std::get_if<batch_cmd>(&w)) return std::min(queue_weight(b->cmds.size(), opts_), opts_.max_queue);
        return 1;
    }
    bool is_bulk(const work& w) const {
        const auto* b = std::get_if<batch_cmd>(&w);
        return b && b->cmds.size() > opts_.bulk_rows;
    }
    static const std::string& agency_of(const work& w) {
        return std::visit([](const auto& x) -> const std::string& { return x.agency_id; }, w);
    }

    void process(std::vector<work>& items) {
        if (fenced_) {
            for (auto& w : items) refuse(w, not_accepted(fenced_text()));
            return;
        }
        if (!ready_) {
            if (auto r = init(); !r) {
                for (auto& w : items) refuse(w, not_accepted(r.error().detail));
                return;
            }
        }
        // A moment where memory equals the log for the next turn of a snapshot round: ending the
        // pipeline is free once the commit returned, and paid for only when a round is late.
        if (inflight_ && snapshot_wanted() && (commit_finished() || snapshot_overdue())) finish_inflight();
        if (!inflight_) snapshot_if_due(false);
        if (fenced_ || !ready_) {
            for (auto& w : items) refuse(w, not_accepted(fenced_ ? fenced_text() : "the writer is rebuilding"));
            return;
        }

        auto t = std::make_unique<txn>();
        t->number = ++txn_counter_;
        auto now = steady::now();
        for (auto& w : items) {
            if (auto* s = std::get_if<single_cmd>(&w)) {
                times_.queue_wait.observe(seconds_of(now - (s->deadline - opts_.queue_timeout)));
                if (now > s->deadline) {
                    s->done(not_accepted("the command waited too long for its writer and was not decided"));
                    continue;
                }
                decide_single(*t, *s);
            } else {
                auto& b = std::get<batch_cmd>(w);
                times_.queue_wait.observe(seconds_of(now - (b.deadline - opts_.queue_timeout)));
                if (now > b.deadline) {
                    b.done(not_accepted("the batch waited too long for its writer and was not decided"));
                    continue;
                }
                decide_batch(*t, b);
            }
        }
        commands_ += t->answers.size();

        if (t->records.empty()) {
            // Errors, no-ops and replays were decided against memory that may hold the batch in
            // flight: they are answered once its fate is known.
            if (inflight_) {
                if (!finish_inflight()) {  // the batch in flight failed: these were decided against a state that never was
                    for (auto& a : t->answers) deliver(a, not_accepted("the event log failed a transaction; retry"));
                    return;
                }
            }
            for (auto& a : t->answers) deliver_decided(a, *t);
            return;
        }

        t->producer = inflight_ ? 1 - inflight_->producer : next_producer_;
        auto& prod = *producers_[static_cast<std::size_t>(t->producer)];
        if (opts_.before_produce) opts_.before_produce(group_, t->number);
        const auto producing = steady::now();
        auto begun = prod.begin();
        std::expected<std::vector<std::int64_t>, kafka::txn_error> offs =
            begun ? prod.produce(t->records) : std::unexpected(begun.error());
        times_.produce.observe(seconds_of(steady::now() - producing));
        if (!offs) {
            spdlog::warn("writer {}: producing a batch of {} records failed: {}", name_, t->records.size(),
                         offs.error().err.detail);
            t->outcome = offs.error().outcome;
            if (t->outcome != kafka::txn_outcome::fenced) {
                if (auto a = prod.abort(); !a) t->outcome = kafka::txn_outcome::unknown;
            }
            recover(std::move(t));
            return;
        }
        t->offsets = std::move(*offs);
        t->produced = true;
        if (inflight_) {
            auto [previous, r] = take_inflight();
            if (!r) {
                spdlog::warn("writer {}: commit of {} records failed: {}", name_, previous->records.size(),
                             r.error().err.detail);
                previous->outcome = r.error().outcome;
                // This batch was decided on top of the failed one: abort it now, on its producer,
                // which the rebuild in recover() replaces.
                t->outcome = prod.abort() ? kafka::txn_outcome::not_committed : kafka::txn_outcome::unknown;
                recover(std::move(previous), std::move(t));
                return;
            }
            committed(*previous);
        }
        start_commit(std::move(t));
    }

    // ------------------------------------------------------------------ deciding

    agency_log* find(part& P, const std::string& agency) {
        auto it = P.agencies.find(agency);
        return it == P.agencies.end() ? nullptr : &it->second;
    }

    // The agency's log, a new one when it has none yet, able to read back what it lets go.
    agency_log& log_of(part& P, const std::string& agency) {
        auto& log = P.agencies[agency];
        read_back(P, agency, log);
        return log;
    }

    // Lets the log read its staff and clients that are not in memory back from the partition's
    // snapshot (every one of them is there: evict_written).
    void read_back(const part& P, const std::string& agency, agency_log& log) {
        if (log.state.staff.has_source()) return;
        read_back_from(log, agency, [this, ns = namespace_of(P.partition)](const std::string& key) {
            auto value = local_.get(ns, key);
            // Asked only for an id the agency has: a missing entry means one was let go unwritten
            // (or two ids share a 64-bit hash, and then the new one is not there indeed).
            if (!value) spdlog::error("writer {}: snapshot entry {} of {} is missing", name_, key, ns);
            return value;
        });
    }

    part& part_of(const std::string& agency) {
        int p = kafka::partition_for(agency, cfg_partitions_);
        return parts_.at(p);
    }

    void decide_single(txn& t, single_cmd& s) {
        auto& a = t.answers.emplace_back();
        a.done = std::move(s.done);
        a.agency_id = s.agency_id;
        a.key = s.meta.idempotency_key;
        part& P = part_of(s.agency_id);
        a.partition = P.partition;
        if (P.broken.contains(s.agency_id)) {
            a.res = fail(errc::chain_broken, "the agency's hash chain in the log is broken; its writer stopped "
                                             "appending until an operator repairs it");
            return;
        }
        agency_log* existing = find(P, s.agency_id);
        if (!s.meta.idempotency_key.empty() && existing) {
            if (auto k = existing->commands.find(s.meta.idempotency_key); k != existing->commands.end()) {
                a.replay = k->second;
                return;
            }
        }
        static const aggregates::agency_state empty_state{};
        const auto& state = existing ? existing->state : empty_state;
        auto decided = decide_reading_back(state, s.cmd);
        if (!decided) {
            a.res = std::unexpected(decided.error());
            return;
        }
        if (decided->empty()) {
            command_result r;
            r.aggregate_id = target_of(s.cmd, s.agency_id, state);
            r.version = version_of(state, r.aggregate_id);
            a.res = std::move(r);
            return;
        }
        agency_log& log = existing ? *existing : log_of(P, s.agency_id);
        std::string cmd_id = s.meta.idempotency_key.empty() ? ids_.next_uuid() : s.meta.idempotency_key;
        auto out = append(t, P, log, s.agency_id, std::move(*decided),
                          stamp_meta{s.agency_id, s.meta.actor_id, cmd_id, s.meta.correlation_id, clock_.now()});
        if (!out) {
            a.res = std::unexpected(out.error());
            return;
        }
        a.last_record.push_back(t.records.size() - 1);
        a.last_event_id.push_back(out->back().event_id);
        a.res = result_of(std::move(*out));
        if (is_idempotency_key(cmd_id))
            if (auto k = log.commands.find(cmd_id); k != log.commands.end())
                t.idem_tokens.emplace_back(k->second, t.records.size() - 1);
    }

    // decide, where an aggregate the command needs could not be read back from the snapshot (a
    // storage error, a damaged entry) refuses that command alone: nothing of it is in the log.
    result<std::vector<events::decided_event>> decide_reading_back(const aggregates::agency_state& s,
                                                                   const aggregates::command& c) {
        try {
            return aggregates::decide(s, c);
        } catch (const std::exception& e) {
            spdlog::error("writer {}: agency {}: {}", name_, s.id, e.what());
            return fail(errc::unavailable, "the writer could not read the agency's state back from its snapshot");
        }
    }

    // Stamps decided events onto `log`, applies them and queues their records. Refuses (and
    // applies nothing) when an event is larger than the log accepts.
    result<std::vector<events::envelope>> append(txn& t, part& P, agency_log& log, const std::string& agency,
                                                 std::vector<events::decided_event> decided,
                                                 const stamp_meta& meta) {
        auto stamped_events = stamp(log, std::move(decided), meta, ids_);
        for (const auto& s : stamped_events)
            if (s.bytes.size() > opts_.max_event_bytes)
                return fail(errc::too_large, "the command's event would take " + std::to_string(s.bytes.size()) +
                                                 " bytes; the event log accepts at most " +
                                                 std::to_string(opts_.max_event_bytes));
        std::vector<events::envelope> out;
        out.reserve(stamped_events.size());
        for (auto& s : stamped_events) {
            bool ok = apply(log, s.env, "");
            (void)ok;  // stamp() continues the chain by construction
            kafka::outgoing o;
            o.partition = P.partition;
            o.key = agency;
            o.value = std::move(s.bytes);
            o.headers.reserve(3);
            o.headers.push_back({"event-type", std::string(events::event_type_name(s.env.data))});
            o.headers.push_back({"schema-version", std::to_string(s.env.schema_version)});
            o.headers.push_back({"content-type", events::content_type});
            t.records.push_back(std::move(o));
            out.push_back(std::move(s.env));
        }
        P.dirty.insert(agency);
        return out;
    }

    // One row of a batch job, decided against `work` (the job's copy of the agency's log); its
    // records go into `t`, its answer into `a`.
    void decide_row(txn& t, part& P, agency_log& work, const batch_cmd& b, answer& a, std::size_t i,
                    std::vector<std::pair<std::shared_ptr<idem_record>, std::size_t>>& idem) {
        const auto& cmd = b.cmds[i];
        std::string cmd_id = b.meta.idempotency_key.empty() ? ids_.next_uuid()
                                                             : b.meta.idempotency_key + "/" + std::to_string(i);
        a.last_record.push_back(SIZE_MAX);
        a.last_event_id.emplace_back();
        if (!b.meta.idempotency_key.empty()) {
            if (auto k = work.commands.find(cmd_id); k != work.commands.end()) {
                a.job_results.push_back(replay_of(*k->second));
                return;
            }
        }
        auto decided = decide_reading_back(work.state, cmd);
        if (!decided) {
            a.job_results.push_back(std::unexpected(decided.error()));
            return;
        }
        if (decided->empty()) {
            command_result r;
            r.aggregate_id = target_of(cmd, b.agency_id, work.state);
            r.version = version_of(work.state, r.aggregate_id);
            a.job_results.push_back(std::move(r));
            return;
        }
        stamp_meta meta{b.agency_id, b.meta.actor_id, cmd_id, b.meta.correlation_id, clock_.now()};
        if (b.dry_run) {
            std::vector<events::envelope> evs;
            for (auto& s : stamp(work, std::move(*decided), meta, ids_)) {
                bool ok = apply(work, s.env, "");
                (void)ok;
                evs.push_back(std::move(s.env));
            }
            a.job_results.push_back(result_of(std::move(evs)));
            return;
        }
        auto out = append(t, P, work, b.agency_id, std::move(*decided), meta);
        if (!out) {
            a.job_results.push_back(std::unexpected(out.error()));
            return;
        }
        a.last_record.back() = t.records.size() - 1;
        a.last_event_id.back() = out->back().event_id;
        a.job_results.push_back(result_of(std::move(*out)));
        if (is_idempotency_key(cmd_id))
            if (auto k = work.commands.find(cmd_id); k != work.commands.end())
                idem.emplace_back(k->second, t.records.size() - 1);
    }

    // A batch job is decided on a copy of the agency's log, which replaces it only when the job
    // produced records (a dry run leaves memory untouched).
    void decide_batch(txn& t, batch_cmd& b) {
        auto& a = t.answers.emplace_back();
        a.batch = std::move(b.done);
        a.agency_id = b.agency_id;
        part& P = part_of(b.agency_id);
        a.partition = P.partition;
        if (P.broken.contains(b.agency_id)) {
            a.res = fail(errc::chain_broken, "the agency's hash chain in the log is broken; its writer stopped "
                                             "appending until an operator repairs it");
            return;
        }
        agency_log* existing = find(P, b.agency_id);
        agency_log work = existing ? *existing : agency_log{};
        const std::size_t first_record = t.records.size();
        std::vector<std::pair<std::shared_ptr<idem_record>, std::size_t>> idem;
        for (std::size_t i = 0; i < b.cmds.size(); ++i) decide_row(t, P, work, b, a, i, idem);
        a.res = command_result{};
        if (t.records.size() > first_record) {
            P.agencies[b.agency_id] = std::move(work);
            for (auto& x : idem) t.idem_tokens.push_back(std::move(x));
        }
    }


    // ------------------------------------------------------------------ bulk jobs

    // A batch job of more than bulk_rows rows, decided and produced bulk_chunk rows per turn of the
    // loop on the third producer, in one transaction, and committed when its last row is produced.
    struct bulk_job {
        std::string agency_id;
        batch_cmd job;
        agency_log work;  // the agency's log with the rows decided so far
        std::unique_ptr<txn> t;
        std::size_t next = 0;  // the next row to decide
        bool begun = false;    // the transaction is open on the bulk producer
        std::vector<std::pair<std::shared_ptr<idem_record>, std::size_t>> idem;
    };
    static constexpr std::size_t bulk_producer = 2;

    void start_bulk(batch_cmd b) {
        if (steady::now() > b.deadline) {
            b.done(not_accepted("the batch waited too long for its writer and was not decided"));
            return;
        }
        if (!fenced_ && !ready_) {
            if (auto r = init(); !r) {
                b.done(not_accepted(r.error().detail));
                return;
            }
        }
        if (fenced_ || !ready_) {
            b.done(not_accepted(fenced_ ? fenced_text() : "the writer is rebuilding"));
            return;
        }
        // The job starts from committed state: whatever of its agency is in flight commits first.
        if (inflight_ && !finish_inflight()) {
            b.done(not_accepted("the event log failed a transaction; retry"));
            return;
        }
        part& P = part_of(b.agency_id);
        if (P.broken.contains(b.agency_id)) {
            b.done(fail(errc::chain_broken, "the agency's hash chain in the log is broken; its writer stopped "
                                            "appending until an operator repairs it"));
            return;
        }
        auto J = std::make_unique<bulk_job>();
        J->agency_id = b.agency_id;
        J->t = std::make_unique<txn>();
        J->t->producer = bulk_producer;
        J->t->number = ++txn_counter_;
        auto& a = J->t->answers.emplace_back();
        a.batch = std::move(b.done);
        a.agency_id = b.agency_id;
        a.partition = P.partition;
        a.res = command_result{};
        if (auto* existing = find(P, b.agency_id)) J->work = *existing;
        J->job = std::move(b);
        ++commands_;
        bulk_ = std::move(J);
    }

    // One turn of the bulk job: its next chunk of rows decided and produced; after the last, the
    // commit, and the job's answer.
    void advance_bulk() {
        auto& J = *bulk_;
        txn& t = *J.t;
        part& P = part_of(J.agency_id);
        const std::size_t first_record = t.records.size();
        const std::size_t end = std::min(J.job.cmds.size(), J.next + std::max<std::size_t>(1, opts_.bulk_chunk));
        for (; J.next < end; ++J.next) decide_row(t, P, J.work, J.job, t.answers.front(), J.next, J.idem);
        auto& prod = *producers_[bulk_producer];
        if (t.records.size() > first_record) {
            if (!J.begun) {
                if (auto r = prod.begin(); !r) return fail_bulk(r.error().outcome);
                J.begun = true;
            }
            auto offs = prod.produce(std::span<const kafka::outgoing>(t.records).subspan(first_record));
            if (!offs) {
                spdlog::warn("writer {}: producing rows of a bulk job of agency {} failed: {}", name_, J.agency_id,
                             offs.error().err.detail);
                return fail_bulk(offs.error().outcome, /*abort=*/offs.error().outcome != kafka::txn_outcome::fenced);
            }
            t.offsets.insert(t.offsets.end(), offs->begin(), offs->end());
            t.produced = true;
        }
        if (J.next < J.job.cmds.size()) return;

        if (J.begun) {
            if (opts_.fail_commit && opts_.fail_commit(group_, t.number)) {
                spdlog::warn("writer {}: bulk transaction {} aborted by the test hook", name_, t.number);
                return fail_bulk(kafka::txn_outcome::not_committed, /*abort=*/true);
            }
            if (auto r = prod.commit(); !r) {
                spdlog::warn("writer {}: commit of a bulk job of {} records failed: {}", name_, t.records.size(),
                             r.error().err.detail);
                return fail_bulk(r.error().outcome);
            }
            P.agencies[J.agency_id] = std::move(J.work);
            for (auto& x : J.idem) t.idem_tokens.push_back(std::move(x));
        }
        auto done = std::move(bulk_);
        committed(*done->t);
    }

    // The bulk job failed with `outcome`: abort it (when asked and possible) and answer it, with the
    // rest of the lane, from the log (recover).
    void fail_bulk(kafka::txn_outcome outcome, bool abort = false) {
        auto J = std::move(bulk_);
        J->t->outcome = outcome;
        if (abort && J->begun)
            if (auto a = producers_[bulk_producer]->abort(); !a) J->t->outcome = kafka::txn_outcome::unknown;
        recover(std::move(J->t));
    }

    // ------------------------------------------------------------------ answering

    static void deliver(answer& a, result<command_result> r) {
        if (a.done) {
            a.done(std::move(r));
            a.done = nullptr;
        } else if (a.batch) {
            if (r)
                a.batch(std::move(a.job_results));
            else
                a.batch(std::unexpected(r.error()));
            a.batch = nullptr;
        }
    }

    // Answers a decided command whose transaction committed (or that appended nothing).
    void deliver_decided(answer& a, const txn& t) {
        if (!a.done && !a.batch) return;  // answered already
        if (a.replay) {
            deliver(a, replay_of(*a.replay));
            return;
        }
        auto tok = [&](std::size_t rec) { return make_token(t.records[rec].partition, t.offsets[rec]); };
        if (a.batch) {
            for (std::size_t i = 0; i < a.job_results.size(); ++i)
                if (a.last_record[i] != SIZE_MAX && a.job_results[i])
                    a.job_results[i]->consistency_token = tok(a.last_record[i]);
            deliver(a, command_result{});
            return;
        }
        if (a.res && !a.last_record.empty()) a.res->consistency_token = tok(a.last_record.front());
        deliver(a, std::move(a.res));
    }

    void refuse(work& w, std::unexpected<error> why) {
        if (auto* s = std::get_if<single_cmd>(&w))
            s->done(why);
        else
            std::get<batch_cmd>(w).done(why);
    }

    // ------------------------------------------------------------------ committing

    void start_commit(std::unique_ptr<txn> t) {
        times_.per_transaction.observe(static_cast<double>(t->answers.size()));
        std::lock_guard lk(cmu_);
        inflight_ = std::move(t);
        commit_result_.reset();
        ccv_.notify_all();
    }

    bool commit_finished() {
        std::lock_guard lk(cmu_);
        return commit_result_.has_value();
    }

    void commit_loop() {
        for (;;) {
            txn* t = nullptr;
            {
                std::unique_lock lk(cmu_);
                ccv_.wait(lk, [&] { return cstop_ || (inflight_ && !commit_result_ && !committing_); });
                if (cstop_) return;
                t = inflight_.get();
                committing_ = true;
            }
            auto& prod = *producers_[static_cast<std::size_t>(t->producer)];
            std::expected<void, kafka::txn_error> r;
            if (opts_.fail_commit && opts_.fail_commit(group_, t->number)) {
                spdlog::warn("writer {}: transaction {} aborted by the test hook", name_, t->number);
                auto a = prod.abort();
                r = std::unexpected(kafka::txn_error{error::make(errc::unavailable, "aborted by the test hook"),
                                                     a ? kafka::txn_outcome::not_committed : kafka::txn_outcome::unknown});
            } else {
                const auto began = steady::now();
                r = prod.commit();
                times_.commit.observe(seconds_of(steady::now() - began));
                if (r) {
                    try {
                        publish(*t);
                    } catch (const std::exception& e) {  // the lane answers the rest (committed)
                        spdlog::error("writer {}: answering transaction {}: {}", name_, t->number, e.what());
                    }
                }
            }
            {
                std::lock_guard lk(cmu_);
                commit_result_ = std::move(r);
                committing_ = false;
            }
            ccv_.notify_all();
            {
                std::lock_guard lk(mu_);  // the lane waits on its own queue's condition too
            }
            cv_.notify_all();
        }
    }

    // The committer's verdict on the transaction in flight (waits for it), taking it out of flight.
    std::pair<std::unique_ptr<txn>, std::expected<void, kafka::txn_error>> take_inflight() {
        std::unique_lock lk(cmu_);
        ccv_.wait(lk, [&] { return commit_result_.has_value(); });
        auto r = std::move(*commit_result_);
        commit_result_.reset();
        return {std::move(inflight_), std::move(r)};
    }

    // Waits for the transaction in flight and answers it. False when it failed (then memory was
    // rebuilt from the log and its commands answered from what the log holds).
    bool finish_inflight() {
        auto [t, r] = take_inflight();
        if (!r) {
            spdlog::warn("writer {}: commit of {} records failed: {}", name_, t->records.size(), r.error().err.detail);
            t->outcome = r.error().outcome;
            recover(std::move(t));
            return false;
        }
        committed(*t);
        return true;
    }

    // What a commit makes true outside the lane, done by the thread that learns of it first (the
    // committer, so that an answer does not wait for the lane's next produce to return): the
    // partitions' committed ends advance (a login or read that waits for its agency's writer waits
    // for them), the counters count it, and every command it decided is answered. Replays are
    // answered by the lane (committed), which owns the idempotency records whose tokens they carry.
    void publish(txn& t) {
        for (std::size_t i = 0; i < t.records.size(); ++i) {
            auto& committed_end = *committed_end_.at(t.records[i].partition);
            auto seen = committed_end.load();
            while (seen <= t.offsets[i] && !committed_end.compare_exchange_weak(seen, t.offsets[i] + 1)) {
            }
        }
        ++transactions_;
        appended_ += t.records.size();
        t.published = true;
        for (auto& a : t.answers)
            if (!a.replay) deliver_decided(a, t);
    }

    // The lane's side of a commit: its own bookkeeping, then every answer publish did not give
    // (an answer given once is not given again: deliver empties its slot).
    void committed(txn& t) {
        if (!t.published) publish(t);
        if (t.producer < 2) next_producer_ = 1 - t.producer;
        for (std::size_t i = 0; i < t.records.size(); ++i) {
            auto& P = parts_.at(t.records[i].partition);
            P.next_offset = std::max(P.next_offset, t.offsets[i] + 1);
        }
        for (auto& [rec, idx] : t.idem_tokens) rec->token = make_token(t.records[idx].partition, t.offsets[idx]);
        for (auto& a : t.answers) deliver_decided(a, t);
    }

    // ------------------------------------------------------------------ failures

    // `failed` (may be null) failed with failed->outcome, and so did `also` (may be null) with its
    // own. Waits for a commit still in flight, rebuilds memory (and the producers) from snapshot +
    // log and answers every pending command from what the log holds.
    void recover(std::unique_ptr<txn> failed, std::unique_ptr<txn> also = nullptr) {
        ++failures_;
        std::vector<std::unique_ptr<txn>> pending;
        if (inflight_) {
            auto [t, r] = take_inflight();
            if (r)
                committed(*t);
            else {
                t->outcome = r.error().outcome;
                pending.push_back(std::move(t));
            }
        }
        if (failed) pending.push_back(std::move(failed));
        if (also) pending.push_back(std::move(also));
        if (bulk_) {
            // A bulk job still open is refused with the rest: a rebuild reads only what is committed.
            auto J = std::move(bulk_);
            J->t->outcome = kafka::txn_outcome::not_committed;
            if (J->begun)
                if (auto a = producers_[bulk_producer]->abort(); !a) J->t->outcome = kafka::txn_outcome::unknown;
            pending.push_back(std::move(J->t));
        }
        bool any_fenced = false;
        for (auto& t : pending) any_fenced = any_fenced || t->outcome == kafka::txn_outcome::fenced;
        if (any_fenced) {
            fenced_ = true;
            spdlog::error("writer {}: fenced by a newer carelogd on this topic; this process stops writing "
                          "partitions {}",
                          name_, partitions_text());
        }
        // Memory may hold decisions the log does not: rebuild it (unless fenced: the newer process owns it now).
        ready_ = false;
        std::unordered_map<std::string, std::pair<int, std::int64_t>> seen;
        bool rebuilt = false;
        if (!fenced_) {
            auto r = init(&seen);
            rebuilt = r.has_value();
            if (!r) spdlog::warn("writer {}: rebuild after a failed transaction: {}", name_, r.error().detail);
        }
        for (auto& t : pending) resolve(*t, rebuilt, seen);
    }

    void resolve(txn& t, bool rebuilt, const std::unordered_map<std::string, std::pair<int, std::int64_t>>& seen) {
        const bool certain_absent = t.outcome != kafka::txn_outcome::unknown;
        auto unknown = [] {
            return fail(errc::outcome_unknown, "the event log did not say in time whether the command was "
                                               "committed; retry with the same Idempotency-Key to learn it");
        };
        auto absent = [this](const std::string& why) { return not_accepted(fenced_ ? fenced_text() : why); };
        for (auto& a : t.answers) {
            if (a.replay) {
                // The original may be older than this batch (then it stands) or in it.
                if (rebuilt) {
                    auto& P = parts_.at(a.partition);
                    if (auto* log = find(P, a.agency_id))
                        if (auto k = log->commands.find(a.key); k != log->commands.end()) {
                            deliver(a, replay_of(*k->second));
                            continue;
                        }
                    deliver(a, absent("the event log failed a transaction; the command was not accepted"));
                } else if (!a.replay->token.empty()) {
                    deliver(a, replay_of(*a.replay));
                } else {
                    deliver(a, certain_absent ? absent("the event log failed a transaction") : unknown());
                }
                continue;
            }
            bool any_records = false;
            for (auto r : a.last_record) any_records = any_records || r != SIZE_MAX;
            if (!any_records) {
                // Decided against a state that may never have been: nothing of it is in the log.
                deliver(a, absent("the event log failed a transaction; the command was not accepted"));
                continue;
            }
            if (!rebuilt) {
                deliver(a, certain_absent ? absent("the event log did not accept the transaction; the command was "
                                                   "not accepted")
                                          : unknown());
                continue;
            }
            // The transaction committed or not as a whole: look for the command's last event.
            std::string probe;
            for (const auto& id : a.last_event_id)
                if (!id.empty()) probe = id;
            auto it = seen.find(probe);
            if (it == seen.end()) {
                deliver(a, absent("the event log did not accept the transaction; the command was not accepted"));
                continue;
            }
            spdlog::info("writer {}: a transaction reported as failed had committed; answering its commands", name_);
            if (t.offsets.size() != t.records.size()) t.offsets.assign(t.records.size(), 0);
            for (std::size_t i = 0; i < a.last_event_id.size(); ++i) {
                if (a.last_event_id[i].empty()) continue;
                auto s = seen.find(a.last_event_id[i]);
                if (s == seen.end()) continue;
                t.offsets[a.last_record[i]] = s->second.second;
            }
            deliver_decided(a, t);
        }
    }

    // ------------------------------------------------------------------ start and rebuild

    // Producers first (fencing any older writer of this group and closing its open transaction),
    // then state: each partition's snapshot plus its tail to the end. `seen` collects the tail's
    // event ids with their positions (to answer commands whose commit outcome was unknown).
    result<void> init(std::unordered_map<std::string, std::pair<int, std::int64_t>>* seen = nullptr) {
        ready_ = false;
        const auto fencing = steady::now();
        for (auto& p : producers_) p.reset();
        static constexpr const char* suffix[] = {"-a", "-b", "-bulk"};
        for (int i = 0; i < 3; ++i) {
            auto p = kafka::txn_producer::create(cfg_, cfg_.events_topic(),
                                                 cfg_.topic_prefix + "writer-" + name_ + suffix[i], opts_.producer);
            if (!p) {
                if (p.error().fenced()) fenced_ = true;
                producers_[0].reset();
                return std::unexpected(p.error().err);
            }
            producers_[static_cast<std::size_t>(i)] = std::move(*p);
        }
        const auto fenced = steady::now();
        std::vector<kafka::log_reader::start> starts;
        std::uint64_t tail = 0;
        wait_for_snapshots();  // a batch being written meanwhile could pair one snapshot's offset with another's entries
        const auto loading = steady::now();
        for (auto& [p, P] : parts_) {
            P.agencies.clear();
            P.dirty.clear();
            P.broken.clear();
            P.next_offset = 0;
            P.stale_keys.clear();
            P.unwritten.clear();
        }
        load_snapshots();
        for (auto& [p, P] : parts_) starts.push_back({p, P.next_offset});
        const auto loaded = steady::now();
        auto reader = kafka::log_reader::open(cfg_, cfg_.events_topic(), starts, catch_up_reading);
        if (!reader) return std::unexpected(reader.error());
        std::set<int> open;
        for (const auto& s : starts) open.insert(s.partition);
        // The deadline is for a catch-up that stopped moving (a broker away): it counts from the
        // last poll that brought a record or a partition's end, so a long log, read and
        // snapshotted at whatever pace the machine allows, is never cut off.
        const auto deadline = std::max(opts_.catch_up_deadline, cfg_.timeout);
        auto until = steady::now() + deadline;
        std::uint64_t snapshotted_at = 0;  // `tail` when the catch-up last handed a snapshot
        steady::duration snapshotting{};
        while (!open.empty()) {
            if (steady::now() > until) return fail(errc::unavailable, "catching up the writer's partitions timed out");
            const auto read_before = tail;
            const auto open_before = open.size();
            // Between polls memory equals the log up to each partition's next offset: a snapshot
            // there lets the catch-up go of what it read, so a rebuild holds about the lane's
            // share of resident_aggregates rather than every aggregate of the log.
            if (tail - snapshotted_at >= catch_up_snapshot_every()) {
                snapshotted_at = tail;
                const auto t = steady::now();
                snapshot_catching_up();
                snapshotting += steady::now() - t;
            }
            auto r = (*reader)->poll(
                std::chrono::milliseconds(100),
                [&](const kafka::record& rec) {
                    ++tail;
                    auto& P = parts_.at(rec.partition);
                    P.next_offset = rec.offset + 1;
                    std::string agency(rec.key);
                    if (P.broken.contains(agency)) return;
                    auto checked = events::decode_and_hash(rec.value);
                    if (!checked) {
                        spdlog::error("partition {} offset {}: undecodable record of agency {}: {}; the writer "
                                      "stops appending for that agency",
                                      rec.partition, rec.offset, agency, checked.error().detail);
                        P.broken.insert(agency);
                        return;
                    }
                    auto* e = &checked->decoded;
                    if (e->agency_id != agency) {
                        spdlog::error("partition {} offset {}: record keyed {} names agency {}; the writer stops "
                                      "appending for that agency",
                                      rec.partition, rec.offset, agency, e->agency_id);
                        P.broken.insert(agency);
                        return;
                    }
                    if (checked->recomputed != e->hash) {
                        spdlog::error("partition {} offset {}: record of agency {} does not match its own hash; "
                                      "the writer stops appending for that agency",
                                      rec.partition, rec.offset, agency);
                        P.broken.insert(agency);
                        return;
                    }
                    auto& log = log_of(P, e->agency_id);
                    if (!apply(log, *e, make_token(rec.partition, rec.offset))) {
                        spdlog::error("partition {} offset {}: event of agency {} breaks its chain (sequence {} after "
                                      "{}); the writer stops appending for that agency",
                                      rec.partition, rec.offset, e->agency_id, e->sequence, log.sequence);
                        P.broken.insert(e->agency_id);
                        return;
                    }
                    P.dirty.insert(e->agency_id);
                    if (seen) (*seen)[e->event_id] = {rec.partition, rec.offset};
                },
                [&](int p, std::int64_t next) {
                    if (!open.contains(p)) return;
                    auto& P = parts_.at(p);
                    P.next_offset = std::max(P.next_offset, next);
                    open.erase(p);
                });
            if (!r) return std::unexpected(r.error());
            if (tail != read_before || open.size() != open_before) until = steady::now() + deadline;
        }
        for (auto& [p, P] : parts_) committed_end_.at(p)->store(P.next_offset);
        ready_ = true;
        std::size_t agencies = 0;
        for (auto& [p, P] : parts_) agencies += P.agencies.size();
        auto secs = [](steady::duration d) { return std::chrono::duration<double>(d).count(); };
        spdlog::info("writer {}: ready ({} partitions, {} agencies; its producers initialised in {:.2f} s, snapshots "
                     "loaded in {:.2f} s, then {} events read from the log in {:.2f} s, {:.2f} s of it snapshotting)",
                     name_, parts_.size(), agencies, secs(fenced - fencing), secs(loaded - loading), tail,
                     secs(steady::now() - loaded), secs(snapshotting));
        const auto last = steady::now();
        // Written before going on. Live, the lane holds what it meets up to resident_aggregates;
        // it starts from what the catch-up kept, as a restart starts from nothing.
        if (tail > 0) snapshot_if_due(true, catch_up_budget_);
        spdlog::info("writer {}: the catch-up's last snapshot written in {:.2f} s", name_, secs(steady::now() - last));
        return {};
    }

    // ------------------------------------------------------------------ snapshots

    bool snapshot_due() const { return steady::now() - last_snapshot_ >= opts_.snapshot_interval; }

    // Records read between two snapshots of a catch-up: each snapshot lets go of what the one
    // before it wrote (evict_written), so a catch-up holds up to about its budget and twice this.
    std::uint64_t catch_up_snapshot_every() const { return std::max<std::uint64_t>(catch_up_budget_ / 2, 1000); }

    static std::string namespace_of(int p) { return "writer-p" + std::to_string(p); }

    // Loads partition p's snapshot into P and returns the offset it reflects, where the log's tail
    // starts; 0 (replay the partition) when there is none or it is unusable: an older format (the
    // JSON one's keys are emptied by the next snapshot), another version, a damaged value.
    std::int64_t load_snapshot_of(int p, part& P) {
        const auto ns = namespace_of(p);
        const auto offset = local_.get(ns, std::string(snapshot_offset_key));
        if (!offset) return 0;
        const auto format = local_.get(ns, std::string(snapshot_format_key));
        if (format != snapshot_format) {
            spdlog::warn("partition {}: writer snapshot of format {} (this build reads {}); replaying from offset 0", p,
                         format ? *format : "json", snapshot_format);
            for (auto& [key, value] : local_.scan(ns, "agency/"))
                if (!value.empty()) P.stale_keys.push_back(std::move(key));
            return 0;
        }
        std::int64_t from = 0;
        const auto [end, ec] = std::from_chars(offset->data(), offset->data() + offset->size(), from);
        if (ec != std::errc{} || end != offset->data() + offset->size() || from < 0) {
            spdlog::warn("partition {}: writer snapshot offset '{}' unusable; replaying from offset 0", p, *offset);
            return 0;
        }
        // Staff and clients stay in the snapshot until a command or an event needs them.
        auto logs = load_snapshot([&](const snapshot_visitor& visit) { local_.each(ns, std::string(snapshot_prefix), visit); },
                                  snapshot_load::indexes_only);
        if (!logs) {
            // A damaged snapshot is only a shortcut lost: replay the partition from the start.
            spdlog::warn("partition {}: writer snapshot unusable ({}); replaying from offset 0", p, logs.error().detail);
            return 0;
        }
        P.agencies = std::move(*logs);
        for (auto& [agency, log] : P.agencies) read_back(P, agency, log);
        return from;
    }

    // Every partition's snapshot into memory (P.next_offset = where its tail starts). Partitions are
    // independent, and loading is most of a restart, so they load on up to one thread per core.
    void load_snapshots() {
        std::vector<std::pair<int, part*>> partitions;
        for (auto& [p, P] : parts_) partitions.emplace_back(p, &P);
        std::atomic<std::size_t> next{0};
        std::mutex mu;
        std::exception_ptr failed;
        auto work = [&] {
            for (std::size_t i; (i = next++) < partitions.size();) {
                try {
                    partitions[i].second->next_offset = load_snapshot_of(partitions[i].first, *partitions[i].second);
                } catch (...) {
                    std::lock_guard lk(mu);
                    if (!failed) failed = std::current_exception();
                }
            }
        };
        const std::size_t n = std::min<std::size_t>(partitions.size(), std::max(1u, std::thread::hardware_concurrency()));
        std::vector<std::thread> helpers;
        for (std::size_t i = 1; i < n; ++i) helpers.emplace_back(work);
        work();
        for (auto& t : helpers) t.join();
        if (failed) std::rethrow_exception(failed);
    }

    // Called only where memory equals the committed log: after a commit was answered with
    // nothing decided on top (the lane loop and `process`), at the end of a rebuild (`init`) and
    // at shutdown; never while a bulk job is open. A round, due every snapshot_interval, visits
    // the lane's partitions one per call, so a command arriving meanwhile waits for one
    // partition's work, not the lane's: it encodes on this thread what changed in the partition
    // since its last snapshot (take_changes: the changed aggregates and idempotency records of the
    // changed agencies, no copy of an agency) and hands the bytes to the snapshot thread, which
    // writes them with the partition's next offset in one batch; then lets go of what is written
    // beyond `budget` (the lane's share of resident_aggregates, or of the catch-up's at its end),
    // from that partition first and from all of them at the round's end. `force` (shutdown, the
    // end of a rebuild) runs a whole round at once and waits until it is written.
    void snapshot_if_due(bool force) { snapshot_if_due(force, resident_budget_); }
    void snapshot_if_due(bool force, std::size_t budget) {
        // A bulk job's open records may lie below the offsets committed since: no snapshot may
        // claim those offsets until it is committed or aborted. A lane not ready (a rebuild after
        // a failed transaction that could not read the log, or fenced) may hold decisions the log
        // does not.
        if (bulk_ || !ready_) return;
        if (!force && !snapshot_wanted()) return;
        const auto began = steady::now();
        // A whole round at once when forced, or when one is an interval late (a lane kept busy
        // without an idle turn: `process` ended its pipeline for this moment).
        const bool whole = force || snapshot_overdue();
        if (round_left_.empty()) {
            last_snapshot_ = began;
            for (const auto& [p, P] : parts_) round_left_.push_back(p);
        }
        if (whole) {
            for (const int p : round_left_)
                if (auto it = parts_.find(p); it != parts_.end()) hand_snapshot(it->second);
            round_left_.clear();
            // At shutdown and after a rebuild: everything handed so far is written before going
            // on, also when this round found nothing new (a catch-up whose last round fell on the
            // log's end), so that the eviction below sees it written.
            if (force) wait_for_snapshots();
            evict_written(budget, eviction::whole);
        } else {
            const int p = round_left_.front();
            round_left_.pop_front();
            if (auto it = parts_.find(p); it != parts_.end()) {
                hand_snapshot(it->second);
                evict_written(budget, eviction::turn, &it->second);
            }
            if (round_left_.empty()) evict_written(budget, eviction::round_end);
        }
        // What commands arriving meanwhile wait for (a catch-up's rounds are not counted here).
        if (ready_) times_.snapshot_turn.observe(seconds_of(steady::now() - began));
    }

    // A round under way, or one due.
    bool snapshot_wanted() const { return !round_left_.empty() || snapshot_due(); }
    // A round under way, or a change a round would write.
    bool snapshot_pending() const {
        if (!round_left_.empty()) return true;
        for (const auto& [p, P] : parts_)
            if (P.broken.empty() && (!P.dirty.empty() || !P.stale_keys.empty())) return true;
        return false;
    }
    // Two intervals since the last round began, and it or the next is still not done.
    bool snapshot_overdue() const { return steady::now() - last_snapshot_ >= 2 * opts_.snapshot_interval; }

    // The snapshot of a catch-up, called by `init` between two polls, where memory equals the log
    // read so far: lets go of what the snapshots written so far hold beyond the budget, then hands
    // on what was read since. It does not wait for the snapshot thread (whose writes queue behind
    // the appliers' batches): what that has not written yet stays until a later round.
    void snapshot_catching_up() {
        if (bulk_) return;
        evict_written(catch_up_budget_, eviction::whole);
        last_snapshot_ = steady::now();
        round_left_.clear();
        for (auto& [p, P] : parts_) hand_snapshot(P);
    }

    // Hands what changed in `P` since its last job to the snapshot thread.
    void hand_snapshot(part& P) {
        if (P.dirty.empty() && P.stale_keys.empty()) return;
        // An agency whose chain broke in the log holds less than the log: a snapshot past the
        // break would hide it from the next start, which must see the break again.
        if (!P.broken.empty()) return;
        snapshot_job j;
        j.ns = namespace_of(P.partition);
        j.offset = P.next_offset;
        for (const auto& id : P.dirty)
            if (auto it = P.agencies.find(id); it != P.agencies.end()) take_changes(id, it->second, j.entries);
        P.dirty.clear();
        for (auto& key : P.stale_keys) j.entries.emplace_back(std::move(key), std::string());
        P.stale_keys.clear();
        j.seq = ++snapshot_seq_;
        std::vector<std::string> keys;
        keys.reserve(j.entries.size());
        for (const auto& [key, value] : j.entries) keys.push_back(key);
        P.unwritten.emplace_back(j.seq, std::move(keys));
        {
            std::lock_guard lk(smu_);
            snapshots_.push_back(std::move(j));
        }
        scv_.notify_all();
    }

    void wait_for_snapshots() {
        std::unique_lock lk(smu_);
        scv_.wait(lk, [&] { return snapshots_.empty() && !snapshotting_; });
    }

    // Which aggregates evict_written lets go of, first: in a round's turn, the turn's partition's
    // not looked up since its previous turn; at the round's end, once every partition had its
    // turn, any of all partitions; in a whole round, the first, then the second, of all partitions.
    enum class eviction { turn, round_end, whole };

    // Lets go of staff members and clients beyond `budget` (the lane's share of
    // resident_aggregates, or of catch_up_resident_aggregates while it catches up), as `how` says
    // (`only` is a turn's partition). An aggregate leaves memory only once its committed state is
    // in the snapshot store: it has not changed since it was last taken for a snapshot (its
    // agency's `changed` marks), and the job that took it is written (the snapshot thread's
    // account, `written_`). A partition with a broken agency is not snapshotted and keeps
    // everything. Runs where memory equals the committed log (snapshot_if_due). What was looked up
    // is forgotten for the partitions whose unused aggregates it considered.
    void evict_written(std::size_t budget, eviction how, part* only = nullptr) {
        auto resident = [&] {
            std::size_t n = 0;
            for (auto& [p, P] : parts_)
                for (auto& [agency, log] : P.agencies) n += log.state.staff.resident() + log.state.clients.resident();
            return n;
        };
        auto visit = [&](auto&& f) {
            if (only)
                f(*only);
            else
                for (auto& [p, P] : parts_) f(P);
        };
        std::size_t held = resident();
        if (held > budget) {
            std::map<int, std::uint64_t> written;
            {
                std::lock_guard lk(smu_);
                visit([&](part& P) {
                    if (auto it = written_.find(namespace_of(P.partition)); it != written_.end())
                        written[P.partition] = it->second;
                });
            }
            std::size_t over = held - budget;
            const int first_pass = how == eviction::round_end ? 1 : 0, last_pass = how == eviction::turn ? 0 : 1;
            for (int pass = first_pass; pass <= last_pass && over > 0; ++pass) {
                visit([&](part& P) {
                    if (!P.broken.empty() || over == 0) return;
                    const auto done = written.contains(P.partition) ? written[P.partition] : 0;
                    while (!P.unwritten.empty() && P.unwritten.front().first <= done) P.unwritten.pop_front();
                    // The ids (the last part of the entry keys) of what those jobs took: an id
                    // found here may be another agency's or kind's, and then stays a round longer.
                    std::unordered_set<std::string_view> pending;
                    for (const auto& [seq, keys] : P.unwritten)
                        for (std::string_view key : keys) pending.insert(key.substr(key.rfind('/') + 1));
                    for (auto& [agency, log] : P.agencies) {
                        if (over == 0) break;
                        read_back(P, agency, log);
                        auto let_go = [&](auto& map, const auto& changed) {
                            std::vector<std::string> out;
                            for (const auto& [id, value] : map) {
                                if (out.size() >= over) break;
                                // The flat probe of use before the set of changes.
                                if ((pass == 0 && map.used_recently(id)) || changed.contains(id)) continue;
                                if (!pending.empty() && pending.contains(id)) continue;
                                out.push_back(id);
                            }
                            for (const auto& id : out) map.evict(id);
                            over -= out.size();
                        };
                        let_go(log.state.clients, log.changed.clients);
                        if (over > 0) let_go(log.state.staff, log.changed.staff);
                    }
                });
            }
            held = resident();
        }
        if (how != eviction::round_end)
            visit([](part& P) {
                for (auto& [agency, log] : P.agencies) {
                    log.state.staff.forget_use();
                    log.state.clients.forget_use();
                }
            });
        resident_.store(held);
    }

    struct snapshot_job {
        std::uint64_t seq = 0;  // the lane's job number
        std::string ns;
        std::int64_t offset = 0;
        snapshot_entries entries;  // encoded by the lane: what changed since the previous job
    };

    // The snapshot thread: writes each job's entries, the partition's offset and the format in one
    // batch, so a snapshot's offset never covers entries that are not stored. Each job holds only
    // what changed since the previous one, so the entries of a job that failed to write are kept
    // and written with the partition's next job (newer values of the same key replace them).
    void snapshot_loop() {
        std::map<std::string, std::map<std::string, std::string>> unwritten;  // ns -> key -> value
        for (;;) {
            // Every job queued meanwhile goes into one write: each write of the local store waits
            // its turn behind the appliers' batches, so one per partition and round cost the lane
            // most of a catch-up's time.
            std::deque<snapshot_job> jobs;
            {
                std::unique_lock lk(smu_);
                scv_.wait(lk, [&] { return sstop_ || !snapshots_.empty(); });
                if (snapshots_.empty()) return;
                jobs.swap(snapshots_);
                snapshotting_ = true;
            }
            struct pending {
                std::int64_t offset = 0;
                std::uint64_t seq = 0;
            };
            std::map<std::string, pending> last;  // ns -> its newest job in this round
            for (auto& j : jobs) {
                auto& u = unwritten[j.ns];
                for (auto& [k, v] : j.entries) u.insert_or_assign(std::move(k), std::move(v));
                last[j.ns] = {j.offset, j.seq};
            }
            namespaced_entries batches;
            for (const auto& [ns, newest] : last) {
                auto u = unwritten.find(ns);
                auto& [name, batch] = batches.emplace_back(ns, snapshot_entries{});
                batch.reserve(u->second.size() + 2);
                batch.assign(std::make_move_iterator(u->second.begin()), std::make_move_iterator(u->second.end()));
                unwritten.erase(u);
                batch.emplace_back(std::string(snapshot_format_key), std::string(snapshot_format));
                batch.emplace_back(std::string(snapshot_offset_key), std::to_string(newest.offset));
            }
            const bool written = [&] {
                auto r = local_.put_all(batches);
                if (!r)
                    spdlog::error("writer {}: snapshot of {} namespaces failed: {}; its entries are written with the "
                                  "next one",
                                  name_, batches.size(), r.error().detail);
                return r.has_value();
            }();
            // Kept and written with the next round unless written: each job holds only what
            // changed since the one before.
            if (!written)
                for (auto& [ns, batch] : batches) {
                    batch.resize(batch.size() - 2);  // the format and the offset: the next round's
                    auto& keep = unwritten[ns];
                    for (auto& [k, v] : batch) keep.insert_or_assign(std::move(k), std::move(v));
                }
            {
                std::lock_guard lk(smu_);
                // Each namespace's batch held every entry of its earlier jobs not yet written.
                if (written)
                    for (const auto& [ns, newest] : last) written_[ns] = newest.seq;
                snapshotting_ = false;
            }
            scv_.notify_all();
        }
    }

    std::string partitions_text() const {
        std::string s;
        for (const auto& [p, _] : parts_) s += (s.empty() ? "" : ",") + std::to_string(p);
        return s;
    }
    std::string fenced_text() const {
        return "this carelogd was fenced for partitions " + partitions_text() +
               " by a newer process on the same topic; send commands there";
    }

public:
    int cfg_partitions_ = 1;

private:
    kafka::config cfg_;
    int group_;
    snapshot_store& local_;
    clock_source& clock_;
    id_source& ids_;
    engine_options opts_;
    timings& times_;
    std::string name_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<work> queue_;
    std::size_t queued_ = 0;
    bool stopping_ = false;
    std::thread thread_;

    // The committer: commits the transaction in flight while the lane decides the next one.
    std::mutex cmu_;
    std::condition_variable ccv_;
    std::unique_ptr<txn> inflight_;
    std::optional<std::expected<void, kafka::txn_error>> commit_result_;
    bool committing_ = false;
    bool cstop_ = false;
    std::thread committer_;

    std::mutex smu_;
    std::condition_variable scv_;
    std::deque<snapshot_job> snapshots_;
    bool snapshotting_ = false;
    bool sstop_ = false;
    std::thread snapshotter_;
    std::map<std::string, std::uint64_t> written_;  // namespace -> the last job of it written

public:
    std::size_t resident_budget_ = 0;  // this lane's share of resident_aggregates
    std::size_t catch_up_budget_ = 0;  // and of catch_up_resident_aggregates

private:
    std::uint64_t snapshot_seq_ = 0;  // the last job number handed out (lane thread)
    std::atomic<std::size_t> resident_{0};

    // Owned by the lane thread.
    std::unique_ptr<kafka::txn_producer> producers_[3];  // two taking turns, one for bulk jobs
    std::unique_ptr<bulk_job> bulk_;
    std::deque<work> held_;  // commands waiting for the bulk job (its agency's, other bulk jobs)
    int next_producer_ = 0;
    std::map<int, part> parts_;
    std::uint64_t txn_counter_ = 0;
    steady::time_point last_snapshot_ = steady::now();  // when the last round began
    std::deque<int> round_left_;                          // the partitions the round has yet to visit

    std::map<int, std::unique_ptr<std::atomic<std::int64_t>>> committed_end_;
    std::atomic<bool> ready_{false};
    std::size_t last_taken_ = 0;           // commands in the last batch taken from the queue (lane thread)
    steady::time_point last_taken_at_{};   // and when
    std::atomic<bool> fenced_{false};
    std::atomic<std::uint64_t> appended_{0}, transactions_{0}, failures_{0}, commands_{0};
};

// ---------------------------------------------------------------------- engine

engine::engine(kafka::config cfg, int partitions, snapshot_store& local, clock_source& clock, id_source& ids,
               engine_options opts)
    : cfg_(std::move(cfg)), partitions_(partitions), opts_(std::move(opts)), timings_(std::make_unique<timings>()) {
    opts_.groups = std::clamp(opts_.groups, 1, std::max(1, partitions_));
    std::set<int> owned(opts_.owned_groups.begin(), opts_.owned_groups.end());
    lanes_.resize(static_cast<std::size_t>(opts_.groups));
    int lanes = 0;
    for (int g = 0; g < opts_.groups; ++g) lanes += owned.empty() || owned.contains(g) ? 1 : 0;
    for (int g = 0; g < opts_.groups; ++g) {
        if (!owned.empty() && !owned.contains(g)) continue;
        std::vector<int> ps;
        for (int p = g; p < partitions_; p += opts_.groups) ps.push_back(p);
        auto l = std::make_unique<lane>(cfg_, g, ps, local, clock, ids, opts_, *timings_);
        l->cfg_partitions_ = partitions_;
        l->resident_budget_ = opts_.resident_aggregates / static_cast<std::size_t>(std::max(1, lanes));
        l->catch_up_budget_ = std::min(opts_.catch_up_resident_aggregates, opts_.resident_aggregates) /
                              static_cast<std::size_t>(std::max(1, lanes));
        lanes_[static_cast<std::size_t>(g)] = std::move(l);
    }
}

engine::~engine() { stop(); }

void engine::start() {
    for (auto& l : lanes_)
        if (l) l->start();
}

void engine::stop() {
    for (auto& l : lanes_)
        if (l) l->stop();
}

int engine::partition_of(const std::string& agency_id) const { return kafka::partition_for(agency_id, partitions_); }

void engine::submit(const std::string& agency_id, const command_meta& meta, aggregates::command cmd,
                    command_done done) {
    int p = partition_of(agency_id);
    auto& l = lanes_[static_cast<std::size_t>(p % opts_.groups)];
    if (!l) {
        done(not_accepted("this carelogd does not write partition " + std::to_string(p)));
        return;
    }
    work w{single_cmd{agency_id, meta, std::move(cmd), std::move(done), steady::now() + opts_.queue_timeout}};
    if (!l->enqueue(w, 1))
        std::get<single_cmd>(w).done(not_accepted("the writer of partition " + std::to_string(p) + " has too many commands queued; retry shortly"));
}

void engine::submit_batch(const std::string& agency_id, const command_meta& meta, std::vector<aggregates::command> cmds,
                          bool dry_run, batch_done done) {
    int p = partition_of(agency_id);
    auto& l = lanes_[static_cast<std::size_t>(p % opts_.groups)];
    if (!l) {
        done(not_accepted("this carelogd does not write partition " + std::to_string(p)));
        return;
    }
    // (capped: a batch larger than the queue bound fits only an empty queue)
    const std::size_t weight = std::min(queue_weight(cmds.size(), opts_), opts_.max_queue);
    work w{batch_cmd{agency_id, meta, std::move(cmds), dry_run, std::move(done), steady::now() + opts_.queue_timeout}};
    if (!l->enqueue(w, weight))
        std::get<batch_cmd>(w).done(not_accepted("the writer of partition " + std::to_string(p) + " has too many commands queued; retry shortly"));
}

std::int64_t engine::committed_end(int partition) const {
    if (partition < 0 || partition >= partitions_) return -1;
    auto& l = lanes_[static_cast<std::size_t>(partition % opts_.groups)];
    return l ? l->committed_end(partition) : -1;
}

std::vector<int> engine::fenced_partitions() const {
    std::vector<int> out;
    for (const auto& l : lanes_)
        if (l && l->fenced())
            for (int p : l->partitions()) out.push_back(p);
    std::sort(out.begin(), out.end());
    return out;
}

bool engine::caught_up() const {
    return std::ranges::all_of(lanes_, [](const auto& l) { return !l || l->ready(); });
}

std::string engine::metrics_text() const {
    std::string s;
    std::uint64_t tx = 0, fails = 0, appended = 0, cmds = 0;
    std::size_t queued = 0, resident = 0;
    for (const auto& l : lanes_) {
        if (!l) continue;
        resident += l->resident();
        tx += l->transactions();
        fails += l->failures();
        appended += l->appended();
        cmds += l->commands();
        queued += l->queued();
    }
    using metric_text::family, metric_text::single;
    single(s, "carelog_writer_events_appended_total", "counter", "Events committed to the log by this process.",
           appended);
    single(s, "carelog_writer_commands_total", "counter", "Commands decided by this process's writers.", cmds);
    single(s, "carelog_writer_transactions_total", "counter", "Committed transactions.", tx);
    single(s, "carelog_writer_failed_transactions_total", "counter",
           "Transactions that failed (their commands were answered from the log after a rebuild).", fails);
    auto histogram_family = [&](std::string_view name, std::string_view help, const histogram& h) {
        family(s, name, "histogram", help);
        h.render(s, name);
    };
    histogram_family("carelog_writer_queue_wait_seconds",
                     "Time a command waited for its writer before it was decided.", timings_->queue_wait);
    histogram_family("carelog_writer_produce_seconds",
                     "Time from a writer's transaction begun to its records acknowledged by the broker (their "
                     "offsets are the consistency tokens); the writer decides nothing meanwhile.",
                     timings_->produce);
    histogram_family("carelog_writer_commit_seconds",
                     "Time Kafka took to commit a writer's transaction (its records acknowledged and the "
                     "coordinator's answer); commands are answered after it.",
                     timings_->commit);
    histogram_family("carelog_writer_transaction_commands",
                     "Commands carried by each transaction handed to a commit.", timings_->per_transaction);
    histogram_family("carelog_writer_snapshot_turn_seconds",
                     "Time a writer spent on its snapshots in one turn between batches (one partition's changed "
                     "aggregates handed to the snapshot thread and its written ones let go; a whole round when "
                     "one is late); commands that arrive meanwhile wait.",
                     timings_->snapshot_turn);
    single(s, "carelog_writer_queued_commands", "gauge", "Commands waiting for a writer.", queued);
    single(s, "carelog_writer_resident_aggregates", "gauge",
           "Staff members and clients the writers hold in memory (after the last snapshot; the others are read "
           "back from it when needed).",
           resident);
    // Two families of one sample per partition: the ready samples, then the fenced ones.
    std::string ready, fenced;
    for (int p = 0; p < partitions_; ++p) {
        const auto& l = lanes_[static_cast<std::size_t>(p % opts_.groups)];
        if (!l) continue;
        const auto label = metric_text::partition_label(p);
        metric_text::sample(ready, "carelog_writer_ready", label, l->ready() ? 1 : 0);
        metric_text::sample(fenced, "carelog_writer_fenced", label, l->fenced() ? 1 : 0);
    }
    family(s, "carelog_writer_ready", "gauge", "Whether the partition's writer is initialised and caught up.");
    s += ready;
    family(s, "carelog_writer_fenced", "gauge", "Whether a newer process fenced this partition's writer.");
    s += fenced;
    return s;
}

}  // namespace carelog::writer
