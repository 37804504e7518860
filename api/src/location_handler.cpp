// POST|GET /v1/locations.
#include "carelog/api/request.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

http_result<http_response> add_location(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string name = r.required_string("name");
    std::string address = r.optional_string("address").value_or("");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    aggregates::add_location cmd{rc.ctx.ids.next_uuid(), name, address};
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id, cmd, 201,
                          json::object{{"id", cmd.location_id}, {"name", name}, {"address", address}});
}

http_result<http_response> list_locations(request_context& rc) {
    query_reader q(rc.url.params());
    const int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto f = q.finish(); !f) return std::unexpected(f.error());
    auto page = list_page(rc.ctx.store.locations(rc.who.agency_id), limit, cursor);
    if (!page) return std::unexpected(page.error());
    return json_response(200, *page);
}

}  // namespace carelog::api::detail
