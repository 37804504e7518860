// The identity read model: what a bearer token or an e-mailed link names, found by its hash. Staff
// sessions and reset links name a staff member; portal sessions, portal reset links and kiosk
// tokens name a client. Whether a token is still good is the domain's call over the member's or the
// client's folded events (aggregates::check_session, find_reset_token, check_portal_session,
// find_portal_reset_token, find_live_kiosk): this model only says whose events to fold. A session
// id is deleted when the session ends; a reset link or kiosk token stays after use or expiry.
#include "store_impl.hpp"

namespace carelog::projections {

result<void> store::impl::apply_identity(write_set& w, const events::envelope& e) {
    const auto& agency = e.agency_id;
    const auto& who = e.aggregate_id;
    std::visit(overloaded{
                   [&](const events::LoginSucceeded& x) { w.put(identity, keys::make("s", agency, x.session_id), who); },
                   [&](const events::SessionEnded& x) { w.del(identity, keys::make("s", agency, x.session_id)); },
                   [&](const events::PasswordResetRequested& x) {
                       w.put(identity, keys::make("r", agency, x.token_hash), who);
                   },
                   [&](const events::PortalLoginSucceeded& x) {
                       w.put(identity, keys::make("p", agency, x.session_id), who);
                   },
                   [&](const events::PortalSessionEnded& x) { w.del(identity, keys::make("p", agency, x.session_id)); },
                   [&](const events::PortalPasswordResetRequested& x) {
                       w.put(identity, keys::make("pr", agency, x.token_hash), who);
                   },
                   [&](const events::KioskSessionStarted& x) {
                       w.put(identity, keys::make("k", agency, x.token_hash), who);
                   },
                   [](const auto&) {},
               },
               e.data);
    return {};
}

// ---------------------------------------------------------------- identity queries

std::optional<std::string> store::session_staff(const std::string& agency_id, const std::string& session_id) const {
    return or_throw(impl_->read(impl_->identity, keys::make("s", agency_id, session_id)));
}

std::optional<std::string> store::reset_token_staff(const std::string& agency_id, const std::string& token_hash) const {
    return or_throw(impl_->read(impl_->identity, keys::make("r", agency_id, token_hash)));
}

std::optional<std::string> store::portal_session_client(const std::string& agency_id,
                                                        const std::string& session_id) const {
    return or_throw(impl_->read(impl_->identity, keys::make("p", agency_id, session_id)));
}

std::optional<std::string> store::portal_reset_token_client(const std::string& agency_id,
                                                            const std::string& token_hash) const {
    return or_throw(impl_->read(impl_->identity, keys::make("pr", agency_id, token_hash)));
}

std::optional<std::string> store::kiosk_token_client(const std::string& agency_id,
                                                     const std::string& token_hash) const {
    return or_throw(impl_->read(impl_->identity, keys::make("k", agency_id, token_hash)));
}

}  // namespace carelog::projections
