// The HTTP edge's request decoders on arbitrary input: the first line is a query string read by
// query_reader, the rest a JSON body read by parse_json_body and body_reader in the shapes the
// handlers use (strings, booleans, integers, string lists, nested objects). Nothing may crash;
// every refusal is a typed error.
#include <boost/url/parse.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "carelog/api/request.hpp"

using namespace carelog;
using namespace carelog::api;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto nl = in.find('\n');
    std::string_view query = nl == std::string_view::npos ? in : in.substr(0, nl);
    std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

    const std::string target = "/v1/x?" + std::string(query);  // the url_view points into it
    if (auto url = boost::urls::parse_origin_form(target); url) {
        query_reader q(url->params());
        (void)q.string("q");
        (void)q.boolean("dry_run");
        (void)q.limit(50);
        (void)q.time("as_of");
        (void)q.uuid("staff_id");
        static constexpr std::array<const char*, 2> order{"newest", "oldest"};
        (void)q.one_of("order", order);
        (void)q.finish();
    }

    http_request req{boost::beast::http::verb::post, "/v1/x", 11};
    req.set(boost::beast::http::field::content_type, "application/json");
    req.body() = std::string(body);
    req.prepare_payload();
    auto obj = parse_json_body(req, true);
    if (!obj) return 0;
    body_reader r(*obj);
    (void)r.required_string("first_name");
    (void)r.optional_string("email");
    (void)r.clearable_string("phone");
    (void)r.optional_bool("active");
    (void)r.optional_int("min_length");
    (void)r.optional_strings("location_ids");
    (void)r.required_strings("permissions");
    auto nested = r.object("password_policy", false);
    (void)nested.optional_int("min_length");
    (void)nested.optional_bool("require_digit");
    nested.done();
    if (auto list = r.objects("rows"))
        for (auto& row : *list) {
            (void)row.required_string("name");
            row.done();
        }
    auto done = r.finish();
    if (!done && done.error().code == errc::internal) std::abort();  // a bad body is never an internal error
    return 0;
}
