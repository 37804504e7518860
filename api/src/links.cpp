// Link mails (invitations, password resets): the link's address and the hand-over to the
// notifications topic, shared by every handler that sends one.
#include <spdlog/spdlog.h>

#include "carelog/aggregates/agency.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/base/text.hpp"
#include "carelog/api/request.hpp"
#include "fiber.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

std::string public_link(const app_context& ctx, std::string_view path_and_query) {
    std::string base = ctx.cfg.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + std::string(path_and_query);
}

std::optional<recorded_link> record_link_request(
    app_context& ctx, const std::string& slug,
    const std::function<aggregates::command(const std::string& token_hash, micros now)>& make, std::string_view what) {
    if (!aggregates::is_valid_slug(slug)) return std::nullopt;
    catch_up(ctx, uuid_v5(slug));
    auto agency = ctx.store.agency_id_by_slug(slug);
    if (!agency) return std::nullopt;
    recorded_link out{*agency, "", new_agency_token(*agency), ctx.clock.now()};
    auto res = ctx.commands.submit(*agency, command_meta{"anonymous", "", ctx.ids.next_uuid()},
                                   make(token_hash(out.token), out.now));
    if (!res) {
        // Nothing recorded, nothing sent; the caller already has its 202 and may ask again.
        spdlog::error("{} for agency {} was not recorded: {}", what, *agency, res.error().detail);
        return std::nullopt;
    }
    if (res->consistency_token.empty()) return std::nullopt;  // no link issued
    out.aggregate_id = res->aggregate_id;
    (void)wait_applied(ctx, res->consistency_token, ctx.cfg.read_wait);
    return out;
}

http_result<http_response> accept_link_request(
    request_context& rc, void (*after)(app_context& ctx, const std::string& slug, const std::string& username)) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string slug = r.required_string("agency");
    std::string username(trim(r.required_string("username")));
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    fiber::spawn_detached([&ctx = rc.ctx, slug, username, after] { after(ctx, slug, username); });
    return json_response(202, boost::json::object{
                                  {"status", "accepted"},
                                  {"detail", "if the account exists, a reset link was sent to its e-mail address"}});
}

void publish_link(app_context& ctx, const notify::notification& n, std::string_view what) {
    if (!ctx.notifications) {
        spdlog::warn("notify: no notification sink; the {} of agency {} was not sent", what, n.agency_id);
    } else if (auto p = ctx.notifications->publish(n); !p) {
        spdlog::error("notify: the {} of agency {} was not published: {}", what, n.agency_id, p.error().detail);
    }
}

}  // namespace carelog::api::detail
