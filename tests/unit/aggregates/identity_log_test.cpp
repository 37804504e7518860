// The identity story as the log sees it: no secret in clear in any event (neither in the JSON
// listings nor in the FlatBuffers bytes), and the state rebuilt from decoded envelopes equals the
// state the writer folded as it decided.
#include "identity_fixtures.hpp"

#include <boost/json.hpp>

#include "carelog/aggregates/snapshot.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/events/event_json.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
namespace json = boost::json;

namespace {

// What the API would hold in clear; none of it may appear in the log.
struct secrets {
    std::string password = "Correct-Horse-42!";
    std::string temp_password = "Temp-Password-9#";
    std::string session_token = random_token();
    std::string reset_token = random_token();
    std::string totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    secret_key key = *secret_key_from_hex(std::string(64, 'c'));
};

struct recorded {
    events::envelope env;
    std::vector<std::uint8_t> bytes;
};

// Runs the whole identity story through decide, stamping envelopes like the API does.
struct story {
    identity_fixture f;
    secrets sec;
    std::vector<recorded> log;
    std::uint64_t seq = 0;
    std::string sealed;
    std::vector<std::string> password_hashes;

    std::vector<events::decided_event> run(const command& c) {
        auto evs = f.run(c);
        for (const auto& d : evs) {
            events::envelope e;
            e.event_id = "ev-" + std::to_string(++seq);
            e.agency_id = f.s.id;
            e.aggregate_type = std::string(events::aggregate_type_of(d));
            e.aggregate_id = d.aggregate_id;
            e.aggregate_version = d.aggregate_version;
            e.sequence = seq;
            e.occurred_at = f.now;
            e.actor_id = "test";
            e.command_id = "cmd";
            if (!log.empty()) e.prev_hash = log.back().env.hash;
            e.data = d.data;
            auto bytes = events::encode(e);
            log.push_back({e, std::move(bytes)});
        }
        return evs;
    }

    story() {
        // The API hashes passwords with Argon2id; the fixture's hashes stand in for them here.
        password_hashes = {admin_hash, s1_hash, new_hash, "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$dGVtcDI"};
        sealed = seal(sec.key, "s1", sec.totp_secret);
        std::string session = token_hash(sec.session_token);
        std::string reset = token_hash(sec.reset_token);

        f.now += minute;
        run(f.attempt(sec.password, false, session));  // a password typed as the username
        run(f.attempt("tjones", false, session));
        run(f.attempt("tjones", true, session));
        f.now += minute;
        auto c = f.change_cmd(0);
        c.session_id = session;
        run(c);
        run(enroll_mfa{"s1", sealed});
        run(f.confirm_cmd(f.step(), sealed));
        run(f.with_totp(f.attempt("tjones", true, token_hash("second")), true, f.step() + 1));
        f.now += 6 * minute;
        run(touch_session{session, f.now});
        run(request_password_reset{"tjones", reset, f.now});
        run(confirm_password_reset{reset, password_hashes[3], true, false, f.now});
        for (int i = 0; i < 5; ++i) run(f.attempt("tjones", false, token_hash("x")));
        run(unlock_staff{"s1"});
        run(reset_mfa{"s1"});
        run(set_temporary_password{"s1", new_hash, true, true, f.now});
        run(f.attempt("tjones", true, token_hash("third")));
        run(logout{token_hash("third")});
    }
};

bool contains(const std::vector<std::uint8_t>& bytes, const std::string& needle) {
    return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
}

}  // namespace

TEST_CASE("identity log: no listing shows a password, a password hash, a token or the TOTP secret",
          "[aggregates][identity][secrets]") {
    story st;
    REQUIRE(st.log.size() > 20);
    std::set<std::string> types;
    for (const auto& r : st.log) {
        types.emplace(events::event_type_name(r.env.data));
        auto text = json::serialize(events::listing_json(r.env));
        INFO(text);
        CHECK(text.find(st.sec.password) == std::string::npos);
        CHECK(text.find(st.sec.session_token) == std::string::npos);
        CHECK(text.find(st.sec.reset_token) == std::string::npos);
        CHECK(text.find(st.sec.totp_secret) == std::string::npos);
        CHECK(text.find(st.sealed) == std::string::npos);
        CHECK(text.find("sb1:") == std::string::npos);
        CHECK(text.find("$argon2") == std::string::npos);
        for (const auto& h : st.password_hashes) CHECK(text.find(h) == std::string::npos);
    }
    // The story covers every identity event type.
    for (auto t : {"PasswordChanged", "PasswordResetRequested", "LoginSucceeded", "LoginFailed", "AccountLocked",
                   "AccountUnlocked", "MfaEnrolled", "MfaConfirmed", "MfaReset", "SessionEnded", "SessionTouched"})
        CHECK(types.contains(t));
}

TEST_CASE("identity log: the FlatBuffers records hold hashes and sealed text, never the secrets themselves",
          "[aggregates][identity][secrets]") {
    story st;
    bool saw_sealed = false, saw_session_hash = false;
    for (const auto& r : st.log) {
        CHECK_FALSE(contains(r.bytes, st.sec.password));
        CHECK_FALSE(contains(r.bytes, st.sec.temp_password));
        CHECK_FALSE(contains(r.bytes, st.sec.session_token));
        CHECK_FALSE(contains(r.bytes, st.sec.reset_token));
        CHECK_FALSE(contains(r.bytes, st.sec.totp_secret));
        saw_sealed = saw_sealed || contains(r.bytes, st.sealed);
        saw_session_hash = saw_session_hash || contains(r.bytes, token_hash(st.sec.session_token));
    }
    CHECK(saw_sealed);
    CHECK(saw_session_hash);
    // And the sealed secret in the log opens, with the server key, for that staff member only.
    CHECK(*open_sealed(st.sec.key, "s1", st.sealed) == st.sec.totp_secret);
}

TEST_CASE("identity log: the state rebuilt from decoded envelopes equals the writer's",
          "[aggregates][identity][evolve]") {
    story st;
    agency_state rebuilt;
    // The fixture's setup (agency, s1) was folded without envelopes: replay it the same way, then
    // the recorded envelopes through decode and the envelope overload of evolve.
    identity_fixture fresh;
    rebuilt = fresh.s;
    for (const auto& r : st.log) {
        auto d = events::decode(r.bytes);
        REQUIRE(d.has_value());
        evolve(rebuilt, *d);
    }
    CHECK(rebuilt == st.f.s);
    CHECK(rebuilt.staff.at("s1").credentials == st.f.cred("s1"));

    // And it survives a snapshot.
    auto back = agency_state_from_json(to_json(rebuilt));
    REQUIRE(back.has_value());
    CHECK(*back == rebuilt);
}

TEST_CASE("identity log: the unknown-user refusal is stamped as an Agency event", "[aggregates][identity][evolve]") {
    story st;
    const auto& first = st.log.front().env;
    CHECK(events::event_type_name(first.data) == "LoginFailed");
    CHECK(first.aggregate_type == "Agency");
    CHECK(first.aggregate_id == st.f.s.id);
    auto d = events::decode(st.log.front().bytes);
    REQUIRE(d.has_value());
    CHECK(d->aggregate_type == "Agency");
    CHECK(std::get<events::LoginFailed>(d->data).username_tried.empty());
}
