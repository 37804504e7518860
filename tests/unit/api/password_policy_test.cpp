// The password policy as a function of an agency's Settings, generated temporary passwords and
// Argon2id hashing.
#include <catch2/catch.hpp>

#include <set>

#include <boost/json.hpp>

#include "carelog/api/password_policy.hpp"

using namespace carelog;
using namespace carelog::api;

namespace {
const std::vector<std::string> tjones{"tjones"};
}

TEST_CASE("password policy: the default policy accepts a strong password", "[api][password]") {
    auto policy = events::default_settings("Sunrise");
    CHECK(password_policy_violations(policy, "Blue-Horse-42-battery", tjones).empty());
}

TEST_CASE("password policy: the default policy names every rule a password breaks", "[api][password]") {
    auto policy = events::default_settings("Sunrise");
    CHECK(password_policy_violations(policy, "short", tjones).size() == 4);  // length, upper, digit, symbol
    CHECK(password_policy_violations(policy, "alllowercase-42", tjones) ==
          std::vector<std::string>{"must contain an upper-case letter"});
    CHECK(password_policy_violations(policy, "ALLUPPERCASE-42", tjones) ==
          std::vector<std::string>{"must contain a lower-case letter"});
    CHECK(password_policy_violations(policy, "NoDigitsHere-x", tjones) ==
          std::vector<std::string>{"must contain a digit"});
    CHECK(password_policy_violations(policy, "NoSymbolsHere42", tjones) ==
          std::vector<std::string>{"must contain a symbol"});
    CHECK(password_policy_violations(policy, "Abc-1234567", tjones) ==
          std::vector<std::string>{"must be at least 12 characters long"});
}

TEST_CASE("password policy: a password containing the username is refused, in any case", "[api][password]") {
    auto policy = events::default_settings("Sunrise");
    CHECK(password_policy_violations(policy, "My-TJones-2026!", tjones) ==
          std::vector<std::string>{"must not contain the username"});
    policy.password_disallow_username = false;
    CHECK(password_policy_violations(policy, "My-TJones-2026!", tjones).empty());
}

TEST_CASE("password policy: an agency's own policy applies (length counts characters, not bytes)",
          "[api][password]") {
    events::Settings policy = events::default_settings("Sunrise");
    policy.password_min_length = 8;
    policy.password_require_symbol = false;
    policy.password_require_upper = false;
    CHECK(password_policy_violations(policy, "lower123", tjones).empty());
    policy.password_min_length = 10;
    CHECK(!password_policy_violations(policy, "ñññññ123a", tjones).empty());  // 9 characters, 14 bytes
}

TEST_CASE("password policy: generated passwords are long, varied and satisfy the policy", "[api][password]") {
    auto policy = events::default_settings("Sunrise");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        auto pw = generate_password(policy, tjones);
        CHECK(pw.size() >= 16);
        CHECK(password_policy_violations(policy, pw, tjones).empty());
        seen.insert(pw);
    }
    CHECK(seen.size() == 200);
    policy.password_min_length = 40;
    CHECK(generate_password(policy, tjones).size() >= 40);
}

TEST_CASE("password policy: hashes are Argon2id strings that verify only the password", "[api][password]") {
    auto h = hash_password("Blue-Horse-42-battery");
    REQUIRE(h.has_value());
    CHECK(h->starts_with("$argon2id$"));
    CHECK(h->find("Blue-Horse") == std::string::npos);
    CHECK(verify_password(*h, "Blue-Horse-42-battery"));
    CHECK(!verify_password(*h, "Blue-Horse-42-batterY"));
}

TEST_CASE("password policy: settings are read from the agency view, defaults for what it lacks",
          "[api][password]") {
    auto v = boost::json::parse(R"({"password_policy":{"min_length":16,"require_symbol":false},
                                    "lockout":{"threshold":3},"mfa_required_roles":["org_admin"]})")
                 .as_object();
    auto s = settings_from_view(v);
    CHECK(s.password_min_length == 16);
    CHECK(s.password_require_symbol == false);
    CHECK(s.password_require_upper == true);
    CHECK(s.lockout_threshold == 3);
    CHECK(s.lockout_minutes == 30);
    CHECK(s.mfa_required_roles == events::strings{"org_admin"});
    CHECK(settings_from_view(boost::json::object{}).password_min_length == 12);
}
