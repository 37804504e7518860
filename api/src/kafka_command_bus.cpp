// Writers per partition; see the header and docs/architecture.md ("The write path").
#include "carelog/api/kafka_command_bus.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "carelog/api/agency_log.hpp"
#include "carelog/events/envelope_codec.hpp"

namespace carelog::api {
namespace json = boost::json;

namespace {

struct request {
    std::string agency_id;
    command_meta meta;
    aggregates::command cmd;
    std::promise<result<command_result>> done;
};

// A batch decided as one unit (command_bus::submit_batch).
using batch_answer = result<std::vector<result<command_result>>>;
struct batch_job {
    std::string agency_id;
    command_meta meta;
    std::vector<aggregates::command> cmds;
    bool dry_run = false;
    std::promise<batch_answer> done;
};

// The aggregate a command targets, for answering a command that changes nothing.
std::string target_of(const aggregates::command& c, const std::string& agency_id,
                      const aggregates::agency_state& s) {
    return std::visit(
        [&](const auto& x) -> std::string {
            using T = std::decay_t<decltype(x)>;
            // A client command names the client first (assign_staff_to_client also has a staff_id).
            if constexpr (requires { x.client_id; })
                return x.client_id;
            else if constexpr (requires { x.invitation_id; }) {
                // revoking a revoked invitation: the client that holds it
                for (const auto& [id, client] : s.clients)
                    if (client.invitations.contains(x.invitation_id)) return id;
                return agency_id;
            }
            else if constexpr (requires { x.staff_id; })
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

result<command_result> unavailable(const std::string& why) { return fail(errc::unavailable, why); }

}  // namespace

class kafka_command_bus::partition_writer {
public:
    partition_writer(const kafka::config& cfg, int partition, projections::store& local, clock_source& clock,
                     id_source& ids, const writer_options& opts)
        : cfg_(cfg), partition_(partition), local_(local), clock_(clock), ids_(ids), opts_(opts),
          ns_("writer-p" + std::to_string(partition)) {}

    void start() { thread_ = std::thread([this] { run(); }); }

    void stop() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    std::future<result<command_result>> enqueue(request r) {
        auto f = r.done.get_future();
        {
            std::lock_guard lk(mu_);
            if (stopping_) {
                r.done.set_value(unavailable("the server is shutting down"));
                return f;
            }
            queue_.push_back(std::move(r));
        }
        cv_.notify_one();
        return f;
    }

    std::future<batch_answer> enqueue(batch_job j) {
        auto f = j.done.get_future();
        {
            std::lock_guard lk(mu_);
            if (stopping_) {
                j.done.set_value(fail(errc::unavailable, "the server is shutting down"));
                return f;
            }
            jobs_.push_back(std::move(j));
        }
        cv_.notify_one();
        return f;
    }

    bool fenced() const { return fenced_.load(); }
    bool ready() const { return ready_.load(); }
    std::uint64_t appended() const { return appended_.load(); }
    std::uint64_t transactions() const { return transactions_.load(); }
    std::uint64_t failures() const { return failures_.load(); }

private:
    void run() {
        // Initialise eagerly so a newer process fences older writers at once, not at first use.
        if (auto r = init(); !r) spdlog::warn("partition {}: writer not ready yet: {}", partition_, r.error().detail);
        for (;;) {
            std::deque<request> batch;
            std::deque<batch_job> jobs;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] { return stopping_ || !queue_.empty() || !jobs_.empty(); });
                if (queue_.empty() && jobs_.empty() && stopping_) break;
                while (!queue_.empty() && batch.size() < opts_.max_batch) {
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
                jobs.swap(jobs_);
            }
            for (auto& j : jobs) {
                if (fenced_) {
                    j.done.set_value(fail(errc::unavailable, "this carelogd was fenced for partition " +
                                                                 std::to_string(partition_) + " by a newer process"));
                    continue;
                }
                if (!ready_) {
                    if (auto r = init(); !r) {
                        j.done.set_value(std::unexpected(r.error()));
                        continue;
                    }
                }
                j.done.set_value(process_job(j));
            }
            if (batch.empty()) continue;
            if (fenced_) {
                for (auto& r : batch)
                    r.done.set_value(unavailable("this carelogd was fenced for partition " +
                                                 std::to_string(partition_) +
                                                 " by a newer process on the same topic; send commands there"));
                continue;
            }
            if (!ready_) {
                if (auto r = init(); !r) {
                    for (auto& q : batch) q.done.set_value(unavailable(r.error().detail));
                    continue;
                }
            }
            process(batch);
        }
        if (ready_) snapshot(true);
    }

    // Producer first (fences any older writer of this partition), then state: local snapshot plus
    // the partition's tail up to its end, which after init_transactions holds no open transaction.
    result<void> init() {
        ready_ = false;
        producer_.reset();
        agencies_.clear();
        dirty_.clear();
        auto p = kafka::txn_producer::create(cfg_, cfg_.events_topic(), partition_,
                                             cfg_.topic_prefix + "writer-p" + std::to_string(partition_));
        if (!p) {
            if (p.error().fenced) fenced_ = true;
            return std::unexpected(p.error().err);
        }
        std::int64_t from = 0;
        if (auto off = local_.get_local(ns_, "offset")) from = std::stoll(*off);
        bool usable = true;
        for (auto& [key, blob] : local_.scan_local(ns_, "agency/")) {
            std::error_code ec;
            auto v = json::parse(blob, ec);
            auto log = ec ? result<agency_log>(fail(errc::internal, "not JSON")) : agency_log_from_json(v);
            if (!log) {
                // An old or damaged snapshot is only a shortcut: replay the partition from the start.
                spdlog::warn("partition {}: writer snapshot of {} unusable ({}); replaying the partition from offset 0",
                             partition_, key.substr(7), log.error().detail);
                usable = false;
                break;
            }
            agencies_.emplace(key.substr(7), std::move(*log));
        }
        if (!usable) {
            agencies_.clear();
            from = 0;
        }
        std::uint64_t tail = 0;
        auto end = kafka::read_to_end(cfg_, cfg_.events_topic(), partition_, from,
                                      std::max(opts_.catch_up_deadline, cfg_.timeout),
                                      [&](const kafka::record& r) {
                                          ++tail;
                                          auto e = events::decode(r.value);
                                          if (!e) {
                                              spdlog::error("partition {} offset {}: undecodable record skipped by "
                                                            "the writer: {}",
                                                            partition_, r.offset, e.error().detail);
                                              return;
                                          }
                                          auto& log = agencies_[e->agency_id];
                                          if (!apply(log, *e, make_token(partition_, r.offset)))
                                              spdlog::error("partition {} offset {}: event of agency {} breaks its "
                                                            "chain (sequence {} after {}); not applied",
                                                            partition_, r.offset, e->agency_id, e->sequence,
                                                            log.sequence);
                                          else
                                              dirty_.insert(e->agency_id);
                                      });
        if (!end) return std::unexpected(end.error());
        next_offset_ = *end;
        producer_ = std::move(*p);
        ready_ = true;
        spdlog::info("partition {}: writer ready at offset {} ({} agencies, {} events replayed from offset {})",
                     partition_, next_offset_, agencies_.size(), tail, from);
        if (tail > 0) snapshot(true);
        return {};
    }

    void snapshot(bool force) {
        if (!force && since_snapshot_ < opts_.snapshot_every) return;
        std::vector<std::pair<std::string, std::string>> kvs;
        for (const auto& id : dirty_) {
            auto it = agencies_.find(id);
            if (it != agencies_.end()) kvs.emplace_back("agency/" + id, json::serialize(to_json(it->second)));
        }
        kvs.emplace_back("offset", std::to_string(next_offset_));
        if (auto r = local_.put_local(ns_, kvs); !r) {
            spdlog::error("partition {}: snapshot failed: {}", partition_, r.error().detail);
            return;
        }
        dirty_.clear();
        since_snapshot_ = 0;
    }

    void process(std::deque<request>& batch) {
        struct pending {
            result<command_result> res = fail(errc::internal, "unanswered");
            std::vector<std::size_t> records;  // indexes into `out`
            std::string replay_of;             // idempotency key answered from this batch
        };
        std::vector<pending> answers(batch.size());
        std::vector<kafka::outgoing> out;
        std::vector<std::pair<std::string, std::string>> record_keys;  // (agency, command id) per record

        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto& rq = batch[i];
            auto& ans = answers[i];
            auto existing = agencies_.find(rq.agency_id);
            if (!rq.meta.idempotency_key.empty() && existing != agencies_.end()) {
                auto k = existing->second.commands.find(rq.meta.idempotency_key);
                if (k != existing->second.commands.end()) {
                    ans.replay_of = rq.meta.idempotency_key;
                    continue;
                }
            }
            const aggregates::agency_state empty_state{};
            const auto& state = existing == agencies_.end() ? empty_state : existing->second.state;
            auto decided = aggregates::decide(state, rq.cmd);
            if (!decided) {
                ans.res = std::unexpected(decided.error());
                continue;
            }
            if (decided->empty()) {
                command_result r;
                r.aggregate_id = target_of(rq.cmd, rq.agency_id, state);
                r.version = version_of(state, r.aggregate_id);
                r.body["id"] = r.aggregate_id;
                ans.res = r;
                continue;
            }
            auto& log = agencies_[rq.agency_id];
            stamp_meta meta{rq.agency_id, rq.meta.actor_id,
                            rq.meta.idempotency_key.empty() ? ids_.next_uuid() : rq.meta.idempotency_key,
                            rq.meta.correlation_id, clock_.now()};
            auto stamped_events = stamp(log, *decided, meta, ids_);
            for (auto& s : stamped_events) {
                bool ok = apply(log, s.env, "");
                (void)ok;  // stamp() continues the chain by construction
                kafka::outgoing o;
                o.key = rq.agency_id;
                o.value = std::move(s.bytes);
                o.headers = {{"event-type", std::string(events::event_type_name(s.env.data))},
                             {"schema-version", std::to_string(s.env.schema_version)},
                             {"content-type", events::content_type}};
                ans.records.push_back(out.size());
                out.push_back(std::move(o));
                record_keys.emplace_back(rq.agency_id, meta.command_id);
            }
            dirty_.insert(rq.agency_id);
        }

        if (!out.empty()) {
            auto offsets = producer_->commit_batch(out);
            if (!offsets) {
                ++failures_;
                if (offsets.error().fenced) {
                    fenced_ = true;
                    spdlog::error("partition {}: fenced by a newer carelogd on this topic; this process stops "
                                  "writing the partition",
                                  partition_);
                } else {
                    spdlog::warn("partition {}: transaction failed, {} commands answered 503: {}", partition_,
                                 batch.size(), offsets.error().err.detail);
                }
                // Memory may hold decisions the log does not: rebuild from snapshot + log next time.
                ready_ = false;
                producer_.reset();
                agencies_.clear();
                dirty_.clear();
                for (auto& rq : batch)
                    rq.done.set_value(unavailable("the event log did not acknowledge in time; the command was "
                                                  "not accepted (" + offsets.error().err.detail + ")"));
                return;
            }
            ++transactions_;
            appended_ += out.size();
            since_snapshot_ += out.size();
            next_offset_ = offsets->back() + 1;
            for (std::size_t k = 0; k < offsets->size(); ++k) {
                auto& [agency, cmd] = record_keys[k];
                auto& log = agencies_[agency];
                if (auto it = log.commands.find(cmd); it != log.commands.end())
                    it->second.token = make_token(partition_, (*offsets)[k]);
            }
            for (std::size_t i = 0; i < batch.size(); ++i) {
                auto& ans = answers[i];
                if (ans.records.empty()) continue;
                auto& log = agencies_[batch[i].agency_id];
                // The command id of this request's records is the key of its idempotency record.
                const auto& cmd = record_keys[ans.records.front()].second;
                const auto& rec = log.commands.at(cmd);
                command_result r;
                r.aggregate_id = rec.aggregate_id;
                r.version = rec.version;
                r.consistency_token = make_token(partition_, (*offsets)[ans.records.back()]);
                r.body = rec.body;
                ans.res = r;
            }
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto& ans = answers[i];
            if (!ans.replay_of.empty()) {
                const auto& rec = agencies_[batch[i].agency_id].commands.at(ans.replay_of);
                command_result r;
                r.aggregate_id = rec.aggregate_id;
                r.version = rec.version;
                r.consistency_token = rec.token;
                r.body = rec.body;
                r.replayed = true;
                ans.res = r;
            }
            batch[i].done.set_value(std::move(ans.res));
        }
        snapshot(false);
    }

    // Decides a batch against a copy of the agency's log; commits every accepted event in one
    // transaction (unless dry_run) and only then makes the copy the agency's log.
    batch_answer process_job(batch_job& j) {
        std::vector<result<command_result>> results;
        results.reserve(j.cmds.size());
        auto existing = agencies_.find(j.agency_id);
        agency_log work = existing == agencies_.end() ? agency_log{} : existing->second;
        std::vector<kafka::outgoing> out;
        std::vector<std::string> record_cmd;        // command id per record
        std::vector<std::size_t> last_record(j.cmds.size(), SIZE_MAX);
        for (std::size_t i = 0; i < j.cmds.size(); ++i) {
            const auto& cmd = j.cmds[i];
            std::string cmd_id =
                j.meta.idempotency_key.empty() ? ids_.next_uuid() : j.meta.idempotency_key + "/" + std::to_string(i);
            if (!j.meta.idempotency_key.empty()) {
                if (auto k = work.commands.find(cmd_id); k != work.commands.end()) {
                    command_result r;
                    r.aggregate_id = k->second.aggregate_id;
                    r.version = k->second.version;
                    r.consistency_token = k->second.token;
                    r.body = k->second.body;
                    r.replayed = true;
                    results.push_back(std::move(r));
                    continue;
                }
            }
            auto decided = aggregates::decide(work.state, cmd);
            if (!decided) {
                results.push_back(std::unexpected(decided.error()));
                continue;
            }
            if (decided->empty()) {
                command_result r;
                r.aggregate_id = target_of(cmd, j.agency_id, work.state);
                r.version = version_of(work.state, r.aggregate_id);
                r.body["id"] = r.aggregate_id;
                results.push_back(std::move(r));
                continue;
            }
            stamp_meta meta{j.agency_id, j.meta.actor_id, cmd_id, j.meta.correlation_id, clock_.now()};
            for (auto& s : stamp(work, *decided, meta, ids_)) {
                bool ok = apply(work, s.env, "");
                (void)ok;  // stamp() continues the chain by construction
                if (!j.dry_run) {
                    kafka::outgoing o;
                    o.key = j.agency_id;
                    o.value = std::move(s.bytes);
                    o.headers = {{"event-type", std::string(events::event_type_name(s.env.data))},
                                 {"schema-version", std::to_string(s.env.schema_version)},
                                 {"content-type", events::content_type}};
                    last_record[i] = out.size();
                    out.push_back(std::move(o));
                    record_cmd.push_back(cmd_id);
                }
            }
            const auto& rec = work.commands.at(cmd_id);
            command_result r;
            r.aggregate_id = rec.aggregate_id;
            r.version = rec.version;
            r.body = rec.body;
            results.push_back(std::move(r));
        }
        if (j.dry_run || out.empty()) return results;

        auto offsets = producer_->commit_batch(out);
        if (!offsets) {
            ++failures_;
            if (offsets.error().fenced) fenced_ = true;
            spdlog::warn("partition {}: batch transaction of {} events failed: {}", partition_, out.size(),
                         offsets.error().err.detail);
            // Memory is untouched (the batch was decided on a copy) but the producer needs a fresh start.
            ready_ = false;
            producer_.reset();
            agencies_.clear();
            dirty_.clear();
            return fail(errc::unavailable, "the event log did not acknowledge in time; nothing of the batch was "
                                           "accepted (" + offsets.error().err.detail + ")");
        }
        ++transactions_;
        appended_ += out.size();
        since_snapshot_ += out.size();
        next_offset_ = offsets->back() + 1;
        for (std::size_t k = 0; k < offsets->size(); ++k)
            if (auto it = work.commands.find(record_cmd[k]); it != work.commands.end())
                it->second.token = make_token(partition_, (*offsets)[k]);
        for (std::size_t i = 0; i < j.cmds.size(); ++i)
            if (last_record[i] != SIZE_MAX && results[i])
                results[i]->consistency_token = make_token(partition_, (*offsets)[last_record[i]]);
        agencies_[j.agency_id] = std::move(work);
        dirty_.insert(j.agency_id);
        snapshot(false);
        return results;
    }

    kafka::config cfg_;
    int partition_;
    projections::store& local_;
    clock_source& clock_;
    id_source& ids_;
    writer_options opts_;
    std::string ns_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<request> queue_;
    std::deque<batch_job> jobs_;
    bool stopping_ = false;
    std::thread thread_;

    // Owned by the writer thread alone.
    std::unique_ptr<kafka::txn_producer> producer_;
    std::unordered_map<std::string, agency_log> agencies_;
    std::unordered_set<std::string> dirty_;
    std::int64_t next_offset_ = 0;
    std::uint64_t since_snapshot_ = 0;

    std::atomic<bool> ready_{false};
    std::atomic<bool> fenced_{false};
    std::atomic<std::uint64_t> appended_{0}, transactions_{0}, failures_{0};
};

kafka_command_bus::kafka_command_bus(kafka::config cfg, int partitions, projections::store& local,
                                     clock_source& clock, id_source& ids, writer_options opts)
    : cfg_(std::move(cfg)), partitions_(partitions) {
    for (int p = 0; p < partitions_; ++p)
        writers_.push_back(std::make_unique<partition_writer>(cfg_, p, local, clock, ids, opts));
}

kafka_command_bus::~kafka_command_bus() { stop(); }

void kafka_command_bus::start() {
    for (auto& w : writers_) w->start();
}

void kafka_command_bus::stop() {
    for (auto& w : writers_) w->stop();
}

int kafka_command_bus::partition_of(const std::string& agency_id) const {
    return kafka::partition_for(agency_id, partitions_);
}

result<command_result> kafka_command_bus::submit(const std::string& agency_id, const command_meta& meta,
                                                 const aggregates::command& cmd) {
    auto& w = *writers_[static_cast<std::size_t>(partition_of(agency_id))];
    auto f = w.enqueue(request{agency_id, meta, cmd, {}});
    // The writer bounds every broker round trip; this bound only guards against a stuck writer.
    auto limit = cfg_.timeout * 4 + std::chrono::seconds(5);
    if (f.wait_for(limit) != std::future_status::ready)
        return fail(errc::unavailable, "the partition writer did not answer in time");
    return f.get();
}

result<std::vector<result<command_result>>> kafka_command_bus::submit_batch(
    const std::string& agency_id, const command_meta& meta, const std::vector<aggregates::command>& cmds,
    bool dry_run) {
    auto& w = *writers_[static_cast<std::size_t>(partition_of(agency_id))];
    auto f = w.enqueue(batch_job{agency_id, meta, cmds, dry_run, {}});
    auto limit = cfg_.timeout * 4 + std::chrono::seconds(5);
    if (f.wait_for(limit) != std::future_status::ready)
        return fail(errc::unavailable, "the partition writer did not answer in time");
    return f.get();
}

std::vector<int> kafka_command_bus::fenced_partitions() const {
    std::vector<int> out;
    for (int p = 0; p < partitions_; ++p)
        if (writers_[static_cast<std::size_t>(p)]->fenced()) out.push_back(p);
    return out;
}

std::string kafka_command_bus::metrics_text() const {
    std::string s;
    s += "# HELP carelog_writer_events_appended_total Events committed to the log by this process.\n"
         "# TYPE carelog_writer_events_appended_total counter\n";
    for (int p = 0; p < partitions_; ++p)
        s += "carelog_writer_events_appended_total{partition=\"" + std::to_string(p) + "\"} " +
             std::to_string(writers_[static_cast<std::size_t>(p)]->appended()) + "\n";
    s += "# HELP carelog_writer_transactions_total Committed transactions.\n"
         "# TYPE carelog_writer_transactions_total counter\n";
    std::uint64_t tx = 0, fails = 0;
    for (const auto& w : writers_) {
        tx += w->transactions();
        fails += w->failures();
    }
    s += "carelog_writer_transactions_total " + std::to_string(tx) + "\n";
    s += "# HELP carelog_writer_failed_transactions_total Transactions that failed (commands answered 503).\n"
         "# TYPE carelog_writer_failed_transactions_total counter\n";
    s += "carelog_writer_failed_transactions_total " + std::to_string(fails) + "\n";
    s += "# HELP carelog_writer_ready Whether the partition writer is initialised and caught up.\n"
         "# TYPE carelog_writer_ready gauge\n";
    for (int p = 0; p < partitions_; ++p)
        s += "carelog_writer_ready{partition=\"" + std::to_string(p) + "\"} " +
             (writers_[static_cast<std::size_t>(p)]->ready() ? "1" : "0") + "\n";
    s += "# HELP carelog_writer_fenced Whether a newer process fenced this partition's writer.\n"
         "# TYPE carelog_writer_fenced gauge\n";
    for (int p = 0; p < partitions_; ++p)
        s += "carelog_writer_fenced{partition=\"" + std::to_string(p) + "\"} " +
             (writers_[static_cast<std::size_t>(p)]->fenced() ? "1" : "0") + "\n";
    return s;
}

}  // namespace carelog::api
