// /v1/clients: add, list and read clients (what the caller may see: administration types every
// client, therapy_counseling staff only those assigned to them; anything else is 404), assign and
// unassign staff, a client's history, the CSV import (per-row report, dry run), and portal accounts
// as staff see them (read; the username never changes: always 409).
// Field rules are the domain's (validate_client_fields, parse_clients_csv); this file checks
// shapes so a bad request is refused before a command is built, and visibility before anything.
#include <algorithm>
#include <cctype>
#include <map>

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include "carelog/aggregates/client_import.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/api/request.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

json::array field_errors_json(const std::vector<field_error>& fields) {
    json::array out;
    for (const auto& f : fields) out.push_back(json::object{{"field", f.field}, {"message", f.message}});
    return out;
}

// Content-Type text/csv (parameters such as charset allowed); anything else 415.
bool is_csv(const http_request& req) {
    auto ct = header(req, "Content-Type");
    if (!ct) return false;
    auto v = ct->substr(0, ct->find(';'));
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.size() != 8) return false;
    std::string lower(v);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower == "text/csv";
}

}  // namespace

projections::client_viewer viewer_of(const principal& who) { return {who.staff_id, who.staff_type}; }

std::optional<json::object> visible_client(request_context& rc, const std::string& client_id) {
    return rc.ctx.store.client_for(rc.who.agency_id, client_id, viewer_of(rc.who));
}

http_result<http_response> create_client(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    aggregates::client_fields in;
    in.first_name = r.required_string("first_name");
    in.last_name = r.required_string("last_name");
    in.date_of_birth = r.required_string("date_of_birth");
    in.email = r.optional_string("email").value_or("");
    in.phone = r.optional_string("phone").value_or("");
    in.external_id = r.optional_string("external_id").value_or("");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    const micros now = rc.ctx.clock.now();
    auto valid = aggregates::validate_client_fields(in, now);
    if (!valid) return std::unexpected(problem(valid.error()));

    aggregates::add_client c;
    c.client_id = rc.ctx.ids.next_uuid();
    c.first_name = valid->first_name;
    c.last_name = valid->last_name;
    c.date_of_birth = valid->date_of_birth;
    c.email = valid->email;
    c.phone = valid->phone;
    c.external_id = valid->external_id;
    c.now = now;
    auto res = submit_command(rc, rc.who.agency_id, rc.who.staff_id, c, 201);
    if (res) {
        std::string id = c.client_id;
        if (res->find("Idempotent-Replayed") != res->end()) {
            boost::system::error_code ec;
            auto v = json::parse(res->body(), ec);
            if (!ec && v.is_object()) id = string_field(v.as_object(), "id");
        }
        res->set(boost::beast::http::field::location, "/v1/clients/" + id);
    }
    return res;
}

http_result<http_response> list_clients(request_context& rc) {
    query_reader q(rc.url.params());
    projections::client_filter f;
    f.q = q.string("q");
    f.stored_bytes = true;
    int limit = q.limit(50);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto page = rc.ctx.store.list_clients(rc.who.agency_id, viewer_of(rc.who), f, limit, cursor);
    if (page) rc.viewed_items = page->stored.size() + page->items.size();
    return page_response(std::move(page));
}

http_result<http_response> get_client(request_context& rc) {
    query_reader q(rc.url.params());
    auto as_of = q.time("as_of");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    if (!as_of) {
        auto text = rc.ctx.store.client_text_for(rc.who.agency_id, rc.param("id"), viewer_of(rc.who));
        if (!text) return fail(errc::not_found, "no such client");
        return json_text_response(200, std::move(*text));
    }
    // Who may see the client now may see its past.
    if (!visible_client(rc, rc.param("id"))) return fail(errc::not_found, "no such client");
    auto past = rc.ctx.store.client_as_of(rc.who.agency_id, rc.param("id"), *as_of);
    if (!past) return fail(errc::not_found, "no such client at that time");
    return json_response(200, *past);
}

namespace {
// PUT / DELETE /v1/clients/{id}/staff/{staff_id}: the client must be visible to the caller and the
// staff member of this agency (else 404); no body, or an empty JSON object.
http_result<http_response> change_assignment(request_context& rc, bool assign) {
    const auto& client_id = rc.param("id");
    const auto& staff_id = rc.param("staff_id");
    if (!visible_client(rc, client_id)) return fail(errc::not_found, "no such client");
    if (!rc.ctx.store.staff(rc.who.agency_id, staff_id)) return fail(errc::not_found, "no such staff member");
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (assign)
        return submit_command(rc, rc.who.agency_id, rc.who.staff_id,
                              aggregates::assign_staff_to_client{client_id, staff_id}, 200);
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id,
                          aggregates::unassign_staff_from_client{client_id, staff_id}, 200);
}
}  // namespace

http_result<http_response> assign_client_staff(request_context& rc) { return change_assignment(rc, true); }
http_result<http_response> unassign_client_staff(request_context& rc) { return change_assignment(rc, false); }

http_result<http_response> client_history(request_context& rc) {
    query_reader q(rc.url.params());
    const int limit = q.limit(100);
    auto cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    const auto& id = rc.param("id");
    if (!visible_client(rc, id)) return fail(errc::not_found, "no such client");
    return page_response(rc.ctx.store.client_history_page(rc.who.agency_id, id, limit, cursor));
}

// POST /v1/clients/import (text/csv, ?dry_run=true). The file is parsed on its own (per-line
// errors); the good rows go to the agency's writer as ONE batch, decided one after another against
// the agency's state (a repeated or taken external_id is refused by its line) and, unless it is a
// dry run, appended in one transaction: every accepted row is durable or, on a Kafka failure (503),
// none is. The answer is 200 with a row per data record, ordered by line:
//   {line, status: "imported" | "valid" (dry run) | "failed", id?, errors?: [{field, message}]}.
http_result<http_response> import_clients(request_context& rc) {
    query_reader q(rc.url.params());
    bool dry_run = q.boolean("dry_run").value_or(false);
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    if (!is_csv(rc.req))
        return std::unexpected(problem(http_problem::unsupported_media_type, "Content-Type must be text/csv"));
    const micros now = rc.ctx.clock.now();
    auto parsed = aggregates::parse_clients_csv(rc.req.body(), now);
    if (!parsed) return std::unexpected(problem(parsed.error()));

    std::vector<aggregates::command> cmds;
    cmds.reserve(parsed->rows.size());
    for (const auto& row : parsed->rows) {
        aggregates::add_client c;
        c.client_id = rc.ctx.ids.next_uuid();
        c.first_name = row.fields.first_name;
        c.last_name = row.fields.last_name;
        c.date_of_birth = row.fields.date_of_birth;
        c.email = row.fields.email;
        c.phone = row.fields.phone;
        c.external_id = row.fields.external_id;
        c.now = now;
        cmds.push_back(std::move(c));
    }

    std::vector<result<command_result>> results;
    if (!cmds.empty()) {
        auto batch = rc.ctx.commands.submit_batch(
            rc.who.agency_id, command_meta{rc.who.staff_id, rc.idempotency_key, rc.ctx.ids.next_uuid()}, cmds, dry_run);
        if (!batch) return std::unexpected(problem(batch.error()));
        results = std::move(*batch);
        if (results.size() != cmds.size()) return fail(errc::internal, "the writer answered a different number of rows");
    }

    // line -> row report; parse errors first, then the decisions on the good rows.
    std::map<std::size_t, json::object> rows;
    for (const auto& e : parsed->errors) {
        auto& row = rows[e.line];
        if (row.empty()) row = json::object{{"line", e.line}, {"status", "failed"}, {"errors", json::array{}}};
        row["errors"].as_array().push_back(json::object{{"field", e.field}, {"message", e.message}});
    }
    std::size_t accepted = 0, failed_rows = 0;
    std::string last_token;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto line = parsed->rows[i].line;
        json::object row{{"line", line}};
        if (results[i]) {
            row["status"] = dry_run ? "valid" : "imported";
            row["id"] = results[i]->aggregate_id;
            if (!results[i]->consistency_token.empty()) last_token = results[i]->consistency_token;
            ++accepted;
        } else {
            const auto& err = results[i].error();
            row["status"] = "failed";
            json::array errs = field_errors_json(err.fields);
            // The one agency rule a row can break is external_id's uniqueness (client ids are fresh).
            if (errs.empty())
                errs.push_back(json::object{{"field", err.code == errc::conflict ? "external_id" : ""}, {"message", err.detail}});
            row["errors"] = std::move(errs);
        }
        rows[line] = std::move(row);
    }
    json::array report;
    for (auto& [line, row] : rows) {
        if (row.at("status").as_string() == "failed") ++failed_rows;
        report.push_back(std::move(row));
    }
    json::object out{{"dry_run", dry_run},
                     {"records", parsed->records},
                     {dry_run ? "valid" : "imported", accepted},
                     {"failed", failed_rows},
                     {"rows", std::move(report)}};
    if (last_token.empty())
        out["consistency_token"] = nullptr;
    else
        out["consistency_token"] = last_token;
    auto res = json_response(200, out);
    if (!last_token.empty()) res.set("X-Consistency-Token", last_token);
    return res;
}

// ---------------------------------------------------------------- portal accounts (staff side)

http_result<json::object> visible_account(request_context& rc) {
    auto account = rc.ctx.store.portal_account(rc.who.agency_id, rc.param("id"));
    if (!account || !visible_client(rc, string_field(*account, "client_id")))
        return fail(errc::not_found, "no such portal account");
    return *account;
}

http_result<http_response> get_portal_account(request_context& rc) {
    query_reader q(rc.url.params());
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    auto account = visible_account(rc);
    if (!account) return std::unexpected(account.error());
    rc.viewed_subject = string_field(*account, "client_id");
    return json_response(200, *account);
}

// SPEC: once chosen, a portal username never changes. The domain refuses every attempt (409) so
// that the refusal is a rule with its own test, and nothing reaches the log.
http_result<http_response> change_portal_account_username(request_context& rc) {
    auto account = visible_account(rc);
    if (!account) return std::unexpected(account.error());
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string username = r.required_string("username");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    return submit_command(rc, rc.who.agency_id, rc.who.staff_id,
                          aggregates::change_portal_username{rc.param("id"), std::move(username)}, 200);
}

}  // namespace carelog::api::detail
