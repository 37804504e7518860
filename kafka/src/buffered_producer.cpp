// The buffered producer (record views): send() only queues; librdkafka batches the records
// (linger.ms), retries them (acks=all, idempotent, message.timeout.ms=0: no record is given up
// for taking long) and a thread of ours serves the delivery reports. Bounded by
// queue.buffering.max.messages, which librdkafka counts over queued and in-flight records: when
// that many are unacknowledged, produce answers QUEUE_FULL at once and send() says unavailable.
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "common.hpp"

namespace carelog::kafka {
using namespace detail;

namespace {
struct counters {
    std::atomic<std::uint64_t> sent{0}, delivered{0}, failed{0};
};

void buffered_dr_cb(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* c = static_cast<counters*>(opaque);
    const auto weight = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(m->_private));
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->delivered.fetch_add(weight, std::memory_order_relaxed);
        return;
    }
    c->failed.fetch_add(weight, std::memory_order_relaxed);
    spdlog::error("record to {} partition {} not delivered: {}", m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                  m->partition, rd_kafka_err2str(m->err));
}
}  // namespace

struct buffered_producer::impl {
    counters c;
    rk_ptr rk;
    rd_kafka_topic_t* rkt = nullptr;
    std::string topic;
    std::chrono::milliseconds timeout{5000};
    std::atomic<bool> stopping{false};
    std::thread poller;

    ~impl() {
        stopping = true;
        if (poller.joinable()) poller.join();
        if (rk) {
            if (rd_kafka_flush(rk.get(), static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR)
                spdlog::error("{}: {} records not acknowledged at shutdown are dropped", topic,
                              rd_kafka_outq_len(rk.get()));
            rd_kafka_purge(rk.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(rk.get(), 0);
        }
        if (rkt) rd_kafka_topic_destroy(rkt);
    }
};

buffered_producer::buffered_producer(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
buffered_producer::~buffered_producer() = default;

result<std::unique_ptr<buffered_producer>> buffered_producer::create(const config& cfg, std::string topic,
                                                                     const options& opts) {
    auto p = std::make_unique<impl>();
    auto conf = make_conf(cfg, {
                                   {"enable.idempotence", "true"},
                                   {"partitioner", keyed_partitioner},
                                   {"acks", "all"},
                                   {"linger.ms", std::to_string(opts.linger_ms)},
                                   {"socket.nagle.disable", "true"},
                                   {"message.timeout.ms", "0"},
                                   {"queue.buffering.max.messages", std::to_string(std::max<std::size_t>(opts.max_buffered, 1))},
                                   {"compression.type", opts.compression},
                               });
    if (!conf) return std::unexpected(conf.error());
    rd_kafka_conf_set_dr_msg_cb(*conf, buffered_dr_cb);
    rd_kafka_conf_set_opaque(*conf, &p->c);
    auto rk = make_client(RD_KAFKA_PRODUCER, *conf);
    if (!rk) return std::unexpected(rk.error());
    p->rk = std::move(*rk);
    p->rkt = rd_kafka_topic_new(p->rk.get(), topic.c_str(), nullptr);
    p->topic = std::move(topic);
    p->timeout = cfg.timeout;
    impl* raw = p.get();
    p->poller = std::thread([raw] {
        while (!raw->stopping.load(std::memory_order_relaxed)) rd_kafka_poll(raw->rk.get(), 100);
    });
    return std::unique_ptr<buffered_producer>(new buffered_producer(std::move(p)));
}

result<void> buffered_producer::send(std::string_view key, std::span<const std::uint8_t> value,
                                     const std::vector<header>& headers, std::size_t weight) {
    rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
    for (const auto& h : headers)
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
    auto err = rd_kafka_producev(impl_->rk.get(), RD_KAFKA_V_RKT(impl_->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<std::uint8_t*>(value.data()), value.size()),
                                 RD_KAFKA_V_HEADERS(hdrs),
                                 RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(weight))),
                                 RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        impl_->c.sent.fetch_add(weight, std::memory_order_relaxed);
        return {};
    }
    rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return fail(errc::unavailable, impl_->topic + ": the buffer of unacknowledged records is full");
    return std::unexpected(to_error(err, "produce to " + impl_->topic));
}

buffered_producer::counts buffered_producer::stats() const {
    // Counted by us (no librdkafka call): sent minus reported; delivered and failed are read first,
    // so a report racing with this never makes the difference negative.
    const auto delivered = impl_->c.delivered.load(std::memory_order_acquire);
    const auto failed = impl_->c.failed.load(std::memory_order_acquire);
    const auto sent = impl_->c.sent.load(std::memory_order_acquire);
    return {delivered, failed, static_cast<std::size_t>(sent >= delivered + failed ? sent - delivered - failed : 0)};
}

}  // namespace carelog::kafka
