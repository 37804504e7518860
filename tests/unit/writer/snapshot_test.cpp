// The writer's binary snapshot: an agency log written entry by entry and loaded back must be the
// log it was taken from, a later snapshot writes only what changed, and what was evicted or
// damaged never comes back as state.
#include "../aggregates/client_fixtures.hpp"
#include "../aggregates/identity_fixtures.hpp"

#include <map>
#include <optional>
#include <set>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/writer/snapshot.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

namespace {

struct counting_ids final : id_source {
    std::uint64_t n = 0;
    std::string next_uuid() override {
        char buf[40];
        std::snprintf(buf, sizeof buf, "00000000-0000-7000-8000-%012llx", static_cast<unsigned long long>(++n));
        return buf;
    }
};

// An agency's log driven the way a lane drives it: decide against its state, stamp, apply.
struct log_fixture {
    writer::agency_log log;
    counting_ids ids;
    micros now = now0;
    std::int64_t offset = 0;
    std::map<std::string, std::string> store;  // the partition's namespace, as the snapshot thread leaves it

    // Decides and applies; `key` = an Idempotency-Key command id ("<scope>:<key>"), "" = none.
    void go(const command& c, const std::string& key = "") {
        auto decided = accepted(decide(log.state, c));
        auto stamped = writer::stamp(log, decided,
                                     writer::stamp_meta{"agency-1", "admin-1", key.empty() ? ids.next_uuid() : key,
                                                        "correlation", now},
                                     ids);
        for (auto& s : stamped) REQUIRE(writer::apply(log, s.env, make_token(3, offset++)));
    }

    std::string username(const std::string& staff_id) const { return log.state.staff.at(staff_id).profile.username; }

    send_invitation invite(std::string client, std::string invitation, int token) const {
        send_invitation c;
        c.client_id = std::move(client);
        c.invitation_id = std::move(invitation);
        c.actor_staff_id = "admin-1";
        c.token_hash = th(token);
        c.now = now;
        return c;
    }
    register_portal_account reg(int token, std::string account, std::string username) const {
        return register_portal_account{th(token), std::move(account), std::move(username), portal_hash, true, now};
    }

    record_login login(const std::string& staff_id, bool ok, int session) const {
        record_login c;
        c.username = username(staff_id);
        c.password_ok = ok;
        c.checked_password_hash = log.state.staff.at(staff_id).profile.password_hash;
        c.session_id = sid(session);
        c.ip = "203.0.113.7";
        c.user_agent = "test";
        c.now = now;
        return c;
    }

    // Takes the agency's changes as the lane does and writes them as the snapshot thread does.
    writer::snapshot_entries snapshot() {
        writer::snapshot_entries entries;
        writer::take_changes("agency-1", log, entries);
        for (const auto& [k, v] : entries) store[k] = v;
        return entries;
    }

    // As a lane restarts: agencies, records and indexes in memory, each staff member and client
    // read back from the stored entries when asked for.
    writer::agency_log reload_indexes_only() {
        auto logs = writer::load_snapshot(writer::snapshot_entries(store.begin(), store.end()),
                                          writer::snapshot_load::indexes_only);
        if (!logs) FAIL("snapshot refused: " << logs.error().detail);
        REQUIRE(logs->size() == 1);
        auto log = std::move(logs->at("agency-1"));
        read_back(log);
        return log;
    }

    // Lets `l` read what it does not hold from `store`, counting the reads.
    void read_back(writer::agency_log& l) {
        writer::read_back_from(l, "agency-1", [this](const std::string& key) -> std::optional<std::string> {
            ++reads;
            auto it = store.find(key);
            if (it == store.end()) return std::nullopt;
            return it->second;
        });
    }
    int reads = 0;

    writer::agency_log reload() const {
        auto logs = writer::load_snapshot(writer::snapshot_entries(store.begin(), store.end()));
        if (!logs) FAIL("snapshot refused: " << logs.error().detail);
        REQUIRE(logs->size() == 1);
        return std::move(logs->at("agency-1"));
    }
};

// Every agency, staff and client kind, with records of Idempotency-Keys.
void fill(log_fixture& f) {
    f.go(agency_cmd(), "op:create");
    f.go(add_location{"loc-main", "Main Office", "1 River Rd"});
    f.go(add_program{"prog-iop", "Intensive Outpatient"});
    change_settings cs;
    cs.patch.client_portal_enabled = true;
    cs.patch.messaging_enabled = true;
    cs.patch.mfa_required_roles = strings{};
    cs.patch.services = strings{"Individual therapy", "Group therapy"};
    cs.patch.password_expiry_days = 0;
    f.go(cs, "op:settings");
    auto s1 = staff_cmd("t1", "José", "Núñez", "Émile");
    s1.location_ids = {"loc-main"};
    s1.program_ids = {"prog-iop"};
    s1.phones = {{"work", "555-0100"}, {"mobile", "555-0199"}};
    s1.npi = "1234567893";
    s1.hire_date = "2021-06-01";
    s1.supervisor_id = "admin-1";
    s1.require_password_change = false;
    f.go(s1, "op:hire-t1");
    f.go(staff_cmd("t2", "Todd", "Jones"));
    f.go(deactivate_staff{"t2", "moved away"});
    f.go(set_module_permissions{"admin-1", true, true});
    f.go(set_module_permissions{"t1", true, true});
    f.go(f.login("t1", true, 1));
    f.go(f.login("admin-1", false, 900));
    f.go(enroll_mfa{"t1", sealed_text()});
    f.go(request_password_reset{f.username("t1"), reset_hash(1), f.now});
    f.go(record_login{"nobody", false, "", false, false, 0, "", sid(901), "203.0.113.9", "ua", f.now});

    f.go(add_client(client_cmd("c1")), "op:client-c1");
    auto c2 = client_cmd("c2", "Bo", "Diaz");
    c2.external_id = "EXT-2";
    f.go(add_client(c2));
    f.go(assign_staff_to_client{"c1", "t1"});
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.invite("c2", "inv-2", 2));
    f.go(revoke_invitation{"inv-2", "admin-1"});
    f.go(register_portal_account{th(1), "acct-1", "AnnLee", portal_hash, true, f.now});
    f.go(record_portal_login{"annlee", true, portal_hash, th(50), "192.0.2.1", "ua", f.now});
    f.go(send_message{"c1", "th-1", "m1", "staff", "t1", "", "Hello"}, "op:message");
    start_kiosk k;
    k.client_id = "c1";
    k.kiosk_session_id = "k1";
    k.actor_staff_id = "t1";
    k.document_id = "doc-1";
    k.token_hash = th(60);
    k.now = f.now;
    f.go(k);
    f.go(submit_kiosk_form{th(60), "{}", f.now});
}

void check_same(const writer::agency_log& back, const writer::agency_log& log) {
    CHECK(back.state == log.state);
    CHECK(back.sequence == log.sequence);
    CHECK(back.last_hash == log.last_hash);
    CHECK(back.next_ordinal == log.next_ordinal);
    CHECK(std::vector<std::string>(back.command_order.begin(), back.command_order.end()) ==
          std::vector<std::string>(log.command_order.begin(), log.command_order.end()));
    REQUIRE(back.commands.size() == log.commands.size());
    for (const auto& [key, r] : log.commands) {
        INFO("idempotency record " << key);
        REQUIRE(back.commands.contains(key));
        const auto& b = *back.commands.at(key);
        CHECK(b.aggregate_id == r->aggregate_id);
        CHECK(b.version == r->version);
        CHECK(b.token == r->token);
        CHECK(b.at == r->at);
        CHECK(b.ordinal == r->ordinal);
        REQUIRE(b.events.size() == r->events.size());
        for (std::size_t i = 0; i < r->events.size(); ++i) {
            auto x = b.events[i], y = r->events[i];
            CHECK(events::encode(x) == events::encode(y));
        }
    }
}

std::set<std::string> keys_of(const writer::snapshot_entries& entries) {
    std::set<std::string> out;
    for (const auto& [k, v] : entries) out.insert(k);
    return out;
}

}  // namespace

TEST_CASE("writer snapshot: an agency with every kind of aggregate and its idempotency records comes back unchanged",
          "[writer][snapshot]") {
    log_fixture f;
    fill(f);
    REQUIRE(f.log.state.clients.at("c1").portal.has_value());
    REQUIRE(f.log.state.staff.at("t1").credentials.sessions.size() == 1);
    REQUIRE(f.log.commands.size() == 5);

    auto entries = f.snapshot();
    // One entry per aggregate and record: the agency, 3 staff, 2 clients, 5 records.
    CHECK(entries.size() == 1 + 3 + 2 + 5);
    auto back = f.reload();
    check_same(back, f.log);
    CHECK(back.state.usernames.at(f.username("t1")) == "t1");  // derived indexes are rebuilt
    CHECK(back.state.portal_usernames.at("annlee") == "c1");
    CHECK(back.state.session_owners.at(sid(1)) == "t1");
    CHECK(back.state.external_ids.at("EXT-2") == "c2");
    CHECK(back.changed.empty());

    // Decisions against the reloaded log match decisions against the original.
    for (const command& c : {command{staff_cmd("t9", "José", "Núñez", "Émile")}, command{staff_cmd("t8", "Todd", "Jones")},
                             command{f.reg(2, "acct-2", "annlee")}, command{assign_staff_to_client{"c1", "t1"}}}) {
        auto a = decide(back.state, c), b = decide(f.log.state, c);
        REQUIRE(a.has_value() == b.has_value());
        if (a)
            CHECK(a->size() == b->size());
        else
            CHECK(a.error().code == b.error().code);
    }
    CHECK(back.commands.at("op:hire-t1")->aggregate_id == "t1");
}

TEST_CASE("writer snapshot: after one change a snapshot writes that aggregate and the agency's entry only",
          "[writer][snapshot]") {
    log_fixture f;
    fill(f);
    f.snapshot();
    CHECK(f.snapshot().empty());  // nothing changed: nothing to write

    f.go(assign_staff_to_client{"c2", "t1"});
    CHECK(keys_of(f.snapshot()) == std::set<std::string>{"a/agency-1", "a/agency-1/c/c2"});

    f.go(touch_session{sid(1), f.now + 10 * 60'000'000LL});
    CHECK(keys_of(f.snapshot()) == std::set<std::string>{"a/agency-1", "a/agency-1/s/t1"});

    f.go(add_location{"loc-north", "North Clinic", ""}, "op:north");
    auto keys = keys_of(f.snapshot());
    CHECK(keys.size() == 2);
    CHECK(keys.contains("a/agency-1"));
    CHECK(keys.contains("a/agency-1/i/" + std::to_string(f.log.commands.at("op:north")->ordinal)));

    check_same(f.reload(), f.log);
}

TEST_CASE("writer snapshot: an idempotency record evicted after a snapshot is gone after the reload",
          "[writer][snapshot]") {
    log_fixture f;
    fill(f);
    f.snapshot();
    REQUIRE(f.reload().commands.contains("op:create"));

    // A day later, one more keyed command: every older record leaves the 24 h window.
    f.now += 25 * hour;
    f.go(add_program{"prog-youth", "Youth Services"}, "op:youth");
    REQUIRE(f.log.commands.size() == 1);
    auto written = f.snapshot();
    CHECK(keys_of(written).size() == 2);  // the agency's entry and the new record: nothing deleted

    // The evicted records' values stay in their slots until reused; damage there is never read.
    const auto evicted_slot = "a/agency-1/i/0";
    REQUIRE(f.store.contains(evicted_slot));
    f.store[evicted_slot] = "not a snapshot value";

    auto back = f.reload();
    CHECK_FALSE(back.commands.contains("op:create"));
    CHECK_FALSE(back.commands.contains("op:message"));
    CHECK(back.commands.contains("op:youth"));
    check_same(back, f.log);

    // In a live slot the same damage refuses the snapshot.
    const auto live_slot = "a/agency-1/i/" + std::to_string(f.log.commands.at("op:youth")->ordinal);
    f.store[live_slot] = "not a snapshot value";
    auto r = writer::load_snapshot(writer::snapshot_entries(f.store.begin(), f.store.end()));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().detail.find("does not verify") != std::string::npos);
}

TEST_CASE("writer snapshot: at the cap a new record takes the evicted one's slot and the reload keeps the newest",
          "[writer][snapshot]") {
    log_fixture f;
    fill(f);
    f.snapshot();
    // Assign and unassign in turn: one keyed event each, until the oldest records fall off the cap.
    const std::size_t extra = writer::idempotency_max_keys;
    for (std::size_t i = 0; i < extra; ++i) {
        if (i % 2 == 0)
            f.go(assign_staff_to_client{"c2", "t1"}, "op:n" + std::to_string(i));
        else
            f.go(unassign_staff_from_client{"c2", "t1"}, "op:n" + std::to_string(i));
    }
    REQUIRE(f.log.commands.size() == writer::idempotency_max_keys);
    auto written = f.snapshot();
    CHECK(f.store.size() <= 1 + 3 + 2 + writer::snapshot_command_slots);
    auto back = f.reload();
    CHECK_FALSE(back.commands.contains("op:create"));
    CHECK(back.commands.contains("op:n0"));
    check_same(back, f.log);
}

TEST_CASE("writer snapshot: a damaged value, a foreign entry or a missing live record refuses the whole snapshot",
          "[writer][snapshot]") {
    log_fixture f;
    fill(f);
    f.snapshot();
    auto refused_with = [](std::map<std::string, std::string> store) {
        auto r = writer::load_snapshot(writer::snapshot_entries(store.begin(), store.end()));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::malformed);
        return r.error().detail;
    };

    auto damaged = f.store;
    damaged["a/agency-1/c/c1"].resize(damaged["a/agency-1/c/c1"].size() / 2);
    CHECK(refused_with(damaged).find("a/agency-1/c/c1") != std::string::npos);

    auto json = f.store;
    json["a/agency-1/s/t1"] = R"({"format":3})";
    CHECK(refused_with(json).find("does not verify") != std::string::npos);

    auto missing = f.store;
    const auto slot = f.log.commands.at("op:settings")->ordinal % writer::snapshot_command_slots;
    missing.erase("a/agency-1/i/" + std::to_string(slot));
    CHECK(refused_with(missing).find("missing") != std::string::npos);

    auto orphan = f.store;
    orphan["a/agency-2/s/t1"] = f.store.at("a/agency-1/s/t1");
    CHECK(refused_with(orphan).find("agency-2") != std::string::npos);
}

// ---- the writer's memory: staff and clients read back from the snapshot when needed ----

namespace {

// Both decisions alike: the same error, or the same events on the same aggregates and versions.
void check_same_decision(const agency_state& a_state, const agency_state& b_state, const command& c) {
    auto a = decide(a_state, c), b = decide(b_state, c);
    REQUIRE(a.has_value() == b.has_value());
    if (!a) {
        CHECK(a.error().code == b.error().code);
        CHECK(a.error().detail == b.error().detail);
        return;
    }
    REQUIRE(a->size() == b->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
        CHECK((*a)[i].aggregate_id == (*b)[i].aggregate_id);
        CHECK((*a)[i].aggregate_version == (*b)[i].aggregate_version);
        CHECK((*a)[i].data.index() == (*b)[i].data.index());
    }
}

}  // namespace

TEST_CASE("writer memory: a log loaded with its indexes only decides as the original and reads back identical aggregates",
          "[writer][snapshot][memory]") {
    log_fixture f;
    fill(f);
    f.go(request_portal_password_reset{"annlee", th(70), f.now});
    f.snapshot();
    auto back = f.reload_indexes_only();
    CHECK(back.state.staff.resident() == 0);
    CHECK(back.state.clients.resident() == 0);
    CHECK(back.state.staff.size() == f.log.state.staff.size());
    CHECK(back.state.clients.size() == f.log.state.clients.size());
    // The indexes are whole although no aggregate is in memory.
    CHECK(back.state.usernames == f.log.state.usernames);
    CHECK(back.state.session_owners == f.log.state.session_owners);
    CHECK(back.state.org_admins == f.log.state.org_admins);
    CHECK(back.state.reset_token_owners == f.log.state.reset_token_owners);
    CHECK(back.state.portal_usernames == f.log.state.portal_usernames);
    CHECK(back.state.portal_session_owners == f.log.state.portal_session_owners);
    CHECK(back.state.invitation_tokens == f.log.state.invitation_tokens);
    CHECK(back.state.kiosk_tokens == f.log.state.kiosk_tokens);
    CHECK(back.state.external_ids == f.log.state.external_ids);
    CHECK(back.state.portal_accounts == f.log.state.portal_accounts);
    CHECK(back.state.portal_reset_tokens == f.log.state.portal_reset_tokens);
    CHECK(back.state.invitation_owners == f.log.state.invitation_owners);
    CHECK(back.state.thread_owners == f.log.state.thread_owners);
    CHECK(back.state.kiosk_owners == f.log.state.kiosk_owners);
    REQUIRE_FALSE(f.log.state.thread_owners.empty());
    REQUIRE_FALSE(f.log.state.kiosk_owners.empty());
    REQUIRE_FALSE(f.log.state.reset_token_owners.empty());
    REQUIRE_FALSE(f.log.state.portal_session_owners.empty());
    REQUIRE_FALSE(f.log.state.portal_reset_tokens.empty());

    confirm_password_reset reset{reset_hash(1), new_hash, true, false, f.now};
    auto taken_external = client_cmd("c7", "Cy", "Diaz");
    taken_external.external_id = "EXT-2";
    for (const command& c : {command{staff_cmd("t9", "José", "Núñez", "Émile")},  // both usernames taken
                             command{staff_cmd("t8", "Todd", "Jones")},           // taken by a deactivated one
                             command{f.reg(2, "acct-2", "annlee")},
                             command{add_client(client_cmd("c1"))},  // exists
                             command{add_client(taken_external)},
                             command{add_client(client_cmd("c9"))},  // new
                             command{assign_staff_to_client{"c1", "t1"}},
                             command{deactivate_staff{"admin-1", "leaving"}},  // the last org_admin
                             command{deactivate_staff{"t1", "leaving"}},
                             command{reset},  // found through the pending reset link's index
                             command{logout{sid(1)}},
                             command{record_portal_login{"ANNLEE", true, portal_hash, th(51), "192.0.2.1", "ua", f.now}},
                             command{submit_kiosk_form{th(60), "{}", f.now}},
                             command{revoke_invitation{"inv-2", "admin-1"}}}) {
        INFO("command #" << c.index());
        check_same_decision(back.state, f.log.state, c);
    }
    // What the decisions read back is what the original holds; the rest reads back the same too.
    for (const auto& id : {"admin-1", "t1", "t2"}) CHECK(back.state.staff.at(id) == f.log.state.staff.at(id));
    for (const auto& id : {"c1", "c2"}) CHECK(back.state.clients.at(id) == f.log.state.clients.at(id));
    CHECK(back.state.staff.resident() == 3);
    check_same(back, f.log);
}

TEST_CASE("writer memory: usernames stay unique across staff members and clients that are not in memory",
          "[writer][snapshot][memory]") {
    log_fixture f;
    f.go(agency_cmd());
    change_settings cs;
    cs.patch.client_portal_enabled = true;
    f.go(cs);
    f.go(set_module_permissions{"admin-1", true, true});
    f.go(staff_cmd("t1", "Todd", "Jones"));
    f.go(staff_cmd("t2", "Todd", "Jones", "Dee"));
    f.go(add_client(client_cmd("c1")));
    f.go(f.invite("c1", "inv-1", 1));
    f.go(f.reg(1, "acct-1", "AnnLee"));
    f.go(add_client(client_cmd("c2", "Bo", "Diaz")));
    f.go(f.invite("c2", "inv-2", 2));
    f.snapshot();

    auto back = f.reload_indexes_only();
    const int reads_before = f.reads;
    // tjones and tdjones are taken: the rule gives none; asking for one explicitly is refused.
    auto third = decide(back.state, staff_cmd("t3", "Todd", "Jones", "Dan"));
    REQUIRE_FALSE(third);
    CHECK(third.error().code == errc::conflict);
    auto explicit_name = staff_cmd("t4", "Tina", "Jones");
    explicit_name.username = "TJones";
    auto fourth = decide(back.state, explicit_name);
    REQUIRE_FALSE(fourth);
    CHECK(fourth.error().code == errc::conflict);
    // A portal username of a client not in memory is taken too, in any case.
    auto portal = decide(back.state, f.reg(2, "acct-2", "annLEE"));
    REQUIRE_FALSE(portal);
    CHECK(portal.error().code == errc::conflict);
    // Each agrees with the log that holds everything.
    check_same_decision(back.state, f.log.state, staff_cmd("t3", "Todd", "Jones", "Dan"));
    check_same_decision(back.state, f.log.state, explicit_name);
    check_same_decision(back.state, f.log.state, f.reg(2, "acct-2", "annLEE"));
    // A free username is still free, and taking it reads no staff member back.
    auto free = decide(back.state, staff_cmd("t5", "Tina", "Jonas"));
    REQUIRE(free);
    CHECK(as<events::StaffCreated>(free->front()).username == "tjonas");
    CHECK(back.state.staff.resident() == 0);
    CHECK(f.reads - reads_before <= 2);  // the invitation's client (c2) at most, never a staff member
}

TEST_CASE("writer memory: an aggregate let go after its snapshot comes back for the next event, and that change is snapshotted",
          "[writer][snapshot][memory]") {
    log_fixture f;
    fill(f);
    f.snapshot();
    f.read_back(f.log);
    const auto before = f.log.state.clients.at("c2");
    REQUIRE(f.log.state.clients.evict("c2"));
    REQUIRE(f.log.state.staff.evict("t1"));
    CHECK_FALSE(f.log.state.clients.in_memory("c2"));

    f.go(assign_staff_to_client{"c2", "t1"});
    CHECK(f.log.state.clients.in_memory("c2"));
    CHECK(f.log.state.clients.at("c2").version == before.version + 1);
    CHECK(f.log.state.clients.at("c2").assigned_staff.contains("t1"));
    CHECK(f.log.changed.clients.contains("c2"));
    CHECK(keys_of(f.snapshot()) == std::set<std::string>{"a/agency-1", "a/agency-1/c/c2"});

    // A full load of the snapshot is the log, whatever was in memory when it was taken.
    auto back = f.reload();
    CHECK(back.state.clients.at("c2") == f.log.state.clients.at("c2"));
    CHECK(back.state.staff.at("t1") == f.log.state.staff.at("t1"));
    check_same(back, f.log);
}

TEST_CASE("writer memory: an id that never existed is not looked for in the snapshot", "[writer][memory]") {
    aggregate_map<client_state> m;
    int reads = 0;
    m.set_source([&](const std::string& id) -> std::optional<client_state> {
        ++reads;
        client_state c;
        c.id = id;
        c.version = 7;
        return c;
    });
    m.add_absent("stored");
    client_state fresh;
    fresh.id = "fresh";
    m.emplace("fresh", fresh);
    CHECK_FALSE(m.contains("never"));
    CHECK(reads == 0);
    CHECK(m.contains("fresh"));
    CHECK(reads == 0);
    CHECK(m.at("stored").version == 7);
    CHECK(m.at("stored").version == 7);
    CHECK(reads == 1);  // read back once, then held
    CHECK(m.size() == 2);
    CHECK(m.resident() == 2);
    CHECK(m.used_recently("stored"));
    m.forget_use();
    CHECK_FALSE(m.used_recently("stored"));
    CHECK(m.evict("stored"));
    CHECK(m.resident() == 1);
    CHECK(m.size() == 2);
}
