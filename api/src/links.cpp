// Link mails (invitations, password resets): the link's address and the hand-over to the
// notifications topic, shared by every handler that sends one.
#include <spdlog/spdlog.h>

#include "handlers.hpp"

namespace carelog::api::detail {

std::string public_link(const app_context& ctx, std::string_view path_and_query) {
    std::string base = ctx.cfg.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + std::string(path_and_query);
}

void publish_link(app_context& ctx, const notify::notification& n, std::string_view what) {
    if (!ctx.notifications) {
        spdlog::warn("notify: no notification sink; the {} of agency {} was not sent", what, n.agency_id);
    } else if (auto p = ctx.notifications->publish(n); !p) {
        spdlog::error("notify: the {} of agency {} was not published: {}", what, n.agency_id, p.error().detail);
    }
}

}  // namespace carelog::api::detail
