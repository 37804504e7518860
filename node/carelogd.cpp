// carelogd: the carelog server, and the one place that knows every room. Wires the pieces of
// docs/architecture.md together: topic check -> projections consumer -> write engine -> HTTP
// server (and the notifier); SIGTERM stops them in the reverse order, letting in-flight commands finish.
#include <CLI/CLI.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include <jemalloc/jemalloc.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "carelog/api/app.hpp"
#include "carelog/audit/access_runner.hpp"
#include "carelog/audit/view_sink.hpp"
#include "carelog/base/stoppable_sleep.hpp"
#include "carelog/notify/kafka_notification_sink.hpp"
#include "carelog/notify/notifier.hpp"
#include "carelog/api/server.hpp"
#include "carelog/api/static_files.hpp"
#include "carelog/api/writer_gateway.hpp"
#include "carelog/writer/engine.hpp"
#include "carelog/writer/placement.hpp"
#include "carelog/kafka/kafka.hpp"
#include "carelog/projections/quiet_merge.hpp"
#include "carelog/projections/runner.hpp"
#include "carelog/projections/store.hpp"

using namespace carelog;

// jemalloc reads these at its first allocation (MALLOC_CONF in the environment overrides them).
// Free pages go back to the system after 1 s instead of 10 s, by one thread of jemalloc's own
// instead of whichever thread allocates next: a rebuild frees fetched records, write batches and
// snapshot rounds as fast as it allocates them, and its peak was 20-75 MiB lower with no slower
// rebuild (docs/performance.md, "The allocator's free pages returned by its own thread").
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's
const char* malloc_conf = "background_thread:true,max_background_threads:1,dirty_decay_ms:1000";
}

namespace {

// The write engine's snapshots live in the node's local state of the projection store.
class local_snapshots final : public writer::snapshot_store {
public:
    explicit local_snapshots(projections::store& s) : store_(s) {}
    std::optional<std::string> get(const std::string& ns, const std::string& key) const override {
        return store_.get_local(ns, key);
    }
    std::vector<std::pair<std::string, std::string>> scan(const std::string& ns,
                                                          const std::string& prefix) const override {
        return store_.scan_local(ns, prefix);
    }
    void each(const std::string& ns, const std::string& prefix,
              const std::function<void(std::string_view, std::string_view)>& fn) const override {
        store_.each_local(ns, prefix, fn);
    }
    result<void> put(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs) override {
        return store_.put_local(ns, kvs);
    }
    result<void> put_all(const writer::namespaced_entries& batches) override { return store_.put_local(batches); }

private:
    projections::store& store_;
};

// Retries `f` while it fails with errc::unavailable, up to `limit`; other errors return at once.
template <class F>
auto with_retry(const char* what, std::chrono::seconds limit, F f) {
    auto until = std::chrono::steady_clock::now() + limit;
    auto pause = std::chrono::milliseconds(100);  // doubling to a second: a broker starting up is ready soon
    for (;;) {
        auto r = f();
        if (r || r.error().code != errc::unavailable || std::chrono::steady_clock::now() > until) return r;
        if (pause >= std::chrono::milliseconds(400))
            spdlog::warn("{}: {} (retrying)", what, r.error().detail);
        else
            spdlog::debug("{}: {} (retrying)", what, r.error().detail);
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(1000));
    }
}

// CARELOG_SECRET_KEY, else <data dir>/secret.key, else a fresh key written there (mode 0600).
// Losing it makes sealed TOTP secrets unopenable (staff re-enrol) and sealed notifications unreadable.
result<secret_key> load_secret_key(const std::string& given, const std::string& data_dir) {
    if (!given.empty()) return secret_key_from_hex(given);
    const auto path = std::filesystem::path(data_dir) / "secret.key";
    if (std::filesystem::exists(path)) {
        std::ifstream in(path);
        std::string hex;
        in >> hex;
        auto k = secret_key_from_hex(hex);
        if (!k) return fail(errc::internal, path.string() + " does not hold 64 hex digits");
        return k;
    }
    std::string hex = random_token();  // 43 base64url characters: derive 32 bytes of hex from fresh randomness
    hex = token_hash(hex);             // 64 hex digits of SHA-256 over 256 random bits
    auto old = ::umask(077);
    {
        std::ofstream out(path, std::ios::trunc);
        out << hex << "\n";
        if (!out) {
            ::umask(old);
            return fail(errc::internal, "cannot write " + path.string());
        }
    }
    ::umask(old);
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    spdlog::warn("no CARELOG_SECRET_KEY: generated one into {} (keep it with the data dir; every carelogd of this "
                 "topic and the notifier need the same key)",
                 path.string());
    return secret_key_from_hex(hex);
}

std::string bucket_text(const api::bucket_limit& b) {
    return std::to_string(static_cast<long long>(b.burst)) + "/" + std::to_string(static_cast<long long>(b.per_minute));
}

std::optional<api::bucket_limit> parse_bucket(const std::string& text) {
    auto slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    try {
        std::size_t a = 0, b = 0;
        double burst = std::stod(text.substr(0, slash), &a);
        double per_minute = std::stod(text.substr(slash + 1), &b);
        if (a != slash || b != text.size() - slash - 1 || burst < 0 || per_minute < 0) return std::nullopt;
        return api::bucket_limit{burst, per_minute};
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"carelogd: event-sourced admin core for behavioral-health agencies"};
    std::string http_addr = "127.0.0.1:8080", brokers = "127.0.0.1:9092", prefix = "carelog.",
                data_dir = "var/data", operator_key, secret_key_hex, smtp_url, smtp_from = "carelog@localhost", public_url, log_level = "info", web_dir;
    int partitions = 12, replication = 1, min_isr = 1, kafka_timeout_ms = 5000, io_threads = 2, projection_threads = 0,
        writer_groups = 1, start_wait_s = 60, writer_gather_ms = 40, writer_gather_batch = 512, quiet_merge_ms = 5000,
        page_cache_mb = static_cast<int>(projections::default_page_cache_bytes >> 20);
    app.add_option("--http-addr", http_addr, "address:port to listen on")->envname("CARELOG_HTTP_ADDR");
    app.add_option("--brokers", brokers, "Kafka bootstrap servers")->envname("CARELOG_BROKERS");
    app.add_option("--topic-prefix", prefix, "prefix of carelog's topics")->envname("CARELOG_TOPIC_PREFIX");
    app.add_option("--data-dir", data_dir, "RocksDB projections and local state")->envname("CARELOG_DATA_DIR");
    app.add_option("--operator-key", operator_key, "platform operator key")->envname("CARELOG_OPERATOR_KEY");
    app.add_option("--secret-key", secret_key_hex, "64 hex digits sealing TOTP secrets and notifications")
        ->envname("CARELOG_SECRET_KEY");
    app.add_option("--smtp-url", smtp_url,
                   "SMTP server (smtp://host:port, smtps://...) this node delivers notifications to; empty = this "
                   "node sends no mail")
        ->envname("CARELOG_SMTP_URL");
    app.add_option("--smtp-from", smtp_from, "sender address of notification e-mails")->envname("CARELOG_SMTP_FROM");
    app.add_option("--public-url", public_url, "public base URL of this server")->envname("CARELOG_PUBLIC_URL");
    app.add_option("--web-dir", web_dir,
                   "the built web console (index.html and assets/); default: ../web beside this binary when it is in a bin folder (build/bin -> build/web)")
        ->envname("CARELOG_WEB_DIR");
    app.add_option("--partitions", partitions, "partitions when creating the event topic")
        ->envname("CARELOG_PARTITIONS");
    app.add_option("--replication-factor", replication, "replication factor when creating topics")
        ->envname("CARELOG_REPLICATION_FACTOR");
    app.add_option("--min-insync-replicas", min_isr, "min.insync.replicas of created topics")
        ->envname("CARELOG_MIN_INSYNC_REPLICAS");
    app.add_option("--kafka-timeout-ms", kafka_timeout_ms, "bounded wait for Kafka before answering 503")
        ->envname("CARELOG_KAFKA_TIMEOUT_MS");
    app.add_option("--io-threads", io_threads)->envname("CARELOG_IO_THREADS");
    app.add_option("--projection-threads", projection_threads,
                   "threads applying a large backlog to the projections, each its own partitions (0: one per core)")
        ->envname("CARELOG_PROJECTION_THREADS");
    app.add_option("--writer-groups", writer_groups,
                   "partition groups of the write engine: one lane (thread, transactional ids) each; fixed per topic")
        ->envname("CARELOG_WRITER_GROUPS");
    app.add_option("--writer-gather-ms", writer_gather_ms,
                   "under load, a lane takes its queue at most this often: fewer, larger transactions (0: at once)")
        ->envname("CARELOG_WRITER_GATHER_MS")
        ->capture_default_str();
    app.add_option("--writer-gather-batch", writer_gather_batch,
                   "commands queued that end a lane's gathering early: a transaction's worth")
        ->envname("CARELOG_WRITER_GATHER_BATCH")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    app.add_option("--quiet-merge-ms", quiet_merge_ms,
                   "once no record has been applied for this long, the families reads use are merged into one "
                   "sorted run each (0: never)")
        ->envname("CARELOG_QUIET_MERGE_MS")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--page-cache-mb", page_cache_mb,
                   "memory for listing pages kept until their agency's next change (0: none kept)")
        ->envname("CARELOG_PAGE_CACHE_MB")
        ->check(CLI::Range(0, 4096))
        ->capture_default_str();
    app.add_option("--start-wait-s", start_wait_s, "how long to wait for Kafka at start")
        ->envname("CARELOG_START_WAIT_S");
    app.add_option("--log-level", log_level)->envname("CARELOG_LOG_LEVEL");
    // Abuse limits per node, as "burst/per_minute" (0/0 = unlimited); docs/security.md.
    api::rate_limit_config limits;
    std::map<std::string, std::pair<api::bucket_limit*, std::string>> bucket_options{
        {"--limit-login-account", {&limits.login_per_account, "CARELOG_LIMIT_LOGIN_ACCOUNT"}},
        {"--limit-login-address", {&limits.login_per_address, "CARELOG_LIMIT_LOGIN_ADDRESS"}},
        {"--limit-reset-address", {&limits.reset_per_address, "CARELOG_LIMIT_RESET_ADDRESS"}},
        {"--limit-registration-address", {&limits.registration_per_address, "CARELOG_LIMIT_REGISTRATION_ADDRESS"}},
        {"--limit-anonymous-address", {&limits.anonymous_per_address, "CARELOG_LIMIT_ANONYMOUS_ADDRESS"}},
        {"--limit-unknown-logins-agency", {&limits.unknown_logins_per_agency, "CARELOG_LIMIT_UNKNOWN_LOGINS_AGENCY"}},
    };
    std::map<std::string, std::string> bucket_texts;
    for (auto& [flag, target] : bucket_options) {
        auto& text = bucket_texts[flag];
        text = bucket_text(*target.first);
        app.add_option(flag, text, "burst/per_minute")->envname(target.second)->capture_default_str();
    }
    int password_check_wait_ms = static_cast<int>(limits.password_check_wait.count());
    app.add_option("--password-checks", limits.password_checks, "Argon2id verifications running at once")
        ->envname("CARELOG_PASSWORD_CHECKS");
    app.add_option("--password-check-wait-ms", password_check_wait_ms,
                   "longest wait for a password check slot before 503")
        ->envname("CARELOG_PASSWORD_CHECK_WAIT_MS");
    std::string access_brokers;
    audit::kafka_view_sink::options view_opts;
    app.add_option("--access-brokers", access_brokers,
                   "Kafka bootstrap servers of the access topic (record views); default: --brokers")
        ->envname("CARELOG_ACCESS_BROKERS");
    app.add_option("--access-buffer", view_opts.max_buffered,
                   "record views not yet acknowledged by the access topic before reads answer 503")
        ->envname("CARELOG_ACCESS_BUFFER")
        ->capture_default_str();
    app.add_option("--audit-fail-closed", view_opts.fail_closed,
                   "answer 503 rather than serve a read whose view cannot be recorded (false: drop and count it)")
        ->envname("CARELOG_AUDIT_FAIL_CLOSED")
        ->capture_default_str();
    api::config http_limits;
    app.add_option("--max-connections", http_limits.max_connections,
                   "open HTTP connections in total; more are closed at accept")
        ->envname("CARELOG_MAX_CONNECTIONS")
        ->capture_default_str();
    app.add_option("--max-connections-per-address", http_limits.max_connections_per_address,
                   "open HTTP connections from one source address; more are closed at accept")
        ->envname("CARELOG_MAX_CONNECTIONS_PER_ADDRESS")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    for (auto& [flag, target] : bucket_options) {
        auto parsed = parse_bucket(bucket_texts[flag]);
        if (!parsed) {
            std::fprintf(stderr, "%s (%s): expected burst/per_minute, e.g. 10/10, got '%s'\n", flag.c_str(),
                         target.second.c_str(), bucket_texts[flag].c_str());
            return 2;
        }
        *target.first = *parsed;
    }
    limits.password_check_wait = std::chrono::milliseconds(password_check_wait_ms);

    // One asynchronous logger: a request thread formats its line into a bounded queue and goes on;
    // a logging thread writes it. When the queue is full the oldest lines are dropped (counted by
    // spdlog), never the request made to wait. The guard drains the queue on every way out of main.
    spdlog::init_thread_pool(16384, 1);
    spdlog::set_default_logger(std::make_shared<spdlog::async_logger>(
        "carelogd", std::make_shared<spdlog::sinks::stdout_color_sink_mt>(), spdlog::thread_pool(),
        spdlog::async_overflow_policy::overrun_oldest));
    struct drain_log_at_exit {
        ~drain_log_at_exit() { spdlog::shutdown(); }
    } drain_log;
    spdlog::set_level(spdlog::level::from_str(log_level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);

    auto colon = http_addr.rfind(':');
    if (colon == std::string::npos) {
        spdlog::critical("CARELOG_HTTP_ADDR must be host:port, got '{}'", http_addr);
        return 2;
    }
    api::server_options sopts;
    sopts.address = http_addr.substr(0, colon);
    sopts.port = static_cast<std::uint16_t>(std::stoi(http_addr.substr(colon + 1)));
    sopts.io_threads = io_threads;
    if (public_url.empty()) public_url = "http://" + http_addr;
    if (operator_key.empty())
        spdlog::warn("no CARELOG_OPERATOR_KEY: agencies cannot be created and operator requests are refused");

    kafka::config kcfg;
    kcfg.brokers = brokers;
    kcfg.topic_prefix = prefix;
    kcfg.partitions = partitions;
    kcfg.replication_factor = replication;
    kcfg.min_insync_replicas = min_isr;
    kcfg.timeout = std::chrono::milliseconds(kafka_timeout_ms);

    std::filesystem::create_directories(data_dir);
    auto store = projections::store::open(data_dir + "/store");
    if (!store) {
        spdlog::critical("cannot open the projection store in {}: {}", data_dir, store.error().detail);
        return 2;
    }
    (*store)->keep_pages(static_cast<std::size_t>(page_cache_mb) << 20);
    // A data dir belongs to one topic: offsets of another topic would skip or repeat events.
    const std::string topic = kcfg.events_topic();
    if (auto bound = (*store)->get_local("node", "topic"); bound && *bound != topic) {
        spdlog::critical("data dir {} holds projections of topic {}, not {}; use another CARELOG_DATA_DIR",
                         data_dir, *bound, topic);
        return 2;
    } else if (!bound) {
        if (auto r = (*store)->put_local("node", {{"topic", topic}}); !r) {
            spdlog::critical("cannot write to {}: {}", data_dir, r.error().detail);
            return 2;
        }
    }

    auto n = with_retry("checking the event topic",
                        std::chrono::seconds(start_wait_s), [&] { return kafka::ensure_topic(kcfg, topic); });
    if (!n) {
        spdlog::critical("refusing to start: {}", n.error().detail);
        return 3;
    }
    spdlog::info("event topic {} has {} partitions", topic, *n);
    // Agencies live at murmur2(id) % partitions: a changed count would hand them to writers without
    // their history. The count this data dir was built with, and the log's own tail, must agree.
    if (auto seen = (*store)->get_local("node", "partitions"); seen && *seen != std::to_string(*n)) {
        spdlog::critical("refusing to start: topic {} has {} partitions, but this data dir was built with {}; "
                         "the partition count of the event topic must never change",
                         topic, *n, *seen);
        return 3;
    }
    auto placed = with_retry("checking where agencies live", std::chrono::seconds(start_wait_s),
                             [&] { return writer::check_placement(kcfg, *n); });
    if (!placed) {
        spdlog::critical("refusing to start: {}", placed.error().detail);
        return 3;
    }
    if (auto r = (*store)->put_local("node", {{"partitions", std::to_string(*n)}}); !r) {
        spdlog::critical("cannot write to {}: {}", data_dir, r.error().detail);
        return 2;
    }
    auto key = load_secret_key(secret_key_hex, data_dir);
    if (!key) {
        spdlog::critical("CARELOG_SECRET_KEY: {}", key.error().detail);
        return 2;
    }
    constexpr std::int64_t notification_retention_ms = 7LL * 24 * 3600 * 1000;
    auto nt = with_retry("checking the notifications topic", std::chrono::seconds(start_wait_s), [&] {
        return kafka::ensure_notifications_topic(kcfg, kcfg.notifications_topic(), notification_retention_ms);
    });
    if (!nt) {
        spdlog::critical("refusing to start: {}", nt.error().detail);
        return 3;
    }
    auto sink = notify::kafka_notification_sink::create(kcfg, *key);
    if (!sink) {
        spdlog::critical("cannot create the notifications producer: {}", sink.error().detail);
        return 3;
    }

    // Record views: the access topic (on the event brokers unless told otherwise), its producer
    // with a bounded buffer, and the consumer feeding the audit read model.
    kafka::config access_cfg = kcfg;
    if (!access_brokers.empty()) access_cfg.brokers = access_brokers;
    auto views = with_retry("checking the access topic", std::chrono::seconds(start_wait_s),
                            [&] { return audit::kafka_view_sink::create(access_cfg, view_opts); });
    if (!views) {
        spdlog::critical("refusing to start: {}", views.error().detail);
        return 3;
    }
    audit::access_runner access(access_cfg, **store);
    if (auto r = with_retry("starting the audit consumer", std::chrono::seconds(start_wait_s), [&] { return access.start(); });
        !r) {
        spdlog::critical("cannot start the audit consumer: {}", r.error().detail);
        return 3;
    }

    system_clock clock;
    random_ids ids;
    projections::runner runner(kcfg, *n, **store, clock, projection_threads);
    if (auto r = with_retry("starting projections", std::chrono::seconds(start_wait_s), [&] { return runner.start(); });
        !r) {
        spdlog::critical("cannot start the projection consumer: {}", r.error().detail);
        return 3;
    }
    std::optional<projections::quiet_merge> merge_when_quiet;
    if (quiet_merge_ms > 0)
        merge_when_quiet.emplace(**store, projections::quiet_merge::options{std::chrono::milliseconds(quiet_merge_ms)});
    local_snapshots snapshots(**store);
    writer::engine_options wopts;
    wopts.groups = writer_groups;
    wopts.gather = std::chrono::milliseconds(writer_gather_ms);
    wopts.gather_batch = static_cast<std::size_t>(writer_gather_batch);
    writer::engine bus(kcfg, *n, snapshots, clock, ids, wopts);
    api::writer_gateway commands(bus);
    std::unique_ptr<notify::notifier> mailer;
    if (!smtp_url.empty()) {
        notify::notifier_options nopts;
        nopts.kafka = kcfg;
        nopts.key = *key;
        nopts.smtp_url = smtp_url;
        nopts.from = smtp_from;
        mailer = std::make_unique<notify::notifier>(nopts);
        if (auto r = mailer->start(); !r) {
            spdlog::critical("cannot start the notifier: {}", r.error().detail);
            return 3;
        }
    } else {
        spdlog::warn("no CARELOG_SMTP_URL: this node sends no e-mail; notifications wait on {} for a node that does",
                     kcfg.notifications_topic());
    }
    runner.set_extra_metrics([&] {
        return bus.metrics_text() + (mailer ? mailer->metrics_text() : std::string()) + (*views)->metrics_text() +
               access.metrics_text() + (merge_when_quiet ? merge_when_quiet->metrics_text() : std::string()) +
               (*store)->page_cache_metrics_text();
    });
    bus.start();
    // Once this node has caught up with the log, what the catch-up filled goes back to the system:
    // the store's memtables are flushed, and the heap's free pages returned. The catch-up freed
    // most of what it allocated (records, write batches, the writer's aggregates up to each of its
    // snapshots); jemalloc returns such pages by itself only as later allocations pass by, so they
    // are purged here at once. Readiness is a flag each applier and lane
    // sets on its own thread, announced to no one, so this thread looks at the two flags every
    // 100 ms (a stop ends the wait at once).
    std::jthread trim_after_catch_up([&](std::stop_token stop) {
        while (!(runner.ready() && bus.caught_up()))
            if (!sleep_unless_stopped(stop, std::chrono::milliseconds(100))) return;
        const auto resident_mib = [] {
            std::ifstream status("/proc/self/status");
            for (std::string line; std::getline(status, line);)
                if (line.starts_with("VmRSS:")) return std::stol(line.substr(6)) / 1024;
            return 0L;
        };
        const long before = resident_mib();
        if (auto r = (**store).flush_memtables(); !r) spdlog::warn("caught up with the log: {}", r.error().detail);
        const std::string purge_all = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
        if (mallctl(purge_all.c_str(), nullptr, nullptr, nullptr, 0) != 0)
            spdlog::warn("caught up with the log: the allocator did not purge its free pages");
        spdlog::info("caught up with the log: {} MiB resident, {} MiB after returning the heap's free pages", before,
                     resident_mib());
    });

    api::metrics m;
    api::config acfg;
    acfg.operator_key = operator_key;
    acfg.max_connections = http_limits.max_connections;
    acfg.max_connections_per_address = http_limits.max_connections_per_address;
    acfg.public_url = public_url;
    acfg.server_key = *key;
    acfg.limits = limits;
    api::app_context ctx{acfg, commands, runner, **store, clock, ids, m, sink->get()};
    ctx.views = views->get();
    {
        // By default the console beside the install: <prefix>/bin/carelogd serves <prefix>/web, as
        // build/bin/carelogd serves build/web. A binary outside a bin folder (a copy under var/ for
        // an A/B run) has no default, so it never serves whatever web/ its parent folder holds.
        std::error_code ec;
        const bool given = !web_dir.empty();
        const auto exe_dir = std::filesystem::canonical("/proc/self/exe", ec).parent_path();
        auto dir = given ? std::filesystem::path(web_dir)
                   : exe_dir.filename() == "bin" ? exe_dir.parent_path() / "web"
                                                 : std::filesystem::path();
        if (dir.empty()) {
            spdlog::info("no web console: {} is not in a bin folder and CARELOG_WEB_DIR is not set; serving the API only",
                         exe_dir.string());
        } else if (auto site = api::static_site::load(dir)) {
            ctx.web = *site;
            spdlog::info("serving the web console from {} ({} files)", dir.string(), (*site)->file_count());
        } else if (given) {
            spdlog::critical("CARELOG_WEB_DIR: {}", site.error().detail);
            return 2;
        } else {
            spdlog::info("no web console at {} (build it with ops/build); serving the API only", dir.string());
        }
    }
    api::server srv(ctx, sopts);
    if (auto r = srv.start(); !r) {
        spdlog::critical("cannot listen on {}: {}", http_addr, r.error().detail);
        return 2;
    }
    spdlog::info("carelogd listening on {}:{} (topic {}, data {})", sopts.address, srv.port(), topic, data_dir);
    spdlog::info("running {}; {}", kafka::library_in_use(), projections::store::library_in_use());
    srv.run_until_signal();
    spdlog::info("stopping: HTTP drained; finishing writers");
    trim_after_catch_up.request_stop();
    bus.stop();
    if (mailer) mailer->stop();
    runner.stop();
    access.stop();
    spdlog::info("carelogd stopped");
    return 0;
}
