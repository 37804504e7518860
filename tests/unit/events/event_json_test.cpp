// Event listings as JSON: identity events show what an auditor needs and never a password hash or
// the sealed TOTP secret.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "carelog/events/event_json.hpp"

using namespace carelog;
using namespace carelog::events;
namespace json = boost::json;

namespace {
const std::string argon = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$c2VjcmV0aGFzaA";
const std::string sealed = "sb1:" + std::string(120, '7');
}  // namespace

TEST_CASE("event json: PasswordChanged shows the reason and the forced change, never the hash",
          "[events][json][identity]") {
    auto o = payload_to_json(PasswordChanged{argon, true, "admin", ""});
    CHECK(o.at("reason") == "admin");
    CHECK(o.at("require_change_next_logon") == true);
    CHECK_FALSE(o.contains("password_hash"));
    CHECK_FALSE(o.contains("reset_token_hash"));
    CHECK(json::serialize(o).find("argon2") == std::string::npos);

    auto r = payload_to_json(PasswordChanged{argon, false, "reset", std::string(64, 'a')});
    CHECK(r.at("reset_token_hash") == json::value(std::string(64, 'a')));
    CHECK(json::serialize(r).find("argon2") == std::string::npos);
}

TEST_CASE("event json: MfaEnrolled never shows the sealed secret", "[events][json][identity]") {
    auto o = payload_to_json(MfaEnrolled{sealed});
    CHECK(json::serialize(o).find(sealed) == std::string::npos);
    CHECK(json::serialize(o).find("sb1:") == std::string::npos);
    CHECK(o.at("method") == "totp");
}

TEST_CASE("event json: times are RFC 3339 and a lock without end says null", "[events][json][identity]") {
    auto locked = payload_to_json(AccountLocked{1'795'001'800'000'000, 5});
    CHECK(locked.at("until") == json::value(format_rfc3339(1'795'001'800'000'000)));
    CHECK(locked.at("failures") == 5);
    CHECK(payload_to_json(AccountLocked{0, 5}).at("until").is_null());
    auto reset = payload_to_json(PasswordResetRequested{std::string(64, 'b'), 1'795'003'600'000'000});
    CHECK(reset.at("expires_at") == json::value(format_rfc3339(1'795'003'600'000'000)));
}

TEST_CASE("event json: logins show who, from where, and why not", "[events][json][identity]") {
    auto ok = payload_to_json(LoginSucceeded{std::string(64, 'c'), "203.0.113.7", "Firefox", true, false, 123});
    CHECK(ok.at("session_id") == json::value(std::string(64, 'c')));
    CHECK(ok.at("ip") == "203.0.113.7");
    CHECK(ok.at("mfa") == true);
    CHECK(ok.at("totp_step") == 123);
    auto no = payload_to_json(LoginFailed{"tjones", "198.51.100.2", "curl", "locked"});
    CHECK(no.at("username_tried") == "tjones");
    CHECK(no.at("reason") == "locked");
    CHECK(payload_to_json(SessionEnded{std::string(64, 'd'), "logout"}).at("reason") == "logout");
}

TEST_CASE("event json: PortalUsernameChosen shows the username, never the password hash",
          "[events][json][clients]") {
    auto o = payload_to_json(PortalUsernameChosen{"acct-1", "ZoeOB", argon});
    CHECK(o.at("username") == "ZoeOB");
    CHECK(o.at("portal_account_id") == "acct-1");
    CHECK_FALSE(o.contains("password_hash"));
    CHECK(json::serialize(o).find("argon2") == std::string::npos);
}

TEST_CASE("event json: client events carry their fields; times are RFC 3339", "[events][json][clients]") {
    auto c = payload_to_json(ClientAdded{"Ann", "Lee", "1980-05-06", "ann@example.org", "555-0100", ""});
    CHECK(c.at("date_of_birth") == "1980-05-06");
    CHECK(c.at("email") == "ann@example.org");
    auto i = payload_to_json(InvitationSent{"inv-1", "ann@example.org", 1'795'259'200'000'000, std::string(64, 'a')});
    CHECK(i.at("expires_at") == json::value(format_rfc3339(1'795'259'200'000'000)));
    CHECK(i.at("token_hash") == json::value(std::string(64, 'a')));
    auto k = payload_to_json(KioskSessionStarted{"k1", "c1", "", "doc-1", "", std::string(64, 'b'), 1, "s1"});
    CHECK(k.at("form_id").is_null());
    CHECK(k.at("document_id") == "doc-1");
    auto f = payload_to_json(KioskFormSubmitted{"k1", R"({"mood":"good"})"});
    CHECK(f.at("answers").at("mood") == "good");
    auto m = payload_to_json(MessageSent{"t1", "m1", "staff", "s1", "Hi", "s1"});
    CHECK(m.at("sender_kind") == "staff");
    CHECK(m.at("body") == "Hi");
    CHECK(payload_to_json(PortalAccountLocked{"a1", 0, 5}).at("until").is_null());
}
