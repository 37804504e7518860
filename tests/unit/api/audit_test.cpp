// Record views and the audit listing through handle(): which reads are recorded (with actor,
// subject, address, user agent), that a read is refused (503) when its view cannot be recorded and
// that a refused or failed read records nothing; the listing's filters, order, time span, paging,
// CSV and permission, over the real projections store.
#include <catch2/catch.hpp>

#include "api_fixture.hpp"
#include "carelog/events/access_record.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;

namespace {

struct recording_sink final : audit::view_sink {
    std::vector<events::record_viewed> views;
    bool refuse = false;
    result<void> record(const events::record_viewed_ref& v) override {
        if (refuse) return fail(errc::unavailable, "buffer full");
        views.push_back(events::owned(v));
        return {};
    }
};

void add_client(api_fixture& f, const std::string& id, std::string first, std::string last) {
    events::ClientAdded c;
    c.first_name = std::move(first);
    c.last_name = std::move(last);
    c.date_of_birth = "1990-04-01";
    f.feed.push(f.agency_a, id, c);
}

// Feeds a view into the store the way the access topic's consumer does.
void feed_view(api_fixture& f, const events::record_viewed& v, std::int64_t offset) {
    auto bytes = events::encode_views(std::span(&v, 1));
    projections::incoming_record rec{0, offset, bytes, v.agency_id};
    auto out = f.store->apply_access_batch(std::span(&rec, 1));
    REQUIRE(out.has_value());
    REQUIRE(out->applied == 1);
}

std::vector<std::string> types_of(const boost::json::object& body) {
    std::vector<std::string> out;
    for (const auto& i : body.at("items").as_array()) out.emplace_back(i.as_object().at("event_type").as_string());
    return out;
}

}  // namespace

TEST_CASE("audit: reads of records and lists are recorded with actor, subject, address and user agent; a 404 is not",
          "[api][audit]") {
    api_fixture f;
    recording_sink sink;
    f.ctx->views = &sink;
    f.peer = "10.1.2.3";
    const auto admin = f.bearer(f.admin_token(f.agency_a), {{"User-Agent", "Mozilla/5.0 (X11)"}, {"X-Request-Id", "r-1"}});
    const auto client = uuid(500);
    add_client(f, client, "Rosa", "Diaz");

    auto res = f.request(http::verb::get, "/v1/clients/" + client, "", admin);
    REQUIRE(res.result_int() == 200);
    REQUIRE(sink.views.size() == 1);
    const auto& v = sink.views[0];
    CHECK(v.agency_id == f.agency_a);
    CHECK(v.actor_kind == "staff");
    CHECK(v.actor_id == f.admin_of(f.agency_a));
    CHECK(v.subject_type == "Client");
    CHECK(v.subject_id == client);
    CHECK(v.record_type == "client");
    CHECK(v.resource == "GET /v1/clients/{id}");
    CHECK(v.address == "10.1.2.3");
    CHECK(v.user_agent == "Mozilla/5.0 (X11)");
    CHECK(v.request_id == "r-1");
    CHECK(v.occurred_at == f.clock.t);

    // a list of many: no subject, the query and how many it showed
    REQUIRE(f.request(http::verb::get, "/v1/clients?limit=10", "", admin).result_int() == 200);
    REQUIRE(sink.views.size() == 2);
    CHECK(sink.views[1].subject_id.empty());
    CHECK(sink.views[1].record_type == "client_list");
    CHECK(sink.views[1].query == "limit=10");
    CHECK(sink.views[1].item_count == 1);

    // a staff record
    REQUIRE(f.request(http::verb::get, "/v1/staff/" + f.staff_a, "", admin).result_int() == 200);
    REQUIRE(sink.views.size() == 3);
    CHECK(sink.views[2].subject_type == "Staff");
    CHECK(sink.views[2].subject_id == f.staff_a);

    // nothing shown, nothing recorded; reads that are not records (settings) are not recorded either
    CHECK(f.request(http::verb::get, "/v1/clients/" + uuid(501), "", admin).result_int() == 404);
    CHECK(f.request(http::verb::get, "/v1/agency/settings", "", admin).result_int() == 200);
    CHECK(sink.views.size() == 3);
}

TEST_CASE("audit: a read whose view cannot be recorded is answered 503 and shows nothing", "[api][audit]") {
    api_fixture f;
    recording_sink sink;
    sink.refuse = true;
    f.ctx->views = &sink;
    const auto admin = f.bearer(f.admin_token(f.agency_a));
    const auto client = uuid(500);
    add_client(f, client, "Rosa", "Diaz");
    auto res = f.request(http::verb::get, "/v1/clients/" + client, "", admin);
    CHECK(res.result_int() == 503);
    CHECK(res[http::field::content_type] == "application/problem+json");
    CHECK(res.body().find("Diaz") == std::string::npos);
    CHECK(res.body().find("audit trail") != std::string::npos);
    CHECK(!res[http::field::retry_after].empty());
}

TEST_CASE("audit: the listing filters by subject, actor, type, kind and time, pages both ways, answers CSV; "
          "only for the audit permission and only the caller's agency",
          "[api][audit]") {
    api_fixture f;
    const auto admin = f.bearer(f.admin_token(f.agency_a));
    const auto client = uuid(500), other = uuid(501);
    add_client(f, client, "Rosa", "Diaz");
    add_client(f, other, "Sam", "Stone");
    const micros view_time = f.feed.clock + 10 * second;
    events::record_viewed v{uuid(900), f.agency_a, view_time, "staff", f.staff_a, "Client", client, "client", "",
                            "GET /v1/clients/{id}", "", 1, "10.0.0.9", "curl/8", ""};
    feed_view(f, v, 0);
    auto later = v;
    later.view_id = uuid(901);
    later.occurred_at = view_time + second;
    later.subject_id = other;
    feed_view(f, later, 1);

    // who opened this client's record
    auto res = f.request(http::verb::get, "/v1/audit/events?subject_id=" + client, "", admin);
    REQUIRE(res.result_int() == 200);
    auto body = body_of(res);
    CHECK(types_of(body) == std::vector<std::string>{"RecordViewed", "ClientAdded"});  // newest first
    const auto& view = body.at("items").as_array()[0].as_object();
    CHECK(view.at("kind") == "view");
    CHECK(view.at("actor_id").as_string() == f.staff_a);
    CHECK(view.at("data").as_object().at("address") == "10.0.0.9");
    CHECK(view.at("occurred_at").as_string() == format_rfc3339(view_time));
    CHECK(body.at("items").as_array()[1].as_object().at("kind") == "change");

    // oldest first; kind; type; actor with subject
    CHECK(types_of(body_of(f.request(http::verb::get, "/v1/audit/events?subject_id=" + client + "&order=oldest", "", admin))) ==
          std::vector<std::string>{"ClientAdded", "RecordViewed"});
    CHECK(types_of(body_of(f.request(http::verb::get, "/v1/audit/events?subject_id=" + client + "&kind=change", "", admin))) ==
          std::vector<std::string>{"ClientAdded"});
    CHECK(body_of(f.request(http::verb::get, "/v1/audit/events?type=RecordViewed", "", admin)).at("items").as_array().size() == 2);
    CHECK(body_of(f.request(http::verb::get, "/v1/audit/events?actor_id=" + f.staff_a + "&subject_id=" + other, "", admin))
              .at("items").as_array().size() == 1);
    CHECK(body_of(f.request(http::verb::get, "/v1/audit/events?actor_id=" + uuid(77) + "&subject_id=" + other, "", admin))
              .at("items").as_array().empty());

    // a time span: [from, to)
    const auto span = "/v1/audit/events?kind=view&from=" + format_rfc3339(view_time) + "&to=" + format_rfc3339(view_time + second);
    auto in_span = body_of(f.request(http::verb::get, span, "", admin));
    REQUIRE(in_span.at("items").as_array().size() == 1);
    CHECK(in_span.at("items").as_array()[0].as_object().at("event_id").as_string() == uuid(900));
    CHECK(f.request(http::verb::get, "/v1/audit/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "", admin).result_int() == 422);

    // paging walks every entry once, in both orders
    for (const char* order : {"newest", "oldest"}) {
        auto all = body_of(f.request(http::verb::get, std::string("/v1/audit/events?limit=500&order=") + order, "", admin));
        std::vector<std::string> expected, walked;
        for (const auto& i : all.at("items").as_array()) expected.emplace_back(i.as_object().at("event_id").as_string());
        REQUIRE(expected.size() >= 6);
        std::string cursor;
        for (int n = 0; n < 100; ++n) {
            auto page = body_of(f.request(http::verb::get, std::string("/v1/audit/events?limit=2&order=") + order +
                                                               (cursor.empty() ? "" : "&cursor=" + cursor),
                                          "", admin));
            for (const auto& i : page.at("items").as_array()) walked.emplace_back(i.as_object().at("event_id").as_string());
            if (page.at("next_cursor").is_null()) break;
            cursor = page.at("next_cursor").as_string();
        }
        CHECK(walked == expected);
    }
    CHECK(f.request(http::verb::get, "/v1/audit/events?cursor=AAAA", "", admin).result_int() == 422);

    // CSV
    auto csv = f.request(http::verb::get, "/v1/audit/events?format=csv&subject_id=" + client, "", admin);
    REQUIRE(csv.result_int() == 200);
    CHECK(csv[http::field::content_type] == "text/csv; charset=utf-8");
    CHECK(csv.body().starts_with("occurred_at,kind,event_type,actor_id,aggregate_type,aggregate_id,event_id,sequence,"));
    CHECK(std::count(csv.body().begin(), csv.body().end(), '\n') == 3);
    CHECK(csv.body().find("view,RecordViewed," + f.staff_a + ",Client," + client) != std::string::npos);

    // the other agency's admin sees none of it; a therapist has no audit permission
    auto theirs = body_of(f.request(http::verb::get, "/v1/audit/events?subject_id=" + client, "", f.bearer(f.admin_token(f.agency_b))));
    CHECK(theirs.at("items").as_array().empty());
    auto t = staff_created("Terry", "Kim", "tkim", "therapist");
    t.require_password_change = false;
    f.feed.push(f.agency_a, uuid(40), t);
    CHECK(f.request(http::verb::get, "/v1/audit/events", "", f.bearer(f.login(f.agency_a, uuid(40), "t"))).result_int() == 403);
}
