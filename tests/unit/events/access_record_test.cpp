// The record view codec: what is encoded decodes to the same record; bytes that are not a verified
// RecordViewed with its ids are refused, never read.
#include <catch2/catch.hpp>

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
