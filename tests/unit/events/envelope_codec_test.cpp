// The envelope codec: every payload round-trips, the chain hash is verifiable, and damaged bytes
// are either refused by the verifier or betrayed by the hash — never a crash.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <set>

#include "carelog/events/carelog_events_generated.h"
#include "carelog/events/envelope_codec.hpp"

using namespace carelog;
using namespace carelog::events;

namespace {

Settings full_settings() {
    auto s = default_settings("Riverside Counseling");
    s.mfa_required_roles = strings{"org_admin", "admin"};
    s.services = strings{"Individual therapy", "Group"};
    return s;
}

StaffCreated full_staff() {
    StaffCreated e;
    e.first_name = "José";
    e.middle_name = "Émile";
    e.last_name = "Núñez";
    e.gender = "male";
    e.position = "Counselor";
    e.email = "jose@riverside.example";
    e.username = "jnunez";
    e.role = "therapist";
    e.staff_type = "therapy_counseling";
    e.location_ids = {"loc-1", "loc-2"};
    e.program_ids = {"prog-1"};
    e.hire_date = "2024-02-29";
    e.phones = {{"work", "555-0100"}, {"mobile", "+1 555 0199"}};
    e.npi = "1234567893";
    e.supervisor_id = "admin-1";
    e.require_password_change = false;
    e.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
    return e;
}

// One of every payload type, with every field set (and a sparse variant where fields are optional).
std::vector<payload> every_payload() {
    Settings some;
    some.client_portal_enabled = true;
    some.lockout_threshold = 0;
    StaffProfileUpdated full_update;
    full_update.first_name = "Theo";
    full_update.middle_name = "";
    full_update.last_name = "Smith";
    full_update.gender = "nonbinary";
    full_update.position = "Biller";
    full_update.email = "theo@example.org";
    full_update.hire_date = "";
    full_update.phones = std::vector<Phone>{};
    full_update.npi = "1234567893";
    full_update.supervisor_id = "";
    StaffProfileUpdated one_field;
    one_field.position = "Clinical Director";
    return {
        AgencyCreated{"Riverside Counseling", "riverside", full_settings()},
        AgencySettingsChanged{some},
        AgencySettingsChanged{Settings{}},
        LocationAdded{"loc-1", "Main Office", "1 River Rd"},
        ProgramAdded{"prog-1", "Intensive Outpatient"},
        full_staff(),
        StaffCreated{},
        full_update,
        one_field,
        RoleAssigned{"biller"},
        StaffTypeSet{"administration"},
        StaffLocationsSet{{"loc-1", "loc-2"}},
        StaffLocationsSet{{}},
        StaffProgramsSet{{"prog-1"}},
        ModulePermissionGranted{"client_portal"},
        ModulePermissionRevoked{"messaging"},
        StaffDeactivated{"left the agency"},
        PasswordChanged{"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$bmV3", true, "admin", ""},
        PasswordChanged{"$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$cmVz", false, "reset", std::string(64, 'a')},
        PasswordResetRequested{std::string(64, 'b'), 1'795'003'600'123'456},
        LoginSucceeded{std::string(64, 'c'), "203.0.113.7", "Mozilla/5.0 (X11; Linux) Gecko/20100101 Firefox/128.0",
                       true, false, 59'833'333},
        LoginSucceeded{std::string(64, 'd'), "::1", "", false, true, 0},
        LoginFailed{"tjones", "198.51.100.2", "curl/8.5", "bad_password"},
        LoginFailed{"", "", "", "unknown_user"},
        AccountLocked{1'795'001'800'000'000, 5},
        AccountLocked{0, 3},
        AccountUnlocked{"timeout"},
        MfaEnrolled{"sb1:" + std::string(120, 'e')},
        MfaConfirmed{59'833'334},
        MfaReset{"admin"},
        SessionEnded{std::string(64, 'f'), "password_changed"},
        SessionTouched{std::string(64, '0')},
        // clients and the client portal
        ClientAdded{"Zoë", "O'Brien-Núñez", "1990-02-28", "zoe@example.org", "+1 (555) 010-0199", "EXT-42"},
        ClientAdded{"Al", "Bo", "2001-01-01", "", "", ""},
        StaffAssignedToClient{"staff-1"},
        StaffUnassignedFromClient{"staff-2"},
        InvitationSent{"inv-1", "family@example.org", 1'795'259'200'000'000, std::string(64, '1')},
        InvitationResent{"inv-1", 1'795'345'600'000'000, std::string(64, '2')},
        InvitationRevoked{"inv-1"},
        InvitationAccepted{"inv-2", "acct-1"},
        PortalUsernameChosen{"acct-1", "ZoeOB", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$cG9ydGFs"},
        PortalLoginSucceeded{"acct-1", std::string(64, '3'), "192.0.2.1", "Safari"},
        PortalLoginFailed{"acct-1", "zoeob", "192.0.2.1", "Safari", "bad_password"},
        PortalLoginFailed{"", "", "", "", "unknown_user"},
        PortalAccountLocked{"acct-1", 1'795'001'800'000'000, 5},
        PortalAccountUnlocked{"acct-1", "timeout"},
        PortalSessionEnded{"acct-1", std::string(64, '4'), "logout"},
        MessageSent{"thread-1", "msg-1", "client", "acct-1", "Hello,\nsee you \"Tuesday\" ✓", "staff-1"},
        KioskSessionStarted{"kiosk-1", "client-1", "form-intake", "", "appt-9", std::string(64, '5'),
                            1'795'007'200'000'000, "staff-1"},
        KioskSessionStarted{"kiosk-2", "client-1", "", "doc-3", "", std::string(64, '6'), 1, "staff-2"},
        KioskFormSubmitted{"kiosk-1", R"({"q1":"yes","q2":[1,2]})"},
        PortalSessionTouched{"acct-1", std::string(64, '4')},
        PortalPasswordChanged{"acct-1", "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", true, "temporary", "lost it"},
        PortalPasswordResetRequested{"acct-1", std::string(64, '7'), 1'795'003'600'000'000},
    };
}

envelope make_envelope(payload p) {
    envelope e;
    e.event_id = "0190f0a2-7b3c-7d4e-8f01-23456789abcd";
    e.agency_id = "6f1c0b7e-5a0d-4c8e-9b51-7d3f2a9c4e10";
    e.aggregate_type = std::string(aggregate_type_of(p));
    e.aggregate_id = "0190f0a2-7b3c-7d4e-8f01-000000000001";
    e.aggregate_version = 7;
    e.sequence = 42;
    e.occurred_at = 1'795'000'000'123'456;
    e.actor_id = "admin-1";
    e.command_id = "cmd-1";
    e.correlation_id = "corr-1";
    e.causation_id = "cause-1";
    for (std::size_t i = 0; i < e.prev_hash.size(); ++i) e.prev_hash[i] = static_cast<std::uint8_t>(i * 7 + 1);
    e.data = std::move(p);
    return e;
}

void check_same(const envelope& a, const envelope& b) {
    CHECK(a.event_id == b.event_id);
    CHECK(a.agency_id == b.agency_id);
    CHECK(a.aggregate_type == b.aggregate_type);
    CHECK(a.aggregate_id == b.aggregate_id);
    CHECK(a.aggregate_version == b.aggregate_version);
    CHECK(a.sequence == b.sequence);
    CHECK(a.occurred_at == b.occurred_at);
    CHECK(a.actor_id == b.actor_id);
    CHECK(a.command_id == b.command_id);
    CHECK(a.correlation_id == b.correlation_id);
    CHECK(a.causation_id == b.causation_id);
    CHECK(a.prev_hash == b.prev_hash);
    CHECK(a.hash == b.hash);
    CHECK(a.schema_version == b.schema_version);
    CHECK(a.data.index() == b.data.index());
    CHECK(a.data == b.data);
}

}  // namespace

TEST_CASE("events: every payload type survives encode and decode", "[events][codec]") {
    auto all = every_payload();
    // Every alternative of the payload variant is covered.
    std::vector<bool> seen(std::variant_size_v<payload>, false);
    for (const auto& p : all) seen[p.index()] = true;
    CHECK(std::all_of(seen.begin(), seen.end(), [](bool b) { return b; }));

    for (auto& p : all) {
        INFO(event_type_name(p));
        auto e = make_envelope(p);
        auto bytes = encode(e);
        auto d = decode(bytes);
        REQUIRE(d.has_value());
        check_same(e, *d);
    }
}

TEST_CASE("events: optional settings and profile fields keep their presence", "[events][codec]") {
    StaffProfileUpdated only_middle_cleared;
    only_middle_cleared.middle_name = "";
    auto e = make_envelope(only_middle_cleared);
    auto d = decode(encode(e));
    REQUIRE(d.has_value());
    const auto& u = std::get<StaffProfileUpdated>(d->data);
    CHECK(u.middle_name == std::optional<std::string>(""));
    CHECK_FALSE(u.first_name.has_value());
    CHECK_FALSE(u.phones.has_value());

    Settings s;
    s.lockout_threshold = 0;
    s.client_portal_enabled = false;
    auto e2 = make_envelope(AgencySettingsChanged{s});
    auto d2 = decode(encode(e2));
    REQUIRE(d2.has_value());
    const auto& got = std::get<AgencySettingsChanged>(d2->data).settings;
    CHECK(got.lockout_threshold == 0);
    CHECK(got.client_portal_enabled == false);
    CHECK_FALSE(got.password_min_length.has_value());
    CHECK_FALSE(got.mfa_required_roles.has_value());
}

TEST_CASE("events: the hash is stored in the buffer and recomputable", "[events][codec][hash]") {
    auto e = make_envelope(full_staff());
    auto bytes = encode(e);
    CHECK(e.hash != sha256_digest{});
    auto h = compute_hash(bytes);
    REQUIRE(h.has_value());
    CHECK(*h == e.hash);
    auto d = decode(bytes);
    REQUIRE(d.has_value());
    CHECK(d->hash == e.hash);

    // The hash covers the chain link: another prev_hash gives another hash.
    auto e2 = make_envelope(full_staff());
    e2.prev_hash[0] ^= 0xFF;
    encode(e2);
    CHECK(e2.hash != e.hash);
    // Encoding is deterministic.
    auto e3 = make_envelope(full_staff());
    CHECK(encode(e3) == bytes);
}

TEST_CASE("events: a flipped byte anywhere is refused or breaks the hash", "[events][codec][hash]") {
    for (auto& p : {payload{full_staff()}, payload{AgencyCreated{"A", "abc", full_settings()}}}) {
        auto e = make_envelope(p);
        const auto bytes = encode(e);
        int refused = 0, detected = 0;
        for (std::size_t i = 0; i < bytes.size(); ++i) {
            for (std::uint8_t mask : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
                auto bad = bytes;
                bad[i] ^= mask;
                auto d = decode(bad);
                if (!d) {
                    CHECK(d.error().code == errc::malformed);
                    ++refused;
                    continue;
                }
                // It still parses: the stored hash no longer matches the recomputed one.
                auto h = compute_hash(bad);
                REQUIRE(h.has_value());
                INFO("byte " << i << " mask " << int(mask));
                CHECK(*h != d->hash);
                ++detected;
            }
        }
        CHECK(refused > 0);
        CHECK(detected > 0);
    }
}

static bool same_envelope(const envelope& a, const envelope& b) {
    return a.event_id == b.event_id && a.agency_id == b.agency_id && a.aggregate_type == b.aggregate_type &&
           a.aggregate_id == b.aggregate_id && a.aggregate_version == b.aggregate_version && a.sequence == b.sequence &&
           a.occurred_at == b.occurred_at && a.actor_id == b.actor_id && a.command_id == b.command_id &&
           a.correlation_id == b.correlation_id && a.causation_id == b.causation_id && a.prev_hash == b.prev_hash &&
           a.hash == b.hash && a.schema_version == b.schema_version && a.data == b.data;
}

TEST_CASE("events: decode_and_hash answers what decode and compute_hash answer, in one pass",
          "[events][codec][hash]") {
    auto e = make_envelope(full_staff());
    const auto bytes = encode(e);
    // A Kafka payload or a RocksDB value sits at any address: one byte off 8-byte alignment too.
    std::vector<std::uint8_t> shifted(bytes.size() + 1);
    std::memcpy(shifted.data() + 1, bytes.data(), bytes.size());
    for (auto at : {std::span<const std::uint8_t>(bytes), std::span<const std::uint8_t>(shifted).subspan(1)}) {
        auto both = decode_and_hash(at);
        REQUIRE(both.has_value());
        CHECK(both->recomputed == e.hash);
        CHECK(both->decoded.hash == e.hash);
        CHECK(same_envelope(both->decoded, *decode(at)));
    }
    int refused = 0, detected = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        auto bad = bytes;
        bad[i] ^= 0x80;
        auto d = decode(bad);
        auto both = decode_and_hash(bad);
        INFO("byte " << i);
        REQUIRE(both.has_value() == d.has_value());
        if (!d) {
            CHECK(both.error().code == errc::malformed);
            ++refused;
            continue;
        }
        CHECK(same_envelope(both->decoded, *d));
        CHECK(both->recomputed == *compute_hash(bad));
        CHECK(both->recomputed != both->decoded.hash);
        ++detected;
    }
    CHECK(refused > 0);
    CHECK(detected > 0);
}

TEST_CASE("events: truncated buffers never decode as the original", "[events][codec][malformed]") {
    auto e = make_envelope(full_staff());
    const auto bytes = encode(e);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        INFO("length " << n << " of " << bytes.size());
        std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        auto d = decode(cut);
        if (!d) {
            CHECK(d.error().code == errc::malformed);
            CHECK_FALSE(compute_hash(cut).has_value());
        } else {
            // Only trailing alignment padding can go unnoticed by the verifier; the hash still tells.
            auto h = compute_hash(cut);
            REQUIRE(h.has_value());
            CHECK(*h != d->hash);
        }
    }
    // Cutting into the data itself (anything but trailing padding) is always refused.
    std::vector<std::uint8_t> half(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2));
    CHECK(decode(half).error().code == errc::malformed);
}

TEST_CASE("events: garbage and empty buffers are refused as malformed", "[events][codec][malformed]") {
    CHECK(decode({}).error().code == errc::malformed);
    std::vector<std::uint8_t> zeros(256, 0);
    CHECK(decode(zeros).error().code == errc::malformed);
    std::vector<std::uint8_t> ones(256, 0xFF);
    CHECK(decode(ones).error().code == errc::malformed);

    std::mt19937 rng(20261122);
    std::uniform_int_distribution<int> byte(0, 255);
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::uint8_t> junk(static_cast<std::size_t>(round % 400));
        for (auto& b : junk) b = static_cast<std::uint8_t>(byte(rng));
        if (junk.size() >= 8) std::memcpy(junk.data() + 4, "CLEV", 4);  // right identifier, wrong body
        auto d = decode(junk);
        INFO("round " << round);
        REQUIRE_FALSE(d.has_value());
        CHECK(d.error().code == errc::malformed);
        CHECK_FALSE(compute_hash(junk).has_value());
    }
}

TEST_CASE("events: a buffer with another file identifier is refused", "[events][codec][malformed]") {
    auto e = make_envelope(RoleAssigned{"admin"});
    auto bytes = encode(e);
    std::memcpy(bytes.data() + 4, "XXXX", 4);
    auto d = decode(bytes);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::malformed);
}

TEST_CASE("events: event type names and aggregate types follow the domain's words", "[events]") {
    CHECK(event_type_name(StaffCreated{}) == "StaffCreated");
    CHECK(event_type_name(AgencySettingsChanged{}) == "AgencySettingsChanged");
    CHECK(event_type_name(ModulePermissionRevoked{}) == "ModulePermissionRevoked");
    CHECK(aggregate_type_of(LocationAdded{}) == "Agency");
    CHECK(aggregate_type_of(ProgramAdded{}) == "Agency");
    CHECK(aggregate_type_of(StaffDeactivated{}) == "Staff");
    CHECK(aggregate_type_of(RoleAssigned{}) == "Staff");
    CHECK(event_type_name(PasswordChanged{}) == "PasswordChanged");
    CHECK(event_type_name(PasswordResetRequested{}) == "PasswordResetRequested");
    CHECK(event_type_name(LoginSucceeded{}) == "LoginSucceeded");
    CHECK(event_type_name(LoginFailed{}) == "LoginFailed");
    CHECK(event_type_name(AccountLocked{}) == "AccountLocked");
    CHECK(event_type_name(AccountUnlocked{}) == "AccountUnlocked");
    CHECK(event_type_name(MfaEnrolled{}) == "MfaEnrolled");
    CHECK(event_type_name(MfaConfirmed{}) == "MfaConfirmed");
    CHECK(event_type_name(MfaReset{}) == "MfaReset");
    CHECK(event_type_name(SessionEnded{}) == "SessionEnded");
    CHECK(event_type_name(SessionTouched{}) == "SessionTouched");
    for (const payload& p : {payload{PasswordChanged{}}, payload{LoginSucceeded{}}, payload{LoginFailed{}},
                             payload{AccountLocked{}}, payload{MfaEnrolled{}}, payload{SessionEnded{}},
                             payload{SessionTouched{}}})
        CHECK(aggregate_type_of(p) == "Staff");
}

TEST_CASE("events: client and portal events belong to the Client aggregate", "[events][clients]") {
    CHECK(event_type_name(ClientAdded{}) == "ClientAdded");
    CHECK(event_type_name(StaffAssignedToClient{}) == "StaffAssignedToClient");
    CHECK(event_type_name(StaffUnassignedFromClient{}) == "StaffUnassignedFromClient");
    CHECK(event_type_name(InvitationSent{}) == "InvitationSent");
    CHECK(event_type_name(InvitationResent{}) == "InvitationResent");
    CHECK(event_type_name(InvitationRevoked{}) == "InvitationRevoked");
    CHECK(event_type_name(InvitationAccepted{}) == "InvitationAccepted");
    CHECK(event_type_name(PortalUsernameChosen{}) == "PortalUsernameChosen");
    CHECK(event_type_name(PortalLoginSucceeded{}) == "PortalLoginSucceeded");
    CHECK(event_type_name(PortalLoginFailed{}) == "PortalLoginFailed");
    CHECK(event_type_name(PortalAccountLocked{}) == "PortalAccountLocked");
    CHECK(event_type_name(PortalAccountUnlocked{}) == "PortalAccountUnlocked");
    CHECK(event_type_name(PortalSessionEnded{}) == "PortalSessionEnded");
    CHECK(event_type_name(MessageSent{}) == "MessageSent");
    CHECK(event_type_name(KioskSessionStarted{}) == "KioskSessionStarted");
    CHECK(event_type_name(KioskFormSubmitted{}) == "KioskFormSubmitted");
    CHECK(event_type_name(PortalSessionTouched{}) == "PortalSessionTouched");
    CHECK(event_type_name(PortalPasswordChanged{}) == "PortalPasswordChanged");
    CHECK(event_type_name(PortalPasswordResetRequested{}) == "PortalPasswordResetRequested");
    for (const payload& p :
         {payload{ClientAdded{}}, payload{StaffAssignedToClient{}}, payload{StaffUnassignedFromClient{}},
          payload{InvitationSent{}}, payload{InvitationResent{}}, payload{InvitationRevoked{}},
          payload{InvitationAccepted{}}, payload{PortalUsernameChosen{}}, payload{PortalLoginSucceeded{}},
          payload{PortalLoginFailed{}}, payload{PortalAccountLocked{}}, payload{PortalAccountUnlocked{}},
          payload{PortalSessionEnded{}}, payload{MessageSent{}}, payload{KioskSessionStarted{}},
          payload{KioskFormSubmitted{}}, payload{PortalSessionTouched{}}, payload{PortalPasswordChanged{}},
          payload{PortalPasswordResetRequested{}}})
        CHECK(aggregate_type_of(p) == "Client");
    decided_event unknown{"agency-1", 4, PortalLoginFailed{"", "nobody", "", "", "unknown_user"}, "Agency"};
    CHECK(aggregate_type_of(unknown) == "Agency");
}

TEST_CASE("events: a decided event may name its aggregate type, as LoginFailed for an unknown user does",
          "[events]") {
    decided_event staff{"s1", 3, LoginFailed{"tjones", "", "", "bad_password"}};
    CHECK(aggregate_type_of(staff) == "Staff");
    decided_event agency{"agency-1", 9, LoginFailed{"nobody", "", "", "unknown_user"}, "Agency"};
    CHECK(aggregate_type_of(agency) == "Agency");
    decided_event created{"agency-1", 1, AgencyCreated{}};
    CHECK(aggregate_type_of(created) == "Agency");
}

TEST_CASE("events: every event type name is distinct and the union order matches the schema", "[events]") {
    // The variant's alternatives follow the schema's union members (type = index + 1), so a name
    // appended to one must be appended to the other: decode(encode(x)) keeps the alternative.
    std::set<std::string> names;
    for (const auto& p : every_payload()) names.emplace(event_type_name(p));
    CHECK(names.size() == std::variant_size_v<payload>);
}

TEST_CASE("events: default settings are the secure defaults of the spec", "[events]") {
    auto s = default_settings("X");
    CHECK(s.name == "X");
    CHECK(s.client_portal_enabled == false);
    CHECK(s.messaging_enabled == false);
    CHECK(s.password_min_length == 12);
    CHECK(s.password_require_upper == true);
    CHECK(s.password_require_lower == true);
    CHECK(s.password_require_digit == true);
    CHECK(s.password_require_symbol == true);
    CHECK(s.password_disallow_username == true);
    CHECK(s.lockout_threshold == 5);
    CHECK(s.lockout_minutes == 30);
    CHECK(s.session_idle_minutes == 30);
    CHECK(s.password_expiry_days == 90);
    CHECK(s.mfa_required_roles == strings{});
    CHECK(s.services == strings{});
}

TEST_CASE("events: a payload type without its payload table is refused, not read (found by fuzz_envelope)",
          "[events][codec][malformed]") {
    // The FlatBuffers verifier accepts a union whose type is set and whose table is absent.
    flatbuffers::FlatBufferBuilder b(256);
    std::vector<std::uint8_t> zero(32, 0);
    auto event_id = b.CreateString("e"), agency = b.CreateString("a"), atype = b.CreateString("Staff");
    auto aid = b.CreateString("s"), empty = b.CreateString("");
    auto prev = b.CreateVector(zero.data(), zero.size());
    auto hash = b.CreateVector(zero.data(), zero.size());
    auto root = carelog::fb::CreateEnvelope(b, event_id, agency, atype, aid, 1, 1, 0, empty, empty, empty, empty,
                                            prev, hash, 1, carelog::fb::Payload::StaffCreated, 0);
    b.Finish(root, carelog::fb::EnvelopeIdentifier());
    std::vector<std::uint8_t> bytes(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    auto d = decode(bytes);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::malformed);
    CHECK(d.error().detail.find("payload") != std::string::npos);
}

TEST_CASE("events: encodings on one thread do not leak into each other, after a large event too",
          "[events][codec]") {
    // encode() reuses one builder per thread: an event encoded after others (a 1 MiB kiosk form
    // among them) is byte for byte what it is on its own.
    auto small = make_envelope(full_staff());
    const auto first = encode(small);
    auto large = make_envelope(KioskFormSubmitted{"kiosk-1", "{\"answer\":\"" + std::string(1 << 20, 'x') + "\"}"});
    const auto large_bytes = encode(large);
    auto d = decode(large_bytes);
    REQUIRE(d.has_value());
    check_same(large, *d);
    for (int i = 0; i < 3; ++i) {
        auto again = make_envelope(full_staff());
        CHECK(encode(again) == first);
    }
    auto large_again = make_envelope(KioskFormSubmitted{"kiosk-1", "{\"answer\":\"" + std::string(1 << 20, 'x') + "\"}"});
    CHECK(encode(large_again) == large_bytes);
}
