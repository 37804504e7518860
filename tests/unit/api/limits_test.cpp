// What an anonymous caller can learn or exhaust: token buckets and the Argon2id gate on their own
// (with an injected clock) and through handle() (429 + Retry-After, 503 when the gate is full);
// password reset requests that answer the same whether or not the account exists; Idempotency-Keys
// bound to one request.
#include "api_fixture.hpp"

#include "carelog/api/rate_limit.hpp"

namespace carelog::api::testing {
namespace {

using namespace std::chrono_literals;
using verb = http::verb;

struct captured_notifications final : notify::notification_sink {
    std::vector<notify::notification> sent;
    result<void> publish(const notify::notification& n) override {
        sent.push_back(n);
        return {};
    }
};

struct manual_clock {
    std::chrono::steady_clock::time_point t{};
    std::function<std::chrono::steady_clock::time_point()> fn() {
        return [this] { return t; };
    }
};

std::string login_body(const std::string& slug, const std::string& username) {
    return json::serialize(json::object{{"agency", slug}, {"username", username}, {"password", "Wrong-Horse-42"}});
}

}  // namespace

TEST_CASE("limits: a bucket grants its burst, then one token per refill interval", "[api][limits]") {
    manual_clock c;
    token_buckets b(1000, c.fn());
    const bucket_limit three_then_six_a_minute{3, 6};
    for (int i = 0; i < 3; ++i) CHECK(b.take("a", three_then_six_a_minute) == 0s);
    CHECK(b.take("a", three_then_six_a_minute) == 10s);  // one token every 10 s
    CHECK(b.take("b", three_then_six_a_minute) == 0s);   // keys are independent
    c.t += 4s;
    CHECK(b.take("a", three_then_six_a_minute) == 6s);
    c.t += 6s;
    CHECK(b.take("a", three_then_six_a_minute) == 0s);
    CHECK(b.take("a", three_then_six_a_minute) == 10s);
    c.t += 10min;  // refills up to the burst, not beyond
    for (int i = 0; i < 3; ++i) CHECK(b.take("a", three_then_six_a_minute) == 0s);
    CHECK(b.take("a", three_then_six_a_minute) > 0s);
    CHECK(b.take("a", bucket_limit{}) == 0s);  // burst 0: unlimited
}

TEST_CASE("limits: buckets stay bounded however many keys arrive", "[api][limits]") {
    manual_clock c;
    token_buckets b(64, c.fn());
    for (int i = 0; i < 10'000; ++i) (void)b.take("addr-" + std::to_string(i), bucket_limit{5, 5});
    CHECK(b.size() <= 64);
    // A bucket in use is not the first to go: the attacker's fresh keys evict each other.
    manual_clock c2;
    token_buckets small(16, c2.fn());
    for (int i = 0; i < 5; ++i) (void)small.take("victim", bucket_limit{5, 1});
    CHECK(small.take("victim", bucket_limit{5, 1}) > 0s);
}

TEST_CASE("limits: the gate admits its slots, then waits and gives up", "[api][limits]") {
    manual_clock c;
    concurrency_gate g(2, c.fn());
    int pauses = 0;
    auto pause = [&](std::chrono::milliseconds d) {
        ++pauses;
        c.t += d;
    };
    CHECK(g.acquire(100ms, pause));
    CHECK(g.acquire(100ms, pause));
    CHECK(g.in_use() == 2);
    CHECK_FALSE(g.acquire(100ms, pause));
    CHECK(pauses > 0);
    g.release();
    CHECK(g.acquire(100ms, pause));
    CHECK(g.in_use() == 2);
}

TEST_CASE("limits: logins from one address past its limit get 429 with Retry-After", "[api][limits]") {
    rate_limit_config limits;
    limits.login_per_address = {2, 1};
    api_fixture f(limits);
    f.peer = "192.0.2.7";
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("nowhere", "a")), 401));
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("nowhere", "b")), 401));
    auto limited = f.request(verb::post, "/v1/auth/login", login_body("nowhere", "c"));
    REQUIRE(is_problem(limited, 429));
    CHECK(header_of(limited, "Retry-After") == "60");
    CHECK(body_of(limited).at("type").as_string() == "https://carelog.dev/problems/rate-limited");
    // The portal login shares the address's login budget.
    CHECK(is_problem(f.request(verb::post, "/v1/portal/login", login_body("nowhere", "c")), 429));
    f.peer = "192.0.2.8";
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("nowhere", "c")), 401));
    CHECK(f.bus.calls.empty());
}

TEST_CASE("limits: logins for one account past its limit get 429 from any address", "[api][limits]") {
    rate_limit_config limits;
    limits.login_per_account = {2, 1};
    api_fixture f(limits);
    f.bus.responder = [](const std::string&, const aggregates::command&) -> result<command_result> {
        command_result r;
        r.body = json::object{{"login", "failed"}, {"portal_login", "failed"}};
        return r;
    };
    for (int i = 0; i < 2; ++i) {
        f.peer = "198.51.100." + std::to_string(i);
        CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("sunrise", "tjones")), 401));
    }
    f.peer = "198.51.100.9";
    // The same account however it is spelled.
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("Sunrise", "TJones")), 429));
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("sunrise", "someone")), 401));
    // A portal account of the same name has its own budget.
    CHECK(is_problem(f.request(verb::post, "/v1/portal/login", login_body("sunrise", "tjones")), 401));
    CHECK(f.bus.calls.size() == 4);  // the refused login never reached the domain
}

TEST_CASE("limits: every route without credentials is limited per address; sessions are not", "[api][limits]") {
    rate_limit_config limits;
    limits.anonymous_per_address = {3, 1};
    limits.reset_per_address = {1, 1};
    api_fixture f(limits);
    f.peer = "203.0.113.5";
    for (int i = 0; i < 3; ++i) CHECK(f.request(verb::get, "/healthz").result_int() == 200);
    auto limited = f.request(verb::get, "/openapi.json");
    CHECK(is_problem(limited, 429));
    CHECK(!header_of(limited, "Retry-After").empty());
    auto token = f.login(f.agency_a, f.staff_a, "todd");
    CHECK(f.request(verb::get, "/v1/auth/session", "", api_fixture::bearer(token)).result_int() == 200);

    f.peer = "203.0.113.6";
    auto reset = json::serialize(json::object{{"agency", "nowhere"}, {"username", "x"}});
    CHECK(f.request(verb::post, "/v1/auth/password-reset", reset).result_int() == 202);
    CHECK(is_problem(f.request(verb::post, "/v1/auth/password-reset", reset), 429));
    auto confirm = json::serialize(json::object{{"token", "nope"}, {"new_password", "Blue-Horse-42-battery"}});
    CHECK(is_problem(f.request(verb::post, "/v1/auth/password-reset/confirm", confirm), 429));
}

TEST_CASE("limits: a login waits for a free password check and answers 503 when none frees", "[api][limits]") {
    rate_limit_config limits;
    limits.password_checks = 1;
    limits.password_check_wait = 20ms;
    api_fixture f(limits);
    f.peer = "192.0.2.44";
    REQUIRE(f.ctx->limits->password_checks.try_acquire());  // a flood holds the only slot
    auto busy = f.request(verb::post, "/v1/auth/login", login_body("sunrise", "tjones"));
    REQUIRE(is_problem(busy, 503));
    CHECK(!header_of(busy, "Retry-After").empty());
    CHECK(is_problem(f.request(verb::post, "/v1/portal/login", login_body("nowhere", "x")), 503));
    CHECK(f.bus.calls.empty());
    f.ctx->limits->password_checks.release();
    f.bus.responder = [&](const std::string&, const aggregates::command&) -> result<command_result> {
        command_result r;
        r.body = json::object{{"login", "failed"}};
        r.consistency_token = "0-5";
        return r;
    };
    f.status.answers["0-5"] = true;
    CHECK(is_problem(f.request(verb::post, "/v1/auth/login", login_body("sunrise", "tjones")), 401));
    CHECK(f.ctx->limits->password_checks.in_use() == 0);
}

TEST_CASE("reset: the answer is the same for an unknown and a known account, even when the log fails",
          "[api][reset]") {
    api_fixture f;
    captured_notifications sink;
    f.ctx->notifications = &sink;
    auto ask = [&](const std::string& slug, const std::string& user) {
        return f.request(verb::post, "/v1/auth/password-reset",
                         json::serialize(json::object{{"agency", slug}, {"username", user}}));
    };
    auto same = [](const http_response& a, const http_response& b) {
        std::vector<std::pair<std::string, std::string>> ha, hb;
        for (const auto& h : a) ha.emplace_back(std::string(h.name_string()), std::string(h.value()));
        for (const auto& h : b) hb.emplace_back(std::string(h.name_string()), std::string(h.value()));
        return a.result_int() == b.result_int() && ha == hb && a.body() == b.body();
    };
    auto unknown_agency = ask("nowhere", "tjones");
    CHECK(unknown_agency.result_int() == 202);

    // Known account: the command reaches the domain and the link goes out.
    command_result requested;
    requested.aggregate_id = f.staff_a;
    requested.version = 2;
    requested.consistency_token = "0-77";
    requested.body = json::object{{"id", f.staff_a}};
    f.bus.will_return(requested);
    f.status.answers["0-77"] = true;
    auto known = ask("sunrise", "tjones");
    CHECK(same(known, unknown_agency));
    REQUIRE(f.bus.calls.size() == 1);
    CHECK(f.bus.last<aggregates::request_password_reset>().username == "tjones");
    REQUIRE(sink.sent.size() == 1);
    CHECK(sink.sent[0].staff_id == f.staff_a);
    CHECK(sink.sent[0].type == "password_reset");

    // Unknown username: the domain records nothing (no token), nothing is sent.
    command_result nothing;
    nothing.body = json::object{};
    f.bus.will_return(nothing);
    CHECK(same(ask("sunrise", "nobody"), unknown_agency));

    // The log unreachable for a known account: still the same 202, nothing sent.
    f.bus.will_return(fail(errc::unavailable, "Kafka did not acknowledge within 5000 ms"));
    CHECK(same(ask("sunrise", "tjones"), unknown_agency));
    CHECK(sink.sent.size() == 1);
}

TEST_CASE("idempotency: a key names one request; another route or body with it is 422", "[api][idempotency]") {
    api_fixture f;
    auto token = f.login(f.agency_a, f.staff_a, "todd");
    auto admin = f.as_agency(f.agency_a, {{"Idempotency-Key", "k-1"}});
    f.bus.will_succeed(uuid(300), 1, "0-50");
    f.status.answers["0-50"] = true;
    auto program = [](const std::string& name) { return json::serialize(json::object{{"name", name}}); };
    REQUIRE(f.request(verb::post, "/v1/programs", program("Outpatient"), admin).result_int() == 201);
    const auto first_key = f.bus.calls.back().meta.idempotency_key;

    // Same key, same route, another body: refused before the domain.
    auto other_body = f.request(verb::post, "/v1/programs", program("Inpatient"), admin);
    REQUIRE(is_problem(other_body, 422));
    CHECK(problem_fields(other_body) == std::vector<std::string>{"Idempotency-Key"});
    // Same key on another route: refused too.
    auto other_route = f.request(verb::post, "/v1/locations", json::serialize(json::object{{"name", "Main"}}), admin);
    CHECK(is_problem(other_route, 422));
    CHECK(f.bus.calls.size() == 1);

    // The same request again goes to the writer under the same key (which replays it).
    f.bus.will_succeed(uuid(300), 1, "0-50");
    CHECK(f.request(verb::post, "/v1/programs", program("Outpatient"), admin).result_int() == 201);
    REQUIRE(f.bus.calls.size() == 2);
    CHECK(f.bus.calls.back().meta.idempotency_key == first_key);

    // Another caller's equal key is theirs alone.
    f.bus.will_succeed(f.staff_a, 2, "0-51");
    f.status.answers["0-51"] = true;
    CHECK(f.request(verb::post, "/v1/auth/logout", "", api_fixture::bearer(token, {{"Idempotency-Key", "k-1"}}))
              .result_int() == 200);
}

TEST_CASE("idempotency: a registration's key is bound to its invitation token and body", "[api][idempotency]") {
    api_fixture f;
    auto body = [](const std::string& token) {
        return json::serialize(json::object{{"token", token}, {"username", "sam.client"}, {"password", "Blue-Horse-42-battery"}});
    };
    // Two strangers with one key and different invitation tokens never share a writer key, so the
    // second can never be answered with the first one's account.
    const std::string t1 = f.agency_a + ".first-token", t2 = f.agency_a + ".second-token";
    f.bus.responder = [](const std::string&, const aggregates::command&) -> result<command_result> {
        return fail(error::validation("token", "the invitation link is invalid, replaced, revoked, expired or already used"));
    };
    f.peer = "192.0.2.60";
    CHECK(is_problem(f.request(verb::post, "/v1/portal/register", body(t1), {{"Idempotency-Key", "guess"}}), 422));
    f.peer = "192.0.2.61";
    CHECK(is_problem(f.request(verb::post, "/v1/portal/register", body(t2), {{"Idempotency-Key", "guess"}}), 422));
    REQUIRE(f.bus.calls.size() == 2);
    CHECK(f.bus.calls[0].meta.idempotency_key != f.bus.calls[1].meta.idempotency_key);
    CHECK(f.bus.calls[0].meta.idempotency_key.find(to_hex(sha256(body(t1))).substr(0, 32)) != std::string::npos);
}

TEST_CASE("limits: failed logins for unknown usernames are recorded up to the agency's budget, then answered alike, "
          "counted and not recorded",
          "[api][limits]") {
    rate_limit_config limits;
    limits.unknown_logins_per_agency = {3, 1};
    api_fixture f(limits);
    f.bus.responder = [](const std::string&, const aggregates::command&) -> result<command_result> {
        command_result r;
        r.body = json::object{{"login", "failed"}, {"portal_login", "failed"}};
        return r;
    };
    for (int i = 0; i < 8; ++i) {
        f.peer = "203.0.113." + std::to_string(i);  // many addresses: the per-address limits do not stop it
        auto staff = f.request(verb::post, "/v1/auth/login", login_body("sunrise", "nobody" + std::to_string(i)));
        auto portal = f.request(verb::post, "/v1/portal/login", login_body("sunrise", "ghost" + std::to_string(i)));
        CHECK(is_problem(staff, 401));
        CHECK(is_problem(portal, 401));
        CHECK(body_of(staff) == body_of(portal));
    }
    CHECK(f.bus.calls.size() == 3);  // the agency's budget reached the log; the other 13 did not
    auto metrics = f.request(verb::get, "/metrics", "");
    CHECK(metrics.body().find("carelog_logins_unknown_unrecorded_total 13\n") != std::string::npos);
}

}  // namespace carelog::api::testing
