// The notifier's e-mail format: CRLF lines, headers that text cannot extend, RFC 2047 subjects.
#include <catch2/catch.hpp>

#include "carelog/notify/smtp.hpp"

using carelog::notify::format_mail;
using carelog::notify::mail;

namespace {
mail sample() {
    return mail{"no-reply@carelog.test", "ada@example.org", "Reset your carelog password",
                "Hello Ada,\n\nopen this link:\nhttps://x.test/reset?token=abc\n", "<n-1@carelog>",
                1'790'000'000'000'000};
}
}  // namespace

TEST_CASE("mail: headers, a blank line, then the body with CRLF line ends", "[notifier]") {
    auto text = format_mail(sample());
    CHECK(text.find("From: no-reply@carelog.test\r\n") != std::string::npos);
    CHECK(text.find("To: ada@example.org\r\n") != std::string::npos);
    CHECK(text.find("Subject: Reset your carelog password\r\n") != std::string::npos);
    CHECK(text.find("Message-ID: <n-1@carelog>\r\n") != std::string::npos);
    CHECK(text.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
    CHECK(text.rfind("Date: Mon, 21 Sep 2026 14:13:20 +0000", 0) == 0);
    auto body_at = text.find("\r\n\r\n");
    REQUIRE(body_at != std::string::npos);
    CHECK(text.substr(body_at + 4) == "Hello Ada,\r\n\r\nopen this link:\r\nhttps://x.test/reset?token=abc\r\n");
    // No bare LF anywhere.
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n') CHECK((i > 0 && text[i - 1] == '\r'));
}

TEST_CASE("mail: a CR or LF inside a header value cannot add a header", "[notifier]") {
    auto m = sample();
    m.subject = "Hi\r\nBcc: victim@example.org";
    m.to = "ada@example.org\nBcc: other@example.org";
    auto text = format_mail(m);
    CHECK(text.find("\r\nBcc:") == std::string::npos);
    CHECK(text.find("Subject: HiBcc: victim@example.org\r\n") != std::string::npos);
}

TEST_CASE("mail: a subject that is not ASCII is RFC 2047 encoded", "[notifier]") {
    auto m = sample();
    m.subject = "Invitación";
    auto text = format_mail(m);
    CHECK(text.find("Subject: =?UTF-8?B?SW52aXRhY2nDs24=?=\r\n") != std::string::npos);
}
