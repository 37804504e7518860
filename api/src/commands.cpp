// The command path as handlers see it: submit to the bus, answer version + consistency token,
// replay Idempotency-Key results verbatim; and the read side's X-Consistency-Token wait.
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <mutex>
#include <unordered_map>

#include "carelog/base/consistency_token.hpp"

#include "carelog/api/request.hpp"

#include "fiber.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace http = boost::beast::http;
namespace json = boost::json;

http_response json_response(int status, const json::value& body) { return json_text_response(status, json::serialize(body)); }

http_response json_text_response(int status, std::string body) {
    http_response res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

void append_members(std::string& object_text, const json::object& more) {
    // `object_text` is json::serialize output: no whitespace, "}" last.
    if (more.empty()) return;
    const std::string members = json::serialize(more);
    if (object_text.size() < 2 || object_text.back() != '}') {
        object_text = members;
        return;
    }
    object_text.pop_back();
    if (object_text.back() != '{') object_text += ',';
    object_text.append(members, 1);
}

namespace {
std::string correlation_id(request_context& rc) {
    if (auto rid = header(rc.req, "X-Request-Id"); rid && !rid->empty() && rid->size() <= 200) {
        bool printable = true;
        for (char c : *rid) printable = printable && c > 0x20 && c < 0x7f;
        if (printable) return std::string(*rid);
    }
    return rc.ctx.ids.next_uuid();
}
}  // namespace

http_response committed_response(int status, command_result&& r, json::object extra) {
    json::object body = std::move(r.body);
    if (!r.replayed)
        for (auto& kv : extra) body[kv.key()] = std::move(kv.value());
    body["version"] = r.version;
    if (r.consistency_token.empty())
        body["consistency_token"] = nullptr;
    else
        body["consistency_token"] = r.consistency_token;
    auto res = json_response(status, body);
    if (!r.consistency_token.empty()) res.set("X-Consistency-Token", r.consistency_token);
    if (r.replayed) res.set("Idempotent-Replayed", "true");
    return res;
}

http_result<http_response> submit_command(request_context& rc, const std::string& agency_id, const std::string& actor,
                                          const aggregates::command& cmd, int status, json::object extra) {
    command_meta meta{actor, rc.idempotency_key, correlation_id(rc)};
    auto r = rc.ctx.commands.submit(agency_id, meta, cmd);
    if (!r) return std::unexpected(problem(r.error()));
    return committed_response(status, std::move(*r), std::move(extra));
}

result<command_result> submit_retrying(request_context& rc, const std::string& agency_id, const std::string& actor,
                                       const std::function<http_result<aggregates::command>()>& build,
                                       std::optional<problem>& refused) {
    // The read models lag the writer by milliseconds; 40 x 50 ms covers a slow broker.
    constexpr int attempts = 40;
    command_meta meta{actor, rc.idempotency_key, correlation_id(rc)};
    for (int i = 0;; ++i) {
        auto cmd = build();
        if (!cmd) {
            refused = std::move(cmd.error());
            return fail(errc::validation, "refused before submitting");
        }
        auto r = rc.ctx.commands.submit(agency_id, meta, *cmd);
        if (r || !is_stale_check(r.error()) || i + 1 == attempts) return r;
        fiber::sleep(std::chrono::milliseconds(50));
    }
}

http_result<http_response> submit_checked(request_context& rc, const std::string& agency_id, const std::string& actor,
                                          const std::function<http_result<aggregates::command>()>& build, int status,
                                          json::object extra, bool wait_own) {
    std::optional<problem> refused;
    auto r = submit_retrying(rc, agency_id, actor, build, refused);
    if (refused) return std::unexpected(std::move(*refused));
    if (!r) return std::unexpected(problem(r.error()));
    if (wait_own && !r->consistency_token.empty()) {
        auto applied = wait_applied(rc.ctx, r->consistency_token, rc.ctx.cfg.read_wait);
        (void)applied;  // durable either way; a lagging node only delays what the next read sees
    }
    return committed_response(status, std::move(*r), std::move(extra));
}

namespace {
// The wait itself, for a token that is not applied yet. On a fiber the projections answer when
// they get there (or the time runs out); the fiber is suspended meanwhile and no thread is held.
result<bool> wait_not_yet_applied(app_context& ctx, const std::string& token, std::chrono::milliseconds timeout) {
    if (!fiber::current()) return ctx.projections_status.wait_for(token, timeout);
    return fiber::await<result<bool>>([&](std::function<void(result<bool>)> done) {
        ctx.projections_status.when_applied(token, timeout, std::move(done));
    });
}
}  // namespace

result<bool> wait_applied(app_context& ctx, const std::string& token, std::chrono::milliseconds timeout) {
    if (!fiber::current()) return ctx.projections_status.wait_for(token, timeout);
    // Applied already, as a token usually is by the time a later request carries it: answered
    // without suspending the fiber.
    if (auto now = ctx.projections_status.wait_for(token, std::chrono::milliseconds(0)); !now || *now) return now;
    return wait_not_yet_applied(ctx, token, timeout);
}

}  // namespace carelog::api::detail

namespace carelog::api {

class session_writes {
public:
    // The session's last write, and its last write that may change its principal.
    void remember(const std::string& session, const std::string& token, bool principal_write) {
        int p = 0;
        std::int64_t off = 0;
        if (session.empty() || !parse_token(token, p, off)) return;
        auto& sh = shard(session);
        std::lock_guard lk(sh.mu);
        if (sh.last.size() >= per_shard) sh.last.clear();  // a bound, not a cache policy: forgetting costs a wait
        auto& w = sh.last[session];
        keep_later(w.any, token, p, off);
        if (principal_write) keep_later(w.principal, token, p, off);
    }
    std::string last(const std::string& session, bool principal_only) {
        auto& sh = shard(session);
        std::lock_guard lk(sh.mu);
        auto it = sh.last.find(session);
        if (it == sh.last.end()) return {};
        return principal_only ? it->second.principal : it->second.any;
    }

private:
    static void keep_later(std::string& t, const std::string& token, int p, std::int64_t off) {
        int tp = 0;
        std::int64_t toff = -1;
        if (t.empty() || !parse_token(t, tp, toff) || tp != p || toff < off) t = token;
    }
    struct writes {
        std::string any, principal;
    };
    static constexpr std::size_t shards = 64, per_shard = 4096;
    struct shard_t {
        std::mutex mu;
        std::unordered_map<std::string, writes> last;
    };
    shard_t& shard(const std::string& s) { return shards_[std::hash<std::string>{}(s) % shards]; }
    std::array<shard_t, shards> shards_;
};

std::shared_ptr<session_writes> make_session_writes() { return std::make_shared<session_writes>(); }

}  // namespace carelog::api

namespace carelog::api::detail {

void remember_own_write(app_context& ctx, const principal& who, const http_response& res, bool principal_write) {
    if (!ctx.own_writes || who.session_id.empty()) return;
    auto it = res.find("X-Consistency-Token");
    if (it == res.end()) return;
    ctx.own_writes->remember(who.session_id, std::string(it->value()), principal_write);
}

result<bool> await_own_writes(app_context& ctx, const principal& who, bool principal_only) {
    if (!ctx.own_writes || who.session_id.empty()) return false;
    auto token = ctx.own_writes->last(who.session_id, principal_only);
    if (token.empty()) return false;
    auto now = ctx.projections_status.wait_for(token, std::chrono::milliseconds(0));
    if (!now || *now) return false;
    auto applied = wait_not_yet_applied(ctx, token, ctx.cfg.read_wait);
    if (applied && !*applied)
        return fail(errc::unavailable, "the projections are behind this session's last command; retry shortly");
    return true;
}

bool catch_up(app_context& ctx, const std::string& agency_id) {
    auto pos = ctx.commands.committed_position(agency_id);
    if (pos.empty()) return false;
    auto now = ctx.projections_status.wait_for(pos, std::chrono::milliseconds(0));
    if (!now || *now) return false;
    (void)wait_not_yet_applied(ctx, pos, ctx.cfg.read_wait);  // past the bound the request goes on as it can
    return true;
}

result<void> await_consistency(app_context& ctx, const http_request& req) {
    auto token = header(req, "X-Consistency-Token");
    if (!token) return {};
    if (token->empty() || token->size() > 512)
        return fail(errc::malformed, "X-Consistency-Token is not a consistency token");
    auto applied = wait_applied(ctx, std::string(*token), ctx.cfg.read_wait);
    if (!applied) {
        if (applied.error().code == errc::malformed)
            return fail(errc::malformed, "X-Consistency-Token is not a consistency token");
        return std::unexpected(applied.error());
    }
    if (!*applied)
        return fail(errc::unavailable, "the projections have not applied that command yet; retry shortly");
    return {};
}

http_result<http_response> page_response(result<projections::page> page) {
    if (!page) {
        if (page.error().code == errc::malformed || page.error().code == errc::validation)
            return fail(error::validation("cursor", "is not a cursor this server issued"));
        return std::unexpected(page.error());
    }
    if (!page->stored.empty()) {
        // Stored views go out as the bytes they are stored as.
        std::size_t n = 64;
        for (const auto& v : page->stored) n += v.size() + 1;
        std::string body;
        body.reserve(n);
        body += "{\"items\":[";
        for (std::size_t i = 0; i < page->stored.size(); ++i) {
            if (i) body += ',';
            body += page->stored[i];
        }
        body += "],\"next_cursor\":";
        body += page->next_cursor ? json::serialize(json::value(*page->next_cursor)) : std::string("null");
        body += '}';
        http_response res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = std::move(body);
        res.prepare_payload();
        return res;
    }
    boost::json::object out;
    out["items"] = std::move(page->items);
    if (page->next_cursor)
        out["next_cursor"] = *page->next_cursor;
    else
        out["next_cursor"] = nullptr;
    return json_response(200, out);
}

}  // namespace carelog::api::detail
