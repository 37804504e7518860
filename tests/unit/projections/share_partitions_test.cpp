// How a node's partitions are shared among its appliers (projections::share_partitions).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "carelog/projections/runner.hpp"

using carelog::projections::share_partitions;

namespace {
std::vector<std::int64_t> loads(const std::vector<std::int64_t>& backlogs, const std::vector<int>& to, int appliers) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(appliers), 0);
    for (std::size_t p = 0; p < backlogs.size(); ++p) {
        REQUIRE(to[p] >= 0);
        REQUIRE(to[p] < appliers);
        out[static_cast<std::size_t>(to[p])] += backlogs[p];
    }
    return out;
}
}  // namespace

TEST_CASE("share_partitions: a node that is caught up deals its partitions out in turn") {
    const std::vector<std::int64_t> none(12, 0);
    auto two = share_partitions(none, 2);
    auto three = share_partitions(none, 3);
    REQUIRE(two.size() == 12);
    REQUIRE(three.size() == 12);
    for (int p = 0; p < 12; ++p) {
        CHECK(two[static_cast<std::size_t>(p)] == p % 2);
        CHECK(three[static_cast<std::size_t>(p)] == p % 3);
    }
}

TEST_CASE("share_partitions: a rebuild's appliers get backlogs as even as the partitions allow") {
    // The benchmark's log of 1M events over 100 agencies, in thousands per partition: dealt out in
    // turn, one applier would have 530 and the other 470.
    const std::vector<std::int64_t> backlogs{80, 40, 80, 70, 90, 100, 70, 80, 90, 100, 120, 80};
    auto to = share_partitions(backlogs, 2);
    auto l = loads(backlogs, to, 2);
    CHECK(l[0] + l[1] == 1000);
    CHECK(std::max(l[0], l[1]) <= 510);

    // One agency far larger than the rest: its partition is an applier's whole share.
    const std::vector<std::int64_t> skewed{1, 1, 1000, 1, 1, 1};
    auto s = share_partitions(skewed, 2);
    const int big = s[2];
    for (std::size_t p = 0; p < skewed.size(); ++p)
        if (p != 2) CHECK(s[p] != big);

    // More appliers than partitions with records: every partition still has one.
    auto many = share_partitions({5, 0, 0}, 8);
    REQUIRE(many.size() == 3);
    for (int a : many) CHECK((a >= 0 && a < 8));
}
