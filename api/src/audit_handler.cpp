// GET /v1/audit/events: the agency's audit trail — changes (every event) and record views (who
// read which record, when, from where) — filtered by actor, subject, event type, kind and time
// span (no cap on the span), newest or oldest first, paged with a cursor; as JSON or as CSV for an
// auditor's spreadsheet. Backed by the projections' audit read model (store::audit_events).
#include <utility>
#include <variant>

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include "carelog/api/request.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

// Every event type name of the schema, and RecordViewed.
std::span<const char* const> audit_event_types() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (out.emplace_back(events::event_type_name(events::payload(std::in_place_index<I>))), ...);
        }(std::make_index_sequence<std::variant_size_v<events::payload>>{});
        out.emplace_back("RecordViewed");
        return out;
    }();
    static const std::vector<const char*> ptrs = [] {
        std::vector<const char*> out;
        for (const auto& n : names) out.push_back(n.c_str());
        return out;
    }();
    return ptrs;
}

namespace {

constexpr const char* kinds[] = {"change", "view"};
constexpr const char* orders[] = {"newest", "oldest"};
constexpr const char* formats[] = {"json", "csv"};
// A CSV answer holds at most this many rows; the rest follows with the cursor in X-Next-Cursor.
constexpr std::size_t csv_rows = 50000;

// One CSV field: quoted when it holds a separator, quote or line break; a leading = + - @ (a
// formula to a spreadsheet) is neutralised with a leading apostrophe.
void csv_field(std::string& out, std::string_view v) {
    std::string s;
    if (!v.empty() && (v.front() == '=' || v.front() == '+' || v.front() == '-' || v.front() == '@')) s = "'";
    s.append(v);
    if (s.find_first_of(",\"\r\n") == std::string::npos) {
        out += s;
        return;
    }
    out += '"';
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

std::string text_of(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return {};
    if (it->value().is_string()) return std::string(it->value().as_string());
    return json::serialize(it->value());
}

constexpr const char* csv_header =
    "occurred_at,kind,event_type,actor_id,aggregate_type,aggregate_id,event_id,sequence,record_type,address,"
    "user_agent,resource,data\r\n";

void csv_row(std::string& out, const json::object& item) {
    const json::object* data = nullptr;
    if (auto it = item.find("data"); it != item.end() && it->value().is_object()) data = &it->value().as_object();
    const bool view = text_of(item, "kind") == "view";
    auto add = [&](std::string_view v, bool last = false) {
        csv_field(out, v);
        out += last ? "\r\n" : ",";
    };
    add(text_of(item, "occurred_at"));
    add(text_of(item, "kind"));
    add(text_of(item, "event_type"));
    add(text_of(item, "actor_id"));
    add(text_of(item, "aggregate_type"));
    add(text_of(item, "aggregate_id"));
    add(text_of(item, "event_id"));
    add(text_of(item, "sequence"));
    add(view && data ? text_of(*data, "record_type") : "");
    add(view && data ? text_of(*data, "address") : "");
    add(view && data ? text_of(*data, "user_agent") : "");
    add(view && data ? text_of(*data, "resource") : "");
    add(data ? json::serialize(*data) : "", true);
}

}  // namespace

http_result<http_response> audit_events(request_context& rc) {
    query_reader q(rc.url.params());
    projections::audit_filter f;
    f.subject_id = q.uuid("subject_id");
    f.actor_id = q.string("actor_id");
    f.event_type = q.one_of("type", audit_event_types());
    if (auto k = q.one_of("kind", kinds)) f.kind = *k == "change" ? projections::audit_kind::change : projections::audit_kind::view;
    f.from = q.time("from");
    f.to = q.time("to");
    if (auto o = q.one_of("order", orders)) f.newest_first = *o == "newest";
    const bool csv = q.one_of("format", formats).value_or("json") == "csv";
    const int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    if (f.actor_id && (f.actor_id->empty() || f.actor_id->size() > 64))
        return fail(error::validation("actor_id", "is a staff, portal account or kiosk session id (at most 64 characters)"));
    if (f.from && f.to && *f.from >= *f.to) return fail(error::validation("to", "must be after from"));

    if (!csv) return page_response(rc.ctx.store.audit_events(rc.who.agency_id, f, limit, cursor));

    // CSV: pages of 500 until csv_rows rows or the end; the cursor of what is left in X-Next-Cursor.
    std::string body = csv_header;
    std::size_t rows = 0;
    std::optional<std::string> next = cursor;
    for (;;) {
        auto page = rc.ctx.store.audit_events(rc.who.agency_id, f, 500, next);
        if (!page) {
            if (page.error().code == errc::malformed) return fail(error::validation("cursor", "is not a cursor this server issued"));
            return std::unexpected(page.error());
        }
        for (const auto& item : page->items) csv_row(body, item.as_object());
        rows += page->items.size();
        next = page->next_cursor;
        if (!next || rows >= csv_rows) break;
    }
    http_response res{boost::beast::http::status::ok, 11};
    res.set(boost::beast::http::field::content_type, "text/csv; charset=utf-8");
    res.set(boost::beast::http::field::content_disposition, "attachment; filename=\"audit-events.csv\"");
    if (next) res.set("X-Next-Cursor", *next);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

}  // namespace carelog::api::detail
