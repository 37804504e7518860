// GET /healthz, /readyz, /metrics, /openapi.json: no auth, no agency data.
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include "carelog/base/metric_text.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace http = boost::beast::http;
namespace json = boost::json;

http_result<http_response> healthz(request_context&) { return json_response(200, json::object{{"status", "ok"}}); }

http_result<http_response> readyz(request_context& rc) {
    if (rc.ctx.projections_status.ready()) return json_response(200, json::object{{"status", "ready"}});
    auto res = json_response(503, json::object{{"status", "catching_up"}});
    res.set(http::field::retry_after, "1");
    return res;
}

http_result<http_response> metrics_text(request_context& rc) {
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    std::string body = rc.ctx.m.text();
    std::string projections = rc.ctx.projections_status.metrics_text();
    if (!projections.empty() && projections.back() != '\n') projections.push_back('\n');
    body += projections;
    if (rc.ctx.limits)
        metric_text::single(body, "carelog_logins_unknown_unrecorded_total", "counter",
                            "Failed logins for unknown usernames answered but not recorded in the log (beyond the "
                            "agency's budget on this node).",
                            rc.ctx.limits->unknown_logins_unrecorded.load(std::memory_order_relaxed));
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

http_result<http_response> openapi(request_context& rc) {
    http_response res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.body() = openapi_document(rc.ctx.cfg.public_url);
    res.prepare_payload();
    return res;
}

}  // namespace carelog::api::detail
