// The transactional producer behind each partition writer. One transaction per batch of commands:
// begin, produce every record to the writer's partition, commit; offsets come from the delivery
// reports, which librdkafka serves while commit_transaction flushes. A transactional.id per
// partition means a newer carelogd's init_transactions fences this one (see docs/architecture.md).
#include <spdlog/spdlog.h>

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

txn_error from(rd_kafka_error_t* e, const std::string& what) {
    txn_error out;
    auto code = rd_kafka_error_code(e);
    out.fenced = is_fenced(code);
    out.err = error::make(errc::unavailable, what + ": " + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return out;
}
}  // namespace

struct txn_producer::impl {
    rk_ptr rk;
    std::string topic;
    int partition = 0;
    std::chrono::milliseconds timeout{5000};
    bool fatal = false;

    ~impl() {
        if (rk) {
            // Drop whatever is still queued: a transaction that did not commit is aborted by the
            // coordinator (timeout or the next init_transactions); nothing half-written is visible.
            auto err = rd_kafka_purge(rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            (void)err;  // purge only fails when not a producer; nothing to do about it here.
        }
    }
};

txn_producer::txn_producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
txn_producer::~txn_producer() = default;

std::expected<std::unique_ptr<txn_producer>, txn_error> txn_producer::create(const config& cfg, std::string topic,
                                                                              int partition,
                                                                              std::string transactional_id) {
    long t = cfg.timeout.count();
    auto conf = make_conf(cfg, {
                                   {"transactional.id", transactional_id},
                                   {"enable.idempotence", "true"},
                                   {"acks", "all"},
                                   {"linger.ms", "0"},
                                   {"message.timeout.ms", std::to_string(std::max<long>(t, 1000))},
                                   {"transaction.timeout.ms", std::to_string(std::max<long>(3 * t, 10000))},
                                   {"compression.type", "lz4"},
                               });
    if (!conf) return std::unexpected(txn_error{conf.error(), false});
    rd_kafka_conf_set_dr_msg_cb(*conf, dr_cb);
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(txn_error{rk.error(), false});
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk->get(), static_cast<int>(t)))
        return std::unexpected(from(e, "init_transactions(" + transactional_id + ")"));
    auto p = std::make_unique<impl>();
    p->rk = std::move(*rk);
    p->topic = std::move(topic);
    p->partition = partition;
    p->timeout = cfg.timeout;
    return std::unique_ptr<txn_producer>(new txn_producer(std::move(p)));
}

std::expected<std::vector<std::int64_t>, txn_error> txn_producer::commit_batch(const std::vector<outgoing>& records) {
    rd_kafka_t* rk = impl_->rk.get();
    const int t = static_cast<int>(impl_->timeout.count());
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) return std::unexpected(from(e, "begin_transaction"));

    std::vector<dr_slot> slots(records.size());
    auto abort = [&](txn_error why) -> std::expected<std::vector<std::int64_t>, txn_error> {
        if (!why.fenced) {
            if (rd_kafka_error_t* e = rd_kafka_abort_transaction(rk, t)) {
                spdlog::warn("abort_transaction: {}", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        }
        return std::unexpected(why);
    };

    for (std::size_t i = 0; i < records.size(); ++i) {
        const auto& r = records[i];
        rd_kafka_headers_t* hdrs = rd_kafka_headers_new(r.headers.size());
        for (const auto& h : r.headers) {
            auto herr = rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                                            h.value.data(), static_cast<ssize_t>(h.value.size()));
            if (herr) spdlog::warn("header {}: {}", h.name, rd_kafka_err2str(herr));
        }
        auto err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(impl_->topic.c_str()), RD_KAFKA_V_PARTITION(impl_->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(const_cast<char*>(r.key.data()), r.key.size()),
            RD_KAFKA_V_VALUE(const_cast<std::uint8_t*>(r.value.data()), r.value.size()),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
        if (err) {
            rd_kafka_headers_destroy(hdrs);
            return abort(txn_error{to_error(err, "produce"), is_fenced(err)});
        }
    }

    if (rd_kafka_error_t* e = rd_kafka_commit_transaction(rk, t)) {
        bool requires_abort = rd_kafka_error_txn_requires_abort(e);
        bool fatal = rd_kafka_error_is_fatal(e);
        auto why = from(e, "commit_transaction");
        if (fatal) {
            impl_->fatal = true;
            if (rd_kafka_fatal_error(rk, nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                char buf[256];
                auto code = rd_kafka_fatal_error(rk, buf, sizeof buf);
                why.fenced = why.fenced || is_fenced(code);
            }
            return std::unexpected(why);
        }
        (void)requires_abort;  // retriable or abortable: either way this batch is not accepted
        return abort(why);
    }
    // commit_transaction flushed and served the delivery reports; be sure every slot is filled.
    for (int spins = 0; spins < 100; ++spins) {
        bool done = true;
        for (const auto& s : slots) done = done && s.err != RD_KAFKA_RESP_ERR__IN_PROGRESS;
        if (done) break;
        rd_kafka_poll(rk, 10);
    }
    std::vector<std::int64_t> offsets;
    offsets.reserve(slots.size());
    for (const auto& s : slots) {
        if (s.err != RD_KAFKA_RESP_ERR_NO_ERROR)
            return std::unexpected(txn_error{to_error(s.err, "delivery report after commit"), false});
        offsets.push_back(s.offset);
    }
    return offsets;
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
