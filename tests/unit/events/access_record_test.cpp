// The record view codec: what is encoded decodes to the same record; bytes that are not a verified
// RecordViewed with its ids are refused, never read.
#include <catch2/catch.hpp>

#include <set>

#include "carelog/events/access_record.hpp"
#include "carelog/events/envelope_codec.hpp"

using namespace carelog;

TEST_CASE("access record: encode and decode agree; junk, an envelope and a record without ids are refused",
          "[events][access]") {
    events::record_viewed v{"0190f5c2-0000-7000-8000-000000000001", "0190f5c2-0000-7000-8000-0000000000aa",
                            1'790'000'000'123'456, "staff", "0190f5c2-0000-7000-8000-0000000000bb", "Client",
                            "0190f5c2-0000-7000-8000-0000000000cc", "client", "", "GET /v1/clients/{id}", "as_of=x", 1,
                            "127.0.0.1", "curl/8.0", "req-1"};
    auto bytes = events::encode(v);
    auto back = events::decode_record_viewed(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == v);
    auto listing = events::listing_json(v);
    CHECK(listing.at("event_type") == "RecordViewed");
    CHECK(listing.at("aggregate_id").as_string() == v.subject_id);
    CHECK(listing.at("data").as_object().at("user_agent") == "curl/8.0");

    const std::vector<std::uint8_t> junk{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CHECK(events::decode_record_viewed(junk).error().code == errc::malformed);
    // (the last few bytes may be alignment padding, which no field reads)
    for (std::size_t cut = 0; cut + 8 < bytes.size(); cut += 7) {
        INFO("cut at " << cut << " of " << bytes.size());
        CHECK(!events::decode_record_viewed(std::span(bytes.data(), cut)).has_value());
    }
    auto nameless = v;
    nameless.actor_id.clear();
    CHECK(!events::decode_record_viewed(events::encode(nameless)).has_value());

    // a record of the topic: several views of one agency, in order
    auto second = v;
    second.view_id = "0190f5c2-0000-7000-8000-000000000002";
    second.record_type = "client_list";
    const std::vector<events::record_viewed> two{v, second};
    auto record = events::encode_views(two);
    auto views = events::decode_record_views(record);
    REQUIRE(views.has_value());
    CHECK(*views == two);
    CHECK(!events::decode_record_views(bytes).has_value());  // a single view is not a record of the topic
    CHECK(!events::decode_record_views(junk).has_value());
    const std::vector<events::record_viewed> with_nameless{v, nameless};
    CHECK(!events::decode_record_views(events::encode_views(with_nameless)).has_value());
}

TEST_CASE("access record: a record of many views with repeated strings decodes to the same views, each "
          "repeated string stored once",
          "[events][access]") {
    // Strings repeat within a field, across fields (a subject that is also a record id) and skip
    // views; some views carry a request id, most none.
    const std::vector<std::string> people{"0190f5c2-0000-7000-8000-0000000000b1", "0190f5c2-0000-7000-8000-0000000000b2",
                                          "0190f5c2-0000-7000-8000-0000000000b3"};
    const std::vector<std::string> agents{"curl/8.0", "Mozilla/5.0 (X11; Linux x86_64) Chrome/120", ""};
    std::vector<events::record_viewed> views;
    std::size_t text = 0;
    std::set<std::string> distinct;
    for (int i = 0; i < 600; ++i) {
        events::record_viewed v;
        v.view_id = "0190f5c2-0000-7000-8000-" + std::string(12 - std::to_string(i).size(), '0') + std::to_string(i);
        v.agency_id = "0190f5c2-0000-7000-8000-0000000000aa";
        v.occurred_at = 1'790'000'000'000'000 + i;
        v.actor_kind = i % 7 ? "staff" : "portal";
        v.actor_id = people[static_cast<std::size_t>(i % 3)];
        v.subject_type = i % 5 ? "Client" : "";
        v.subject_id = i % 5 ? people[static_cast<std::size_t>((i / 3) % 3)] : "";
        v.record_type = i % 5 ? "client" : "client_list";
        v.record_id = i % 4 ? "" : people[static_cast<std::size_t>(i % 2)];
        v.resource = i % 5 ? "GET /v1/clients/{id}" : "GET /v1/clients";
        v.query = i % 11 ? "" : "limit=" + std::to_string(i % 3);
        v.item_count = i % 5 ? 1 : 50;
        v.address = i % 2 ? "127.0.0.1" : "10.0.0.7";
        v.user_agent = agents[static_cast<std::size_t>(i % 3)];
        v.request_id = i % 10 ? "" : "req-" + std::to_string(i);
        for (const auto* s : {&v.view_id, &v.agency_id, &v.actor_kind, &v.actor_id, &v.subject_type, &v.subject_id,
                              &v.record_type, &v.record_id, &v.resource, &v.query, &v.address, &v.user_agent,
                              &v.request_id})
            text += s->size();
        for (const auto* s : {&v.agency_id, &v.actor_kind, &v.actor_id, &v.subject_type, &v.subject_id,
                              &v.record_type, &v.record_id, &v.resource, &v.query, &v.address, &v.user_agent,
                              &v.request_id})
            distinct.insert(*s);
        views.push_back(std::move(v));
    }
    auto record = events::encode_views(views);
    auto back = events::decode_record_views(record);
    REQUIRE(back.has_value());
    CHECK(*back == views);
    // Each view costs its table (72 bytes, aligned) and its id (44 with length and padding); every other
    // string is stored once per record, at most 48 bytes each here. Stored for every view, the strings
    // alone would take `text` bytes, about 200 per view.
    CHECK(text > views.size() * 200);
    CHECK(record.size() < views.size() * (72 + 44) + distinct.size() * 48 + 64);
}
