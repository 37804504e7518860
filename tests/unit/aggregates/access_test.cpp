// Permissions: the five roles of SPEC §1 (seed 004), module permissions, restricted sessions and
// the staff-type rule for client visibility.
#include "identity_fixtures.hpp"

#include <set>

#include "carelog/aggregates/access.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;
namespace acc = carelog::aggregates::access;

namespace {
std::set<std::string> set_of(std::initializer_list<const char*> v) { return {v.begin(), v.end()}; }
const auto clinical = set_of({acc::cases_manage, acc::clinical_read, acc::clinical_write, acc::reports_case});
const auto billing = set_of({acc::billing_ledgers, acc::billing_insurance, acc::billing_payments, acc::reports_billing});
const auto modules = set_of({acc::portal_invite, acc::portal_manage, acc::messaging_use});

// The permission sets as sets of names, for the set algebra below.
std::set<std::string> names_in(acc::permission_set s) { return {s.begin(), s.end()}; }

bool includes(const std::set<std::string>& big, const std::set<std::string>& small) {
    return std::includes(big.begin(), big.end(), small.begin(), small.end());
}
bool disjoint(const std::set<std::string>& a, const std::set<std::string>& b) {
    return std::none_of(a.begin(), a.end(), [&](const auto& x) { return b.contains(x); });
}
}  // namespace

TEST_CASE("access: the catalogue names every permission once, and every role's set comes from it",
          "[aggregates][access]") {
    std::set<std::string> names;
    for (auto p : acc::all_permissions()) CHECK(names.emplace(p).second);
    for (auto role : role_values) {
        INFO(role);
        auto perms = names_in(acc::role_permissions(role));
        CHECK_FALSE(perms.empty());
        CHECK(includes(names, perms));
    }
    CHECK(includes(names, modules));
    CHECK(acc::role_permissions("").empty());
    CHECK(acc::role_permissions("superuser").empty());
}

TEST_CASE("access: each role's permissions follow the seed's five roles", "[aggregates][access][roles]") {
    auto scheduler = names_in(acc::role_permissions("scheduler"));
    auto therapist = names_in(acc::role_permissions("therapist"));
    auto biller = names_in(acc::role_permissions("biller"));
    auto admin = names_in(acc::role_permissions("admin"));
    auto org_admin = names_in(acc::role_permissions("org_admin"));

    // The default set: agenda, clients, groups, client reports, staff calendars.
    for (auto p : {acc::agenda_read, acc::clients_create, acc::clients_read, acc::clients_update, acc::groups_manage,
                   acc::reports_client, acc::staff_calendars, acc::appointments_manage, acc::self_password})
        CHECK(scheduler.contains(p));
    CHECK(disjoint(scheduler, clinical));
    CHECK(disjoint(scheduler, billing));
    CHECK_FALSE(scheduler.contains(acc::staff_create));

    // therapist = default + clinical; biller = default + billing.
    CHECK(includes(therapist, scheduler));
    CHECK(includes(therapist, clinical));
    CHECK(disjoint(therapist, billing));
    CHECK(therapist.size() == scheduler.size() + clinical.size());
    CHECK(includes(biller, scheduler));
    CHECK(includes(biller, billing));
    CHECK(disjoint(biller, clinical));
    CHECK(biller.size() == scheduler.size() + billing.size());

    // admin = organization settings + therapist + billing + default.
    CHECK(includes(admin, therapist));
    CHECK(includes(admin, biller));
    for (auto p : {acc::agency_settings, acc::locations_manage, acc::programs_manage, acc::staff_create,
                   acc::staff_roles, acc::staff_unlock, acc::staff_lock_state, acc::events_read})
        CHECK(admin.contains(p));
    CHECK_FALSE(admin.contains(acc::staff_grant_org_admin));

    // org_admin: every permission there is, except module permissions, which are granted per person.
    std::set<std::string> everything(acc::all_permissions().begin(), acc::all_permissions().end());
    std::set<std::string> expected;
    std::set_difference(everything.begin(), everything.end(), modules.begin(), modules.end(),
                        std::inserter(expected, expected.end()));
    CHECK(org_admin == expected);
}

TEST_CASE("access: adding staff needs admin or org_admin", "[aggregates][access][roles]") {
    CHECK(acc::role_grants("org_admin", acc::staff_create));
    CHECK(acc::role_grants("admin", acc::staff_create));
    CHECK_FALSE(acc::role_grants("biller", acc::staff_create));
    CHECK_FALSE(acc::role_grants("therapist", acc::staff_create));
    CHECK_FALSE(acc::role_grants("scheduler", acc::staff_create));
    CHECK(acc::role_grants("org_admin", acc::staff_grant_org_admin));
    CHECK_FALSE(acc::role_grants("admin", acc::staff_grant_org_admin));
}

TEST_CASE("access: module permissions need the staff member's grant and the agency's switch",
          "[aggregates][access][modules]") {
    identity_fixture f;
    const auto& admin = f.staff("admin-1");
    CHECK_FALSE(acc::can(f.s, admin, acc::portal_invite));  // org_admin does not imply a module
    f.run(set_module_permissions{"admin-1", true, true});
    CHECK_FALSE(acc::can(f.s, f.staff("admin-1"), acc::portal_invite));  // the agency's switches are off
    CHECK_FALSE(acc::can(f.s, f.staff("admin-1"), acc::messaging_use));
    events::Settings on;
    on.client_portal_enabled = true;
    f.settings(on);
    CHECK(acc::can(f.s, f.staff("admin-1"), acc::portal_invite));
    CHECK(acc::can(f.s, f.staff("admin-1"), acc::portal_manage));
    CHECK_FALSE(acc::can(f.s, f.staff("admin-1"), acc::messaging_use));
    on.messaging_enabled = true;
    f.settings(on);
    CHECK(acc::can(f.s, f.staff("admin-1"), acc::messaging_use));
    // A therapist with the grant gets the module too; without it, not.
    CHECK_FALSE(acc::can(f.s, f.staff("s1"), acc::messaging_use));
    f.run(set_module_permissions{"s1", std::nullopt, true});
    CHECK(acc::can(f.s, f.staff("s1"), acc::messaging_use));
    CHECK_FALSE(acc::can(f.s, f.staff("s1"), acc::portal_invite));
    CHECK(acc::module_grants("nothing").empty());
}

TEST_CASE("access: a deactivated staff member can do nothing", "[aggregates][access]") {
    identity_fixture f;
    f.run(deactivate_staff{"s1", ""});
    CHECK(acc::effective_permissions(f.s, f.staff("s1")).empty());
    CHECK_FALSE(acc::can(f.s, f.staff("s1"), acc::self_read));
}

TEST_CASE("access: an admin cannot act on an org_admin; others act on nobody", "[aggregates][access][roles]") {
    identity_fixture f;
    auto c = staff_cmd("adm", "Grace", "Hopper");
    c.role = "admin";
    f.run(c);
    c = staff_cmd("oa2", "Alan", "Turing");
    c.role = "org_admin";
    f.run(c);
    const auto& org = f.staff("admin-1");
    const auto& admin = f.staff("adm");
    const auto& therapist = f.staff("s1");
    CHECK(acc::can_act_on(org, f.staff("oa2")));
    CHECK(acc::can_act_on(org, admin));
    CHECK(acc::can_act_on(admin, therapist));
    CHECK(acc::can_act_on(admin, admin));
    CHECK_FALSE(acc::can_act_on(admin, org));
    CHECK_FALSE(acc::can_act_on(therapist, therapist));
    CHECK_FALSE(acc::can_act_on(therapist, admin));
    f.run(deactivate_staff{"adm", ""});
    CHECK_FALSE(acc::can_act_on(f.staff("adm"), therapist));
}

TEST_CASE("access: a restricted session may only do what lifts the restriction", "[aggregates][access][sessions]") {
    for (auto p : acc::all_permissions()) CHECK(acc::allowed_during(session_restriction::none, p));
    std::set<std::string> cp, mfa;
    for (auto p : acc::all_permissions()) {
        if (acc::allowed_during(session_restriction::change_password, p)) cp.emplace(p);
        if (acc::allowed_during(session_restriction::enrol_mfa, p)) mfa.emplace(p);
    }
    CHECK(cp == set_of({acc::self_read, acc::self_password, acc::self_sessions}));
    CHECK(mfa == set_of({acc::self_read, acc::self_mfa, acc::self_sessions}));
}

TEST_CASE("access: administration types see every client; therapy_counseling only assigned ones",
          "[aggregates][access][clients]") {
    for (bool assigned : {true, false}) {
        CHECK(acc::can_see_client("administration", assigned));
        CHECK(acc::can_see_client("administration_time_tracking", assigned));
    }
    CHECK(acc::can_see_client("therapy_counseling", true));
    CHECK_FALSE(acc::can_see_client("therapy_counseling", false));
    CHECK_FALSE(acc::can_see_client("", true));
    CHECK_FALSE(acc::can_see_client("Administration", true));
}

TEST_CASE("access: a permission set holds names of the catalogue, and lists them in name order",
          "[aggregates][access]") {
    acc::permission_set s;
    CHECK(s.empty());
    s.insert(acc::staff_read);
    s.insert(acc::audit_read);
    s.insert(std::string("clients.read"));  // by value, not by the catalogue's pointer
    s.insert("no.such.permission");
    s.insert("");
    CHECK(s.size() == 3);
    CHECK(s.contains("staff.read"));
    CHECK(s.contains(std::string_view("audit.read")));
    CHECK(s.contains(acc::clients_read));
    CHECK_FALSE(s.contains("no.such.permission"));
    CHECK_FALSE(s.contains("staff.rea"));
    CHECK_FALSE(s.contains(acc::staff_create));
    std::vector<std::string> listed(s.begin(), s.end());
    CHECK(listed == std::vector<std::string>{"audit.read", "clients.read", "staff.read"});

    // Every permission of the catalogue fits, and the whole set lists as a std::set of the names would.
    acc::permission_set all;
    all.insert(acc::all_permissions());
    std::set<std::string> expected(acc::all_permissions().begin(), acc::all_permissions().end());
    CHECK(all.size() == expected.size());
    CHECK(names_in(all) == expected);
    CHECK(std::vector<std::string>(all.begin(), all.end()) == std::vector<std::string>(expected.begin(), expected.end()));
    CHECK(all != s);
}
