#include "carelog/audit/view_sink.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <span>
#include <unordered_map>
#include <utility>

#include "carelog/base/metric_text.hpp"
#include "carelog/base/thread_name.hpp"

namespace carelog::audit {

namespace {
// The drain thread wakes at least this often, and at once when this many views wait. Every drain
// sends one record per agency (cut at record_bytes): at tens of thousands of reads a second, the
// broker and both clients handle tens of records a second instead of that many views. Most of a
// view's cost beyond its own bytes is per record and per request (the broker's produce and fetch
// handling, the consumer, the audit model's entries per record), so a longer interval costs less
// CPU per read, and keeps views longer in memory, where a crash loses them.
constexpr auto drain_every = std::chrono::milliseconds(500);
constexpr std::size_t drain_at = 32768;
// A record's views, as the sum of their strings plus a table each, stay under this: the encoded
// record is smaller (repeated strings are stored once) and far under message.max.bytes (1 MB).
constexpr std::size_t record_bytes = 512 * 1024;
constexpr std::size_t view_table_bytes = 128;

// A view in the arena: the length of the rest, occurred_at, item_count, then each string as its
// length and bytes. The length bounds what the view adds to a record without parsing it.
template <class T>
T take(std::string_view& rest) {
    T v;
    std::memcpy(&v, rest.data(), sizeof v);
    rest.remove_prefix(sizeof v);
    return v;
}
std::string_view take_text(std::string_view& rest) {
    const auto n = take<std::uint32_t>(rest);
    auto s = rest.substr(0, n);
    rest.remove_prefix(n);
    return s;
}
constexpr std::size_t view_strings = 12;
constexpr std::size_t view_fixed_bytes = sizeof(micros) + sizeof(int) + view_strings * sizeof(std::uint32_t);
// Appends with one resize: this runs on a request's thread, under the arena's lock.
void append_view(std::string& a, const events::record_viewed_ref& v) {
    const std::array<std::string_view, view_strings> texts{v.agency_id, v.actor_kind, v.actor_id,   v.subject_type,
                                                           v.subject_id, v.record_type, v.record_id, v.resource,
                                                           v.query,     v.address,     v.user_agent, v.request_id};
    std::size_t size = view_fixed_bytes;
    for (auto t : texts) size += t.size();
    const auto at = a.size();
    a.resize(at + sizeof(std::uint32_t) + size);
    char* out = a.data() + at;
    auto put = [&](const void* p, std::size_t n) {
        std::memcpy(out, p, n);
        out += n;
    };
    const auto rest = static_cast<std::uint32_t>(size);
    put(&rest, sizeof rest);
    put(&v.occurred_at, sizeof v.occurred_at);
    put(&v.item_count, sizeof v.item_count);
    for (auto t : texts) {
        const auto n = static_cast<std::uint32_t>(t.size());
        put(&n, sizeof n);
        put(t.data(), t.size());
    }
}
// The view whose entry starts at `entry` (its length first).
events::record_viewed_ref view_at(std::string_view entry) {
    entry.remove_prefix(sizeof(std::uint32_t));
    events::record_viewed_ref v;
    v.occurred_at = take<micros>(entry);
    v.item_count = take<int>(entry);
    for (auto* s : {&v.agency_id, &v.actor_kind, &v.actor_id, &v.subject_type, &v.subject_id, &v.record_type,
                    &v.record_id, &v.resource, &v.query, &v.address, &v.user_agent, &v.request_id})
        *s = take_text(entry);
    return v;
}
}  // namespace

result<std::unique_ptr<kafka_view_sink>> kafka_view_sink::create(const kafka::config& cfg, const options& opts) {
    if (auto t = kafka::ensure_topic(cfg, cfg.access_topic()); !t) return std::unexpected(t.error());
    auto p = kafka::buffered_producer::create(cfg, cfg.access_topic(), {opts.max_buffered, opts.linger_ms, "lz4"});
    if (!p) return std::unexpected(p.error());
    return std::unique_ptr<kafka_view_sink>(new kafka_view_sink(std::move(*p), opts));
}

kafka_view_sink::kafka_view_sink(std::unique_ptr<kafka::buffered_producer> p, options o)
    : out_(std::move(p)), opts_(o) {
    randombytes_buf(node_random_.data(), node_random_.size());
    thread_ = std::thread([this] {
        name_this_thread("views-drain");
        run();
    });
}

kafka_view_sink::~kafka_view_sink() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    // out_'s destructor waits for the broker's acknowledgements (bounded).
}

result<void> kafka_view_sink::record(const events::record_viewed_ref& v) {
    const std::size_t on_the_way = queued_.load(std::memory_order_relaxed) + out_->stats().buffered;
    if (on_the_way >= opts_.max_buffered) {
        if (opts_.fail_closed) {
            refused_.fetch_add(1, std::memory_order_relaxed);
            return fail(errc::unavailable, "the buffer of record views waiting for the access topic is full");
        }
        if (dropped_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0)
            spdlog::error("record view of {} by {} not recorded (fail-closed is off): the access topic's buffer is full",
                          v.subject_id, v.actor_id);
        return {};
    }
    std::size_t waiting;
    {
        std::lock_guard lock(mu_);
        append_view(arena_, v);
        waiting = ++arena_views_;
    }
    queued_.fetch_add(1, std::memory_order_relaxed);
    if (waiting == drain_at) wake_.notify_one();
    return {};
}

void kafka_view_sink::run() {
    // Slightly below the request threads: a drain is a burst of a few milliseconds every 500 ms,
    // which should not hold up a request; the bound on views on their way keeps it from falling
    // behind for long (record() refuses beyond it).
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 5) != 0)
        spdlog::warn("record views: could not lower the drain thread's priority");
    std::string batch;  // swapped with the arena: both keep their capacity
    for (;;) {
        bool stop;
        std::size_t n;
        {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, drain_every, [&] { return stopping_ || arena_views_ >= drain_at; });
            batch.swap(arena_);
            n = std::exchange(arena_views_, 0);
            stop = stopping_;
        }
        if (n > 0) send(batch, n);
        batch.clear();
        if (stop) return;
    }
}

void kafka_view_sink::send(std::string_view arena, std::size_t n) {
    static const std::vector<kafka::header> headers{{"event-type", "RecordViews"},
                                                    {"schema-version", "1"},
                                                    {"content-type", events::access_content_type}};
    // UUIDv7 ids (RFC 9562, a counter in the random bits, "method 1"): 48 bits of the drain's
    // millisecond, a 30-bit counter over rand_a and the top of rand_b that never goes back within
    // this process, and 44 random bits fixed per process. Ids of one node are unique and in the order
    // the node served the views; two nodes' ids share their random bits with odds of 2^-44 per
    // millisecond both drain in, and then also need the same counter value. Consecutive ids differ in
    // a few characters, so a record of views compresses well.
    const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
    std::string ids(n * 36, '-');
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t count = counter_++ & 0x3FFFFFFF;
        unsigned char b[16];
        for (int k = 0; k < 6; ++k) b[k] = static_cast<unsigned char>(ms >> (8 * (5 - k)));
        b[6] = static_cast<unsigned char>(0x70 | (count >> 26));           // version 7, counter bits 29-26
        b[7] = static_cast<unsigned char>(count >> 18);                    // counter bits 25-18
        b[8] = static_cast<unsigned char>(0x80 | ((count >> 12) & 0x3F));  // variant 10, counter bits 17-12
        b[9] = static_cast<unsigned char>(count >> 4);                     // counter bits 11-4
        b[10] = static_cast<unsigned char>((count & 0xF) << 4 | (node_random_[0] & 0xF));
        std::copy_n(node_random_.begin() + 1, 5, b + 11);
        static constexpr char hex[] = "0123456789abcdef";
        char* id = ids.data() + i * 36;
        for (int k = 0, at = 0; k < 16; ++k) {
            if (k == 4 || k == 6 || k == 8 || k == 10) ++at;  // the '-' already there
            id[at++] = hex[b[k] >> 4];
            id[at++] = hex[b[k] & 0xF];
        }
    }
    // One pass over the arena in the order the views were served, each view added to its agency's
    // record as it is read (the arena is read once, front to back, while a record is built per
    // agency); a record is sent when the next view could take it past record_bytes, and every
    // agency's last one at the end.
    struct open_record {
        std::size_t bytes = 0;  // the bound of the views added
        events::views_encoder* encoder = nullptr;
    };
    std::unordered_map<std::string_view, open_record> open;
    std::size_t used = 0;  // encoders_ in use by this drain
    auto send_record = [&](std::string_view agency_id, open_record& r) {
        const auto record = r.encoder->finish();
        const auto views = r.encoder->size();
        const std::string agency(agency_id);
        // Counted as on the producer's side before leaving this queue, so the total on its way
        // never looks smaller than it is.
        if (auto sent = out_->send(agency, record, headers, views); !sent) {
            // The reads were answered: these views are lost. Never expected (record() keeps the
            // total on its way under the producer's own bound), so it is loud.
            unsent_.fetch_add(views, std::memory_order_relaxed);
            spdlog::error("{} record views of agency {} could not be queued for the access topic: {}", views, agency,
                          sent.error().detail);
        }
        queued_.fetch_sub(views, std::memory_order_relaxed);
        r.encoder->reset();
        r.bytes = 0;
    };
    std::string_view rest = arena;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t size;
        std::memcpy(&size, rest.data(), sizeof size);
        auto v = view_at(rest.substr(0, sizeof size + size));
        rest.remove_prefix(sizeof size + size);
        v.view_id = std::string_view(ids.data() + i * 36, 36);
        auto [at, fresh] = open.try_emplace(v.agency_id);
        auto& r = at->second;
        if (fresh) {
            if (used == encoders_.size()) encoders_.push_back(std::make_unique<events::views_encoder>());
            r.encoder = encoders_[used++].get();
            r.encoder->reset();
        }
        // What the view adds to the record at most: its table, its id and its strings (a repeated
        // string is stored once).
        const std::size_t most = view_table_bytes + 36 + size;
        if (r.bytes > 0 && r.bytes + most > record_bytes) send_record(v.agency_id, r);
        r.encoder->add(v);
        r.bytes += most;
    }
    for (auto& [agency, r] : open)
        if (r.encoder->size() > 0) send_record(agency, r);
}

std::string kafka_view_sink::metrics_text() const {
    auto c = out_->stats();
    auto line = metric_text::single<std::uint64_t>;
    std::string out;
    line(out, "carelog_access_views_delivered_total", "counter", "Record views acknowledged by the access topic.",
         c.delivered);
    line(out, "carelog_access_views_failed_total", "counter",
         "Record views lost: refused for good by the broker or not queued for it (each logged).",
         c.failed + unsent_.load(std::memory_order_relaxed));
    line(out, "carelog_access_views_buffered", "gauge",
         "Record views on their way: queued on this node or not yet acknowledged by the broker.",
         queued_.load(std::memory_order_relaxed) + c.buffered);
    line(out, "carelog_access_reads_refused_total", "counter",
         "Reads answered 503 because their view could not be recorded.", refused_.load(std::memory_order_relaxed));
    line(out, "carelog_access_views_dropped_total", "counter", "Record views dropped with fail-closed off.",
         dropped_.load(std::memory_order_relaxed));
    return out;
}

}  // namespace carelog::audit
