// The SMTP notifier (see notifier.hpp): consumer group over the notifications topic, libcurl SMTP,
// commit after delivery, rewind + backoff on transient failures.
#include "carelog/notify/notifier.hpp"

#include <curl/curl.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>
#include <mutex>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "carelog/base/metric_text.hpp"
#include "carelog/notify/notifications.hpp"

namespace carelog::notify {
namespace json = boost::json;

namespace {

std::string header_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v)
        if (c != '\r' && c != '\n') out += c;
    return out;
}

bool is_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c >= 0x80) return false;
    return true;
}

// RFC 2047 "B" encoding of a header text that is not ASCII.
std::string encoded_word(std::string_view s) {
    if (is_ascii(s)) return std::string(s);
    std::string b64(sodium_base64_encoded_len(s.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(s.data()), s.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    b64.resize(std::strlen(b64.c_str()));
    return "=?UTF-8?B?" + b64 + "?=";
}

std::string rfc5322_date(micros t) {
    std::time_t secs = static_cast<std::time_t>(t / 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

struct upload {
    const std::string* text;
    std::size_t pos = 0;
};

std::size_t read_upload(char* buf, std::size_t size, std::size_t n, void* user) {
    auto* u = static_cast<upload*>(user);
    std::size_t room = size * n, left = u->text->size() - u->pos;
    std::size_t k = std::min(room, left);
    std::memcpy(buf, u->text->data() + u->pos, k);
    u->pos += k;
    return k;
}

bool curl_ready() {
    static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    return ok;
}

std::string str_of(const json::object& o, std::string_view key) {
    auto v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

std::string format_mail(const mail& m) {
    std::string out;
    out += "Date: " + rfc5322_date(m.date) + "\r\n";
    out += "From: " + header_value(m.from) + "\r\n";
    out += "To: " + header_value(m.to) + "\r\n";
    out += "Subject: " + encoded_word(header_value(m.subject)) + "\r\n";
    out += "Message-ID: " + header_value(m.message_id) + "\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "\r\n";
    for (std::size_t i = 0; i < m.text.size(); ++i) {
        char c = m.text[i];
        if (c == '\r') continue;
        if (c == '\n')
            out += "\r\n";
        else
            out += c;
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
}

smtp_sender::smtp_sender(std::string url, std::chrono::seconds timeout) : url_(std::move(url)), timeout_(timeout) {}

smtp_result smtp_sender::send(const mail& m) const {
    if (!curl_ready()) return {smtp_outcome::retry, "libcurl failed to initialise"};
    CURL* c = curl_easy_init();
    if (!c) return {smtp_outcome::retry, "curl_easy_init failed"};
    const std::string text = format_mail(m);
    upload u{&text};
    const std::string from = "<" + header_value(m.from) + ">";
    const std::string to = "<" + header_value(m.to) + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
    char errbuf[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout_.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK) return {smtp_outcome::sent, "accepted"};
    std::string detail = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "") +
                         (code ? " (SMTP " + std::to_string(code) + ")" : "");
    // A permanent refusal of this message (5xx) will not change by retrying; a refused login is
    // our configuration, which an operator fixes: keep the mail until then.
    if (code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED) return {smtp_outcome::undeliverable, detail};
    return {smtp_outcome::retry, detail};
}

notifier::notifier(notifier_options o) : o_(std::move(o)) {
    if (o_.group_id.empty()) o_.group_id = o_.kafka.topic_prefix + "notifier";
}

notifier::~notifier() { stop(); }

result<void> notifier::start() {
    auto c = kafka::group_consumer::open(o_.kafka, o_.kafka.notifications_topic(), o_.group_id);
    if (!c) return std::unexpected(c.error());
    consumer_ = std::move(*c);
    thread_ = std::thread([this] { run(); });
    spdlog::info("notifier: delivering {} by SMTP (group {})", o_.kafka.notifications_topic(), o_.group_id);
    return {};
}

void notifier::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    consumer_.reset();
}

void notifier::run() {
    smtp_sender smtp(o_.smtp_url, o_.smtp_timeout);
    auto backoff = o_.first_backoff;
    auto pause = [&](std::chrono::milliseconds d) {
        auto until = std::chrono::steady_clock::now() + d;
        while (!stopping_ && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    };
    while (!stopping_) {
        auto next = consumer_->next(std::chrono::milliseconds(200));
        if (!next) {
            spdlog::error("notifier: {}", next.error().detail);
            pause(std::chrono::seconds(1));
            continue;
        }
        if (!*next) continue;
        const kafka::record& rec = **next;
        const int partition = rec.partition;
        const std::int64_t offset = rec.offset;

        // Judge the record: a mail to send, or nothing deliverable (logged, counted, committed).
        std::optional<mail> m;
        std::string skip;
        std::string id, type;
        {
            std::error_code ec;
            auto v = json::parse(std::string_view(reinterpret_cast<const char*>(rec.value.data()), rec.value.size()), ec);
            if (ec || !v.is_object()) {
                skip = "not a JSON object";
            } else {
                const auto& o = v.as_object();
                id = str_of(o, "notification_id");
                type = str_of(o, "type");
                micros expires = 0;
                if (auto e = str_of(o, "expires_at"); !e.empty()) (void)parse_rfc3339(e, expires);
                auto content = open_notification(o_.key, o);
                if (!content) {
                    skip = "sealed content does not open (" + content.error().detail +
                           "); is CARELOG_SECRET_KEY the one of the carelogd that wrote it?";
                } else if (expires > 0 && expires <= system_clock{}.now()) {
                    skip = "its link expired before it could be delivered";
                } else if (str_of(*content, "to").empty()) {
                    skip = "no recipient address";
                } else {
                    m = mail{o_.from, str_of(*content, "to"), str_of(*content, "subject"), str_of(*content, "text"),
                             "<" + id + "@carelog>", system_clock{}.now()};
                }
            }
        }
        if (m) {
            auto r = smtp.send(*m);
            if (r.outcome == smtp_outcome::retry) {
                ++retried_;
                spdlog::warn("notifier: {} notification {} (partition {}, offset {}) not delivered: {}; retrying in {} ms",
                             type, id, partition, offset, r.detail, backoff.count());
                if (auto w = consumer_->rewind(partition, offset); !w)
                    spdlog::warn("notifier: {}", w.error().detail);
                pause(backoff);
                backoff = std::min(backoff * 2, o_.max_backoff);
                continue;
            }
            if (r.outcome == smtp_outcome::undeliverable) {
                skip = "refused by the SMTP server: " + r.detail;
            } else {
                ++sent_;
                spdlog::info("notifier: {} notification {} sent (partition {}, offset {})", type, id, partition,
                             offset);
            }
        }
        if (!skip.empty()) {
            ++undeliverable_;
            spdlog::error("notifier: notification {} at partition {} offset {} is undeliverable: {}",
                          id.empty() ? "?" : id, partition, offset, skip);
        }
        backoff = o_.first_backoff;
        for (int attempt = 0; attempt < 5; ++attempt) {
            auto c = consumer_->commit(partition, offset + 1);
            if (c) break;
            spdlog::warn("notifier: {} (attempt {})", c.error().detail, attempt + 1);
            pause(std::chrono::milliseconds(200 << attempt));
        }
    }
}

std::string notifier::metrics_text() const {
    std::string out;
    metric_text::single(out, "carelog_notifications_sent_total", "counter",
                        "Notifications accepted by the SMTP server.", sent_.load());
    metric_text::single(out, "carelog_notifications_retried_total", "counter",
                        "Delivery attempts that failed and will be retried.", retried_.load());
    metric_text::single(out, "carelog_notifications_undeliverable_total", "counter",
                        "Notifications given up (refused, unopenable, expired).", undeliverable_.load());
    return out;
}

}  // namespace carelog::notify
