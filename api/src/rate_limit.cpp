#include "carelog/api/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace carelog::api {

namespace {
std::chrono::steady_clock::time_point steady_now() { return std::chrono::steady_clock::now(); }

double refilled(double tokens, std::chrono::steady_clock::time_point at, std::chrono::steady_clock::time_point now,
                const bucket_limit& limit) {
    if (now <= at) return tokens;
    double minutes = std::chrono::duration<double, std::ratio<60>>(now - at).count();
    return std::min(limit.burst, tokens + minutes * limit.per_minute);
}
}  // namespace

token_buckets::token_buckets(std::size_t max_keys, clock_fn now)
    : per_shard_(std::max<std::size_t>(1, max_keys / shard_count)),
      now_(now ? std::move(now) : clock_fn(steady_now)),
      shards_(shard_count) {}

std::chrono::seconds token_buckets::take(std::string_view key, const bucket_limit& limit) {
    if (limit.burst <= 0) return std::chrono::seconds(0);
    auto now = now_();
    auto& s = shards_[std::hash<std::string_view>{}(key) % shard_count];
    std::lock_guard lk(s.mu);
    auto it = s.buckets.find(std::string(key));
    if (it == s.buckets.end()) {
        if (s.buckets.size() >= per_shard_) make_room(s, now);
        it = s.buckets.emplace(std::string(key), bucket{limit.burst, now, limit}).first;
    }
    auto& b = it->second;
    b.tokens = refilled(b.tokens, b.at, now, limit);
    b.at = now;
    b.limit = limit;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return std::chrono::seconds(0);
    }
    if (limit.per_minute <= 0) return std::chrono::seconds(3600);
    double wait_s = (1 - b.tokens) * 60.0 / limit.per_minute;
    return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait_s))));
}

void token_buckets::make_room(shard& s, std::chrono::steady_clock::time_point now) {
    std::erase_if(s.buckets, [&](const auto& kv) {
        const auto& b = kv.second;
        return refilled(b.tokens, b.at, now, b.limit) >= b.limit.burst;
    });
    if (s.buckets.size() < per_shard_) return;
    auto oldest = std::min_element(s.buckets.begin(), s.buckets.end(),
                                   [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    s.buckets.erase(oldest);
}

std::size_t token_buckets::size() const {
    std::size_t n = 0;
    for (const auto& s : shards_) {
        std::lock_guard lk(s.mu);
        n += s.buckets.size();
    }
    return n;
}

concurrency_gate::concurrency_gate(int slots, clock_fn now)
    : slots_(std::max(1, slots)), now_(now ? std::move(now) : clock_fn(steady_now)) {}

bool concurrency_gate::try_acquire() {
    std::lock_guard lk(mu_);
    if (used_ >= slots_) return false;
    ++used_;
    return true;
}

bool concurrency_gate::acquire(std::chrono::milliseconds max_wait, const pause_fn& pause) {
    if (try_acquire()) return true;
    const auto until = now_() + max_wait;
    auto step = std::chrono::milliseconds(1);
    while (now_() < until) {
        pause(step);
        if (try_acquire()) return true;
        step = std::min(step * 2, std::chrono::milliseconds(16));
    }
    return false;
}

void concurrency_gate::release() {
    std::lock_guard lk(mu_);
    if (used_ > 0) --used_;
}

int concurrency_gate::in_use() const {
    std::lock_guard lk(mu_);
    return used_;
}

}  // namespace carelog::api
