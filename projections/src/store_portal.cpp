// The client portal's read models: invitations (their state at read time) and portal accounts
// (by id and by username, case-insensitive).
#include "store_impl.hpp"

namespace carelog::projections {

result<void> store::impl::apply_portal(write_set& w, const events::envelope& e) {
    namespace ik = client_views::index_kind;
    const auto& agency = e.agency_id;
    const auto at = format_rfc3339(e.occurred_at);
    auto invitation = [&](const std::string& id, auto&& fn) { return update_json(w, clients, keys::make("i", agency, id), fn); };
    auto account = [&](const std::string& id, auto&& fn) { return update_json(w, clients, keys::make("a", agency, id), fn); };
    return std::visit(
        overloaded{
            [&](const events::InvitationSent& x) -> result<void> {
                w.put(clients, keys::make("i", agency, x.invitation_id),
                      json::serialize(json::object{{"id", x.invitation_id},
                                                   {"client_id", e.aggregate_id},
                                                   {"email", x.email},
                                                   {"status", "sent"},
                                                   {"sent_at", at},
                                                   {"expires_at", format_rfc3339(x.expires_at)},
                                                   {"expires_at_us", x.expires_at},
                                                   {"resent_count", 0},
                                                   {"revoked_at", nullptr},
                                                   {"accepted_at", nullptr},
                                                   {"portal_account_id", nullptr}}));
                w.put(client_index, keys::make(ik::invitations, agency, e.aggregate_id) + keys::be64(e.sequence),
                      x.invitation_id);
                return {};
            },
            [&](const events::InvitationResent& x) {
                return invitation(x.invitation_id, [&](json::object& i) {
                    i["sent_at"] = at;
                    i["expires_at"] = format_rfc3339(x.expires_at);
                    i["expires_at_us"] = x.expires_at;
                    i["resent_count"] = u64_of(i, "resent_count") + 1;
                });
            },
            [&](const events::InvitationRevoked& x) {
                return invitation(x.invitation_id, [&](json::object& i) {
                    i["status"] = "revoked";
                    i["revoked_at"] = at;
                });
            },
            [&](const events::InvitationAccepted& x) {
                auto r = invitation(x.invitation_id, [&](json::object& i) {
                    i["status"] = "registered";
                    i["accepted_at"] = at;
                    i["portal_account_id"] = x.portal_account_id;
                });
                w.put(clients, keys::make("a", agency, x.portal_account_id),
                      json::serialize(json::object{{"id", x.portal_account_id},
                                                   {"client_id", e.aggregate_id},
                                                   {"username", nullptr},
                                                   {"created_at", at},
                                                   {"last_login_at", nullptr},
                                                   {"locked", false},
                                                   {"locked_until", nullptr},
                                                   {"failed_logins", 0},
                                                   {"require_password_change", false}}));
                return r;
            },
            [&](const events::PortalUsernameChosen& x) {
                w.put(client_index, keys::make(ik::username, agency, ascii_lower(x.username)), x.portal_account_id);
                return account(x.portal_account_id, [&](json::object& a) { a["username"] = x.username; });
            },
            [&](const events::PortalLoginSucceeded& x) {
                return account(x.portal_account_id, [&](json::object& a) {
                    a["last_login_at"] = at;
                    a["failed_logins"] = 0;
                });
            },
            [&](const events::PortalLoginFailed& x) -> result<void> {
                if (x.reason != events::portal_login_failure::bad_password) return {};
                return account(x.portal_account_id,
                               [&](json::object& a) { a["failed_logins"] = u64_of(a, "failed_logins") + 1; });
            },
            [&](const events::PortalAccountLocked& x) {
                return account(x.portal_account_id, [&](json::object& a) {
                    a["locked"] = true;
                    a["locked_until"] = x.until == 0 ? json::value(nullptr) : json::value(format_rfc3339(x.until));
                });
            },
            [&](const events::PortalAccountUnlocked& x) {
                return account(x.portal_account_id, [&](json::object& a) {
                    a["locked"] = false;
                    a["locked_until"] = nullptr;
                    a["failed_logins"] = 0;
                });
            },
            [&](const events::PortalPasswordChanged& x) {
                return account(x.portal_account_id,
                               [&](json::object& a) { a["require_password_change"] = x.require_change_next_logon; });
            },
            [](const auto&) -> result<void> { return {}; },
        },
        e.data);
}

// ---------------------------------------------------------------- portal queries

std::optional<json::object> store::invitation(const std::string& agency_id, const std::string& invitation_id,
                                              micros now) const {
    auto v = or_throw(impl_->read_json(impl_->clients, keys::make("i", agency_id, invitation_id)));
    if (!v) return std::nullopt;
    return client_views::invitation_at(std::move(*v), now);
}

json::array store::client_invitations(const std::string& agency_id, const std::string& client_id, micros now) const {
    json::array out;
    for (auto& v : impl_->views_listed("i", agency_id, keys::make(client_views::index_kind::invitations, agency_id, client_id)))
        out.emplace_back(client_views::invitation_at(std::move(v.as_object()), now));
    return out;
}

std::optional<json::object> store::portal_account(const std::string& agency_id,
                                                  const std::string& portal_account_id) const {
    return or_throw(impl_->read_json(impl_->clients, keys::make("a", agency_id, portal_account_id)));
}

std::optional<json::object> store::portal_account_by_username(const std::string& agency_id,
                                                              const std::string& username) const {
    auto id = or_throw(impl_->read(impl_->client_index, keys::make(client_views::index_kind::username, agency_id,
                                                                   ascii_lower(trim(username)))));
    if (!id) return std::nullopt;
    return portal_account(agency_id, *id);
}

}  // namespace carelog::projections
