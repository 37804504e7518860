// Messaging (SPEC §1 "Client portal"): threads between a client and staff, for portal clients
// (/v1/portal/threads, /v1/portal/messages) and for staff (/v1/messages). The domain's send_message
// decides who may write where (aggregates/clients.hpp); reads come from the thread and message read
// models, scoped here: a portal client sees only its own client's threads (another client's thread
// is 404, exactly like one that does not exist), staff only threads of clients they may see.
//
// Choices where SPEC is silent:
// - Staff need the messaging module (the agency's messaging_enabled and their own messaging
//   permission) to read threads as well as to write. Sending lets the domain refuse, so its 403
//   names what is missing; GET /v1/messages/threads/{id} says the same in the same words (after the
//   404 for a thread the caller may not see at all).
// - A portal client may read their threads whatever the switch says (it is their own data);
//   writing needs messaging_enabled (the domain's 403).
// - A message without thread_id starts a new thread: staff start one with the client (they are its
//   staff member), a portal client names to_staff_id (an assigned staff member with messaging). A
//   thread_id must name an existing thread of that client (404 otherwise).
// - Lists are oldest first and page with limit/cursor (default 50, at most 500); a thread's own GET
//   answers the first page of its messages with the cursor of the next.
#include <algorithm>
#include <charconv>
#include <map>

#include <boost/json.hpp>

#include "carelog/aggregates/access.hpp"
#include "carelog/aggregates/clients.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/ids.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

projections::client_viewer viewer_of_staff(const principal& p) { return {p.staff_id, p.staff_type}; }

std::unexpected<error> no_thread() { return fail(errc::not_found, "no such thread"); }

// The thread when it is the given client's; nullopt otherwise (answer 404 either way).
std::optional<json::object> thread_of_client(request_context& rc, const std::string& thread_id,
                                             const std::string& client_id) {
    auto t = rc.ctx.store.thread(rc.who.agency_id, thread_id);
    if (!t || string_field(*t, "client_id") != client_id) return std::nullopt;
    return t;
}

struct page_params {
    int limit = 50;
    std::optional<std::string> cursor;
};

http_result<page_params> read_page(query_reader& q) {
    page_params p;
    p.limit = q.limit(50);
    p.cursor = q.string("cursor");
    if (auto ok = q.finish(); !ok) return std::unexpected(ok.error());
    return p;
}

http_result<http_response> answer_page(json::array all, const page_params& p) {
    auto page = list_page(std::move(all), p.limit, p.cursor);
    if (!page) return std::unexpected(page.error());
    return json_response(200, *page);
}

// The message text: a string, checked by the domain (1..10000 characters of valid UTF-8).
void check_uuid(body_reader& r, std::string_view key, const std::optional<std::string>& v) {
    if (v && !is_uuid(*v)) r.add_error(key, "must be a UUID");
}

}  // namespace

http_result<json::object> list_page(json::array all, int limit, const std::optional<std::string>& cursor) {
    std::size_t start = 0;
    if (cursor) {
        const auto* first = cursor->data();
        const auto* last = first + cursor->size();
        auto [ptr, ec] = std::from_chars(first, last, start);
        if (cursor->empty() || ec != std::errc() || ptr != last || start == 0 || start > all.size())
            return fail(errc::malformed, "the cursor is not one this server gave out");
    }
    const std::size_t end = std::min(all.size(), start + static_cast<std::size_t>(std::max(limit, 1)));
    json::array items;
    for (std::size_t i = start; i < end; ++i) items.push_back(std::move(all[i]));
    json::object out{{"items", std::move(items)}};
    if (end < all.size())
        out["next_cursor"] = std::to_string(end);
    else
        out["next_cursor"] = nullptr;
    return out;
}

// ---------------------------------------------------------------- portal clients

http_result<http_response> list_portal_threads(request_context& rc) {
    query_reader q(rc.url.params());
    auto p = read_page(q);
    if (!p) return std::unexpected(p.error());
    return answer_page(rc.ctx.store.client_threads(rc.who.agency_id, rc.who.client_id), *p);
}

http_result<http_response> list_portal_thread_messages(request_context& rc) {
    query_reader q(rc.url.params());
    auto p = read_page(q);
    if (!p) return std::unexpected(p.error());
    const std::string& id = rc.param("id");
    if (!thread_of_client(rc, id, rc.who.client_id)) return no_thread();
    return page_response(rc.ctx.store.thread_messages(rc.who.agency_id, id, p->limit, p->cursor));
}

http_result<http_response> send_portal_message(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto thread_id = r.optional_string("thread_id");
    auto to_staff_id = r.optional_string("to_staff_id");
    std::string text = r.required_string("body");
    check_uuid(r, "thread_id", thread_id);
    check_uuid(r, "to_staff_id", to_staff_id);
    if (thread_id && to_staff_id)
        r.add_error("to_staff_id", "give thread_id (an existing thread) or to_staff_id (to start one), not both");
    else if (!thread_id && !to_staff_id && r.has("body"))
        r.add_error("thread_id", "give thread_id (an existing thread) or to_staff_id (to start one)");
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    if (thread_id && !thread_of_client(rc, *thread_id, rc.who.client_id)) return no_thread();

    aggregates::send_message c;
    c.client_id = rc.who.client_id;
    c.thread_id = thread_id.value_or(rc.ctx.ids.next_uuid());
    c.message_id = rc.ctx.ids.next_uuid();
    c.sender_kind = events::sender_kind::client;
    c.sender_id = rc.who.portal_account_id;
    c.to_staff_id = to_staff_id.value_or("");
    c.body = std::move(text);
    json::object extra{{"thread_id", c.thread_id}, {"message_id", c.message_id}};
    return submit_checked(
        rc, rc.who.agency_id, rc.who.portal_account_id,
        [&]() -> http_result<aggregates::command> { return aggregates::command{c}; }, 201, std::move(extra));
}

// ---------------------------------------------------------------- staff

http_result<http_response> send_staff_message(request_context& rc) {
    auto body = parse_json_body(rc.req);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    std::string client_id = r.required_string("client_id");
    auto thread_id = r.optional_string("thread_id");
    std::string text = r.required_string("body");
    if (!client_id.empty() && !is_uuid(client_id)) r.add_error("client_id", "must be a UUID");
    check_uuid(r, "thread_id", thread_id);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    // An existing thread of this client only: the domain decides the rest (module, visibility).
    if (thread_id && !thread_of_client(rc, *thread_id, client_id)) return no_thread();

    aggregates::send_message c;
    c.client_id = client_id;
    c.thread_id = thread_id.value_or(rc.ctx.ids.next_uuid());
    c.message_id = rc.ctx.ids.next_uuid();
    c.sender_kind = events::sender_kind::staff;
    c.sender_id = rc.who.staff_id;
    c.body = std::move(text);
    json::object extra{{"thread_id", c.thread_id}, {"message_id", c.message_id}};
    return submit_checked(
        rc, rc.who.agency_id, rc.who.staff_id,
        [&]() -> http_result<aggregates::command> { return aggregates::command{c}; }, 201, std::move(extra));
}

http_result<http_response> list_message_threads(request_context& rc) {
    query_reader q(rc.url.params());
    auto client_id = q.uuid("client_id");
    auto p = read_page(q);
    if (!p) return std::unexpected(p.error());
    const auto viewer = viewer_of_staff(rc.who);
    if (client_id) {
        if (!rc.ctx.store.client_for(rc.who.agency_id, *client_id, viewer))
            return fail(errc::not_found, "no such client");
        rc.viewed_subject = *client_id;
        return answer_page(rc.ctx.store.client_threads(rc.who.agency_id, *client_id), *p);
    }
    // The caller's own threads, still only of clients they may see now (a therapist unassigned from
    // a client no longer sees its threads).
    std::map<std::string, bool> visible;
    json::array mine;
    for (auto& t : rc.ctx.store.staff_threads(rc.who.agency_id, rc.who.staff_id)) {
        const auto client = string_field(t.as_object(), "client_id");
        auto [it, fresh] = visible.try_emplace(client, false);
        if (fresh) it->second = rc.ctx.store.client_for(rc.who.agency_id, client, viewer).has_value();
        if (it->second) mine.push_back(std::move(t));
    }
    return answer_page(std::move(mine), *p);
}

http_result<http_response> get_message_thread(request_context& rc) {
    query_reader q(rc.url.params());
    auto p = read_page(q);
    if (!p) return std::unexpected(p.error());
    auto t = rc.ctx.store.thread(rc.who.agency_id, rc.param("id"));
    if (!t || !rc.ctx.store.client_for(rc.who.agency_id, string_field(*t, "client_id"), viewer_of_staff(rc.who)))
        return no_thread();
    // The same 403 as a route needing messaging.use (auth.cpp): it names the switch and/or the grant.
    if (auto ok = check_permission(rc.who, aggregates::access::messaging_use); !ok) return std::unexpected(ok.error());
    auto page = rc.ctx.store.thread_messages(rc.who.agency_id, rc.param("id"), p->limit, p->cursor);
    if (!page) return fail(error::validation("cursor", "is not a cursor this server issued"));
    rc.viewed_subject = string_field(*t, "client_id");
    rc.viewed_items = page->items.size();
    (*t)["messages"] = std::move(page->items);
    (*t)["next_cursor"] = page->next_cursor ? json::value(*page->next_cursor) : json::value(nullptr);
    return json_response(200, *t);
}

}  // namespace carelog::api::detail
