// handle(): route, answer, record. Exceptions stop here as a 500 problem; the log line says
// what threw, the response says nothing internal.
#include "carelog/api/app.hpp"

#include <chrono>

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "carelog/api/problem.hpp"
#include "carelog/api/request.hpp"
#include "router_internal.hpp"

namespace carelog::api {

handled dispatch(app_context& ctx, const http_request& req, std::string_view peer) {
    auto t0 = std::chrono::steady_clock::now();
    handled h{http_response{}, "-"};
    try {
        auto r = detail::route_request(ctx, req, peer);
        h.response = std::move(r.response);
        h.route = r.route;
    } catch (const std::exception& e) {
        spdlog::error("api: {} {} threw: {}", std::string_view(req.method_string().data(), req.method_string().size()),
                      h.route, e.what());
        h.response = problem_response(error::make(errc::internal, "the server failed to answer this request"));
    } catch (...) {
        spdlog::error("api: request threw a non-standard exception");
        h.response = problem_response(error::make(errc::internal, "the server failed to answer this request"));
    }
    auto& res = h.response;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    if (res.find(boost::beast::http::field::cache_control) == res.end())
        res.set(boost::beast::http::field::cache_control, "no-store");
    if (auto rid = header(req, "X-Request-Id"); rid && rid->size() <= 200) {
        bool printable = true;
        for (char c : *rid) printable = printable && c > 0x20 && c < 0x7f;
        if (printable) res.set("X-Request-Id", *rid);
    }
    res.prepare_payload();
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    ctx.m.observe(std::string_view(req.method_string().data(), req.method_string().size()), h.route,
                  res.result_int(), us);
    return h;
}

http_response handle(app_context& ctx, const http_request& req, std::string_view peer) {
    return dispatch(ctx, req, peer).response;
}

}  // namespace carelog::api
