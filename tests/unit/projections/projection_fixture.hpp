// Test fixture for the projections store: a fresh RocksDB directory per test and a feeder that
// builds real envelopes (events::encode, per-agency sequence and hash chain, per-aggregate
// versions, a clock that ticks one second per event) and applies them at increasing offsets.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <boost/json.hpp>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/projections/store.hpp"

namespace carelog::projections::testing {

namespace json = boost::json;
using namespace carelog::events;

inline constexpr micros t0 = 1'790'000'000'000'000;  // 2026-09-21T...Z
inline constexpr micros second = 1'000'000;

// Distinct canonical UUIDs: uuid(7) -> "00000000-0000-7000-8000-000000000007".
inline std::string uuid(int n) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-7000-8000-%012d", n);
    return buf;
}

class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        path_ = std::filesystem::temp_directory_path() /
                ("carelog-proj-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    std::string str() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

inline std::unique_ptr<store> open_store(const temp_dir& dir) {
    auto s = store::open(dir.str());
    REQUIRE(s.has_value());
    return std::move(*s);
}

struct feeder {
    store* db = nullptr;
    int partition = 0;
    std::int64_t offset = 0;
    micros clock = t0;
    std::map<std::string, std::uint64_t> sequences;       // per agency
    std::map<std::string, sha256_digest> prev_hashes;     // per agency
    std::map<std::string, std::uint64_t> versions;        // per aggregate
    int next_event = 1'000'000;

    envelope make(const std::string& agency, const std::string& aggregate, payload p) {
        envelope e;
        e.event_id = uuid(next_event++);
        e.agency_id = agency;
        e.aggregate_type = std::string(aggregate_type_of(p));
        e.aggregate_id = aggregate;
        e.aggregate_version = ++versions[aggregate];
        e.sequence = ++sequences[agency];
        clock += second;
        e.occurred_at = clock;
        e.actor_id = "operator";
        e.command_id = uuid(next_event++);
        e.correlation_id = e.command_id;
        e.causation_id = e.command_id;
        e.prev_hash = prev_hashes[agency];
        e.data = std::move(p);
        return e;
    }

    std::vector<std::uint8_t> bytes(envelope& e) {
        auto b = encode(e);
        prev_hashes[e.agency_id] = e.hash;
        return b;
    }

    // Applies the next record; returns its outcome (REQUIREs that apply did not fail).
    apply_outcome push_bytes(const std::vector<std::uint8_t>& b) {
        auto r = db->apply(partition, offset++, b, clock);
        REQUIRE(r.has_value());
        return *r;
    }

    apply_outcome push(const std::string& agency, const std::string& aggregate, payload p) {
        auto e = make(agency, aggregate, std::move(p));
        return push_bytes(bytes(e));
    }
    // For Agency events the aggregate is the agency itself.
    apply_outcome agency_event(const std::string& agency, payload p) { return push(agency, agency, std::move(p)); }
};

inline StaffCreated staff_created(std::string first, std::string last, std::string username, std::string role,
                                  std::string type = "therapy_counseling", strings locations = {},
                                  strings programs = {}, std::string middle = "") {
    StaffCreated c;
    c.first_name = std::move(first);
    c.middle_name = std::move(middle);
    c.last_name = std::move(last);
    c.gender = "female";
    c.position = "Counselor";
    c.email = c.first_name + "@example.org";
    c.username = std::move(username);
    c.role = std::move(role);
    c.staff_type = std::move(type);
    c.location_ids = std::move(locations);
    c.program_ids = std::move(programs);
    c.require_password_change = true;
    c.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    return c;
}

inline AgencyCreated agency_created(std::string name, std::string slug) {
    return AgencyCreated{name, std::move(slug), default_settings(name)};
}

// The staff indexes hold exactly the entries the views call for (nothing stale, nothing missing).
inline void check_indexes(const store& db) {
    auto problems = db.staff_index_problems();  // CHECK only: also called from destructors
    CHECK(problems.has_value());
    if (problems) CHECK(*problems == 0);
}

// Usernames of a page's items, in order.
inline std::vector<std::string> usernames(const json::array& items) {
    std::vector<std::string> out;
    for (const auto& v : items) out.emplace_back(v.as_object().at("username").as_string());
    return out;
}

// Every page of a listing, following next_cursor; the usernames in order.
inline std::vector<std::string> list_all(const store& db, const std::string& agency, const staff_filter& f,
                                         int limit = 500, int* pages = nullptr) {
    std::vector<std::string> out;
    std::optional<std::string> cursor;
    int n = 0;
    for (;;) {
        auto p = db.list_staff(agency, f, limit, cursor);
        REQUIRE(p.has_value());
        REQUIRE(p->items.size() <= static_cast<std::size_t>(limit));
        ++n;
        for (auto& u : usernames(p->items)) out.push_back(u);
        if (!p->next_cursor) break;
        REQUIRE(p->items.size() == static_cast<std::size_t>(limit));
        cursor = p->next_cursor;
        REQUIRE(n < 10'000);
    }
    if (pages) *pages = n;
    return out;
}

}  // namespace carelog::projections::testing
