// Listing pages kept in memory (store::keep_pages): a kept page answers again only while its agency
// has no newer applied record, so every answer is the one the store would give.
#include "projection_fixture.hpp"

#include <thread>

#include "metrics_text.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

const std::string agency = uuid(1);
const std::string other = uuid(2);

struct pages_fixture {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};
    client_viewer admin{"admin", "administration"};

    pages_fixture() {
        f.agency_event(agency, agency_created("Riverside", "riverside"));
        f.agency_event(other, agency_created("Lakeside", "lakeside"));
        f.push(agency, "t1", staff_created("Todd", "Jones", "tjones", "therapist"));
    }
    void add(const std::string& in, const std::string& id, std::string first, std::string last) {
        f.push(in, id, ClientAdded{std::move(first), std::move(last), "1985-04-12", "", "", ""});
    }
    // The ids of a page as the HTTP edge asks for it (stored bytes: the listing that is kept).
    std::vector<std::string> kept_ids(const std::string& in, int limit = 50,
                                      const std::optional<std::string>& cursor = std::nullopt) const {
        client_filter stored;
        stored.stored_bytes = true;
        auto p = db->list_clients(in, admin, stored, limit, cursor);
        REQUIRE(p.has_value());
        std::vector<std::string> out;
        for (const auto& bytes : p->stored) out.emplace_back(json::parse(bytes).as_object().at("id").as_string());
        return out;
    }
    // The same page read from the index every time (parsed items are never kept).
    std::vector<std::string> read_ids(const std::string& in, int limit = 50) const {
        auto p = db->list_clients(in, admin, {}, limit, std::nullopt);
        REQUIRE(p.has_value());
        std::vector<std::string> out;
        for (const auto& v : p->items) out.emplace_back(v.as_object().at("id").as_string());
        return out;
    }
    long lookups(const char* outcome) const {
        const auto v = carelog::testing::metric_value(
            db->page_cache_metrics_text(),
            std::string("carelog_projection_page_cache_lookups_total{outcome=\"") + outcome + "\"}");
        REQUIRE(!v.empty());
        return std::stol(v);
    }
    long gauge(const char* name) const {
        const auto v = carelog::testing::metric_value(db->page_cache_metrics_text(), name);
        REQUIRE(!v.empty());
        return std::stol(v);
    }
};

}  // namespace

TEST_CASE("page cache: a page asked for again is answered from memory until its agency changes",
          "[projections][clients][page_cache]") {
    pages_fixture x;
    x.add(agency, "c1", "Ann", "Lee");
    x.add(agency, "c2", "Bo", "Diaz");
    CHECK(x.kept_ids(agency) == std::vector<std::string>{"c2", "c1"});
    CHECK(x.lookups("miss") == 1);
    CHECK(x.kept_ids(agency) == std::vector<std::string>{"c2", "c1"});
    CHECK(x.lookups("hit") == 1);
    CHECK(x.gauge("carelog_projection_page_cache_pages") == 1);
    CHECK(x.gauge("carelog_projection_page_cache_bytes") > 0);

    // Every change of the agency shows at once: a new client first in name order, an assignment
    // (the views carry their staff), and its end.
    x.add(agency, "c3", "Cy", "Abbott");
    CHECK(x.kept_ids(agency) == std::vector<std::string>{"c3", "c2", "c1"});
    CHECK(x.gauge("carelog_projection_page_cache_pages") == 1);
    CHECK(x.kept_ids(agency) == x.read_ids(agency));
    auto staff_of = [&](std::size_t at) {
        client_filter stored;
        stored.stored_bytes = true;
        auto page = x.db->list_clients(agency, x.admin, stored, 50, std::nullopt);
        REQUIRE(page);
        REQUIRE(page->stored.size() == 3);
        return json::parse(page->stored[at]).as_object().at("staff_ids");
    };
    x.f.push(agency, "c2", StaffAssignedToClient{"t1"});
    CHECK(staff_of(1) == json::array{"t1"});
    CHECK(staff_of(1) == json::array{"t1"});
    x.f.push(agency, "c2", StaffUnassignedFromClient{"t1"});
    CHECK(staff_of(1) == json::array{});
    CHECK(x.lookups("hit") == 3);  // the reads right after each change read the store
}

TEST_CASE("page cache: pages are kept per agency, limit and cursor", "[projections][clients][page_cache]") {
    pages_fixture x;
    for (int i = 0; i < 5; ++i) x.add(agency, "c" + std::to_string(i), "First", "Last" + std::to_string(i));
    x.add(other, "o1", "Olga", "Other");
    client_filter stored;
    stored.stored_bytes = true;
    auto first = x.db->list_clients(agency, x.admin, stored, 2, std::nullopt);
    REQUIRE(first);
    REQUIRE(first->next_cursor);
    CHECK(x.kept_ids(agency, 2, first->next_cursor) == std::vector<std::string>{"c2", "c3"});
    CHECK(x.kept_ids(agency, 3) == std::vector<std::string>{"c0", "c1", "c2"});
    CHECK(x.kept_ids(other) == std::vector<std::string>{"o1"});
    CHECK(x.lookups("hit") == 0);
    // The same pages again: all from memory, each its own answer.
    auto again = x.db->list_clients(agency, x.admin, stored, 2, std::nullopt);
    REQUIRE(again);
    CHECK(again->stored == first->stored);
    CHECK(again->next_cursor == first->next_cursor);
    CHECK(x.kept_ids(agency, 2, first->next_cursor) == std::vector<std::string>{"c2", "c3"});
    CHECK(x.kept_ids(agency, 3) == std::vector<std::string>{"c0", "c1", "c2"});
    CHECK(x.lookups("hit") == 3);

    // Another agency's change leaves this agency's pages kept; its own are dropped.
    x.add(other, "o2", "Otto", "Other");
    CHECK(x.kept_ids(agency, 3) == std::vector<std::string>{"c0", "c1", "c2"});
    CHECK(x.lookups("hit") == 4);
    CHECK(x.kept_ids(other) == std::vector<std::string>{"o1", "o2"});
    CHECK(x.lookups("hit") == 4);

    // A name search and a therapist's list are never kept: they read the index every time.
    stored.q = "last1";
    for (int i = 0; i < 2; ++i) {
        auto found = x.db->list_clients(agency, x.admin, stored, 50, std::nullopt);
        REQUIRE(found);
        CHECK(found->items.size() + found->stored.size() == 1);
    }
    CHECK(x.lookups("hit") == 4);
}

TEST_CASE("page cache: bounded by its bytes; none kept at 0", "[projections][clients][page_cache]") {
    pages_fixture x;
    for (int i = 0; i < 20; ++i) x.add(agency, "c" + std::to_string(i), "First", "Last" + std::to_string(i));
    client_filter stored;
    stored.stored_bytes = true;
    auto one = x.db->list_clients(agency, x.admin, stored, 1, std::nullopt);
    REQUIRE(one);
    const long page_bytes = x.gauge("carelog_projection_page_cache_bytes");
    REQUIRE(page_bytes > 0);
    // Room for about three one-client pages: keeping more lets the oldest go.
    x.db->keep_pages(static_cast<std::size_t>(page_bytes) * 3 + page_bytes / 2);
    std::vector<std::optional<std::string>> cursors{std::nullopt};
    for (int i = 0; i < 10; ++i) {
        auto p = x.db->list_clients(agency, x.admin, stored, 1, cursors.back());
        REQUIRE(p);
        REQUIRE(p->next_cursor);
        cursors.push_back(p->next_cursor);
    }
    CHECK(x.gauge("carelog_projection_page_cache_pages") <= 3);
    CHECK(x.gauge("carelog_projection_page_cache_bytes") <= page_bytes * 3 + page_bytes / 2);
    const long hits = x.lookups("hit");
    CHECK(x.kept_ids(agency, 1, cursors[9]).size() == 1);  // the newest is still kept
    CHECK(x.lookups("hit") == hits + 1);
    CHECK(x.kept_ids(agency, 1, cursors[1]).size() == 1);  // an old one is not
    CHECK(x.lookups("hit") == hits + 1);

    x.db->keep_pages(0);
    CHECK(x.gauge("carelog_projection_page_cache_pages") == 0);
    CHECK(x.gauge("carelog_projection_page_cache_bytes") == 0);
    for (int i = 0; i < 3; ++i) CHECK(x.kept_ids(agency, 5).size() == 5);
    CHECK(x.lookups("hit") == hits + 1);
}

TEST_CASE("page cache: reads racing with changes never answer older than the store",
          "[projections][clients][page_cache]") {
    pages_fixture x;
    for (int i = 0; i < 30; ++i) x.add(agency, "c" + std::to_string(i), "First", "Last" + std::to_string(1000 + i));
    // Each new client comes first in name order, so a first page names the newest client it saw.
    const int adds = 300;
    std::atomic<int> applied{0};  // clients added and applied so far
    std::atomic<bool> done{false};
    std::atomic<long> reads{0}, older{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t)
        readers.emplace_back([&] {
            client_filter stored;
            stored.stored_bytes = true;
            while (!done) {
                const int before = applied.load();
                auto p = x.db->list_clients(agency, x.admin, stored, 10, std::nullopt);
                if (!p || p->stored.empty()) continue;
                ++reads;
                if (before == 0) continue;
                const std::string first(json::parse(p->stored.front()).as_object().at("id").as_string());
                // A page older than a change applied before the read began would name an older client.
                if (!first.starts_with("n") || std::stoi(first.substr(1)) < before - 1) ++older;
            }
        });
    for (int i = 0; i < adds; ++i) {
        x.add(agency, "n" + std::to_string(i), "First", "A" + std::to_string(9999 - i));  // before every "Last…"
        applied = i + 1;
    }
    done = true;
    for (auto& r : readers) r.join();
    CHECK(reads > 0);
    CHECK(older == 0);
    // The page now is the store's answer, and stays so when asked again.
    const auto expected = x.read_ids(agency, 10);
    CHECK(expected.front() == "n" + std::to_string(adds - 1));
    CHECK(x.kept_ids(agency, 10) == expected);
    CHECK(x.kept_ids(agency, 10) == expected);
    CHECK(x.lookups("hit") > 0);
}

TEST_CASE("page cache: a staff directory page is kept per filter until the agency changes",
          "[projections][staff][page_cache]") {
    pages_fixture x;
    x.f.push(agency, "s1", staff_created("Ann", "Lee", "alee", "therapist"));
    x.f.push(agency, "s2", staff_created("Bo", "Diaz", "bdiaz", "supervisor"));
    auto usernames = [&](const staff_filter& f) {
        auto p = x.db->list_staff(agency, f, 50, std::nullopt);
        REQUIRE(p.has_value());
        std::vector<std::string> out;
        for (const auto& v : p->items) out.emplace_back(v.as_object().at("username").as_string());
        return out;
    };
    staff_filter therapists;
    therapists.role = "therapist";
    staff_filter active;
    active.active = true;
    const std::vector<std::string> all_therapists{"alee", "tjones"};
    CHECK(usernames(therapists) == all_therapists);
    CHECK(usernames(active) == std::vector<std::string>{"alee", "bdiaz", "tjones"});
    const long hits = x.lookups("hit");
    CHECK(usernames(therapists) == all_therapists);  // each filter its own page, kept
    CHECK(usernames(active) == std::vector<std::string>{"alee", "bdiaz", "tjones"});
    CHECK(usernames({}) == std::vector<std::string>{"alee", "bdiaz", "tjones"});
    CHECK(x.lookups("hit") == hits + 2);

    // A deactivation leaves the kept pages behind at once, whatever filter they were for.
    x.f.push(agency, "s1", StaffDeactivated{""});
    CHECK(usernames(active) == std::vector<std::string>{"bdiaz", "tjones"});
    CHECK(usernames(therapists) == all_therapists);  // the role list still names them
    staff_filter inactive;
    inactive.active = false;
    CHECK(usernames(inactive) == std::vector<std::string>{"alee"});
    CHECK(x.lookups("hit") == hits + 2);
}
