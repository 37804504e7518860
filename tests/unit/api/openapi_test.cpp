// /openapi.json says what the decoders check: its patterns and lengths accept exactly what the
// server's own checks accept (tried here on samples, with the patterns compiled as ECMAScript over
// code points), and its responses list what the routes answer besides success.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <regex>
#include <variant>
#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "carelog/aggregates/agency.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/router.hpp"
#include "carelog/events/events.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using http::verb;

namespace {

json::object openapi_doc() {
    api_fixture f;
    auto res = f.request(verb::get, "/openapi.json");
    REQUIRE(res.result_int() == 200);
    return body_of(res);
}

const json::object& schema_at(const json::object& doc, std::string_view name) {
    return doc.at("components").as_object().at("schemas").as_object().at(name).as_object();
}

const json::object& property(const json::object& schema, std::string_view name) {
    return schema.at("properties").as_object().at(name).as_object();
}

// UTF-8 to code points (the samples are valid UTF-8).
std::wstring code_points(std::string_view s) {
    std::wstring out;
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        out.push_back(static_cast<wchar_t>(cp));
        i += len;
    }
    return out;
}

// Whether `value` is valid against a string schema's pattern, minLength, maxLength and (of the
// formats) "date": a real calendar day.
bool conforms(const json::object& schema, std::string_view value) {
    const std::wstring v = code_points(value);
    if (auto f = schema.if_contains("format"); f && f->as_string() == "date") {
        if (value.size() != 10) return false;
        const std::string s(value);
        const std::chrono::year_month_day d{std::chrono::year(std::atoi(s.substr(0, 4).c_str())),
                                            std::chrono::month(static_cast<unsigned>(std::atoi(s.substr(5, 2).c_str()))),
                                            std::chrono::day(static_cast<unsigned>(std::atoi(s.substr(8, 2).c_str())))};
        if (!d.ok()) return false;
    }
    if (auto m = schema.if_contains("minLength"); m && v.size() < static_cast<std::size_t>(m->as_int64())) return false;
    if (auto m = schema.if_contains("maxLength"); m && v.size() > static_cast<std::size_t>(m->as_int64())) return false;
    if (auto p = schema.if_contains("pattern")) {
        const std::string text(p->as_string());
        const std::wregex re(std::wstring(text.begin(), text.end()), std::regex::ECMAScript);  // the patterns are ASCII
        if (!std::regex_search(v, re)) return false;
    }
    return true;
}

bool has_field_error(const result<aggregates::client_fields>& r, std::string_view field) {
    if (r) return false;
    for (const auto& f : r.error().fields)
        if (f.field == field) return true;
    return false;
}

const std::vector<std::string> text_samples{
    "", " ", "\t\n", "a", " a ", "\ta\r\n", "a b", "a\x01" "b", "\x7f", "a\xc2\x85" "b", "\xc3\xa9", "caf\xc3\xa9 \xe2\x80\x94 x",
    "\xf0\x9f\x98\x80", std::string(100, 'x'), std::string(101, 'x'), "0", "-", " \xc2\xa0 "};

}  // namespace

TEST_CASE("openapi: every pattern is resolved and compiles as ECMAScript", "[api][ops][openapi]") {
    api_fixture f;
    auto res = f.request(verb::get, "/openapi.json");
    REQUIRE(res.result_int() == 200);
    const std::string& text = res.body();
    auto doc = body_of(res);
    std::size_t patterns = 0;
    const json::value whole(doc);
    std::function<void(const json::value&)> walk = [&](const json::value& v) {
        if (v.is_array())
            for (const auto& x : v.as_array()) walk(x);
        if (!v.is_object()) return;
        for (const auto& kv : v.as_object()) {
            if (kv.key() == "pattern" && kv.value().is_string()) {
                const std::string p(kv.value().as_string());
                INFO(p);
                CHECK(!p.starts_with("$"));
                CHECK_NOTHROW(std::wregex(std::wstring(p.begin(), p.end()), std::regex::ECMAScript));
                ++patterns;
            } else {
                walk(kv.value());
            }
        }
    };
    walk(whole);
    CHECK(patterns > 40);
    CHECK(text.find("\"pattern\":\"$") == std::string::npos);
}

TEST_CASE("openapi: client fields' patterns accept exactly what the domain accepts", "[api][openapi]") {
    const auto doc = openapi_doc();
    const auto& client = schema_at(doc, "NewClient");
    const micros now = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    auto check = [&](std::string_view field, const std::vector<std::string>& samples, auto fill) {
        for (const auto& s : samples) {
            aggregates::client_fields in{"Rosa", "Diaz", "1990-03-02", "", "", ""};
            fill(in, s);
            INFO(field << " = '" << s << "'");
            CHECK(conforms(property(client, field), s) == !has_field_error(aggregates::validate_client_fields(in, now), field));
        }
    };
    check("first_name", text_samples, [](auto& in, const std::string& s) { in.first_name = s; });
    check("external_id", text_samples, [](auto& in, const std::string& s) { in.external_id = s; });
    check("email",
          {"a@b.c", "rosa@demo.example", "a@b", "@b.c", "a@.b", "a@b..c", "a@b.c.", "a b@c.d", "a@b@c.d", "a,b@c.d",
           "r\xc3\xb6sa@d\xc3\xa9mo.example", std::string(64, 'x') + "@b.c", std::string(65, 'x') + "@b.c",
           "x@" + std::string(248, 'b') + ".c", "x@" + std::string(251, 'b') + ".c", "a\x01@b.c", "a@b.c\x7f"},
          [](auto& in, const std::string& s) { in.email = s; });
    check("phone",
          {"5551234", "+1 (555) 123-4567", "555.123.4567", "123456", "1234567", std::string(15, '1'), std::string(16, '1'),
           "++1234567", "1+234567", "12a4567", "+" + std::string(31, '1'), "1234567" + std::string(25, ' '),
           " 1234567", "1234567/8"},
          [](auto& in, const std::string& s) { in.phone = s; });
    check("date_of_birth",
          {"1990-03-02", "1992-02-29", "1990-02-29", "2000-02-29", "1900-01-01", "1899-12-31", "2000-13-01", "2000-00-10",
           "2000-04-31", "2000-1-01", "20000-01-01", "3000-01-01", "2019-12-31", "1990/03/02"},
          [](auto& in, const std::string& s) { in.date_of_birth = s; });
}

TEST_CASE("openapi: slugs, portal usernames and the default password policy match the server's checks",
          "[api][openapi]") {
    const auto doc = openapi_doc();
    const auto& slug = property(schema_at(doc, "NewAgency"), "slug");
    for (const std::string& s : std::vector<std::string>{"abc", "ab", "a-c", "-ab", "ab-", "ABC", "a_b", "a--b", "000"}) {
        INFO(s);
        CHECK(conforms(slug, s) == aggregates::is_valid_slug(s));
    }
    for (std::size_t n : {62, 63, 64}) CHECK(conforms(slug, std::string(n, 'a')) == aggregates::is_valid_slug(std::string(n, 'a')));

    const auto& username = property(schema_at(doc, "PortalRegistration"), "username");
    for (const std::string& s : std::vector<std::string>{"abc", "ab", "a.b", ".ab", "_ab", "a@b.c", "r\xc3\xb6sa", "A-b_c.d", std::string(64, 'a'),
                          std::string(65, 'a')}) {
        INFO(s);
        CHECK(conforms(username, s) == aggregates::portal_username_problem(s).empty());
    }

    const auto policy = events::default_settings("Sunrise");
    const auto& password = property(schema_at(doc, "PasswordChange"), "new_password");
    for (const std::string& s : std::vector<std::string>{"Correct-Horse-9", "correct-horse-9", "CORRECT-HORSE-9", "Correct-Horse-x", "CorrectHorse99",
                          "Sh0rt-pass!", "Twelve-chr-9", "\xc3\x89xtra-9-lower", "Extra 9 lower", std::string(253, 'a') + "B9!",
                          std::string(254, 'a') + "B9!"}) {
        INFO(s);
        CHECK(conforms(password, s) == password_policy_violations(policy, s, std::vector<std::string>{}).empty());
    }
}

TEST_CASE("openapi: ids, audit types and the answers besides success are listed", "[api][ops][openapi]") {
    const auto doc = openapi_doc();
    const auto& paths = doc.at("paths").as_object();
    for (const auto& r : route_table()) {
        INFO(r.method << " " << r.pattern);
        std::string m(r.method);
        for (auto& c : m) c = static_cast<char>(std::tolower(c));
        const auto& op = paths.at(r.pattern).as_object().at(m).as_object();
        const auto& responses = op.at("responses").as_object();
        if (auto params = op.if_contains("parameters"))
            for (const auto& p : params->as_array())
                if (p.at("in").as_string() == "path")
                    CHECK(p.at("schema").at("pattern").as_string() ==
                          "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
        // Anonymous routes are limited per address.
        if (r.auth == auth_kind::none) {
            CHECK(responses.contains("429"));
            CHECK(responses.at("429").at("headers").as_object().contains("Retry-After"));
        }
        // A parsed body can be malformed, of another type, too large or invalid.
        if (!r.request_schema.empty() || r.command)
            for (const char* s : {"400", "413", "415", "422"}) CHECK(responses.contains(s));
        if (r.auth != auth_kind::none || r.command) CHECK(responses.contains("503"));
    }

    const auto& audit = paths.at("/v1/audit/events").at("get").as_object();
    bool typed = false;
    for (const auto& p : audit.at("parameters").as_array()) {
        if (p.at("name").as_string() != "type") continue;
        const auto& values = p.at("schema").at("enum").as_array();
        CHECK(std::find(values.begin(), values.end(), json::value("RecordViewed")) != values.end());
        CHECK(std::find(values.begin(), values.end(), json::value("ClientAdded")) != values.end());
        CHECK(values.size() == std::variant_size_v<events::payload> + 1);
        typed = true;
    }
    CHECK(typed);
    CHECK(audit.at("responses").at("200").at("content").as_object().contains("text/csv"));
}
