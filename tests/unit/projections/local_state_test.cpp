// The node's local state: opaque blobs under namespaces, beside the read models.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

using kvs = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("local state: blobs are stored, scanned by prefix and kept apart by namespace", "[projections][local]") {
    temp_dir dir;
    auto db = open_store(dir);
    REQUIRE(db->put_local("snapshots", {{"p/0/offset", "17"}, {"p/0/agency/a", "blob-a"}, {"p/1/offset", "3"}}));
    REQUIRE(db->put_local("snap", {{"shots/p/0/offset", "other namespace"}}));
    const std::string binary("\x00\xff\x01", 3);
    REQUIRE(db->put_local("snapshots", {{"bin", binary}}));

    CHECK(db->get_local("snapshots", "p/0/offset") == "17");
    CHECK(db->get_local("snapshots", "bin") == binary);
    CHECK_FALSE(db->get_local("snapshots", "p/9/offset"));
    CHECK_FALSE(db->get_local("other", "p/0/offset"));
    CHECK(db->get_local("snap", "shots/p/0/offset") == "other namespace");

    CHECK(db->scan_local("snapshots", "p/0/") == kvs{{"p/0/agency/a", "blob-a"}, {"p/0/offset", "17"}});
    CHECK(db->scan_local("snapshots", "") ==
          kvs{{"bin", binary}, {"p/0/agency/a", "blob-a"}, {"p/0/offset", "17"}, {"p/1/offset", "3"}});
    CHECK(db->scan_local("snap", "") == kvs{{"shots/p/0/offset", "other namespace"}});
    CHECK(db->scan_local("nothing", "").empty());

    // Overwrite, and it all survives a restart.
    REQUIRE(db->put_local("snapshots", {{"p/0/offset", "18"}}));
    db.reset();
    db = open_store(dir);
    CHECK(db->get_local("snapshots", "p/0/offset") == "18");
    CHECK(db->scan_local("snapshots", "p/").size() == 3);
    // Local state is not a read model: it moves no offset.
    CHECK(db->next_offset(0) == 0);
}

TEST_CASE("local state: a namespace holding NUL or the key terminator's bytes stays apart, and each_local hands out what scan_local returns",
          "[projections][local]") {
    temp_dir dir;
    auto db = open_store(dir);
    const std::string odd("a\x00\x01x", 4);  // "a", then the bytes a component's terminator is made of
    const std::string nul("a\x00", 2);
    REQUIRE(db->put_local("a", {{"k", "plain"}, {"l", "plain too"}}));
    REQUIRE(db->put_local(odd, {{"k", "odd"}}));
    REQUIRE(db->put_local(nul, {{"k", "nul"}}));
    CHECK(db->scan_local("a", "") == kvs{{"k", "plain"}, {"l", "plain too"}});
    CHECK(db->scan_local(odd, "") == kvs{{"k", "odd"}});
    CHECK(db->scan_local(nul, "") == kvs{{"k", "nul"}});
    CHECK(db->get_local(odd, "k") == "odd");

    kvs seen;
    db->each_local("a", "", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    CHECK(seen == db->scan_local("a", ""));
    seen.clear();
    db->each_local("a", "l", [&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
    CHECK(seen == kvs{{"l", "plain too"}});
}

TEST_CASE("local state: blobs of several namespaces written in one batch are there after a reopen",
          "[projections][local]") {
    temp_dir dir;
    auto db = open_store(dir);
    REQUIRE(db->put_local("node", {{"topic", "events"}}));
    REQUIRE(db->put_local({{"writer-p0", {{"offset", "40"}, {"agency/a", "blob-a"}}},
                           {"writer-p1", {{"offset", "7"}}}}));
    REQUIRE(db->put_local({{"writer-p0", {{"offset", "41"}, {"agency/b", "blob-b"}}}}));
    CHECK(db->get_local("writer-p0", "offset") == "41");

    // Those batches skip the WAL: a clean close flushes them with the read models.
    db.reset();
    db = open_store(dir);
    CHECK(db->scan_local("writer-p0", "") == kvs{{"agency/a", "blob-a"}, {"agency/b", "blob-b"}, {"offset", "41"}});
    CHECK(db->get_local("writer-p1", "offset") == "7");
    CHECK(db->get_local("node", "topic") == "events");
}

TEST_CASE("local state: a large batch keeps every value, short ones included, and the last write of a key wins",
          "[projections][local]") {
    temp_dir dir;
    auto db = open_store(dir);
    // Thousands of keys in one write, out of key order; values short enough to live inside their
    // string (written first, then moved as the batch grows) and long ones; some keys written twice.
    kvs batch;
    for (int i = 4999; i >= 0; --i) {
        const auto key = "k/" + std::string(4 - std::to_string(i).size(), '0') + std::to_string(i);
        batch.emplace_back(key, i % 3 == 0 ? std::string(200, static_cast<char>('a' + i % 26)) : std::to_string(i));
    }
    for (int i = 0; i < 5000; i += 7)
        batch.emplace_back("k/" + std::string(4 - std::to_string(i).size(), '0') + std::to_string(i),
                           "again " + std::to_string(i));
    REQUIRE(db->put_local("big", batch));

    const auto stored = db->scan_local("big", "k/");
    REQUIRE(stored.size() == 5000);
    for (int i = 0; i < 5000; ++i) {
        const auto key = "k/" + std::string(4 - std::to_string(i).size(), '0') + std::to_string(i);
        const auto want = i % 7 == 0   ? "again " + std::to_string(i)
                          : i % 3 == 0 ? std::string(200, static_cast<char>('a' + i % 26))
                                       : std::to_string(i);
        INFO("key " << key);
        CHECK(stored[static_cast<std::size_t>(i)].first == key);
        CHECK(stored[static_cast<std::size_t>(i)].second == want);
    }
}
