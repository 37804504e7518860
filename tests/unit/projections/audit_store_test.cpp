// The audit read model against a model of what it must answer: changes and record views merged in
// (occurred_at, kind, id) order, filtered by actor, subject, type, kind and [from, to), paged with
// cursors in both orders. Views arrive as the access topic's records do: several views per record,
// records of one agency overlapping in time, views in served (not time) order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <random>

#include "carelog/events/access_record.hpp"
#include "carelog/events/event_json.hpp"
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

constexpr micros ms = 1000;

std::string be64(std::uint64_t v) {
    std::string s(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    return s;
}

// What the listing holds, as the model sees it.
struct model_item {
    std::string order;  // be64(occurred_at) kind id: the listing's order
    std::string event_id;
    std::string actor;
    std::string subject;
    bool view = false;
    std::string type;
    micros at = 0;
};

struct audit_fixture {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder feed{db.get()};
    std::vector<model_item> items;  // of agency_a
    std::int64_t access_offset = 0;
    int next_view = 5000;
    const std::string agency_a = uuid(1), agency_b = uuid(2);

    // A change: StaffCreated of `staff` at the feeder's next second.
    void change(const std::string& agency, const std::string& staff) {
        auto e = feed.make(agency, staff, staff_created("Ann", "Lee", "u" + staff.substr(30), "therapist"));
        auto b = feed.bytes(e);
        REQUIRE(feed.push_bytes(b) == apply_outcome::applied);
        if (agency == agency_a)
            items.push_back({be64(static_cast<std::uint64_t>(e.occurred_at)) + 'c' + be64(e.sequence), e.event_id,
                             e.actor_id, e.aggregate_id, false, "StaffCreated", e.occurred_at});
    }

    events::record_viewed view(const std::string& agency, micros at, const std::string& actor,
                               const std::string& subject) {
        return {uuid(next_view++), agency, at, "staff", actor, subject.empty() ? "" : "Staff", subject,
                subject.empty() ? "staff_list" : "staff", "", "GET /v1/staff/{id}", "", 1, "10.0.0.1", "t", ""};
    }

    // One record of the access topic holding `views` in the given (served) order.
    void record(const std::vector<events::record_viewed>& views) {
        auto bytes = events::encode_views(views);
        incoming_record rec{0, access_offset++, bytes, views.front().agency_id};
        auto out = db->apply_access_batch(std::span(&rec, 1));
        REQUIRE(out.has_value());
        REQUIRE(out->applied == views.size());
        for (const auto& v : views)
            if (v.agency_id == agency_a)
                items.push_back({be64(static_cast<std::uint64_t>(v.occurred_at)) + 'v' + v.view_id, v.view_id,
                                 v.actor_id, v.subject_id, true, "RecordViewed", v.occurred_at});
    }

    std::vector<std::string> expected(const audit_filter& f) const {
        auto sorted = items;
        std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
        if (f.newest_first) std::reverse(sorted.begin(), sorted.end());
        std::vector<std::string> out;
        for (const auto& i : sorted) {
            if (f.actor_id && i.actor != *f.actor_id) continue;
            if (f.subject_id && i.subject != *f.subject_id) continue;
            if (f.event_type && i.type != *f.event_type) continue;
            if (f.kind && (*f.kind == audit_kind::view) != i.view) continue;
            if (f.from && i.at < *f.from) continue;
            if (f.to && i.at >= *f.to) continue;
            out.push_back(i.event_id);
        }
        return out;
    }

    // Every page of the listing with `limit`, walked with the cursors.
    std::vector<std::string> walk(const audit_filter& f, int limit) const {
        std::vector<std::string> out;
        std::optional<std::string> cursor;
        for (int pages = 0; pages < 10000; ++pages) {
            auto p = db->audit_events(agency_a, f, limit, cursor);
            REQUIRE(p.has_value());
            REQUIRE(p->items.size() <= static_cast<std::size_t>(limit));
            for (const auto& i : p->items) out.emplace_back(i.as_object().at("event_id").as_string());
            if (!p->next_cursor) break;
            cursor = p->next_cursor;
        }
        return out;
    }

    void check(audit_filter f, std::initializer_list<int> limits = {1, 3, 7, 500}) const {
        for (bool newest : {true, false}) {
            f.newest_first = newest;
            const auto want = expected(f);
            for (int limit : limits) {
                INFO("newest_first " << newest << ", limit " << limit);
                CHECK(walk(f, limit) == want);
            }
        }
    }
};

}  // namespace

TEST_CASE("audit store: a record with many views by one actor over several subjects lists each view once, in time "
          "order, by actor and by each subject",
          "[projections][audit]") {
    audit_fixture a;
    const auto actor = uuid(10);
    const std::vector<std::string> subjects{uuid(20), uuid(21), uuid(22), ""};
    std::vector<events::record_viewed> views;
    // Served out of time order, two views at the same microsecond.
    for (int i = 0; i < 40; ++i)
        views.push_back(a.view(a.agency_a, t0 + (37 * i % 40) * ms + (i == 7 ? 0 : 1), actor, subjects[i % 4]));
    views[8].occurred_at = views[7].occurred_at;
    a.record(views);

    a.check({});
    a.check({.actor_id = actor});
    for (const auto& s : subjects)
        if (!s.empty()) a.check({.subject_id = s});
    a.check({.actor_id = actor, .subject_id = subjects[1]});
    a.check({.actor_id = uuid(11)});
    auto all = a.db->audit_events(a.agency_a, {.actor_id = actor}, 500, std::nullopt);
    REQUIRE(all.has_value());
    REQUIRE(all->items.size() == 40);
    const auto& first = all->items[0].as_object();
    CHECK(first.at("kind") == "view");
    CHECK(first.at("event_type") == "RecordViewed");
    CHECK(first.at("data").as_object().at("address") == "10.0.0.1");
}

TEST_CASE("audit store: pages cross record boundaries in both orders, records of one agency overlapping in time and "
          "changes between them",
          "[projections][audit][paging]") {
    audit_fixture a;
    std::mt19937 rng(42);
    const std::vector<std::string> actors{uuid(10), uuid(11), uuid(12)};
    const std::vector<std::string> subjects{uuid(20), uuid(21), uuid(22), uuid(23), ""};
    for (const auto& s : subjects)
        if (!s.empty()) a.change(a.agency_a, s);  // t0 + 1 s .. t0 + 4 s
    // Twelve records from "two nodes": each spans up to 60 ms, the two nodes' records interleave,
    // some views fall on the exact microsecond of a change.
    for (int r = 0; r < 12; ++r) {
        const micros base = t0 + second + (r / 2) * 40 * ms + (r % 2) * 7 * ms;
        std::vector<events::record_viewed> views;
        const int n = 3 + static_cast<int>(rng() % 25);
        for (int i = 0; i < n; ++i) {
            micros at = base + static_cast<micros>(rng() % (60 * ms));
            if (r == 3 && i == 0) at = t0 + 2 * second;  // the same time as a change
            views.push_back(a.view(a.agency_a, at, actors[rng() % actors.size()], subjects[rng() % subjects.size()]));
        }
        a.record(views);
    }
    // The other agency's views and changes never show.
    a.change(a.agency_b, uuid(30));
    a.record({a.view(a.agency_b, t0 + second + 5 * ms, actors[0], subjects[0])});

    a.check({});
    for (const auto& actor : actors) a.check({.actor_id = actor});
    for (const auto& s : subjects)
        if (!s.empty()) a.check({.subject_id = s});
    a.check({.actor_id = actors[1], .subject_id = subjects[2]});
    a.check({.kind = audit_kind::view});
    a.check({.kind = audit_kind::change});
    a.check({.event_type = "RecordViewed"});
    a.check({.event_type = "StaffCreated"});
    a.check({.actor_id = "operator"});
    // Time spans that start and end inside records (and inside the overlap of two).
    for (auto [from, to] : std::vector<std::pair<micros, micros>>{
             {t0 + second + 13 * ms, t0 + second + 51 * ms},
             {t0 + second + 47 * ms, t0 + second + 48 * ms},
             {t0 + second + 100 * ms, t0 + 3 * second},
             {t0 + 2 * second, t0 + 2 * second + 1}}) {
        a.check({.from = from, .to = to});
        a.check({.from = from});
        a.check({.to = to});
        a.check({.actor_id = actors[0], .from = from, .to = to});
        a.check({.subject_id = subjects[0], .from = from, .to = to});
    }
}

TEST_CASE("audit store: a time span inside one record lists only that record's views within it", "[projections][audit]") {
    audit_fixture a;
    std::vector<events::record_viewed> views;
    for (int i = 0; i < 20; ++i) views.push_back(a.view(a.agency_a, t0 + (19 - i) * ms, uuid(10), uuid(20)));
    a.record(views);
    audit_filter f{.from = t0 + 5 * ms, .to = t0 + 9 * ms};
    auto p = a.db->audit_events(a.agency_a, f, 500, std::nullopt);
    REQUIRE(p.has_value());
    std::vector<std::string> times;
    for (const auto& i : p->items) times.emplace_back(i.as_object().at("event_id").as_string());
    // newest first: 8, 7, 6, 5 ms
    CHECK(times == std::vector<std::string>{views[11].view_id, views[12].view_id, views[13].view_id, views[14].view_id});
    CHECK_FALSE(p->next_cursor);
    a.check(f);
    a.check({.subject_id = uuid(20), .from = t0 + 5 * ms, .to = t0 + 9 * ms});
}

TEST_CASE("audit store: records of views list the same from memtables, from blob files after a flush, and after "
          "reopening",
          "[projections][audit]") {
    audit_fixture a;
    const std::vector<std::string> actors{uuid(10), uuid(11)};
    const std::vector<std::string> subjects{uuid(20), uuid(21), uuid(22), ""};
    // Records of hundreds of views (tens of KB each, as a drain's are), and one small one.
    for (int r = 0; r < 3; ++r) {
        std::vector<events::record_viewed> views;
        for (int i = 0; i < 300; ++i)
            views.push_back(a.view(a.agency_a, t0 + r * 400 * ms + (i * 13 % 300) * ms, actors[(i / 7) % 2],
                                   subjects[i % 4]));
        a.record(views);
    }
    a.record({a.view(a.agency_a, t0 + 2 * second, actors[0], subjects[0])});
    auto listings = [&] {
        a.check({}, {7, 500});
        a.check({.actor_id = actors[1]}, {7, 500});
        a.check({.subject_id = subjects[2]}, {7, 500});
        a.check({.from = t0 + 390 * ms, .to = t0 + 810 * ms}, {7, 500});
    };
    listings();
    REQUIRE(a.db->flush_memtables().has_value());
    bool blob = false;
    for (const auto& f : std::filesystem::directory_iterator(a.dir.str())) blob |= f.path().extension() == ".blob";
    CHECK(blob);  // the records left the trail's family for its blob files
    listings();
    a.db.reset();
    a.db = open_store(a.dir);
    listings();
}

TEST_CASE("audit store: a record whose views span longer than a drain (a held-up drain thread) lists like any other",
          "[projections][audit]") {
    audit_fixture a;
    a.change(a.agency_a, uuid(20));  // t0 + 1 s
    std::vector<events::record_viewed> views;
    // 3 s of views in one record, around the change.
    for (int i = 0; i < 30; ++i)
        views.push_back(a.view(a.agency_a, t0 + (i * 7 % 30) * 100 * ms, i % 3 ? uuid(10) : uuid(11), i % 2 ? uuid(20) : ""));
    a.record(views);
    a.record({a.view(a.agency_a, t0 + 1500 * ms, uuid(10), uuid(20))});
    a.check({});
    a.check({.actor_id = uuid(10)});
    a.check({.subject_id = uuid(20)});
    a.check({.from = t0 + 950 * ms, .to = t0 + 2100 * ms});
    a.check({.actor_id = uuid(11), .from = t0 + 400 * ms});
}

TEST_CASE("audit store: a record applied again at its offset adds nothing; one naming two agencies is refused",
          "[projections][audit]") {
    audit_fixture a;
    std::vector<events::record_viewed> views{a.view(a.agency_a, t0, uuid(10), uuid(20)),
                                             a.view(a.agency_a, t0 + ms, uuid(10), uuid(21))};
    a.record(views);
    auto bytes = events::encode_views(views);
    incoming_record again{0, 0, bytes, a.agency_a};
    auto out = a.db->apply_access_batch(std::span(&again, 1));
    REQUIRE(out.has_value());
    CHECK(out->applied == 0);
    a.check({});

    std::vector<events::record_viewed> mixed{a.view(a.agency_a, t0 + 2 * ms, uuid(10), uuid(20)),
                                             a.view(a.agency_b, t0 + 3 * ms, uuid(10), uuid(20))};
    auto mixed_bytes = events::encode_views(mixed);
    incoming_record unkeyed{0, a.access_offset++, mixed_bytes, ""};
    out = a.db->apply_access_batch(std::span(&unkeyed, 1));
    REQUIRE(out.has_value());
    CHECK(out->applied == 0);
    REQUIRE(out->rejected.size() == 1);
    CHECK(a.db->next_access_offset(0) == a.access_offset);
    a.check({});
}

TEST_CASE("audit store: every kind of change lists its event as it was applied, by time, actor and subject, "
          "after the store is reopened",
          "[projections][audit]") {
    temp_dir dir;
    const std::string agency = uuid(1), staff = uuid(10), client = uuid(20), location = uuid(30);
    std::vector<envelope> applied;  // in log order
    {
        auto db = open_store(dir);
        feeder feed{db.get()};
        auto push = [&](envelope e) {
            auto b = feed.bytes(e);
            REQUIRE(feed.push_bytes(b) == apply_outcome::applied);
            applied.push_back(e);
        };
        push(feed.make(agency, agency, agency_created("Acme Care", "acme")));
        push(feed.make(agency, agency, LocationAdded{location, "Main", "1 Road"}));
        push(feed.make(agency, staff, staff_created("Ann", "Lee", "alee", "therapist")));
        push(feed.make(agency, client, ClientAdded{"Bo", "Ng", "1990-01-02", "", "", ""}));
        push(feed.make(agency, client, StaffAssignedToClient{staff}));
        // An event at or below the client view's version (a re-published record): history only.
        auto again = feed.make(agency, client, StaffUnassignedFromClient{staff});
        again.aggregate_version = 1;
        push(again);
        // A login failure of an unknown username belongs to the agency and feeds no view.
        auto failed = feed.make(agency, agency, LoginFailed{"nobody", "10.0.0.1", "t", "unknown_user"});
        failed.aggregate_type = "Agency";
        push(failed);
        auto unknown_portal = feed.make(agency, agency, PortalLoginFailed{"", "nobody", "10.0.0.1", "t", "unknown_user"});
        unknown_portal.aggregate_type = "Agency";
        push(unknown_portal);
        push(feed.make(agency, staff, staff_created("Cy", "Park", "cpark", "therapist")));
    }
    auto db = open_store(dir);
    // The filter's listing in both orders, each checked against the applied events it keeps.
    auto check = [&](audit_filter f, auto&& keep) {
        json::array want;
        for (const auto& e : applied)
            if (keep(e)) {
                auto o = listing_json(e);
                o["kind"] = "change";
                want.emplace_back(std::move(o));
            }
        for (bool newest : {false, true}) {
            INFO("newest_first " << newest);
            f.newest_first = newest;
            auto p = db->audit_events(agency, f, 500, std::nullopt);
            REQUIRE(p.has_value());
            CHECK_FALSE(p->next_cursor);
            CHECK(p->items == want);
            std::reverse(want.begin(), want.end());
        }
    };
    check({}, [](const envelope&) { return true; });
    check({.subject_id = client}, [&](const envelope& e) { return e.aggregate_id == client; });
    check({.subject_id = agency}, [&](const envelope& e) { return e.aggregate_id == agency; });
    check({.actor_id = std::string("operator")}, [](const envelope&) { return true; });
    check({.actor_id = std::string("operator"), .subject_id = staff},
          [&](const envelope& e) { return e.aggregate_id == staff; });
    check({.event_type = std::string("LoginFailed")},
          [](const envelope& e) { return std::holds_alternative<LoginFailed>(e.data); });
}
