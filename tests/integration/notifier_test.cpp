// The SMTP notifier against a real broker, a real carelogd and a real SMTP server (aiosmtpd):
// a reset link is delivered after the SMTP server comes up (retried, not lost), exactly once, also
// across a restart of carelogd, and the link in the e-mail works.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <regex>
#include <thread>

#include "metrics_text.hpp"
#include "process.hpp"

using namespace carelog::testing;
namespace json = boost::json;

namespace {

// The token of the first "<path>?token=..." link in a message.
std::string link_token(const std::string& message, const std::string& path) {
    std::smatch m;
    std::regex re(std::regex_replace(path, std::regex(R"([/?])"), R"(\$&)") + R"(\?token=([A-Za-z0-9_.\-]+))");
    if (!std::regex_search(message, m, re)) return "";
    return m[1];
}

std::string header(const std::string& message, const std::string& name) {
    std::smatch m;
    std::regex re("(^|\\n)" + name + ": ([^\\r\\n]*)", std::regex::icase);
    if (!std::regex_search(message, m, re)) return "";
    return m[2];
}

// One series of a carelogd's /metrics, whose page (with the notifier's families) must be one a
// scraper groups as written.
double metric(http_client& c, const std::string& name) {
    const auto page = c.get("/metrics").body;
    CHECK(carelog::testing::format_problem(page) == "");
    const auto value = metric_value(page, name);
    return value.empty() ? -1 : std::stod(value);
}

}  // namespace

TEST_CASE("notifier: a reset link waits out an SMTP outage, arrives once, survives a restart and works",
          "[notifier][integration]") {
    smtp_sink sink;  // not started yet: the SMTP server is down
    carelogd_options o;
    o.data_dir = make_temp_dir("notifier");  // kept across the restart
    o.topic_prefix = "test." + fresh_suffix() + ".";
    o.extra_env["CARELOG_SMTP_URL"] = sink.url();
    o.extra_env["CARELOG_SMTP_FROM"] = "no-reply@carelog.test";
    o.extra_env["CARELOG_PUBLIC_URL"] = "https://portal.example.test";
    auto d = std::make_unique<carelogd>(o);
    d->wait_ready();
    auto c = d->client();
    const std::string slug = "mail-" + fresh_suffix();
    auto created = create_agency(c, o.operator_key, slug);
    const std::string admin = str(created.at("admin"), "username");

    auto r = c.post("/v1/auth/password-reset", json::object{{"agency", slug}, {"username", admin}});
    REQUIRE(r.status == 202);

    // The notifier tries, fails and retries while the server is down.
    for (int i = 0; i < 100 && metric(c, "carelog_notifications_retried_total") < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(metric(c, "carelog_notifications_retried_total") >= 1);
    CHECK(sink.messages().empty());

    sink.start();
    auto mails = sink.wait_for(1, std::chrono::seconds(60));
    REQUIRE(mails.size() == 1);
    const std::string& first = mails[0];
    INFO(first);
    CHECK(header(first, "To") == "admin@" + slug + ".example");
    CHECK(header(first, "From") == "no-reply@carelog.test");
    CHECK(header(first, "Subject") == "Reset your carelog password");
    CHECK(header(first, "Message-ID").find("@carelog>") != std::string::npos);
    CHECK(first.find("https://portal.example.test/reset?token=") != std::string::npos);
    const std::string token = link_token(first, "/reset");
    REQUIRE_FALSE(token.empty());
    // The link never reaches the log: not in the line that records the sending, nor anywhere else.
    REQUIRE(d->log_shows("sent (partition"));
    CHECK(d->log_text().find(token) == std::string::npos);

    // Following the link sets a new password.
    const std::string fresh = "Mailed-Link-2026!x";
    r = c.post("/v1/auth/password-reset/confirm", json::object{{"token", token}, {"new_password", fresh}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(login(c, slug, admin, fresh).contains("token"));

    // A restart does not send the delivered mail again; a new reset is delivered once.
    REQUIRE(d->stop() == 0);
    d = std::make_unique<carelogd>(o);  // same topic prefix, data dir and consumer group
    d->wait_ready();
    auto c2 = d->client();
    // (one reset link per account a minute: the second one is for another staff member)
    auto session = bearer(str(login(c2, slug, admin, fresh), "token"));
    r = c2.post("/v1/staff",
                json::object{{"first_name", "Fern"}, {"last_name", "Lee"}, {"gender", "female"},
                              {"position", "Counselor"}, {"role", "therapist"}, {"type", "therapy_counseling"},
                              {"email", "fern@" + slug + ".example"}},
                session);
    INFO(r.body);
    REQUIRE(r.status == 201);
    const std::string fern = str(r.json(), "username");
    session["X-Consistency-Token"] = str(r.json(), "consistency_token");
    REQUIRE(c2.get("/v1/staff/" + str(r.json(), "id"), session).status == 200);
    r = c2.post("/v1/auth/password-reset", json::object{{"agency", slug}, {"username", fern}});
    REQUIRE(r.status == 202);
    mails = sink.wait_for(2, std::chrono::seconds(60));
    REQUIRE(mails.size() == 2);
    // Both mails are on the agency's one partition, the delivered one first: had the restarted
    // notifier sent it again, it would have done so before the new one. It sent exactly one.
    for (int i = 0; i < 50 && metric(c2, "carelog_notifications_sent_total") < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the 250 reaches the counter just after the sink
    CHECK(metric(c2, "carelog_notifications_sent_total") == 1);
    mails = sink.messages();
    CHECK(mails.size() == 2);
    CHECK(header(mails[0], "Message-ID") != header(mails[1], "Message-ID"));
    CHECK(header(mails[1], "To") == "fern@" + slug + ".example");
    const std::string second = link_token(mails[1], "/reset");
    CHECK_FALSE(second.empty());
    CHECK(second != token);
    // The first link was used: it does not work again.
    r = c2.post("/v1/auth/password-reset/confirm", json::object{{"token", token}, {"new_password", "Another-One-2026!y"}});
    CHECK(r.status == 422);
}

TEST_CASE("notifier: an invited client follows the e-mailed link, registers and logs in to the portal, then resets a "
          "forgotten password with the link mailed to them",
          "[notifier][integration]") {
    smtp_sink sink;
    sink.start();
    carelogd_options o;
    o.extra_env["CARELOG_SMTP_URL"] = sink.url();
    o.extra_env["CARELOG_PUBLIC_URL"] = "https://portal.example.test";
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    const std::string slug = "invite-" + fresh_suffix();
    auto created = create_agency(c, o.operator_key, slug);
    const std::string admin_id = str(created.at("admin"), "staff_id");
    auto admin = as_agency(c, str(created, "agency_id"));
    auto after = [&](const http_reply& r) {
        INFO(r.body);
        REQUIRE(r.status / 100 == 2);
        admin["X-Consistency-Token"] = str(r.json(), "consistency_token");
    };
    after(c.patch("/v1/agency/settings", json::object{{"client_portal_enabled", true}}, admin));
    after(c.put("/v1/staff/" + admin_id + "/permissions", json::object{{"client_portal", true}}, admin));
    auto r = c.post("/v1/clients",
                    json::object{{"first_name", "Rosa"}, {"last_name", "Márquez"}, {"date_of_birth", "1990-03-02"},
                                 {"email", "rosa@example.org"}},
                    admin);
    after(r);
    const std::string client_id = str(r.json(), "id");
    r = c.post("/v1/clients/" + client_id + "/portal/invitations", json::object{}, admin);
    after(r);

    auto mails = sink.wait_for(1, std::chrono::seconds(60));
    REQUIRE(mails.size() == 1);
    INFO(mails[0]);
    CHECK(header(mails[0], "To") == "rosa@example.org");
    CHECK_FALSE(header(mails[0], "Subject").empty());
    CHECK(mails[0].find("https://portal.example.test/portal/register?token=") != std::string::npos);
    const std::string token = link_token(mails[0], "/portal/register");
    REQUIRE_FALSE(token.empty());

    r = c.post("/v1/portal/register",
               json::object{{"token", token}, {"username", "rosa.m"}, {"password", "Blue-Harbor-2024!"}});
    INFO(r.body);
    REQUIRE(r.status == 201);
    CHECK(str(r.json(), "username") == "rosa.m");
    // The link was single-use.
    r = c.post("/v1/portal/register",
               json::object{{"token", token}, {"username", "rosa.other"}, {"password", "Blue-Harbor-2024!"}});
    CHECK(r.status == 422);

    http_reply in;
    for (int i = 0; i < 50; ++i) {  // the account reaches the read models a moment after the 201
        in = c.post("/v1/portal/login",
                    json::object{{"agency", slug}, {"username", "rosa.m"}, {"password", "Blue-Harbor-2024!"}});
        if (in.status == 200) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO(in.body);
    REQUIRE(in.status == 200);
    auto me = c.get("/v1/portal/me", bearer(str(in.json(), "token")));
    INFO(me.body);
    REQUIRE(me.status == 200);
    CHECK(me.body.find(client_id) != std::string::npos);
    CHECK(sink.messages().size() == 1);  // one invitation, one e-mail

    // Forgot password: the same 202 for an unknown username (which sends nothing) and for the
    // client; the link goes to the client's address.
    const auto ask = [&](const std::string& username) {
        return c.post("/v1/portal/password-reset", json::object{{"agency", slug}, {"username", username}});
    };
    auto unknown = ask("nobody.here");
    auto known = ask("ROSA.M");
    CHECK(unknown.status == 202);
    CHECK(known.status == 202);
    CHECK(unknown.body == known.body);
    mails = sink.wait_for(2, std::chrono::seconds(60));
    REQUIRE(mails.size() == 2);
    INFO(mails[1]);
    CHECK(header(mails[1], "To") == "rosa@example.org");
    CHECK(header(mails[1], "Subject") == "Reset your carelog portal password");
    const std::string reset = link_token(mails[1], "/portal/reset");
    REQUIRE_FALSE(reset.empty());
    CHECK(mails[1].find("https://portal.example.test/portal/reset?token=" + reset) != std::string::npos);

    const auto confirm = [&](const std::string& token, const std::string& password) {
        return c.post("/v1/portal/password-reset/confirm", json::object{{"token", token}, {"new_password", password}});
    };
    r = confirm(reset, "short");
    CHECK(r.status == 422);
    CHECK(r.body.find("new_password") != std::string::npos);
    r = confirm(reset + "x", "Green-Valley-2025!");
    CHECK(r.status == 422);
    CHECK(r.body.find("\"token\"") != std::string::npos);
    r = confirm(reset, "Green-Valley-2025!");
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(confirm(reset, "Other-Valley-2026!").status == 422);  // used once

    // The session opened before the reset is over; the old password no longer works, the new one does.
    CHECK(c.get("/v1/portal/me", bearer(str(in.json(), "token"))).status == 401);
    CHECK(c.post("/v1/portal/login",
                 json::object{{"agency", slug}, {"username", "rosa.m"}, {"password", "Blue-Harbor-2024!"}})
              .status == 401);
    auto again = c.post("/v1/portal/login",
                        json::object{{"agency", slug}, {"username", "rosa.m"}, {"password", "Green-Valley-2025!"}});
    INFO(again.body);
    CHECK(again.status == 200);
    CHECK(sink.messages().size() == 2);  // nothing was sent for the unknown username
}

TEST_CASE("notifier: a recipient refused for good is logged and skipped, and the mail behind it still goes out",
          "[notifier][integration]") {
    smtp_sink sink(0, true);  // refuses bounce* recipients with 550
    sink.start();
    carelogd_options o;
    o.extra_env["CARELOG_SMTP_URL"] = sink.url();
    carelogd d(o);
    d.wait_ready();
    auto c = d.client();
    const std::string slug = "bounce-" + fresh_suffix();
    auto created = create_agency(c, o.operator_key, slug);
    auto admin = as_agency(c, str(created, "agency_id"));
    auto staff = [&](const std::string& first, const std::string& email) {
        auto r = c.post("/v1/staff",
                        json::object{{"first_name", first}, {"last_name", "Lee"}, {"gender", "female"},
                                     {"position", "Counselor"}, {"role", "therapist"}, {"type", "therapy_counseling"},
                                     {"email", email}},
                        admin);
        INFO(r.body);
        REQUIRE(r.status == 201);
        admin["X-Consistency-Token"] = str(r.json(), "consistency_token");
        REQUIRE(c.get("/v1/staff/" + str(r.json(), "id"), admin).status == 200);
        return str(r.json(), "username");
    };
    const std::string bounced = staff("Bea", "bounce@" + slug + ".example");
    const std::string good = staff("Gus", "gus@" + slug + ".example");
    // One agency, one partition: the refused mail is ahead of the good one.
    REQUIRE(c.post("/v1/auth/password-reset", json::object{{"agency", slug}, {"username", bounced}}).status == 202);
    REQUIRE(c.post("/v1/auth/password-reset", json::object{{"agency", slug}, {"username", good}}).status == 202);

    auto mails = sink.wait_for(1, std::chrono::seconds(60));
    REQUIRE(mails.size() == 1);
    CHECK(header(mails[0], "To") == "gus@" + slug + ".example");
    CHECK(metric(c, "carelog_notifications_undeliverable_total") == 1);
    CHECK(metric(c, "carelog_notifications_sent_total") == 1);
    CHECK(d.log_shows("is undeliverable: refused by the SMTP server"));
}
