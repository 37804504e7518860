// The notification sink of carelogd: JSON records on the notifications topic (see notifications.hpp).
#pragma once

#include <memory>
#include <string>

#include "carelog/notify/notifications.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::notify {

// Produces to cfg.notifications_topic() (created at start by carelogd).
class kafka_notification_sink final : public notification_sink {
public:
    static result<std::unique_ptr<kafka_notification_sink>> create(const kafka::config& cfg, secret_key key);
    result<void> publish(const notification& n) override;

private:
    kafka_notification_sink(std::string topic, secret_key key, std::unique_ptr<kafka::producer> p)
        : topic_(std::move(topic)), key_(key), producer_(std::move(p)) {}
    std::string topic_;
    secret_key key_;
    std::unique_ptr<kafka::producer> producer_;
};

}  // namespace carelog::notify
