// E-mail for the notifier (notifier.hpp): the RFC 5322 message and libcurl's SMTP client.
#pragma once

#include <chrono>
#include <string>

#include "carelog/base/ids.hpp"

namespace carelog::notify {

// One e-mail as the notifier sends it.
struct mail {
    std::string from;        // envelope and header sender, an address
    std::string to;          // one recipient address
    std::string subject;     // UTF-8
    std::string text;        // UTF-8 plain text, '\n' line ends
    std::string message_id;  // "<id@carelog>"
    micros date = 0;
};

// The RFC 5322 message (CRLF line ends): Date, From, To, Subject (RFC 2047 encoded when not ASCII),
// Message-ID, MIME headers (text/plain; charset=utf-8, 8bit), then the body. CR and LF are removed
// from header values, so no text can add a header.
std::string format_mail(const mail& m);

// What one SMTP attempt came to.
enum class smtp_outcome { sent, retry, undeliverable };
struct smtp_result {
    smtp_outcome outcome = smtp_outcome::retry;
    std::string detail;  // for the log
};

// libcurl's SMTP client: smtp://host:port (smtps:// for TLS; user:password@ in the URL for AUTH).
class smtp_sender {
public:
    smtp_sender(std::string url, std::chrono::seconds timeout);
    smtp_result send(const mail& m) const;

private:
    std::string url_;
    std::chrono::seconds timeout_;
};

}  // namespace carelog::notify
