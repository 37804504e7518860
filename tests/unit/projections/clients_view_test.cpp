// The clients read models: views, visibility-filtered lists in name order with cursors and search,
// assignments, invitations with their state at read time, portal accounts, threads and messages,
// kiosk sessions and the client's history.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

const std::string agency = uuid(1);
const std::string hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$cG9ydGFs";

struct clients_fixture {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};
    client_viewer admin{"admin", "administration"};
    client_viewer therapist{"t1", "therapy_counseling"};

    clients_fixture() {
        f.agency_event(agency, agency_created("Riverside", "riverside"));
        f.push(agency, "t1", staff_created("Todd", "Jones", "tjones", "therapist"));
    }
    ~clients_fixture() {
        auto problems = db->client_index_problems();
        CHECK(problems.has_value());
        if (problems) CHECK(*problems == 0);
    }
    void add(const std::string& id, std::string first, std::string last) {
        f.push(agency, id, ClientAdded{std::move(first), std::move(last), "1985-04-12", "family@example.org", "", ""});
    }
};

std::vector<std::string> ids(const json::array& items) {
    std::vector<std::string> out;
    for (const auto& v : items) out.emplace_back(v.as_object().at("id").as_string());
    return out;
}

std::vector<std::string> list_all(const store& db, const client_viewer& v, client_filter f = {}, int limit = 500) {
    std::vector<std::string> out;
    std::optional<std::string> cursor;
    for (int n = 0; n < 1000; ++n) {
        auto p = db.list_clients(agency, v, f, limit, cursor);
        REQUIRE(p.has_value());
        if (f.stored_bytes && !p->stored.empty()) {
            CHECK(p->items.empty());
            for (const auto& bytes : p->stored) {
                auto view = json::parse(bytes).as_object();
                // The stored bytes are the view the single read answers.
                CHECK(db.client(agency, std::string(view.at("id").as_string())) == view);
                out.emplace_back(view.at("id").as_string());
            }
        } else {
            for (auto& id : ids(p->items)) out.push_back(id);
        }
        if (!p->next_cursor) break;
        cursor = p->next_cursor;
    }
    return out;
}

}  // namespace

TEST_CASE("clients view: a client is shown with its fields and version", "[projections][clients]") {
    clients_fixture x;
    x.f.push(agency, "c1", ClientAdded{"Zoë", "Núñez", "1990-02-28", "", "555-0100 22", "EXT-1"});
    auto v = x.db->client(agency, "c1");
    REQUIRE(v);
    CHECK(v->at("first_name") == "Zoë");
    CHECK(v->at("date_of_birth") == "1990-02-28");
    CHECK(v->at("email").is_null());
    CHECK(v->at("external_id") == "EXT-1");
    CHECK(v->at("version") == 1);
    CHECK(v->at("staff_ids").as_array().empty());
    CHECK(v->at("portal_account_id").is_null());
    CHECK_FALSE(x.db->client(agency, "nope"));
    CHECK_FALSE(x.db->client(uuid(2), "c1"));  // other agency
}

TEST_CASE("clients view: administration sees all, a therapist only assigned clients", "[projections][clients]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    x.add("c2", "Bo", "Diaz");
    x.add("c3", "Cy", "Park");
    x.f.push(agency, "c1", StaffAssignedToClient{"t1"});
    x.f.push(agency, "c3", StaffAssignedToClient{"t1"});
    CHECK(list_all(*x.db, x.admin) == std::vector<std::string>{"c2", "c1", "c3"});  // Diaz, Lee, Park
    CHECK(list_all(*x.db, x.therapist) == std::vector<std::string>{"c1", "c3"});
    CHECK(list_all(*x.db, {"admin", "administration_time_tracking"}).size() == 3);
    CHECK(list_all(*x.db, {"t1", "mystery"}).empty());
    CHECK(x.db->client_for(agency, "c1", x.therapist));
    CHECK_FALSE(x.db->client_for(agency, "c2", x.therapist));
    CHECK(x.db->client_for(agency, "c2", x.admin));
    CHECK(x.db->assigned_client_ids(agency, "t1") == std::vector<std::string>{"c1", "c3"});

    x.f.push(agency, "c1", StaffUnassignedFromClient{"t1"});
    CHECK(list_all(*x.db, x.therapist) == std::vector<std::string>{"c3"});
    CHECK_FALSE(x.db->client_for(agency, "c1", x.therapist));
    CHECK(x.db->assigned_client_ids(agency, "t1") == std::vector<std::string>{"c3"});
    CHECK(x.db->client(agency, "c1")->at("version") == 3);
}

TEST_CASE("clients view: pages follow last name, first name, id with cursors", "[projections][clients]") {
    clients_fixture x;
    const char* last[] = {"Zed", "Álvarez", "lee", "Lee", "Brown", "Lee"};
    const char* first[] = {"A", "Bea", "Ann", "Ann", "Cy", "Al"};
    for (int i = 0; i < 6; ++i) {
        x.add("c" + std::to_string(i), first[i], last[i]);
        x.f.push(agency, "c" + std::to_string(i), StaffAssignedToClient{"t1"});
    }
    std::vector<std::string> expected{"c1", "c4", "c5", "c2", "c3", "c0"};  // alvarez, brown, lee al, lee ann x2, zed
    for (int limit : {1, 2, 4, 500}) {
        INFO(limit);
        CHECK(list_all(*x.db, x.admin, {}, limit) == expected);
        CHECK(list_all(*x.db, x.therapist, {}, limit) == expected);
        // As stored bytes (what the HTTP edge asks for): the same pages, the same cursors.
        client_filter stored;
        stored.stored_bytes = true;
        CHECK(list_all(*x.db, x.admin, stored, limit) == expected);
        CHECK(list_all(*x.db, x.therapist, stored, limit) == expected);
        stored.q = "lee";
        CHECK(list_all(*x.db, x.admin, stored, limit) == std::vector<std::string>{"c5", "c2", "c3"});
    }
    client_filter stored;
    stored.stored_bytes = true;
    auto first_page = x.db->list_clients(agency, x.admin, stored, 2, std::nullopt);
    REQUIRE(first_page);
    CHECK(first_page->stored.size() == 2);
    auto plain_page = x.db->list_clients(agency, x.admin, {}, 2, std::nullopt);
    REQUIRE(plain_page);
    CHECK(first_page->next_cursor == plain_page->next_cursor);
    CHECK(x.db->list_clients(agency, x.admin, {}, 0, std::nullopt).error().code == errc::validation);
    CHECK(x.db->list_clients(agency, x.admin, {}, 10, std::string("garbage!")).error().code == errc::malformed);
}

TEST_CASE("clients view: pages read the same from memtables, from files after a flush, and from both",
          "[projections][clients]") {
    clients_fixture x;
    for (int i = 0; i < 4; ++i) x.add("c" + std::to_string(i), "Ann", "Lee" + std::to_string(i));
    const std::vector<std::string> before{"c0", "c1", "c2", "c3"};
    CHECK(list_all(*x.db, x.admin, {}, 3) == before);
    REQUIRE(x.db->flush_memtables());
    CHECK(list_all(*x.db, x.admin, {}, 3) == before);
    x.add("c4", "Ann", "Lee15");  // in a memtable, between two rows of the flushed file
    x.add("c5", "Ann", "Lee9");
    const std::vector<std::string> after{"c0", "c1", "c4", "c2", "c3", "c5"};
    CHECK(list_all(*x.db, x.admin, {}, 3) == after);
    REQUIRE(x.db->flush_memtables());
    CHECK(list_all(*x.db, x.admin, {}, 2) == after);
}

TEST_CASE("clients view: name search is folded, prefix, and respects visibility", "[projections][clients]") {
    clients_fixture x;
    x.add("c1", "José", "Núñez");
    x.add("c2", "Joe", "Smith");
    x.add("c3", "Ann", "O'Brien-Lee");
    x.f.push(agency, "c2", StaffAssignedToClient{"t1"});
    CHECK(list_all(*x.db, x.admin, {"jo"}) == std::vector<std::string>{"c1", "c2"});
    CHECK(list_all(*x.db, x.admin, {"nunez jose"}) == std::vector<std::string>{"c1"});
    CHECK(list_all(*x.db, x.admin, {"obrien"}) == std::vector<std::string>{"c3"});
    CHECK(list_all(*x.db, x.admin, {"lee"}) == std::vector<std::string>{"c3"});
    CHECK(list_all(*x.db, x.therapist, {"jo"}) == std::vector<std::string>{"c2"});
    CHECK(list_all(*x.db, x.admin, {"jo"}, 1) == std::vector<std::string>{"c1", "c2"});
}

TEST_CASE("clients view: invitations show their state, expiry computed at read time", "[projections][clients][portal]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    const micros exp = x.f.clock + 72 * 3600 * second;
    x.f.push(agency, "c1", InvitationSent{"inv-1", "family@example.org", exp, std::string(64, 'a')});
    auto sent = x.db->invitation(agency, "inv-1", x.f.clock);
    REQUIRE(sent);
    CHECK(sent->at("state") == "sent");
    CHECK(sent->at("client_id") == "c1");
    CHECK(sent->at("expires_at") == json::value(format_rfc3339(exp)));
    CHECK_FALSE(sent->contains("token_hash"));
    CHECK(x.db->invitation(agency, "inv-1", exp)->at("state") == "expired");

    const micros exp2 = exp + 3600 * second;
    x.f.push(agency, "c1", InvitationResent{"inv-1", exp2, std::string(64, 'b')});
    auto resent = x.db->invitation(agency, "inv-1", exp);
    CHECK(resent->at("state") == "sent");
    CHECK(resent->at("resent_count") == 1);

    x.f.push(agency, "c1", InvitationSent{"inv-2", "x@example.org", exp, std::string(64, 'c')});
    x.f.push(agency, "c1", InvitationRevoked{"inv-2"});
    CHECK(x.db->invitation(agency, "inv-2", x.f.clock)->at("state") == "revoked");

    x.f.push(agency, "c1", InvitationAccepted{"inv-1", "acct-1"});
    x.f.push(agency, "c1", PortalUsernameChosen{"acct-1", "AnnLee", hash});
    auto reg = x.db->invitation(agency, "inv-1", exp2 + 1);  // registered stays registered after the expiry
    CHECK(reg->at("state") == "registered");
    CHECK(reg->at("portal_account_id") == "acct-1");

    auto all = x.db->client_invitations(agency, "c1", x.f.clock);
    REQUIRE(all.size() == 2);
    CHECK(all[0].at("id") == "inv-1");
    CHECK(all[1].at("id") == "inv-2");
    CHECK(x.db->client_invitations(agency, "c2", x.f.clock).empty());
}

TEST_CASE("clients view: portal accounts by username, case-insensitively, never the hash",
          "[projections][clients][portal]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    x.f.push(agency, "c1", InvitationSent{"inv-1", "family@example.org", x.f.clock + 1000 * second, std::string(64, 'a')});
    x.f.push(agency, "c1", InvitationAccepted{"inv-1", "acct-1"});
    x.f.push(agency, "c1", PortalUsernameChosen{"acct-1", "AnnLee", hash});
    auto a = x.db->portal_account_by_username(agency, " ANNLEE ");
    REQUIRE(a);
    CHECK(a->at("id") == "acct-1");
    CHECK(a->at("client_id") == "c1");
    CHECK(a->at("username") == "AnnLee");
    CHECK(json::serialize(*a).find("argon2") == std::string::npos);
    CHECK_FALSE(x.db->portal_account_by_username(agency, "annle"));
    CHECK_FALSE(x.db->portal_account_by_username(uuid(2), "annlee"));
    auto c = x.db->client(agency, "c1");
    CHECK(c->at("portal_account_id") == "acct-1");
    CHECK(c->at("portal_username") == "AnnLee");

    x.f.push(agency, "c1", PortalLoginFailed{"acct-1", "AnnLee", "", "", "bad_password"});
    x.f.push(agency, "c1", PortalAccountLocked{"acct-1", 0, 5});
    auto locked = x.db->portal_account(agency, "acct-1");
    CHECK(locked->at("locked") == true);
    CHECK(locked->at("failed_logins") == 1);
    CHECK(locked->at("locked_until").is_null());
    x.f.push(agency, "c1", PortalAccountUnlocked{"acct-1", "admin"});
    x.f.push(agency, "c1", PortalLoginSucceeded{"acct-1", std::string(64, 'd'), "192.0.2.1", "ua"});
    auto ok = x.db->portal_account(agency, "acct-1");
    CHECK(ok->at("locked") == false);
    CHECK(ok->at("last_login_at").is_string());
    // an unknown-username failure belongs to the agency and touches no client
    auto unknown = x.f.make(agency, agency, PortalLoginFailed{"", "ghost", "", "", "unknown_user"});
    unknown.aggregate_type = "Agency";  // as the writer stamps it (decided_event::aggregate_type)
    CHECK(x.f.push_bytes(x.f.bytes(unknown)) == apply_outcome::applied);
    CHECK(x.db->client_history(agency, agency).empty());
    CHECK_FALSE(x.db->client(agency, agency));
    CHECK(x.db->client(agency, "c1")->at("version") == 8);
}

TEST_CASE("clients view: threads for the client oldest first, for staff, and their messages",
          "[projections][clients][messaging]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    x.add("c2", "Bo", "Diaz");
    x.f.push(agency, "c1", MessageSent{"th-1", "m1", "staff", "t1", "Hello", "t1"});
    x.f.push(agency, "c2", MessageSent{"th-2", "m2", "staff", "t1", "Hi Bo", "t1"});
    x.f.push(agency, "c1", MessageSent{"th-3", "m3", "client", "acct-1", "Question", "t2"});
    x.f.push(agency, "c1", MessageSent{"th-1", "m4", "client", "acct-1", "Thanks", "t1"});
    x.f.push(agency, "c1", MessageSent{"th-3", "m5", "staff", "admin", "Covering for t2", "t2"});

    auto threads = x.db->client_threads(agency, "c1");
    REQUIRE(threads.size() == 2);
    CHECK(threads[0].at("id") == "th-1");
    CHECK(threads[0].at("message_count") == 2);
    CHECK(threads[1].at("id") == "th-3");
    CHECK(threads[1].at("staff_id") == "t2");
    CHECK_FALSE(threads[0].as_object().contains("started_seq"));
    CHECK(ids(x.db->client_threads(agency, "c2")) == std::vector<std::string>{"th-2"});

    CHECK(ids(x.db->staff_threads(agency, "t1")) == std::vector<std::string>{"th-1", "th-2"});
    CHECK(ids(x.db->staff_threads(agency, "t2")) == std::vector<std::string>{"th-3"});
    CHECK(ids(x.db->staff_threads(agency, "admin")) == std::vector<std::string>{"th-3"});

    auto page = x.db->thread_messages(agency, "th-1", 50, std::nullopt);
    REQUIRE(page);
    CHECK_FALSE(page->next_cursor);
    const auto& msgs = page->items;
    REQUIRE(msgs.size() == 2);
    CHECK(msgs[0].at("id") == "m1");
    CHECK(msgs[0].at("body") == "Hello");
    CHECK(msgs[1].at("sender_kind") == "client");
    CHECK(msgs[1].at("client_id") == "c1");
    // One at a time: the cursor leads to the second, then there is no next page.
    auto first = x.db->thread_messages(agency, "th-1", 1, std::nullopt);
    REQUIRE((first && first->items.size() == 1 && first->next_cursor));
    CHECK(first->items[0].at("id") == "m1");
    auto second = x.db->thread_messages(agency, "th-1", 1, first->next_cursor);
    REQUIRE((second && second->items.size() == 1));
    CHECK(second->items[0].at("id") == msgs[1].at("id"));
    CHECK_FALSE(second->next_cursor);
    CHECK_FALSE(x.db->thread_messages(agency, "th-1", 1, std::string("not-a-cursor")));
    CHECK(x.db->thread(agency, "th-2")->at("client_id") == "c2");
    CHECK_FALSE(x.db->thread(agency, "th-9"));
}

TEST_CASE("clients view: kiosk sessions show active, expired and submitted", "[projections][clients][kiosk]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    const micros exp = x.f.clock + 3600 * second;
    x.f.push(agency, "c1", KioskSessionStarted{"k1", "c1", "intake", "", "appt-1", std::string(64, 'e'), exp, "t1"});
    x.f.push(agency, "c1", KioskSessionStarted{"k2", "c1", "", "doc-1", "", std::string(64, 'f'), exp, "t1"});
    auto k1 = x.db->kiosk_session(agency, "k1", x.f.clock);
    REQUIRE(k1);
    CHECK(k1->at("state") == "active");
    CHECK(k1->at("form_id") == "intake");
    CHECK(k1->at("document_id").is_null());
    CHECK_FALSE(k1->contains("token_hash"));
    CHECK(x.db->kiosk_session(agency, "k1", exp)->at("state") == "expired");
    x.f.push(agency, "c1", KioskFormSubmitted{"k1", R"({"q1":"yes"})"});
    auto done = x.db->kiosk_session(agency, "k1", exp + 1);
    CHECK(done->at("state") == "submitted");
    CHECK(done->at("answers").at("q1") == "yes");
    auto all = x.db->client_kiosk_sessions(agency, "c1", x.f.clock);
    REQUIRE(all.size() == 2);
    CHECK(all[0].at("id") == "k1");
    CHECK(all[1].at("state") == "active");
}

TEST_CASE("clients view: the client's history lists its events oldest first without secrets",
          "[projections][clients][history]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    x.f.push(agency, "c1", StaffAssignedToClient{"t1"});
    x.f.push(agency, "c1", InvitationSent{"inv-1", "family@example.org", x.f.clock + 1000 * second, std::string(64, 'a')});
    x.f.push(agency, "c1", InvitationAccepted{"inv-1", "acct-1"});
    x.f.push(agency, "c1", PortalUsernameChosen{"acct-1", "annlee", hash});
    auto h = x.db->client_history(agency, "c1");
    REQUIRE(h.size() == 5);
    std::vector<std::string> types;
    for (const auto& e : h) types.emplace_back(e.at("event_type").as_string());
    CHECK(types == std::vector<std::string>{"ClientAdded", "StaffAssignedToClient", "InvitationSent",
                                            "InvitationAccepted", "PortalUsernameChosen"});
    CHECK(h[0].at("aggregate_type") == "Client");
    CHECK(h[4].at("aggregate_version") == 5);
    CHECK(json::serialize(h).find("argon2") == std::string::npos);
    CHECK(x.db->client_history(agency, "c2").empty());
    // client events never reach the staff directory
    CHECK(x.db->staff_history(agency, "c1").empty());
    CHECK_FALSE(x.db->staff(agency, "c1"));
}

TEST_CASE("clients view: a re-published record is quarantined and changes nothing", "[projections][clients]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    auto e = x.f.make(agency, "c1", StaffAssignedToClient{"t1"});
    auto bytes = x.f.bytes(e);
    CHECK(x.f.push_bytes(bytes) == apply_outcome::applied);
    x.f.push(agency, "c1", StaffUnassignedFromClient{"t1"});
    CHECK(x.f.push_bytes(bytes) == apply_outcome::quarantined);  // same record at a later offset
    CHECK(x.db->client(agency, "c1")->at("staff_ids").as_array().empty());
    CHECK(x.db->assigned_client_ids(agency, "t1").empty());
    CHECK(x.db->client_history(agency, "c1").size() == 3);
    CHECK(x.db->quarantined().size() == 1);
}

TEST_CASE("clients view: as of a time, a client is what its events up to then made it; the agency's settings too",
          "[projections][clients][as_of]") {
    clients_fixture x;
    x.add("c1", "Ann", "Lee");
    const micros added = x.f.clock;
    x.f.push(agency, "c1", StaffAssignedToClient{"t1"});
    const micros assigned = x.f.clock;
    x.f.push(agency, "c1", StaffUnassignedFromClient{"t1"});

    CHECK_FALSE(x.db->client_as_of(agency, "c1", added - 1));
    auto first = x.db->client_as_of(agency, "c1", added);
    REQUIRE(first);
    CHECK(first->at("staff_ids").as_array().empty());
    CHECK(first->at("version") == 1);
    auto then = x.db->client_as_of(agency, "c1", assigned);
    REQUIRE(then);
    CHECK(then->at("staff_ids").as_array() == json::array{"t1"});
    CHECK(then->at("version") == 2);
    // Folded up to now it is the stored view, field for field.
    CHECK(x.db->client_as_of(agency, "c1", x.f.clock) == x.db->client(agency, "c1"));

    // The agency's settings as of a time.
    const micros before_change = x.f.clock;
    events::Settings patch;
    patch.session_idle_minutes = 45;
    x.f.agency_event(agency, AgencySettingsChanged{patch});
    auto old_settings = x.db->agency_as_of(agency, before_change);
    auto new_settings = x.db->agency_as_of(agency, x.f.clock);
    REQUIRE(old_settings);
    REQUIRE(new_settings);
    CHECK(old_settings->at("settings").at("session_idle_minutes") != 45);
    CHECK(new_settings->at("settings").at("session_idle_minutes") == 45);
    CHECK(*new_settings == *x.db->agency(agency));
    CHECK_FALSE(x.db->agency_as_of(agency, t0));
}

TEST_CASE("clients view: a client changed several times in one batch reads, lists and searches as its last event "
          "left it, also after the store is reopened",
          "[projections][clients]") {
    temp_dir dir;
    {
        auto db = open_store(dir);
        feeder f{db.get()};
        f.agency_event(agency, agency_created("Riverside", "riverside"));
        f.push(agency, "t1", staff_created("Todd", "Jones", "tjones", "therapist"));
        std::vector<std::vector<std::uint8_t>> bytes;
        auto add = [&](const std::string& id, payload p) {
            auto e = f.make(agency, id, std::move(p));
            bytes.push_back(f.bytes(e));
        };
        add("c1", ClientAdded{"Ann", "Lee", "1985-04-12", "", "", ""});
        add("c2", ClientAdded{"Bo", "Diaz", "1985-04-12", "", "", ""});
        add("c1", StaffAssignedToClient{"t1"});
        add("c1", InvitationAccepted{uuid(90), uuid(91)});
        add("c2", StaffAssignedToClient{"t1"});
        add("c2", StaffUnassignedFromClient{"t1"});
        std::vector<incoming_record> records;
        for (const auto& b : bytes) records.push_back({0, f.offset++, b, agency});
        auto out = db->apply_batch(records, f.clock);
        REQUIRE(out.has_value());
        REQUIRE(out->applied == records.size());
    }
    auto db = open_store(dir);
    client_viewer admin{"admin", "administration"}, therapist{"t1", "therapy_counseling"};
    auto c1 = db->client(agency, "c1");
    REQUIRE(c1);
    CHECK(c1->at("version") == 3);
    CHECK(c1->at("staff_ids") == json::array{"t1"});
    CHECK(c1->at("portal_account_id") == json::value(uuid(91)));
    CHECK(db->client(agency, "c2")->at("version") == 3);
    CHECK_FALSE(db->client(agency, "c3"));
    auto text = db->client_text_for(agency, "c1", therapist);
    REQUIRE(text);
    CHECK(json::parse(*text).as_object() == *c1);
    CHECK_FALSE(db->client_text_for(agency, "c2", therapist));
    CHECK(list_all(*db, admin) == std::vector<std::string>{"c2", "c1"});
    CHECK(list_all(*db, admin, {.stored_bytes = true}) == std::vector<std::string>{"c2", "c1"});
    CHECK(list_all(*db, therapist) == std::vector<std::string>{"c1"});
    CHECK(list_all(*db, admin, {.q = std::string("le")}) == std::vector<std::string>{"c1"});
    auto problems = db->client_index_problems();
    REQUIRE(problems.has_value());
    CHECK(*problems == 0);
}
