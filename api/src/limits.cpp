#include "limits.hpp"

#include <cctype>
#include <utility>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "carelog/api/password_policy.hpp"
#include "carelog/api/problem.hpp"
#include "carelog/base/secrets.hpp"
#include "fiber.hpp"

namespace carelog::api {

bool idempotency_requests::conflicts(const std::string& key, const std::string& request_digest) const {
    const auto& s = shard(key);
    std::lock_guard lk(s.mu);
    auto it = s.digests.find(key);
    return it != s.digests.end() && it->second != request_digest;
}

void idempotency_requests::remember(const std::string& key, const std::string& request_digest) {
    auto& s = shard(key);
    std::lock_guard lk(s.mu);
    if (s.digests.size() >= per_shard && !s.digests.contains(key)) s.digests.clear();
    s.digests[key] = request_digest;
}

std::shared_ptr<node_limits> make_node_limits(const rate_limit_config& c) { return std::make_shared<node_limits>(c); }

namespace detail {

namespace {
std::optional<std::chrono::seconds> take(app_context& ctx, const std::string& key, const bucket_limit& limit) {
    if (!ctx.limits) return std::nullopt;
    auto wait = ctx.limits->buckets.take(key, limit);
    if (wait.count() == 0) return std::nullopt;
    return wait;
}

std::string lower(std::string_view v) {
    std::string out(v);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

http_response rate_limited(std::chrono::seconds wait, std::string_view what) {
    auto res = problem_response(error::make(errc::rate_limited, "too many " + std::string(what) + "; retry after " +
                                                                    std::to_string(wait.count()) + " s"));
    res.set(boost::beast::http::field::retry_after, std::to_string(wait.count()));
    return res;
}

std::optional<std::chrono::seconds> admit_anonymous(app_context& ctx, const route_info& route, std::string_view peer) {
    if (!ctx.limits || route.auth != auth_kind::none) return std::nullopt;
    const auto& c = ctx.limits->cfg;
    const std::string addr(peer);
    const std::string_view op = route.operation_id;
    std::optional<std::chrono::seconds> w;
    if (op == "login" || op == "portalLogin")
        w = take(ctx, "login-addr|" + addr, c.login_per_address);
    else if (op == "requestPasswordReset" || op == "confirmPasswordReset" || op == "requestPortalPasswordReset" ||
             op == "confirmPortalPasswordReset")
        w = take(ctx, "reset-addr|" + addr, c.reset_per_address);
    else if (op == "registerPortalAccount")
        w = take(ctx, "register-addr|" + addr, c.registration_per_address);
    if (w) {
        spdlog::warn("limits: {} refused for address {} ({} s)", route.operation_id, addr, w->count());
        return w;
    }
    return take(ctx, "anon-addr|" + addr, c.anonymous_per_address);
}

bool record_unknown_login(app_context& ctx, std::string_view kind, const std::string& agency_id) {
    if (!ctx.limits) return true;
    if (!take(ctx, "unknown-login|" + agency_id, ctx.limits->cfg.unknown_logins_per_agency)) return true;
    const auto n = ctx.limits->unknown_logins_unrecorded.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == 1 || n % 100 == 0)
        spdlog::warn("limits: {} failed {} logins for unknown usernames answered but not recorded in the log on this "
                     "node so far (the latest of agency {}); carelog_logins_unknown_unrecorded_total counts them",
                     n, kind, agency_id);
    return false;
}

std::optional<std::chrono::seconds> admit_login(app_context& ctx, std::string_view kind, std::string_view agency_slug,
                                                std::string_view username) {
    if (!ctx.limits) return std::nullopt;
    // Keyed by a digest: usernames typed by strangers never sit in memory as text.
    auto key = std::string(kind) + "|" + token_hash(lower(agency_slug) + "\n" + lower(username));
    auto w = take(ctx, key, ctx.limits->cfg.login_per_account);
    if (w) spdlog::warn("limits: {} login refused for one account of agency {} ({} s)", kind, agency_slug, w->count());
    return w;
}

namespace {
struct slot {
    concurrency_gate* gate = nullptr;
    explicit slot(concurrency_gate* g) : gate(g) {}
    slot(slot&& o) noexcept : gate(std::exchange(o.gate, nullptr)) {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    slot& operator=(slot&&) = delete;
    ~slot() {
        if (gate) gate->release();
    }
};

result<slot> password_slot(app_context& ctx) {
    if (!ctx.limits) return slot{nullptr};
    auto& gate = ctx.limits->password_checks;
    if (!gate.acquire(ctx.limits->cfg.password_check_wait, [](std::chrono::milliseconds d) { fiber::sleep(d); })) {
        spdlog::warn("limits: a password check waited {} ms for a slot; answered 503",
                     ctx.limits->cfg.password_check_wait.count());
        return fail(errc::unavailable, "the server is checking too many passwords at once; retry shortly");
    }
    return slot{&gate};
}
}  // namespace

result<bool> bounded_verify(app_context& ctx, const std::string& hash, std::string_view password) {
    auto s = password_slot(ctx);
    if (!s) return std::unexpected(s.error());
    return verify_password(hash, password);
}

result<void> bounded_dummy_check(app_context& ctx, std::string_view password) {
    static const std::string hash = [] {
        auto h = hash_password(random_token());
        return h ? *h : std::string();
    }();
    auto s = password_slot(ctx);
    if (!s) return std::unexpected(s.error());
    (void)verify_password(hash, password);
    return {};
}

}  // namespace detail
}  // namespace carelog::api
