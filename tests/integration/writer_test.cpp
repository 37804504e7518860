// The write engine against a real broker, without HTTP: what a transaction that aborts mid-batch
// leaves behind, an event too large for the log among small ones, and Idempotency-Key records
// evicted while their replay is decided. Each test reads the topic back as an auditor would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/writer/agency_log.hpp"
#include "carelog/writer/engine.hpp"
#include "carelog/writer/snapshot.hpp"

#include "metrics_text.hpp"
#include "process.hpp"
#include "../unit/aggregates/fixtures.hpp"

using namespace carelog;
using namespace carelog::testing;

namespace {

// The node's local key/value state, in memory (carelogd keeps it in RocksDB).
class memory_snapshots final : public writer::snapshot_store {
public:
    std::optional<std::string> get(const std::string& ns, const std::string& key) const override {
        std::lock_guard lk(mu_);
        auto it = kv_.find(ns + "\n" + key);
        if (it == kv_.end()) return std::nullopt;
        return it->second;
    }
    std::vector<std::pair<std::string, std::string>> scan(const std::string& ns,
                                                          const std::string& prefix) const override {
        std::lock_guard lk(mu_);
        std::vector<std::pair<std::string, std::string>> out;
        std::string from = ns + "\n" + prefix;
        for (auto it = kv_.lower_bound(from); it != kv_.end() && it->first.rfind(from, 0) == 0; ++it)
            out.emplace_back(it->first.substr(ns.size() + 1), it->second);
        return out;
    }
    void each(const std::string& ns, const std::string& prefix,
              const std::function<void(std::string_view, std::string_view)>& fn) const override {
        for (const auto& [k, v] : scan(ns, prefix)) fn(k, v);
    }
    result<void> put(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs) override {
        std::lock_guard lk(mu_);
        if (accepted_puts_ && puts_.size() >= *accepted_puts_) return fail(errc::internal, "the store is full");
        std::set<std::string> keys;
        for (const auto& [k, v] : kvs) {
            kv_[ns + "\n" + k] = v;
            keys.insert(k);
        }
        puts_.push_back(std::move(keys));
        return {};
    }
    // The keys of each put, in order.
    std::vector<std::set<std::string>> puts() const {
        std::lock_guard lk(mu_);
        return puts_;
    }
    // Every put after the first n fails (as a full disk would), so the store keeps what those n
    // wrote: the state a process killed after them leaves behind.
    void accept_puts(std::size_t n) {
        std::lock_guard lk(mu_);
        accepted_puts_ = n;
    }

private:
    std::optional<std::size_t> accepted_puts_;
    mutable std::mutex mu_;
    std::map<std::string, std::string> kv_;
    std::vector<std::set<std::string>> puts_;
};

// Collects asynchronous answers; wait() returns once `n` arrived.
class answers {
public:
    writer::command_done slot(std::size_t i) {
        return [this, i](result<writer::command_result> r) {
            std::lock_guard lk(mu_);
            got_.emplace(i, std::move(r));
            cv_.notify_all();
        };
    }
    // True once `n` arrived; false if they did not within `bound`.
    bool arrived(std::size_t n, std::chrono::seconds bound) {
        std::unique_lock lk(mu_);
        return cv_.wait_for(lk, bound, [&] { return got_.size() >= n; });
    }
    std::map<std::size_t, result<writer::command_result>>& wait(std::size_t n) {
        std::unique_lock lk(mu_);
        REQUIRE(cv_.wait_for(lk, std::chrono::seconds(120), [&] { return got_.size() >= n; }));
        return got_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::size_t, result<writer::command_result>> got_;
};

result<writer::command_result> submit_sync(writer::engine& e, const std::string& agency, aggregates::command cmd,
                                           std::string key = "") {
    answers a;
    e.submit(agency, writer::command_meta{"operator", std::move(key), "test"}, std::move(cmd), a.slot(0));
    return std::move(a.wait(1).at(0));
}

struct topic_fixture {
    kafka::config cfg;
    system_clock clock;
    random_ids ids;
    memory_snapshots snaps;
    std::string agency = "00000000-0000-7000-8000-00000000a001";
    std::string admin = "00000000-0000-7000-8000-00000000b001";

    topic_fixture() {
        cfg.brokers = test_brokers();
        cfg.topic_prefix = "wr" + fresh_suffix() + ".";
        cfg.partitions = 4;
        cfg.timeout = std::chrono::milliseconds(5000);
        REQUIRE(kafka::ensure_topic(cfg, cfg.events_topic()).has_value());
    }

    std::unique_ptr<writer::engine> start(writer::engine_options o = {}) { return start_with(snaps, std::move(o)); }
    std::unique_ptr<writer::engine> start_with(writer::snapshot_store& local, writer::engine_options o = {}) {
        auto e = std::make_unique<writer::engine>(cfg, cfg.partitions, local, clock, ids, std::move(o));
        e->start();
        return e;
    }

    aggregates::create_agency create() const {
        aggregates::create_agency c;
        c.agency_id = agency;
        c.name = "Writer Test Agency";
        c.slug = "writer-test";
        c.admin_staff_id = admin;
        c.admin_first_name = "Wanda";
        c.admin_last_name = "Writer";
        c.admin_email = "wanda@example.org";
        c.admin_password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
        return c;
    }

    aggregates::add_client client(int i) {
        aggregates::add_client c;
        c.client_id = ids.next_uuid();
        c.first_name = "Client" + std::to_string(i);
        c.last_name = "Tester";
        c.date_of_birth = "1990-01-01";
        c.now = clock.now();
        return c;
    }

    // Every committed event of the topic, decoded, in log order per partition.
    std::vector<events::envelope> read_all() {
        std::vector<events::envelope> out;
        for (const auto& bytes : read_topic(cfg.brokers, cfg.events_topic(), cfg.partitions)) {
            auto e = events::decode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
            REQUIRE(e.has_value());
            out.push_back(std::move(*e));
        }
        return out;
    }
};

// The agency's events form one unbroken chain: sequence 1..n without a gap or a repeat, each
// prev_hash the hash of the one before.
void check_chain(const std::vector<events::envelope>& evs, const std::string& agency) {
    std::uint64_t seq = 0;
    sha256_digest last{};
    for (const auto& e : evs) {
        if (e.agency_id != agency) continue;
        REQUIRE(e.sequence == seq + 1);
        REQUIRE(e.prev_hash == last);
        seq = e.sequence;
        last = e.hash;
    }
    CHECK(seq > 0);
}

}  // namespace

TEST_CASE("writer: a transaction aborted mid-batch refuses all its commands, leaves nothing in the log, and the "
          "state goes on from the last commit",
          "[integration][writer]") {
    topic_fixture f;
    writer::engine_options o;
    std::atomic<bool> armed{false}, fired{false};
    // The first transaction after arming aborts (as if the broker had failed it), once.
    o.fail_commit = [&](int, std::uint64_t) { return armed.load() && !fired.exchange(true); };
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());

    // Many commands at once, so that the aborted transaction holds a batch of them.
    constexpr std::size_t n = 300;
    answers a;
    std::vector<std::string> client_ids;
    armed = true;
    for (std::size_t i = 0; i < n; ++i) {
        auto c = f.client(static_cast<int>(i));
        client_ids.push_back(c.client_id);
        e->submit(f.agency, writer::command_meta{"operator", "", "test"}, c, a.slot(i));
    }
    auto& got = a.wait(n);
    REQUIRE(fired.load());
    std::set<std::string> accepted, refused;
    for (auto& [i, r] : got) {
        if (r) {
            accepted.insert(client_ids[i]);
        } else {
            // Certainly not in the log: the caller may retry.
            CHECK(r.error().code == errc::unavailable);
            refused.insert(client_ids[i]);
        }
    }
    CHECK(!refused.empty());

    // After the abort the engine decides again from the committed state: a command now continues
    // the chain right after the last committed event.
    auto after = submit_sync(*e, f.agency, f.client(9999));
    REQUIRE(after.has_value());
    accepted.insert(after->aggregate_id);
    e->stop();

    auto evs = f.read_all();
    check_chain(evs, f.agency);
    std::set<std::string> in_log;
    for (const auto& ev : evs)
        if (std::holds_alternative<events::ClientAdded>(ev.data)) CHECK(in_log.insert(ev.aggregate_id).second);
    CHECK(in_log == accepted);  // every acknowledged command exactly once, nothing refused
    for (const auto& id : refused) CHECK(in_log.count(id) == 0);

    // A new engine rebuilt from the topic alone continues the same chain.
    memory_snapshots none;  // no snapshot: the topic alone
    auto again = f.start_with(none);
    auto next = submit_sync(*again, f.agency, f.client(10000));
    REQUIRE(next.has_value());
    again->stop();
    auto all = f.read_all();
    check_chain(all, f.agency);
    CHECK(all.size() == evs.size() + 1);
}

TEST_CASE("writer: a batch is answered when its commit returns, while the lane still waits for the next batch's "
          "acknowledgements",
          "[integration][writer]") {
    topic_fixture f;
    writer::engine_options o;
    std::mutex mu;
    std::condition_variable cv;
    std::uint64_t producing = 0;  // the transaction the lane is about to produce
    bool release = false;
    std::uint64_t held = 0;  // the transaction held before its produce, once chosen
    o.before_produce = [&](int, std::uint64_t txn) {
        std::unique_lock lk(mu);
        producing = txn;
        cv.notify_all();
        if (txn == held) cv.wait(lk, [&] { return release; });
    };
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());

    // A: one command, produced and handed to the committer. B: queued after A's produce, so it is
    // the next batch, whose produce the test holds until A is answered.
    answers a;
    {
        std::lock_guard lk(mu);
        held = producing + 2;
    }
    e->submit(f.agency, writer::command_meta{"operator", "", "test"}, f.client(1), a.slot(0));
    {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(30), [&] { return producing == held - 1; }));
    }
    e->submit(f.agency, writer::command_meta{"operator", "", "test"}, f.client(2), a.slot(1));
    {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(30), [&] { return producing == held; }));
    }
    // A's answer arrives while B's produce has not even started: the committer answered it. (The
    // bound only keeps a lane that answers late from hanging the suite: B's produce waits for A's
    // answer, so such a lane never answers A.)
    const bool answered = a.arrived(1, std::chrono::seconds(60));
    {
        std::lock_guard lk(mu);
        release = true;
    }
    cv.notify_all();
    CHECK(answered);
    auto& both = a.wait(2);
    REQUIRE(both.at(1).has_value());
    e->stop();

    // Both are in the log, in the order they were answered.
    std::vector<std::string> added;
    for (const auto& ev : f.read_all())
        if (std::holds_alternative<events::ClientAdded>(ev.data)) added.push_back(ev.aggregate_id);
    CHECK(added == std::vector<std::string>{both.at(0)->aggregate_id, both.at(1)->aggregate_id});
}

TEST_CASE("writer: an event larger than the log takes is refused alone (too_large) and its neighbours commit",
          "[integration][writer]") {
    topic_fixture f;
    auto e = f.start();
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());
    auto c = f.client(1);
    REQUIRE(submit_sync(*e, f.agency, c).has_value());
    aggregates::start_kiosk k;
    k.client_id = c.client_id;
    k.kiosk_session_id = f.ids.next_uuid();
    k.actor_staff_id = f.admin;
    k.form_id = "intake";
    k.token_hash = std::string(64, 'a');
    k.now = f.clock.now();
    auto started = submit_sync(*e, f.agency, k);
    REQUIRE(started.has_value());

    // A 1 MiB kiosk form (the HTTP body limit lets it through) between small commands.
    aggregates::submit_kiosk_form big;
    big.token_hash = k.token_hash;
    big.answers = "{\"notes\":\"" + std::string((1 << 20) - 64, 'x') + "\"}";  // the domain allows 1 MiB
    big.now = f.clock.now();
    answers a;
    std::vector<std::string> small_ids;
    for (int i = 0; i < 40; ++i) {
        if (i == 20) e->submit(f.agency, writer::command_meta{"kiosk", "", "test"}, big, a.slot(1000));
        auto s = f.client(100 + i);
        small_ids.push_back(s.client_id);
        e->submit(f.agency, writer::command_meta{"operator", "", "test"}, s, a.slot(static_cast<std::size_t>(i)));
    }
    auto& got = a.wait(41);
    REQUIRE(!got.at(1000).has_value());
    CHECK(got.at(1000).error().code == errc::too_large);
    for (int i = 0; i < 40; ++i) CHECK(got.at(static_cast<std::size_t>(i)).has_value());

    // The form was not taken: a form of a sensible size is accepted afterwards.
    aggregates::submit_kiosk_form fine = big;
    fine.answers = "{\"notes\":\"all well\"}";
    CHECK(submit_sync(*e, f.agency, fine).has_value());
    e->stop();

    auto evs = f.read_all();
    check_chain(evs, f.agency);
    std::set<std::string> in_log;
    for (const auto& ev : evs)
        if (std::holds_alternative<events::ClientAdded>(ev.data)) in_log.insert(ev.aggregate_id);
    for (const auto& id : small_ids) CHECK(in_log.count(id) == 1);
}

namespace {
// Submits n new clients of one agency (created first) at once on a lane with options `o`, and
// checks that every one is answered, that one transaction holds them all (their records are
// contiguous in the partition: a commit's marker takes an offset between two transactions), and
// that the log holds each once, chained. Returns the engine's metrics once all were answered.
std::string answered_in_one_transaction(const writer::engine_options& o, int n) {
    topic_fixture f;
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());

    answers a;
    for (int i = 0; i < n; ++i)
        e->submit(f.agency, writer::command_meta{"operator", "", "test"}, f.client(i), a.slot(static_cast<std::size_t>(i)));
    auto& got = a.wait(static_cast<std::size_t>(n));
    std::vector<std::int64_t> offsets;
    for (auto& [i, r] : got) {
        REQUIRE(r.has_value());
        int partition = -1;
        std::int64_t offset = -1;
        REQUIRE(parse_token(r->consistency_token, partition, offset));
        offsets.push_back(offset);
    }
    std::sort(offsets.begin(), offsets.end());
    CHECK(offsets.back() - offsets.front() == n - 1);
    auto metrics = e->metrics_text();
    e->stop();

    auto evs = f.read_all();
    check_chain(evs, f.agency);
    int added = 0;
    for (const auto& ev : evs) added += std::holds_alternative<events::ClientAdded>(ev.data) ? 1 : 0;
    CHECK(added == n);
    return metrics;
}
}  // namespace

TEST_CASE("writer: a lane under load gathers what arrives within its gather time into one transaction, and "
          "answers every command",
          "[integration][writer]") {
    writer::engine_options o;
    o.gather = std::chrono::milliseconds(3000);
    o.gather_from = 1;  // every batch counts as load: the one after the agency's waits for the gather time
    const auto m = answered_in_one_transaction(o, 40);

    // What an operator reads of it: two transactions (the agency's, then the 40 gathered), each
    // with its commit timed, and every command's wait for its writer.
    using carelog::testing::metric_value;
    CHECK(metric_value(m, "carelog_writer_transactions_total") == "2");
    CHECK(metric_value(m, "carelog_writer_commit_seconds_count") == "2");
    CHECK(metric_value(m, R"(carelog_writer_commit_seconds_bucket{le="+Inf"})") == "2");
    CHECK(metric_value(m, "carelog_writer_transaction_commands_count") == "2");
    CHECK(metric_value(m, "carelog_writer_transaction_commands_sum") == "41");
    CHECK(metric_value(m, R"(carelog_writer_transaction_commands_bucket{le="1"})") == "1");
    CHECK(metric_value(m, R"(carelog_writer_transaction_commands_bucket{le="25"})") == "1");
    CHECK(metric_value(m, R"(carelog_writer_transaction_commands_bucket{le="50"})") == "2");
    CHECK(metric_value(m, "carelog_writer_queue_wait_seconds_count") == "41");
    CHECK(m.find("# TYPE carelog_writer_commit_seconds histogram\n") != std::string::npos);
}

TEST_CASE("writer: a lane gathering stops as soon as a transaction's worth of commands is queued", "[integration][writer]") {
    writer::engine_options o;
    // A gather far longer than a command may wait in the queue (10 s) and than answers' wait
    // (120 s): only a queue grown to gather_batch gets these commands decided.
    o.gather = std::chrono::minutes(10);
    o.gather_from = 1;
    o.gather_batch = 10;
    answered_in_one_transaction(o, 10);
}

TEST_CASE("writer: replaying an Idempotency-Key whose record is evicted in the same batch answers, and the "
          "writer goes on",
          "[integration][writer]") {
    topic_fixture f;
    writer::engine_options o;
    o.max_queue = 50000;  // the import alone fills the default queue; this test is about eviction
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());
    auto first = f.client(0);
    auto one = submit_sync(*e, f.agency, first, "staff/x:first");
    REQUIRE(one.has_value());

    // Queued together: an import whose keys push "first" out of the agency's bounded key set,
    // then a replay of "first".
    std::vector<aggregates::command> rows;
    for (std::size_t i = 0; i < writer::idempotency_max_keys + 1; ++i) rows.push_back(f.client(static_cast<int>(i + 1)));
    std::mutex mu;
    std::condition_variable cv;
    std::optional<writer::batch_answer> bulk;
    e->submit_batch(f.agency, writer::command_meta{"operator", "staff/x:bulk", "test"}, std::move(rows), false,
                    [&](writer::batch_answer r) {
                        std::lock_guard lk(mu);
                        bulk = std::move(r);
                        cv.notify_all();
                    });
    answers a;
    e->submit(f.agency, writer::command_meta{"operator", "staff/x:first", "test"}, first, a.slot(0));
    auto& replay = a.wait(1).at(0);
    {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(120), [&] { return bulk.has_value(); }));
    }
    REQUIRE(bulk->has_value());
    // Decided before the eviction, the replay answers the first result; after it, the key is
    // forgotten and the command is decided anew: the client exists, a conflict. Never a crash.
    if (replay) {
        CHECK(replay->replayed);
        CHECK(replay->aggregate_id == first.client_id);
    } else {
        CHECK(replay.error().code == errc::conflict);
    }
    // The writer still serves.
    CHECK(submit_sync(*e, f.agency, f.client(-1)).has_value());
    e->stop();
    check_chain(f.read_all(), f.agency);
}

namespace {

// A second agency on the same lane (every partition of the topic is one lane by default).
aggregates::create_agency second_agency(topic_fixture& f, const std::string& id) {
    auto c = f.create();
    c.agency_id = id;
    c.name = "Neighbour Agency";
    c.slug = "neighbour";
    c.admin_staff_id = f.ids.next_uuid();
    return c;
}

// Collects one batch answer.
struct batch_slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<writer::batch_answer> got;
    writer::batch_done done() {
        return [this](writer::batch_answer r) {
            std::lock_guard lk(mu);
            got = std::move(r);
            cv.notify_all();
        };
    }
    bool answered() {
        std::lock_guard lk(mu);
        return got.has_value();
    }
    writer::batch_answer& wait() {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, std::chrono::seconds(120), [&] { return got.has_value(); }));
        return *got;
    }
};

}  // namespace

TEST_CASE("writer: a bulk import does not hold the other agencies of its lane, and its own agency's commands wait "
          "for it and see it",
          "[integration][writer]") {
    topic_fixture f;
    const std::string neighbour = "00000000-0000-7000-8000-00000000a002";
    writer::engine_options o;
    o.bulk_rows = 100;
    o.bulk_chunk = 200;
    // The lane is held at one commit while the import and the commands behind it are queued, so
    // they reach the lane together, in that order.
    std::mutex gate_mu;
    std::condition_variable gate_cv;
    bool gate_armed = false, gate_open = false;
    o.fail_commit = [&](int, std::uint64_t) {
        std::unique_lock lk(gate_mu);
        if (gate_armed) {
            gate_armed = false;
            gate_cv.wait(lk, [&] { return gate_open; });
        }
        return false;
    };
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());
    REQUIRE(submit_sync(*e, neighbour, second_agency(f, neighbour)).has_value());

    answers held;
    {
        std::lock_guard lk(gate_mu);
        gate_armed = true;
    }
    e->submit(neighbour, writer::command_meta{"operator", "", "test"}, f.client(-1), held.slot(0));

    constexpr std::size_t rows_n = 3000;
    std::vector<aggregates::command> rows;
    std::vector<std::string> imported;
    for (std::size_t i = 0; i < rows_n; ++i) {
        auto c = f.client(static_cast<int>(i));
        imported.push_back(c.client_id);
        rows.push_back(std::move(c));
    }
    batch_slot bulk;
    e->submit_batch(f.agency, writer::command_meta{"operator", "", "test"}, std::move(rows), false, bulk.done());
    // Behind the import: a neighbour's command, and the importing agency's own (a client the import
    // adds too: decided after the import, it is a conflict).
    std::atomic<bool> bulk_done_first{false};
    answers behind;
    auto neighbour_client = f.client(-2);
    e->submit(neighbour, writer::command_meta{"operator", "", "test"}, neighbour_client,
              [&, slot = behind.slot(0)](result<writer::command_result> r) {
                  bulk_done_first = bulk.answered();
                  slot(std::move(r));
              });
    auto duplicate = f.client(-3);
    duplicate.client_id = imported.front();
    e->submit(f.agency, writer::command_meta{"operator", "", "test"}, duplicate, behind.slot(1));
    {
        std::lock_guard lk(gate_mu);
        gate_open = true;
    }
    gate_cv.notify_all();

    auto& got = behind.wait(2);
    REQUIRE(got.at(0).has_value());
    CHECK_FALSE(bulk_done_first.load());  // the neighbour was answered while the import still ran
    auto& b = bulk.wait();
    REQUIRE(b.has_value());
    REQUIRE(b->size() == rows_n);
    for (const auto& r : *b) CHECK(r.has_value());
    REQUIRE_FALSE(got.at(1).has_value());
    CHECK(got.at(1).error().code == errc::conflict);
    REQUIRE(held.wait(1).at(0).has_value());
    e->stop();

    auto evs = f.read_all();
    check_chain(evs, f.agency);
    check_chain(evs, neighbour);
    std::map<std::string, int> count;
    for (const auto& ev : evs)
        if (std::holds_alternative<events::ClientAdded>(ev.data)) ++count[ev.aggregate_id];
    for (const auto& id : imported) CHECK(count[id] == 1);
    CHECK(count[neighbour_client.client_id] == 1);

    // Rebuilt from the topic alone, both chains go on.
    memory_snapshots none;
    auto again = f.start_with(none);
    CHECK(submit_sync(*again, f.agency, f.client(10000)).has_value());
    CHECK(submit_sync(*again, neighbour, f.client(10001)).has_value());
    again->stop();
    auto all = f.read_all();
    check_chain(all, f.agency);
    check_chain(all, neighbour);
}

TEST_CASE("writer: a bulk import whose transaction aborts is refused as a whole, leaves nothing in the log, and "
          "its agency goes on from the last commit",
          "[integration][writer]") {
    topic_fixture f;
    writer::engine_options o;
    o.bulk_rows = 100;
    o.bulk_chunk = 150;
    std::atomic<bool> armed{false}, fired{false};
    o.fail_commit = [&](int, std::uint64_t) { return armed.load() && !fired.exchange(true); };
    auto e = f.start(o);
    REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());

    std::vector<aggregates::command> rows;
    std::set<std::string> imported;
    for (int i = 0; i < 1000; ++i) {
        auto c = f.client(i);
        imported.insert(c.client_id);
        rows.push_back(std::move(c));
    }
    armed = true;  // nothing else runs: the import's commit is the one that aborts
    batch_slot bulk;
    e->submit_batch(f.agency, writer::command_meta{"operator", "", "test"}, std::move(rows), false, bulk.done());
    auto& b = bulk.wait();
    REQUIRE(fired.load());
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code == errc::unavailable);

    auto after = submit_sync(*e, f.agency, f.client(5000));
    REQUIRE(after.has_value());
    e->stop();
    auto evs = f.read_all();
    check_chain(evs, f.agency);
    for (const auto& ev : evs) CHECK(imported.count(ev.aggregate_id) == 0);
}

// ---- snapshots ----

namespace {

// Every agency log of a partition's snapshot, as a restart loads it.
std::unordered_map<std::string, writer::agency_log> snapshot_of(const memory_snapshots& store, int partition) {
    auto logs = writer::load_snapshot(store.scan("writer-p" + std::to_string(partition), "a/"));
    if (!logs) FAIL("snapshot of partition " << partition << " refused: " << logs.error().detail);
    return std::move(*logs);
}

void check_same_log(const writer::agency_log& a, const writer::agency_log& b) {
    CHECK(a.state == b.state);
    CHECK(a.sequence == b.sequence);
    CHECK(a.last_hash == b.last_hash);
    CHECK(std::vector<std::string>(a.command_order.begin(), a.command_order.end()) ==
          std::vector<std::string>(b.command_order.begin(), b.command_order.end()));
    REQUIRE(a.commands.size() == b.commands.size());
    for (const auto& [key, r] : b.commands) {
        INFO("idempotency record " << key);
        REQUIRE(a.commands.contains(key));
        const auto& x = *a.commands.at(key);
        CHECK(x.aggregate_id == r->aggregate_id);
        CHECK(x.version == r->version);
        CHECK(x.token == r->token);
        CHECK(x.at == r->at);
        REQUIRE(x.events.size() == r->events.size());
        for (std::size_t i = 0; i < x.events.size(); ++i) CHECK(x.events[i].event_id == r->events[i].event_id);
    }
}

}  // namespace

TEST_CASE("writer: the state a restart loads from its snapshot plus the tail equals a rebuild of the whole topic, "
          "and a snapshot after one change writes that change only",
          "[integration][writer][snapshot][restart]") {
    topic_fixture f;
    const int partition = kafka::partition_for(f.agency, f.cfg.partitions);
    const std::string ns = "writer-p" + std::to_string(partition);
    std::vector<aggregates::add_client> clients;
    for (int i = 0; i < 30; ++i) clients.push_back(f.client(i));
    {
        auto e = f.start();
        REQUIRE(submit_sync(*e, f.agency, f.create(), "op:create").has_value());
        for (int i = 0; i < 20; ++i)
            REQUIRE(submit_sync(*e, f.agency, clients[i], i % 2 ? "op:client-" + std::to_string(i) : "").has_value());
        e->stop();  // the final snapshot: everything
    }
    const auto full = f.snaps.puts().size();
    REQUIRE(full > 0);
    REQUIRE(f.snaps.get(ns, "format") == std::string(writer::snapshot_format));

    // A restart from that snapshot: one change, then the stop's snapshot holds it alone.
    {
        auto e = f.start();
        auto again = submit_sync(*e, f.agency, clients[1], "op:client-1");  // an Idempotency-Key replay
        REQUIRE(again.has_value());
        CHECK(again->replayed);
        CHECK(again->aggregate_id == clients[1].client_id);
        REQUIRE(submit_sync(*e, f.agency, aggregates::assign_staff_to_client{clients[3].client_id, f.admin}).has_value());
        e->stop();
    }
    auto puts = f.snaps.puts();
    REQUIRE(puts.size() == full + 1);
    const std::string a = "a/" + f.agency;
    CHECK(puts.back() == std::set<std::string>{a, a + "/c/" + clients[3].client_id, "format", "offset"});

    // More, through another restart: new clients with keys, then a replay after the restart.
    {
        auto e = f.start();
        for (int i = 20; i < 30; ++i)
            REQUIRE(submit_sync(*e, f.agency, clients[i], "op:client-" + std::to_string(i)).has_value());
        e->stop();
    }

    // A rebuild of the whole topic on a data dir that holds only an older format's snapshot (an
    // offset past the end and an agency as JSON): it is not trusted, the partition is replayed
    // from offset 0 and the JSON is emptied by the snapshot that follows.
    memory_snapshots rebuilt;
    REQUIRE(rebuilt.put(ns, {{"offset", "1000000"}, {"agency/" + f.agency, R"({"state":{"format":3}})"}}).has_value());
    {
        auto e = f.start_with(rebuilt);
        auto replay = submit_sync(*e, f.agency, clients[25], "op:client-25");
        REQUIRE(replay.has_value());
        CHECK(replay->replayed);
        e->stop();
    }
    CHECK(rebuilt.get(ns, "agency/" + f.agency) == std::string());
    CHECK(rebuilt.get(ns, "format") == std::string(writer::snapshot_format));
    CHECK(rebuilt.get(ns, "offset") != std::string("1000000"));

    auto from_snapshots = snapshot_of(f.snaps, partition);
    auto from_topic = snapshot_of(rebuilt, partition);
    REQUIRE(from_snapshots.size() == 1);
    REQUIRE(from_topic.size() == 1);
    const auto& restarted = from_snapshots.at(f.agency);
    const auto& replayed = from_topic.at(f.agency);
    CHECK(restarted.state.clients.size() == 30);
    CHECK(restarted.commands.size() == 1 + 10 + 10);
    CHECK(restarted.state.clients.at(clients[3].client_id).assigned_staff.contains(f.admin));
    check_same_log(restarted, replayed);
    check_chain(f.read_all(), f.agency);
}

namespace {

std::uint64_t resident_of(const writer::engine& e) {
    const auto text = e.metrics_text();
    CHECK(carelog::testing::format_problem(text) == "");
    const std::string name = "\ncarelog_writer_resident_aggregates ";
    const auto at = text.find(name);
    REQUIRE(at != std::string::npos);
    return std::stoull(text.substr(at + name.size()));
}

}  // namespace

TEST_CASE("writer: a snapshot round visits the lane's partitions one per turn, and falls due on an idle lane too",
          "[integration][writer][snapshot]") {
    topic_fixture f;
    // One agency on each partition of the topic, all of them on the one lane.
    std::map<int, std::string> agencies;
    while (static_cast<int>(agencies.size()) < f.cfg.partitions) {
        auto id = f.ids.next_uuid();
        agencies.try_emplace(kafka::partition_for(id, f.cfg.partitions), id);
    }
    auto e = f.start();  // a round every second
    int n = 0;
    for (const auto& [p, id] : agencies) {
        auto c = f.create();
        c.agency_id = id;
        c.slug = "turns-" + std::to_string(n);
        c.admin_staff_id = f.ids.next_uuid();
        REQUIRE(submit_sync(*e, id, c).has_value());
        REQUIRE(submit_sync(*e, id, f.client(n)).has_value());
        ++n;
    }
    // No command follows: the lane, idle, still snapshots every partition's agency, without a stop
    // (waited for, bounded; a round falls due a second after the one before).
    auto written = [&] {
        int found = 0;
        for (const auto& [p, id] : agencies)
            if (f.snaps.get("writer-p" + std::to_string(p), "a/" + id)) ++found;
        return found;
    };
    for (int i = 0; i < 100 && written() < f.cfg.partitions; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(written() == f.cfg.partitions);
    // Each partition was its own turn, timed for an operator.
    const auto turns = carelog::testing::metric_value(e->metrics_text(), "carelog_writer_snapshot_turn_seconds_count");
    REQUIRE_FALSE(turns.empty());
    CHECK(std::stoi(turns) >= f.cfg.partitions);
    e->stop();
}

TEST_CASE("writer: holding two aggregates in memory, the writer decides against the ones it let go as it would with "
          "all of them, across a restart, and its snapshot stays the log's state",
          "[integration][writer][snapshot][restart]") {
    topic_fixture f;
    const int partition = kafka::partition_for(f.agency, f.cfg.partitions);
    writer::engine_options o;
    o.resident_aggregates = 2;
    o.snapshot_interval = std::chrono::seconds(0);  // snapshot (and let go) at every chance
    std::vector<aggregates::add_client> clients;
    for (int i = 0; i < 12; ++i) {
        clients.push_back(f.client(i));
        clients.back().external_id = "EXT-" + std::to_string(i);
    }
    const std::string todd = "00000000-0000-7000-8000-00000000c001", todd_d = "00000000-0000-7000-8000-00000000c002";
    auto check_decisions = [&](writer::engine& e, int round) {
        INFO("round " << round);
        // Both usernames of "Todd D Jones" are taken by staff members long let go.
        auto third = submit_sync(e, f.agency, aggregates::testing::staff_cmd(f.ids.next_uuid(), "Todd", "Jones", "Dan"));
        REQUIRE_FALSE(third);
        CHECK(third.error().code == errc::conflict);
        // A taken external id, an existing client id.
        auto dup = f.client(99);
        dup.external_id = "EXT-3";
        auto refused = submit_sync(e, f.agency, dup);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == errc::conflict);
        refused = submit_sync(e, f.agency, clients[5]);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == errc::conflict);
        // The last active org_admin cannot go, though not in memory.
        refused = submit_sync(e, f.agency, aggregates::deactivate_staff{f.admin, "leaving"});
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == errc::conflict);
        // A change to a client let go continues its versions.
        auto& c = clients[static_cast<std::size_t>(round)];
        auto assigned = submit_sync(e, f.agency, aggregates::assign_staff_to_client{c.client_id, todd});
        REQUIRE(assigned.has_value());
        CHECK(assigned->aggregate_id == c.client_id);
        CHECK(assigned->version == 2);
    };
    {
        auto e = f.start(o);
        REQUIRE(submit_sync(*e, f.agency, f.create(), "op:create").has_value());
        REQUIRE(submit_sync(*e, f.agency, aggregates::testing::staff_cmd(todd, "Todd", "Jones")).has_value());
        REQUIRE(submit_sync(*e, f.agency, aggregates::testing::staff_cmd(todd_d, "Todd", "Jones", "Dee")).has_value());
        for (const auto& c : clients) REQUIRE(submit_sync(*e, f.agency, c).has_value());
        check_decisions(*e, 0);
        // It let go of most of them (how many exactly depends on which snapshots were written yet).
        CHECK(resident_of(*e) < 2 + 12 + 1);
        // An operator sees the turns the live lane spent snapshotting, timed (an idle lane with
        // commits behind it snapshots at once here: waited for, bounded).
        std::string turns = "0";
        for (int i = 0; i < 100 && turns == "0"; ++i) {
            turns = carelog::testing::metric_value(e->metrics_text(), "carelog_writer_snapshot_turn_seconds_count");
            if (turns == "0") std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        CHECK(turns != "0");
        CHECK(turns != "");
        e->stop();
    }
    {
        auto e = f.start(o);  // a restart holds no staff member or client until one is needed
        check_decisions(*e, 1);
        e->stop();
    }
    // What the writer's snapshot holds is what the whole log folds into.
    memory_snapshots rebuilt;
    {
        auto e = f.start_with(rebuilt);
        e->stop();
    }
    auto from_snapshots = snapshot_of(f.snaps, partition);
    auto from_topic = snapshot_of(rebuilt, partition);
    REQUIRE(from_snapshots.contains(f.agency));
    REQUIRE(from_topic.contains(f.agency));
    CHECK(from_snapshots.at(f.agency).state.clients.size() == 12);
    CHECK(from_snapshots.at(f.agency).state.staff.size() == 3);
    check_same_log(from_snapshots.at(f.agency), from_topic.at(f.agency));
    check_chain(f.read_all(), f.agency);
}

TEST_CASE("writer: a client whose snapshot entry cannot be read back refuses its own commands (503) and no other's",
          "[integration][writer][snapshot][restart]") {
    topic_fixture f;
    const std::string ns = "writer-p" + std::to_string(kafka::partition_for(f.agency, f.cfg.partitions));
    auto a = f.client(1), b = f.client(2);
    {
        auto e = f.start();
        REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());
        REQUIRE(submit_sync(*e, f.agency, a).has_value());
        REQUIRE(submit_sync(*e, f.agency, b).has_value());
        e->stop();
    }
    auto e = f.start();  // holds no client until one is needed
    REQUIRE(submit_sync(*e, f.agency, aggregates::add_location{"loc-1", "Main", ""}).has_value());  // ready
    REQUIRE(f.snaps.put(ns, {{"a/" + f.agency + "/c/" + a.client_id, "damaged"}}).has_value());
    auto refused = submit_sync(*e, f.agency, aggregates::assign_staff_to_client{a.client_id, f.admin});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == errc::unavailable);
    auto other = submit_sync(*e, f.agency, aggregates::assign_staff_to_client{b.client_id, f.admin});
    REQUIRE(other.has_value());
    CHECK(other->version == 2);
    e->stop();
    // Nothing of the refused command is in the log.
    int assignments = 0;
    for (const auto& ev : f.read_all())
        if (std::holds_alternative<events::StaffAssignedToClient>(ev.data)) ++assignments;
    CHECK(assignments == 1);
}

TEST_CASE("writer: a rebuild snapshots while it catches up, so it can let go of what it read, and a restart from "
          "any of those snapshots plus the tail equals a rebuild holding everything",
          "[integration][writer][snapshot][restart][replay]") {
    topic_fixture f;
    const int partition = kafka::partition_for(f.agency, f.cfg.partitions);
    const int n = 2500;  // more than the catch-up's 1,000 records between two snapshots at a budget of 2
    std::vector<aggregates::add_client> clients;
    for (int i = 0; i < n; ++i) clients.push_back(f.client(i));
    {
        auto e = f.start();
        REQUIRE(submit_sync(*e, f.agency, f.create()).has_value());
        answers got;
        for (int i = 0; i < n; ++i)
            e->submit(f.agency, writer::command_meta{"operator", "", "test"}, clients[static_cast<std::size_t>(i)],
                      got.slot(static_cast<std::size_t>(i)));
        for (const auto& [i, r] : got.wait(n)) REQUIRE(r.has_value());
        e->stop();
    }
    auto rebuild = [&](memory_snapshots& store, writer::engine_options o) {
        auto e = f.start_with(store, std::move(o));
        auto dup = submit_sync(*e, f.agency, clients[7]);  // decided once the catch-up is over
        REQUIRE_FALSE(dup);
        CHECK(dup.error().code == errc::conflict);
        e->stop();
    };
    writer::engine_options small;
    small.resident_aggregates = 2;

    // Holding two aggregates, the catch-up hands a snapshot every 1,000 records (the snapshot
    // thread writes what it finds queued in one put, so how many puts that makes depends on its
    // pace), then the last one; together they equal the whole log folded.
    memory_snapshots rounds;
    rebuild(rounds, small);
    memory_snapshots everything;
    rebuild(everything, {});
    REQUIRE(everything.puts().size() == 1);
    auto whole = snapshot_of(everything, partition);
    REQUIRE(whole.contains(f.agency));
    CHECK(whole.at(f.agency).state.clients.size() == static_cast<std::size_t>(n));
    check_same_log(snapshot_of(rounds, partition).at(f.agency), whole.at(f.agency));

    // Holding up to 100,000 once live but two while catching up, the catch-up snapshots as it
    // reads and goes live holding two (the default would hold all of them).
    {
        writer::engine_options few;
        few.catch_up_resident_aggregates = 2;
        memory_snapshots store;
        auto e = f.start_with(store, few);
        auto dup = submit_sync(*e, f.agency, clients[7]);  // decided once the catch-up is over
        REQUIRE_FALSE(dup);
        CHECK(dup.error().code == errc::conflict);
        CHECK(resident_of(*e) <= 2 + 1);  // and the client the command read back
        e->stop();
        check_same_log(snapshot_of(store, partition).at(f.agency), whole.at(f.agency));
    }
    {
        memory_snapshots store;
        auto e = f.start_with(store, {});
        REQUIRE_FALSE(submit_sync(*e, f.agency, clients[7]));
        CHECK(resident_of(*e) == static_cast<std::size_t>(n) + 1);  // every client and the admin
        e->stop();
    }

    // Killed after its first snapshot write: the store holds that write alone, whose offset is
    // where its entries end; a restart replays the tail from there to the same state.
    memory_snapshots first_round;
    first_round.accept_puts(1);
    rebuild(first_round, small);
    REQUIRE(first_round.puts().size() == 1);
    REQUIRE(first_round.get("writer-p" + std::to_string(partition), "offset").has_value());
    first_round.accept_puts(1000);
    rebuild(first_round, {});
    check_same_log(snapshot_of(first_round, partition).at(f.agency), whole.at(f.agency));
}
