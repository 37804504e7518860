// Notification records and the Kafka sink (see notifications.hpp, docs/architecture.md).
#include "carelog/notify/notifications.hpp"

#include <boost/json.hpp>

#include "carelog/notify/kafka_notification_sink.hpp"
#include "carelog/base/ids.hpp"

namespace carelog::notify {
namespace json = boost::json;

std::string notification_context(const std::string& id) { return "notification:" + id; }

json::object notification_record(const secret_key& key, const notification& n) {
    json::object r;
    r["notification_id"] = n.id;
    r["type"] = n.type;
    r["agency_id"] = n.agency_id;
    r["staff_id"] = n.staff_id;
    if (!n.client_id.empty()) r["client_id"] = n.client_id;
    if (!n.invitation_id.empty()) r["invitation_id"] = n.invitation_id;
    r["created_at"] = format_rfc3339(n.created_at);
    if (n.expires_at > 0)
        r["expires_at"] = format_rfc3339(n.expires_at);
    else
        r["expires_at"] = nullptr;
    r["content_sealed"] = seal(key, notification_context(n.id), json::serialize(n.content));
    return r;
}

result<json::object> open_notification(const secret_key& key, const json::object& record) {
    auto id = record.if_contains("notification_id");
    auto sealed = record.if_contains("content_sealed");
    if (!id || !id->is_string() || !sealed || !sealed->is_string())
        return fail(errc::malformed, "not a notification record");
    auto clear = open_sealed(key, notification_context(std::string(id->as_string())), sealed->as_string());
    if (!clear) return std::unexpected(clear.error());
    std::error_code ec;
    auto v = json::parse(*clear, ec);
    if (ec || !v.is_object()) return fail(errc::malformed, "the sealed content is not a JSON object");
    return v.as_object();
}

result<std::unique_ptr<kafka_notification_sink>> kafka_notification_sink::create(const kafka::config& cfg,
                                                                                 secret_key key) {
    auto p = kafka::producer::create(cfg);
    if (!p) return std::unexpected(p.error());
    return std::unique_ptr<kafka_notification_sink>(
        new kafka_notification_sink(cfg.notifications_topic(), key, std::move(*p)));
}

result<void> kafka_notification_sink::publish(const notification& n) {
    auto text = json::serialize(notification_record(key_, n));
    std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    auto r = producer_->send(topic_, n.agency_id, bytes,
                             {{"notification-type", n.type}, {"content-type", "application/json"}});
    if (!r) return std::unexpected(r.error());
    return {};
}

}  // namespace carelog::notify
