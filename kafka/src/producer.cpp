// The transactional producer of the write engine: begin, produce (every record acknowledged
// before returning, offsets from the delivery reports), then commit or abort. A transactional.id
// per partition group (writer/) means a newer carelogd's init_transactions fences this one (see
// docs/architecture.md). The outcome of a failed call says what is in the log: certainly nothing,
// unknown, or fenced.
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <thread>

#include "common.hpp"

namespace carelog::kafka {
using namespace detail;

namespace {
struct dr_slot {
    std::int64_t offset = -1;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__IN_PROGRESS;
};

void dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* slot = static_cast<dr_slot*>(m->_private);
    if (!slot) return;
    slot->err = m->err;
    slot->offset = m->offset;
}

bool is_fenced(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR__FENCED || e == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
           e == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH || e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

// A producer fenced by a newer epoch raises a fatal error; calls after it fail with other codes.
bool fenced_for_good(rd_kafka_t* rk) {
    char buf[256];
    auto code = rd_kafka_fatal_error(rk, buf, sizeof buf);
    return code != RD_KAFKA_RESP_ERR_NO_ERROR && is_fenced(code);
}

txn_error from(rd_kafka_error_t* e, const std::string& what, txn_outcome otherwise) {
    txn_error out;
    auto code = rd_kafka_error_code(e);
    out.outcome = is_fenced(code) ? txn_outcome::fenced : otherwise;
    out.err = error::make(errc::unavailable, what + ": " + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return out;
}
}  // namespace

struct txn_producer::impl {
    rk_ptr rk;
    std::string topic;
    std::string txn_id;
    rd_kafka_topic_t* rkt = nullptr;
    std::chrono::milliseconds timeout{5000};
    std::deque<dr_slot> slots;  // the open transaction's delivery reports; stable addresses

    ~impl() {
        if (rk) {
            // Drop whatever is still queued: a transaction that did not commit is aborted by the
            // coordinator (timeout or the next init_transactions); nothing half-written is visible.
            auto err = rd_kafka_purge(rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            (void)err;  // purge only fails when not a producer; nothing to do about it here.
            rd_kafka_poll(rk.get(), 0);  // serve the purged reports while `slots` still exists
        }
        if (rkt) rd_kafka_topic_destroy(rkt);
    }
};

txn_producer::txn_producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
txn_producer::~txn_producer() = default;

const std::string& txn_producer::transactional_id() const { return impl_->txn_id; }

std::expected<std::unique_ptr<txn_producer>, txn_error> txn_producer::create(const config& cfg, std::string topic,
                                                                              std::string transactional_id,
                                                                              const options& opts) {
    long t = cfg.timeout.count();
    auto conf = make_conf(cfg, {
                                   {"transactional.id", transactional_id},
                                   {"partitioner", keyed_partitioner},
                                   {"enable.idempotence", "true"},
                                   {"acks", "all"},
                                   {"linger.ms", std::to_string(opts.linger_ms)},
                                   {"socket.nagle.disable", "true"},
                                   {"message.max.bytes", std::to_string(opts.max_message_bytes)},
                                   {"batch.size", std::to_string(std::max<std::size_t>(opts.max_message_bytes, 1000000))},
                                   {"queue.buffering.max.messages", "1000000"},
                                   {"queue.buffering.max.kbytes", "1048576"},
                                   {"message.timeout.ms", std::to_string(std::max<long>(t, 1000))},
                                   {"transaction.timeout.ms", std::to_string(std::max<long>(3 * t, 10000))},
                                   {"compression.type", opts.compression},
                               });
    if (!conf) return std::unexpected(txn_error{conf.error(), txn_outcome::not_committed});
    rd_kafka_conf_set_dr_msg_cb(*conf, dr_cb);
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(txn_error{rk.error(), txn_outcome::not_committed});
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk->get(), static_cast<int>(t)))
        return std::unexpected(from(e, "init_transactions(" + transactional_id + ")", txn_outcome::not_committed));
    auto p = std::make_unique<impl>();
    p->rk = std::move(*rk);
    p->rkt = rd_kafka_topic_new(p->rk.get(), topic.c_str(), nullptr);
    p->topic = std::move(topic);
    p->txn_id = std::move(transactional_id);
    p->timeout = cfg.timeout;
    return std::unique_ptr<txn_producer>(new txn_producer(std::move(p)));
}

namespace {
template <class T>
std::expected<T, txn_error> checked(rd_kafka_t* rk, std::expected<T, txn_error> r) {
    if (!r && fenced_for_good(rk)) r.error().outcome = txn_outcome::fenced;
    return r;
}
}  // namespace

std::expected<void, txn_error> txn_producer::begin() {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(impl_->rk.get()))
        return checked<void>(impl_->rk.get(), std::unexpected(from(e, "begin_transaction", txn_outcome::not_committed)));
    return {};
}

std::expected<std::vector<std::int64_t>, txn_error> txn_producer::produce(std::span<const outgoing> records) {
    return checked(impl_->rk.get(), produce_all(records));
}

std::expected<std::vector<std::int64_t>, txn_error> txn_producer::produce_all(std::span<const outgoing> records) {
    rd_kafka_t* rk = impl_->rk.get();
    auto& slots = impl_->slots;
    slots.clear();
    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
        for (const auto& h : r.headers) {
            auto herr = rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                                            h.value.data(), static_cast<ssize_t>(h.value.size()));
            if (herr) spdlog::warn("header {}: {}", h.name, rd_kafka_err2str(herr));
        }
        auto& slot = slots.emplace_back();
        rd_kafka_resp_err_t err;
        for (;;) {
            err = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(impl_->rkt),
                RD_KAFKA_V_PARTITION(r.partition >= 0 ? r.partition : RD_KAFKA_PARTITION_UA),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
                RD_KAFKA_V_VALUE(const_cast<std::uint8_t*>(r.value.data()), r.value.size()), RD_KAFKA_V_HEADERS(hdrs),
                RD_KAFKA_V_OPAQUE(&slot), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
            rd_kafka_poll(rk, 5);  // the local queue drains as the broker acknowledges
        }
        if (err) {
            rd_kafka_headers_destroy(hdrs);
            slots.pop_back();
            return std::unexpected(txn_error{to_error(err, "produce"), is_fenced(err) ? txn_outcome::fenced
                                                                                       : txn_outcome::not_committed});
        }
    }
    // Every record acknowledged (or failed) before returning: flush serves the delivery reports.
    auto ferr = rd_kafka_flush(rk, static_cast<int>(impl_->timeout.count()));
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR)
        return std::unexpected(txn_error{to_error(ferr, "produce: no acknowledgement in time"), txn_outcome::not_committed});
    std::vector<std::int64_t> offsets;
    offsets.reserve(slots.size());
    for (const auto& s : slots) {
        if (s.err != RD_KAFKA_RESP_ERR_NO_ERROR)
            return std::unexpected(txn_error{to_error(s.err, "produce"),
                                             is_fenced(s.err) ? txn_outcome::fenced : txn_outcome::not_committed});
        offsets.push_back(s.offset);
    }
    return offsets;
}

std::expected<void, txn_error> txn_producer::commit() { return checked(impl_->rk.get(), commit_once()); }

std::expected<void, txn_error> txn_producer::commit_once() {
    rd_kafka_t* rk = impl_->rk.get();
    const int t = static_cast<int>(impl_->timeout.count());
    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(rk, t)) {
        bool abortable = rd_kafka_error_txn_requires_abort(e);
        bool fatal = rd_kafka_error_is_fatal(e);
        auto code = rd_kafka_error_code(e);
        // Abortable: the coordinator was never asked to commit (a produce failed): abort makes it
        // certain. Retriable (timeout) or fatal: the EndTxn may have reached the coordinator.
        auto why = from(e, "commit_transaction", abortable ? txn_outcome::not_committed : txn_outcome::unknown);
        if (fatal && rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            char buf[256];
            if (is_fenced(rd_kafka_fatal_error(rk, buf, sizeof buf))) why.outcome = txn_outcome::fenced;
        }
        (void)code;
        if (abortable) {
            if (auto a = abort(); !a) return std::unexpected(a.error());
        }
        return std::unexpected(why);
    }
    return {};
}

std::expected<void, txn_error> txn_producer::abort() {
    rd_kafka_t* rk = impl_->rk.get();
    const int t = static_cast<int>(impl_->timeout.count());
    if (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk, t))
        return checked<void>(rk, std::unexpected(from(e, "abort_transaction", txn_outcome::unknown)));
    return {};
}

}  // namespace carelog::kafka

// ---------------------------------------------------------------- plain producer

namespace carelog::kafka {
using namespace detail;

struct producer::impl {
    rk_ptr rk;
    std::chrono::milliseconds timeout{5000};
    std::mutex mu;  // one send at a time: each waits for its own delivery report
};

producer::producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
producer::~producer() {
    if (impl_ && impl_->rk) {
        auto err = rd_kafka_flush(impl_->rk.get(), static_cast<int>(impl_->timeout.count()));
        (void)err;  // every send already waited for its report; nothing is left to lose
    }
}

result<std::unique_ptr<producer>> producer::create(const config& cfg) {
    long t = cfg.timeout.count();
    auto conf = make_conf(cfg, {
                                   {"enable.idempotence", "true"},
                                   {"acks", "all"},
                                   {"linger.ms", "0"},
                                   {"partitioner", keyed_partitioner},
                                   {"message.timeout.ms", std::to_string(std::max<long>(t, 1000))},
                               });
    if (!conf) return std::unexpected(conf.error());
    rd_kafka_conf_set_dr_msg_cb(*conf, dr_cb);
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(rk.error());
    auto p = std::make_unique<impl>();
    p->rk = std::move(*rk);
    p->timeout = cfg.timeout;
    return std::unique_ptr<producer>(new producer(std::move(p)));
}

result<std::int64_t> producer::send(const std::string& topic, const std::string& key,
                                    std::span<const std::uint8_t> value, const std::vector<header>& headers) {
    std::lock_guard lock(impl_->mu);
    rd_kafka_t* rk = impl_->rk.get();
    auto owned = std::make_unique<dr_slot>();
    dr_slot& slot = *owned;
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& h : headers) {
        auto herr = rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                                        static_cast<ssize_t>(h.value.size()));
        if (herr) spdlog::warn("header {}: {}", h.name, rd_kafka_err2str(herr));
    }
    auto err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<std::uint8_t*>(value.data()), value.size()),
                                 RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&slot), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        return std::unexpected(to_error(err, "produce to " + topic));
    }
    // message.timeout.ms bounds the wait: the report always comes (success or timeout).
    auto until = std::chrono::steady_clock::now() + impl_->timeout + std::chrono::seconds(2);
    while (slot.err == RD_KAFKA_RESP_ERR__IN_PROGRESS && std::chrono::steady_clock::now() < until)
        rd_kafka_poll(rk, 20);
    if (slot.err == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
        // A late report may still write into the slot: leave it to librdkafka's last report.
        (void)owned.release();  // NOLINT: a few bytes per timed-out send, never freed while referenced
        return fail(errc::unavailable, "no delivery report from " + topic + " in time");
    }
    if (slot.err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::unexpected(to_error(slot.err, "delivery to " + topic));
    return slot.offset;
}

}  // namespace carelog::kafka
