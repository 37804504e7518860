// Fixtures for the client and portal rules: an agency with the portal and messaging switched on or
// off, an administrator, two therapists, clients, and helpers that decide + fold at a given time.
#pragma once

#include "fixtures.hpp"

#include "carelog/base/secrets.hpp"

namespace carelog::aggregates::testing {

inline constexpr micros now0 = 1'790'000'000'000'000;  // 2026-09-21
inline constexpr micros hour = 3'600'000'000;

inline std::string th(int n) { return token_hash("token-" + std::to_string(n)); }
inline const std::string portal_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$cG9ydGFs";

inline add_client client_cmd(std::string id, std::string first = "Ann", std::string last = "Lee") {
    add_client c;
    c.client_id = std::move(id);
    c.first_name = std::move(first);
    c.last_name = std::move(last);
    c.date_of_birth = "1985-04-12";
    c.email = "family@example.org";
    c.phone = "+1 (555) 010-0100";
    c.now = now0;
    return c;
}

struct client_fixture : agency_fixture {
    micros now = now0;

    explicit client_fixture(bool portal = true, bool messaging = true) {
        change_settings cs;
        cs.patch.client_portal_enabled = portal;
        cs.patch.messaging_enabled = messaging;
        go(cs);
        hire(staff_cmd("t1", "Todd", "Jones"));
        hire(staff_cmd("t2", "Mia", "Wong"));
        go(set_module_permissions{"admin-1", true, true});
        go(set_module_permissions{"t1", true, true});
        go(add_client(client_cmd("c1")));
        go(add_client(client_cmd("c2", "Bo", "Diaz")));
        go(assign_staff_to_client{"c1", "t1"});
    }

    // Decides at the fixture's time and folds the events in with it.
    std::vector<events::decided_event> go(const command& c) {
        auto evs = accepted(decide(s, c));
        fold_in(s, evs, now);
        return evs;
    }
    decision try_(const command& c) const { return decide(s, c); }

    send_invitation invite(std::string client, std::string inv, int token, std::string actor = "admin-1") {
        send_invitation c;
        c.client_id = std::move(client);
        c.invitation_id = std::move(inv);
        c.actor_staff_id = std::move(actor);
        c.token_hash = th(token);
        c.now = now;
        return c;
    }
    register_portal_account reg(int token, std::string account, std::string username) {
        return register_portal_account{th(token), std::move(account), std::move(username), portal_hash, true, now};
    }
    const client_state& client(const std::string& id) const { return s.clients.at(id); }
};

}  // namespace carelog::aggregates::testing
