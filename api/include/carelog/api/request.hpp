// Request parsing helpers shared by the handlers: JSON bodies (content type, UTF-8, shape), typed
// field readers that name the failing field and refuse unknown fields, query strings (Boost.URL)
// with `limit`/`cursor`, and RFC 3339 times.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/params_view.hpp>

#include "carelog/api/app.hpp"
#include "carelog/api/problem.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

// The request body as a JSON object. Content-Type must be application/json (415 otherwise);
// invalid UTF-8, malformed JSON and non-object bodies are 400. With `optional_body`, an empty body
// (and no Content-Type) is an empty object.
http_result<boost::json::object> parse_json_body(const http_request& req, bool optional_body = false);

// Reads typed fields out of a JSON object, collecting one field_error per problem (named with a
// dotted path: "admin.password", "phones[1].number"). Fields never read are "unknown field" errors
// at finish(), so a typo is a 422, not a silently ignored value. `null` counts as absent.
class body_reader {
public:
    explicit body_reader(const boost::json::object& obj);

    std::string required_string(std::string_view key);
    std::optional<std::string> optional_string(std::string_view key);
    // Like optional_string, but null is "" (PATCH: clear the field).
    std::optional<std::string> clearable_string(std::string_view key);
    std::optional<bool> optional_bool(std::string_view key);
    std::optional<std::int64_t> optional_int(std::string_view key);
    std::optional<std::vector<std::string>> optional_strings(std::string_view key);
    std::vector<std::string> required_strings(std::string_view key);
    // A nested object; its reader shares this reader's error list. Absent (or wrong type) gives a
    // reader over nothing whose required_* calls add no further errors.
    body_reader object(std::string_view key, bool required);
    // An array of objects (each read by the returned readers); nullopt when absent.
    std::optional<std::vector<body_reader>> objects(std::string_view key);

    bool has(std::string_view key) const;
    bool present() const { return present_; }
    void add_error(std::string_view key, std::string message);

    // Marks remaining keys of this reader as unknown. Call on nested readers before the root's finish().
    void done();
    // The root's verdict: 422 (errc::validation) with every field error, or success.
    result<void> finish();

private:
    body_reader(const boost::json::object* obj, std::string prefix,
                std::shared_ptr<std::vector<field_error>> errors, bool present);
    const boost::json::value* get(std::string_view key);
    std::string path(std::string_view key) const;

    const boost::json::object* obj_;
    std::string prefix_;
    std::shared_ptr<std::vector<field_error>> errors_;
    std::set<std::string, std::less<>> seen_;
    bool present_ = true;
};

// Query parameters, decoded. Unknown or repeated parameters are 422 naming the parameter.
class query_reader {
public:
    explicit query_reader(boost::urls::params_view params);

    std::optional<std::string> string(std::string_view key);
    std::optional<bool> boolean(std::string_view key);   // "true" | "false"
    int limit(int default_limit = 50);                   // 1..500
    std::optional<micros> time(std::string_view key);    // RFC 3339
    std::optional<std::string> uuid(std::string_view key);
    std::optional<std::string> one_of(std::string_view key, std::span<const char* const> allowed);

    result<void> finish();

private:
    std::vector<std::pair<std::string, std::string>> params_;
    std::set<std::string, std::less<>> seen_;
    std::vector<field_error> errors_;
    const std::string* find(std::string_view key);
};

// Header helpers.
std::optional<std::string_view> header(const http_request& req, std::string_view name);

// Idempotency-Key: absent = ""; at most 200 printable ASCII characters, else 422.
result<std::string> idempotency_key(const http_request& req);

// A string field of a read-model view ("" when absent or not a string).
std::string string_field(const boost::json::object& o, std::string_view key);

}  // namespace carelog::api
