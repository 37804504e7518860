// Notifications: what carelog asks a notifier to deliver (password-reset links now, invitation
// links with the portal). Each is one JSON record on the `<prefix>notifications` topic (key =
// agency id), produced with acks=all AFTER the command that issued the link is durable. The
// deliverable part (recipient, subject, text, link) is sealed with the server key
// (base/secrets.hpp seal, context = "notification:" + id), so no clear link sits in Kafka or its
// logs; the notifier opens it with the same CARELOG_SECRET_KEY. Format: docs/architecture.md.
#pragma once

#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "carelog/base/errc.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"

namespace carelog::notify {

struct notification {
    std::string id;         // UUID
    std::string type;       // "password_reset" | "portal_invitation"
    std::string agency_id;
    std::string staff_id;   // password_reset: the staff member; portal_invitation: who invited
    std::string client_id;      // portal_invitation only ("" = not in the record)
    std::string invitation_id;  // portal_invitation only ("" = not in the record)
    micros created_at = 0;
    micros expires_at = 0;  // when the link stops working (0 = none)
    // Sealed: {to, subject, text, link}
    boost::json::object content;
};

// The sealing context of a notification's content.
std::string notification_context(const std::string& id);
// The topic record: {notification_id, type, agency_id, staff_id, created_at, expires_at (RFC 3339),
// content_sealed}, plus client_id and invitation_id when set (added for invitations; readers of
// the first format ignore them).
boost::json::object notification_record(const secret_key& key, const notification& n);
// Opens content_sealed of a record (the notifier's side; tests use it).
result<boost::json::object> open_notification(const secret_key& key, const boost::json::object& record);

class notification_sink {
public:
    virtual ~notification_sink() = default;
    virtual result<void> publish(const notification& n) = 0;
};

}  // namespace carelog::notify
