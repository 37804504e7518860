// JSON bodies, typed field readers and query strings: every rejection names what was wrong.
#include "carelog/api/request.hpp"

#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include "carelog/base/text.hpp"

namespace carelog::api {

namespace json = boost::json;

std::optional<std::string_view> header(const http_request& req, std::string_view name) {
    auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    if (it == req.end()) return std::nullopt;
    auto v = it->value();
    return std::string_view(v.data(), v.size());
}

http_result<json::object> parse_json_body(const http_request& req, bool optional_body) {
    const std::string& body = req.body();
    auto ct = header(req, "Content-Type");
    if (optional_body && body.empty() && !ct) return json::object{};
    if (!ct) return std::unexpected(problem(http_problem::unsupported_media_type, "Content-Type must be application/json"));
    std::string_view media = *ct;
    if (auto semi = media.find(';'); semi != std::string_view::npos) media = media.substr(0, semi);
    if (ascii_lower(trim(media)) != "application/json")
        return std::unexpected(problem(http_problem::unsupported_media_type, "Content-Type must be application/json"));
    if (body.empty()) {
        if (optional_body) return json::object{};
        return fail(errc::malformed, "the request body is empty; a JSON object is expected");
    }
    if (!is_valid_utf8(body)) return fail(errc::malformed, "the request body is not valid UTF-8");
    json::parse_options opts;
    opts.max_depth = 32;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec, {}, opts);
    if (ec) return fail(errc::malformed, "the request body is not valid JSON: " + ec.message());
    if (!v.is_object()) return fail(errc::malformed, "the request body must be a JSON object");
    return std::move(v.as_object());
}

// ---- body_reader ----

body_reader::body_reader(const json::object& obj)
    : obj_(&obj), errors_(std::make_shared<std::vector<field_error>>()), present_(true) {}

body_reader::body_reader(const json::object* obj, std::string prefix, std::shared_ptr<std::vector<field_error>> errors,
                         bool present)
    : obj_(obj), prefix_(std::move(prefix)), errors_(std::move(errors)), present_(present) {}

std::string body_reader::path(std::string_view key) const { return prefix_ + std::string(key); }

void body_reader::add_error(std::string_view key, std::string message) {
    errors_->push_back({path(key), std::move(message)});
}

bool body_reader::has(std::string_view key) const {
    if (!obj_) return false;
    auto it = obj_->find(key);
    return it != obj_->end() && !it->value().is_null();
}

const json::value* body_reader::get(std::string_view key) {
    seen_.emplace(key);
    if (!obj_) return nullptr;
    auto it = obj_->find(key);
    if (it == obj_->end() || it->value().is_null()) return nullptr;
    return &it->value();
}

std::string body_reader::required_string(std::string_view key) {
    const json::value* v = get(key);
    if (!v) {
        if (present_) add_error(key, "is required");
        return {};
    }
    if (!v->is_string()) {
        add_error(key, "must be a string");
        return {};
    }
    return std::string(v->as_string());
}

std::optional<std::string> body_reader::optional_string(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
        add_error(key, "must be a string");
        return std::nullopt;
    }
    return std::string(v->as_string());
}

std::optional<std::string> body_reader::clearable_string(std::string_view key) {
    if (obj_) {
        auto it = obj_->find(key);
        if (it != obj_->end() && it->value().is_null()) {
            seen_.emplace(key);
            return std::string();
        }
    }
    return optional_string(key);
}

std::optional<bool> body_reader::optional_bool(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_bool()) {
        add_error(key, "must be a boolean");
        return std::nullopt;
    }
    return v->as_bool();
}

std::optional<std::int64_t> body_reader::optional_int(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->as_uint64());
    add_error(key, "must be an integer");
    return std::nullopt;
}

std::optional<std::vector<std::string>> body_reader::optional_strings(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_array()) {
        add_error(key, "must be an array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    const auto& arr = v->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_string()) {
            add_error(std::string(key) + "[" + std::to_string(i) + "]", "must be a string");
            return std::nullopt;
        }
        out.emplace_back(arr[i].as_string());
    }
    return out;
}

std::vector<std::string> body_reader::required_strings(std::string_view key) {
    bool had = has(key);
    auto v = optional_strings(key);
    if (!had && present_) add_error(key, "is required");
    return v.value_or(std::vector<std::string>{});
}

body_reader body_reader::object(std::string_view key, bool required) {
    const json::value* v = get(key);
    std::string child_prefix = path(key) + ".";
    if (!v) {
        if (required && present_) add_error(key, "is required");
        return body_reader(nullptr, std::move(child_prefix), errors_, false);
    }
    if (!v->is_object()) {
        add_error(key, "must be an object");
        return body_reader(nullptr, std::move(child_prefix), errors_, false);
    }
    return body_reader(&v->as_object(), std::move(child_prefix), errors_, true);
}

std::optional<std::vector<body_reader>> body_reader::objects(std::string_view key) {
    const json::value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_array()) {
        add_error(key, "must be an array of objects");
        return std::nullopt;
    }
    std::vector<body_reader> out;
    const auto& arr = v->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string p = path(key) + "[" + std::to_string(i) + "]";
        if (!arr[i].is_object()) {
            errors_->push_back({p, "must be an object"});
            return std::nullopt;
        }
        out.push_back(body_reader(&arr[i].as_object(), p + ".", errors_, true));
    }
    return out;
}

void body_reader::done() {
    if (!obj_) return;
    for (const auto& kv : *obj_) {
        std::string_view k(kv.key().data(), kv.key().size());
        if (!seen_.contains(k)) add_error(k, "unknown field");
    }
    seen_.clear();
    obj_ = nullptr;  // report once
}

result<void> body_reader::finish() {
    done();
    if (errors_->empty()) return {};
    return fail(error{errc::validation, "the request has invalid fields", *errors_});
}

// ---- query_reader ----

query_reader::query_reader(boost::urls::params_view params) {
    for (auto p : params) params_.emplace_back(p.key, p.value);
}

const std::string* query_reader::find(std::string_view key) {
    if (seen_.contains(key)) return nullptr;
    seen_.emplace(key);
    const std::string* found = nullptr;
    for (const auto& [k, v] : params_) {
        if (k != key) continue;
        if (found) {
            errors_.push_back({std::string(key), "is given more than once"});
            return nullptr;
        }
        found = &v;
    }
    return found;
}

std::optional<std::string> query_reader::string(std::string_view key) {
    const std::string* v = find(key);
    if (!v) return std::nullopt;
    if (!is_valid_utf8(*v)) {
        errors_.push_back({std::string(key), "must be valid UTF-8"});
        return std::nullopt;
    }
    return *v;
}

std::optional<bool> query_reader::boolean(std::string_view key) {
    const std::string* v = find(key);
    if (!v) return std::nullopt;
    if (*v == "true") return true;
    if (*v == "false") return false;
    errors_.push_back({std::string(key), "must be true or false"});
    return std::nullopt;
}

int query_reader::limit(int default_limit) {
    const std::string* v = find("limit");
    if (!v) return default_limit;
    int n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || ptr != v->data() + v->size() || n < 1 || n > 500) {
        errors_.push_back({"limit", "must be an integer from 1 to 500"});
        return default_limit;
    }
    return n;
}

std::optional<micros> query_reader::time(std::string_view key) {
    const std::string* v = find(key);
    if (!v) return std::nullopt;
    micros t = 0;
    if (!parse_rfc3339(*v, t)) {
        errors_.push_back({std::string(key), "must be an RFC 3339 time (2026-01-31T12:00:00Z)"});
        return std::nullopt;
    }
    return t;
}

std::optional<std::string> query_reader::uuid(std::string_view key) {
    const std::string* v = find(key);
    if (!v) return std::nullopt;
    if (!is_uuid(*v)) {
        errors_.push_back({std::string(key), "must be a UUID"});
        return std::nullopt;
    }
    return *v;
}

std::optional<std::string> query_reader::one_of(std::string_view key, std::span<const char* const> allowed) {
    const std::string* v = find(key);
    if (!v) return std::nullopt;
    for (const char* a : allowed)
        if (*v == a) return *v;
    std::string msg = "must be one of";
    for (std::size_t i = 0; i < allowed.size(); ++i) msg += (i ? ", " : " ") + std::string(allowed[i]);
    errors_.push_back({std::string(key), std::move(msg)});
    return std::nullopt;
}

result<void> query_reader::finish() {
    for (const auto& [k, v] : params_) {
        if (!seen_.contains(k)) {
            errors_.push_back({k, "unknown query parameter"});
            seen_.emplace(k);
        }
    }
    if (errors_.empty()) return {};
    return fail(error{errc::validation, "the query string has invalid parameters", errors_});
}

result<std::string> idempotency_key(const http_request& req) {
    auto v = header(req, "Idempotency-Key");
    if (!v) return std::string();
    bool ok = !v->empty() && v->size() <= 200;
    for (char c : *v) ok = ok && c >= 0x20 && c <= 0x7e;
    if (!ok) return fail(error::validation("Idempotency-Key", "must be 1 to 200 printable ASCII characters"));
    return std::string(*v);
}

std::string string_field(const boost::json::object& o, std::string_view key) {
    auto v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace carelog::api
