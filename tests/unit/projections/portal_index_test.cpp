// The portal and kiosk read path's lookups: portal session id -> client (until the session ends),
// kiosk token hash -> client, and a client's events after a version, as decoded envelopes.
#include "projection_fixture.hpp"

using namespace carelog;
using namespace carelog::projections;
using namespace carelog::projections::testing;

namespace {

const std::string agency = uuid(1);
const std::string other_agency = uuid(2);
const std::string hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$cG9ydGFs";

struct portal_fixture {
    temp_dir dir;
    std::unique_ptr<store> db = open_store(dir);
    feeder f{db.get()};

    portal_fixture() {
        f.agency_event(agency, agency_created("Riverside", "riverside"));
        f.agency_event(other_agency, agency_created("Harbor", "harbor"));
        f.push(agency, "c1", ClientAdded{"Ann", "Lee", "1985-04-12", "ann@example.org", "", ""});
        f.push(agency, "c1", InvitationSent{"inv-1", "ann@example.org", f.clock + 1000 * second, std::string(64, 'a')});
        f.push(agency, "c1", InvitationAccepted{"inv-1", "acct-1"});
        f.push(agency, "c1", PortalUsernameChosen{"acct-1", "annlee", hash});
    }
};

}  // namespace

TEST_CASE("portal index: a portal session id finds its client until the session ends", "[projections][portal]") {
    portal_fixture x;
    const std::string sid(64, '1'), other(64, '2');
    CHECK_FALSE(x.db->portal_session_client(agency, sid));
    x.f.push(agency, "c1", PortalLoginSucceeded{"acct-1", sid, "127.0.0.1", "ua"});
    x.f.push(agency, "c1", PortalLoginSucceeded{"acct-1", other, "127.0.0.1", "ua"});
    CHECK(x.db->portal_session_client(agency, sid) == "c1");
    CHECK(x.db->portal_session_client(agency, other) == "c1");
    // hashes are per agency: the same hash names nothing elsewhere
    CHECK_FALSE(x.db->portal_session_client(other_agency, sid));
    // a staff session index never answers a portal session, nor the other way round
    CHECK_FALSE(x.db->session_staff(agency, sid));

    x.f.push(agency, "c1", PortalSessionEnded{"acct-1", sid, "logout"});
    CHECK_FALSE(x.db->portal_session_client(agency, sid));
    CHECK(x.db->portal_session_client(agency, other) == "c1");
}

TEST_CASE("portal index: a re-published login after the logout does not bring the session back",
          "[projections][portal]") {
    portal_fixture x;
    const std::string sid(64, '3');
    auto login = x.f.make(agency, "c1", PortalLoginSucceeded{"acct-1", sid, "127.0.0.1", "ua"});
    auto bytes = x.f.bytes(login);
    CHECK(x.f.push_bytes(bytes) == apply_outcome::applied);
    x.f.push(agency, "c1", PortalSessionEnded{"acct-1", sid, "logout"});
    CHECK(x.f.push_bytes(bytes) == apply_outcome::quarantined);  // the same record at a later offset
    CHECK_FALSE(x.db->portal_session_client(agency, sid));
}

TEST_CASE("portal index: a kiosk token hash finds its client, also once submitted", "[projections][kiosk]") {
    portal_fixture x;
    const std::string th(64, 'e');
    CHECK_FALSE(x.db->kiosk_token_client(agency, th));
    x.f.push(agency, "c1", KioskSessionStarted{"k1", "c1", "intake", "", "", th, x.f.clock + 3600 * second, "t1"});
    CHECK(x.db->kiosk_token_client(agency, th) == "c1");
    x.f.push(agency, "c1", KioskFormSubmitted{"k1", R"({"q":1})"});
    CHECK(x.db->kiosk_token_client(agency, th) == "c1");
    CHECK_FALSE(x.db->kiosk_token_client(other_agency, th));
    CHECK_FALSE(x.db->portal_session_client(agency, th));
}

TEST_CASE("portal index: a client's events after a version, decoded, oldest first", "[projections][portal]") {
    portal_fixture x;
    x.f.push(agency, "c2", ClientAdded{"Bo", "Diaz", "1990-01-01", "", "", ""});
    x.f.push(agency, "c1", MessageSent{"th-1", "m1", "staff", "t1", "Hello", "t1"});

    auto all = x.db->client_events(agency, "c1", 0);
    REQUIRE(all.size() == 5);
    CHECK(std::holds_alternative<ClientAdded>(all[0].data));
    CHECK(std::holds_alternative<MessageSent>(all[4].data));
    for (std::size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].aggregate_version == i + 1);
        CHECK(all[i].aggregate_id == "c1");
        CHECK(all[i].agency_id == agency);
    }
    auto later = x.db->client_events(agency, "c1", 3);
    REQUIRE(later.size() == 2);
    CHECK(later[0].aggregate_version == 4);
    CHECK(std::get<PortalUsernameChosen>(later[0].data).username == "annlee");
    CHECK(x.db->client_events(agency, "c1", 5).empty());
    CHECK(x.db->client_events(agency, "c2", 0).size() == 1);
    CHECK(x.db->client_events(other_agency, "c1", 0).empty());
    // a client's events are not a staff member's
    CHECK(x.db->staff_events(agency, "c1", 0).empty());
}
