// The notifier: delivers the notifications topic by SMTP (SPEC §1 "Notifications").
//
// A member of the consumer group "<prefix>notifier" (so several carelogd nodes with SMTP configured
// share the partitions instead of each sending everything). For each record, in offset order per
// partition: open the sealed content with the server key, send it through libcurl to
// CARELOG_SMTP_URL, and only then commit the record's offset (synchronously). So:
//  - never lost: a record is committed only after the SMTP server accepted it (250), or after it
//    was judged undeliverable for good (a 5xx answer, a record that cannot be opened, a link that
//    already expired), which is logged with its partition and offset and counted;
//  - retried with backoff: a transient failure (connection refused, timeout, 4xx) rewinds the
//    partition to the record and tries again after 1 s, 2 s, 4 s ... up to `max_backoff`, forever;
//  - not sent twice after a restart: the restarted member resumes at the committed offset. The one
//    window left is a crash between the SMTP server's 250 and the commit; the message then goes out
//    again with the same Message-ID (<notification id>@carelog), which mail systems use to drop
//    duplicates. docs/architecture.md explains the trade-off.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "carelog/base/errc.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/notify/smtp.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::notify {

struct notifier_options {
    kafka::config kafka;          // brokers, topic prefix
    std::string group_id;         // default "<prefix>notifier"
    secret_key key;               // opens content_sealed
    std::string smtp_url;         // CARELOG_SMTP_URL
    std::string from = "carelog@localhost";  // CARELOG_SMTP_FROM
    std::chrono::seconds smtp_timeout{30};
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{60000};
};

class notifier {
public:
    explicit notifier(notifier_options o);
    ~notifier();  // stop()
    notifier(const notifier&) = delete;
    notifier& operator=(const notifier&) = delete;

    result<void> start();  // joins the group; delivery runs on its own thread
    void stop();           // finishes the attempt in flight, leaves the group

    // carelog_notifications_{sent,retried,undeliverable}_total (Prometheus text).
    std::string metrics_text() const;

private:
    void run();
    notifier_options o_;
    std::unique_ptr<kafka::group_consumer> consumer_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> sent_{0}, retried_{0}, undeliverable_{0};
};

}  // namespace carelog::notify
