// The read families merged into one sorted run each: what a read answers is the same before and
// after, a cancelled merge changes nothing a read sees, a quiet store is merged by itself, and a
// record applied during a merge makes it give way.
#include <chrono>
#include <thread>

#include "carelog/projections/quiet_merge.hpp"
#include "metrics_text.hpp"
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

const std::string agency = uuid(1);

// Four flushes of clients and staff: four sorted runs in each of their families.
struct spread_store {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};
    int next = 100;

    spread_store() {
        f.agency_event(agency, agency_created("Riverside", "riverside"));
        for (int flush = 0; flush < 4; ++flush) add_some(5);
    }
    void add_some(int n) {
        for (int i = 0; i < n; ++i, ++next) {
            REQUIRE(f.push(agency, uuid(next), ClientAdded{"Ann", "Lee" + std::to_string(next % 7), "1985-04-12",
                                                          "", "", ""}) == apply_outcome::applied);
            REQUIRE(f.push(agency, uuid(next + 10'000),
                           staff_created("Bo", "Ng" + std::to_string(next % 5), "bo" + std::to_string(next),
                                         "therapist")) == apply_outcome::applied);
        }
        REQUIRE(db->flush_memtables());
    }
    int runs(const std::string& family) const {
        for (const auto& [name, n] : db->read_family_runs())
            if (name == family) return n;
        FAIL("no family " << family);
        return -1;
    }
    // Everything a reader sees of the families: every client and staff page, and each view.
    std::vector<std::string> answers() const {
        std::vector<std::string> out;
        client_viewer admin{"admin", "administration"};
        std::optional<std::string> cursor;
        for (int i = 0; i < 100; ++i) {
            auto p = db->list_clients(agency, admin, {}, 3, cursor);
            REQUIRE(p.has_value());
            for (const auto& v : p->items) {
                out.push_back(json::serialize(v));
                out.push_back(json::serialize(*db->client(agency, std::string(v.as_object().at("id").as_string()))));
            }
            if (!(cursor = p->next_cursor)) break;
        }
        cursor.reset();
        for (int i = 0; i < 100; ++i) {
            auto p = db->list_staff(agency, {}, 4, cursor);
            REQUIRE(p.has_value());
            for (const auto& v : p->items) out.push_back(json::serialize(v));
            if (!(cursor = p->next_cursor)) break;
        }
        return out;
    }
};

std::string metrics_line(const quiet_merge& m, const std::string& series) {
    return carelog::testing::metric_value(m.metrics_text(), series);
}

}  // namespace

TEST_CASE("quiet merge: the read families merge into one sorted run each and read the same", "[projections][merge]") {
    spread_store s;
    CHECK(s.runs("clients") == 4);
    CHECK(s.runs("client_index") == 4);
    CHECK(s.runs("staff") == 4);
    CHECK(s.runs("staff_index") == 4);
    const auto before = s.answers();
    REQUIRE(before.size() == 20 * 2 + 20);

    SECTION("a cancelled merge leaves every run and every answer as it was") {
        std::atomic<bool> cancel{true};
        auto r = s.db->merge_read_families(cancel);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::unavailable);
        CHECK(s.runs("clients") == 4);
        CHECK(s.answers() == before);
    }
    SECTION("a merge leaves one run per family; reads, and later writes, go on as before") {
        std::atomic<bool> cancel{false};
        REQUIRE(s.db->merge_read_families(cancel));
        for (const auto& [family, runs] : s.db->read_family_runs()) {
            INFO(family);
            CHECK(runs <= 1);
        }
        CHECK(s.answers() == before);
        s.add_some(1);
        CHECK(s.runs("clients") == 2);
        CHECK(s.answers().size() == before.size() + 3);
        check_indexes(*s.db);
    }
}

TEST_CASE("quiet merge: once no record has been applied for a while, the store merges by itself, once per quiet "
          "stretch that follows records",
          "[projections][merge][threads]") {
    spread_store s;
    const auto before = s.answers();
    auto until_merged = [&](quiet_merge& m, const std::string& count) {
        // Pacing only: the merge starts 250 ms after the last record; the bound is a hang guard.
        for (int i = 0; i < 600 && metrics_line(m, "carelog_projection_quiet_merges_total{outcome=\"merged\"}") != count;
             ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return metrics_line(m, "carelog_projection_quiet_merges_total{outcome=\"merged\"}");
    };
    // Until the watcher has looked `looks` more times at a store quiet for the window with nothing
    // new, which is when it would have merged if it merged wrongly. Pacing only; the bound is a
    // hang guard.
    auto until_quiet_looks = [&](quiet_merge& m, std::uint64_t looks) {
        const auto target = m.quiet_looks_without_news() + looks;
        for (int i = 0; i < 3000 && m.quiet_looks_without_news() < target; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return m.quiet_looks_without_news() >= target;
    };
    {
        // What the store held when the node started is left as it is: the watcher finds it quiet
        // for the window and merges nothing (a watcher that merges the start's store fails here).
        // The window is wide so that add_some's records, applied one by one, are one quiet
        // stretch's even on a loaded machine: a pause of a window between two of them would make
        // two stretches, and two merges where the checks below count one (seen at 50 ms under
        // ctest -j2).
        quiet_merge m(*s.db, {std::chrono::milliseconds(250), std::chrono::milliseconds(10)});
        REQUIRE(until_quiet_looks(m, 3));
        CHECK(metrics_line(m, "carelog_projection_quiet_merges_total{outcome=\"merged\"}") == "0");
        CHECK(s.runs("client_index") == 4);

        // Records applied, then quiet: merged, one run each, the same answers plus the new ones.
        s.add_some(2);
        CHECK(until_merged(m, "1") == "1");
        CHECK(metrics_line(m, "carelog_projection_sorted_runs{family=\"client_index\"}") == "1");
        CHECK(s.runs("client_index") == 1);
        CHECK(s.answers().size() == before.size() + 6);

        // Quiet with nothing new applied: no merge again (a watcher that merges every quiet
        // stretch fails here).
        REQUIRE(until_quiet_looks(m, 3));
        CHECK(metrics_line(m, "carelog_projection_quiet_merges_total{outcome=\"merged\"}") == "1");

        s.add_some(1);
        CHECK(until_merged(m, "2") == "2");
        CHECK(s.runs("clients") == 1);
    }
    check_indexes(*s.db);
}

TEST_CASE("quiet merge: a record applied during a merge makes it give way, and the next quiet stretch merges",
          "[projections][merge][threads]") {
    // A store whose merge takes long enough to be caught under way: ~100,000 clients in 4 runs.
    spread_store s;
    for (int flush = 0; flush < 3; ++flush) {
        for (int i = 0; i < 33'000; ++i, ++s.next)
            REQUIRE(s.f.push(agency, uuid(s.next), ClientAdded{"Cy", "Ro" + std::to_string(s.next % 911), "1985-04-12",
                                                                "", "", ""}) == apply_outcome::applied);
        REQUIRE(s.db->flush_memtables());
    }
    REQUIRE(s.runs("client_index") >= 4);
    const auto running = "carelog_projection_quiet_merge_running";
    const auto merged = "carelog_projection_quiet_merges_total{outcome=\"merged\"}";
    const auto gave_way = "carelog_projection_quiet_merges_total{outcome=\"gave_way\"}";
    quiet_merge m(*s.db, {std::chrono::milliseconds(50), std::chrono::milliseconds(5)});
    REQUIRE(s.f.push(agency, uuid(s.next++), ClientAdded{"Di", "Ma", "1985-04-12", "", "", ""}) ==
            apply_outcome::applied);
    // Pacing only: the merge starts 50 ms after that record; the bounds are hang guards.
    for (int i = 0; i < 10000 && metrics_line(m, running) != "1" && metrics_line(m, merged) == "0"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(metrics_line(m, running) == "1");
    REQUIRE(s.f.push(agency, uuid(s.next++), ClientAdded{"Ed", "Na", "1985-04-12", "", "", ""}) ==
            apply_outcome::applied);
    for (int i = 0; i < 600 && metrics_line(m, gave_way) == "0" && metrics_line(m, merged) == "0"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(metrics_line(m, gave_way) == "1");
    CHECK(metrics_line(m, merged) == "0");

    // Quiet again: this time the merge runs to its end.
    for (int i = 0; i < 600 && metrics_line(m, merged) == "0"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(metrics_line(m, merged) == "1");
    CHECK(s.runs("client_index") == 1);
    CHECK(s.runs("clients") == 1);
}
