// The kiosk read model: kiosk sessions (a form handed to a client on an agency's device), kept
// after submission and expiry, their state at read time.
#include "store_impl.hpp"

namespace carelog::projections {

result<void> store::impl::apply_kiosk(write_set& w, const events::envelope& e) {
    const auto& agency = e.agency_id;
    const auto at = format_rfc3339(e.occurred_at);
    return std::visit(
        overloaded{
            [&](const events::KioskSessionStarted& x) -> result<void> {
                auto opt = [](const std::string& v) { return str_or_null(v); };
                w.put(clients, keys::make("k", agency, x.kiosk_session_id),
                      json::serialize(json::object{{"id", x.kiosk_session_id},
                                                   {"client_id", e.aggregate_id},
                                                   {"form_id", opt(x.form_id)},
                                                   {"document_id", opt(x.document_id)},
                                                   {"appointment_id", opt(x.appointment_id)},
                                                   {"started_by", x.started_by},
                                                   {"started_at", at},
                                                   {"expires_at", format_rfc3339(x.expires_at)},
                                                   {"expires_at_us", x.expires_at},
                                                   {"submitted", false},
                                                   {"submitted_at", nullptr},
                                                   {"answers", nullptr}}));
                w.put(client_index,
                      keys::make(client_views::index_kind::kiosks, agency, e.aggregate_id) + keys::be64(e.sequence),
                      x.kiosk_session_id);
                return {};
            },
            [&](const events::KioskFormSubmitted& x) {
                return update_json(w, clients, keys::make("k", agency, x.kiosk_session_id), [&](json::object& k) {
                    k["submitted"] = true;
                    k["submitted_at"] = at;
                    boost::system::error_code ec;
                    auto v = json::parse(x.answers, ec);
                    k["answers"] = ec ? json::value(x.answers) : std::move(v);
                });
            },
            [](const auto&) -> result<void> { return {}; },
        },
        e.data);
}

// ---------------------------------------------------------------- kiosk queries

std::optional<json::object> store::kiosk_session(const std::string& agency_id, const std::string& kiosk_id,
                                                 micros now) const {
    auto v = or_throw(impl_->read_json(impl_->clients, keys::make("k", agency_id, kiosk_id)));
    if (!v) return std::nullopt;
    return client_views::kiosk_at(std::move(*v), now);
}

json::array store::client_kiosk_sessions(const std::string& agency_id, const std::string& client_id,
                                         micros now) const {
    json::array out;
    for (auto& v : impl_->views_listed("k", agency_id, keys::make(client_views::index_kind::kiosks, agency_id, client_id)))
        out.emplace_back(client_views::kiosk_at(std::move(v.as_object()), now));
    return out;
}

}  // namespace carelog::projections
