// In-memory abuse limits of one node: token buckets keyed by what is limited (an address, an
// account) and a gate bounding how many costly operations (Argon2id verifications) run at once.
// Nothing here is shared between nodes: N nodes admit at most N times a limit.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace carelog::api {

// A bucket holds up to `burst` tokens and gains `per_minute` of them every minute; each request
// takes one. burst 0 = unlimited.
struct bucket_limit {
    double burst = 0;
    double per_minute = 0;
};

// Token buckets by key. Memory is bounded: at most `max_keys` buckets; when full, buckets that have
// refilled completely (indistinguishable from new ones) are dropped first, then the least recently
// used one.
class token_buckets {
public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
    explicit token_buckets(std::size_t max_keys = 200'000, clock_fn now = {});

    // Takes a token from `key`'s bucket under `limit`: zero when granted, else how long until one
    // is available (at least one second; nothing is taken).
    std::chrono::seconds take(std::string_view key, const bucket_limit& limit);

    std::size_t size() const;

private:
    struct bucket {
        double tokens = 0;
        std::chrono::steady_clock::time_point at;
        bucket_limit limit;
    };
    struct shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, bucket> buckets;
    };
    void make_room(shard& s, std::chrono::steady_clock::time_point now);

    static constexpr std::size_t shard_count = 16;
    std::size_t per_shard_;
    clock_fn now_;
    std::vector<shard> shards_;
};

// At most `slots` holders at once. acquire() waits up to `max_wait`, calling `pause` between
// tries (a fiber sleep on request fibers), and says whether it got a slot.
class concurrency_gate {
public:
    using clock_fn = std::function<std::chrono::steady_clock::time_point()>;
    using pause_fn = std::function<void(std::chrono::milliseconds)>;
    explicit concurrency_gate(int slots, clock_fn now = {});

    bool try_acquire();
    bool acquire(std::chrono::milliseconds max_wait, const pause_fn& pause);
    void release();
    int in_use() const;

private:
    mutable std::mutex mu_;
    int slots_;
    int used_ = 0;
    clock_fn now_;
};

// What each limit is (documented in docs/security.md with these defaults). All per node.
struct rate_limit_config {
    bucket_limit login_per_account{10, 10};       // staff and portal logins per agency + username
    bucket_limit login_per_address{30, 30};       // staff and portal logins per source address
    bucket_limit reset_per_address{10, 10};       // password reset requests and confirmations per address
    bucket_limit registration_per_address{10, 10};  // portal registrations per address
    bucket_limit anonymous_per_address{300, 600};   // every route that needs no credentials, per address
    // Failed logins for usernames the agency does not have, recorded in the log per agency (as
    // LoginFailed / PortalLoginFailed{unknown_user}); beyond it they are answered alike, counted and
    // logged, but not recorded, so a flood cannot grow the event topic without bound.
    bucket_limit unknown_logins_per_agency{20, 20};
    int password_checks = 4;                        // Argon2id verifications running at once
    std::chrono::milliseconds password_check_wait{3000};  // longer in the queue: 503
};

// Per node: which Idempotency-Key was used for which request (method, route, body digest), so a
// key reused for another request is refused (422) instead of running as a new command. Bounded:
// a full shard forgets its entries (the writer's own key records still prevent any wrong replay,
// because its key includes the request's digest).
class idempotency_requests {
public:
    // Whether `key` was used here for a request other than `request_digest`.
    bool conflicts(const std::string& key, const std::string& request_digest) const;
    void remember(const std::string& key, const std::string& request_digest);

private:
    static constexpr std::size_t shards = 32, per_shard = 8192;
    struct shard_t {
        mutable std::mutex mu;
        std::unordered_map<std::string, std::string> digests;
    };
    const shard_t& shard(const std::string& k) const { return shards_[std::hash<std::string>{}(k) % shards]; }
    shard_t& shard(const std::string& k) { return shards_[std::hash<std::string>{}(k) % shards]; }
    std::array<shard_t, shards> shards_;
};

class node_limits {
public:
    explicit node_limits(const rate_limit_config& c) : cfg(c), password_checks(c.password_checks) {}
    rate_limit_config cfg;
    token_buckets buckets;
    concurrency_gate password_checks;
    idempotency_requests keys;
    std::atomic<std::uint64_t> unknown_logins_unrecorded{0};  // beyond unknown_logins_per_agency
};

}  // namespace carelog::api
