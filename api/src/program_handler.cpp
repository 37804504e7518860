// POST|GET /v1/programs.
#include "carelog/api/request.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

http_result<http_response> add_program(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string name = r.required_string("name");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    aggregates::add_program cmd{rc.ctx.ids.next_uuid(), name};
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id, cmd, 201,
                          json::object{{"id", cmd.program_id}, {"name", name}});
}

http_result<http_response> list_programs(request_context& rc) {
    query_reader q(rc.url.params());
    const int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto f = q.finish(); !f) return std::unexpected(f.error());
    auto page = list_page(rc.ctx.store.programs(rc.who.agency_id), limit, cursor);
    if (!page) return std::unexpected(page.error());
    return json_response(200, *page);
}

}  // namespace carelog::api::detail
