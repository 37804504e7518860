// Export: records as SPEC §3 event listings, one JSON line each, filtered; and the secret scrubber
// every JSON the tool prints goes through.
#include <boost/json.hpp>

#include <array>
#include <utility>
#include <variant>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/events/event_json.hpp"
#include "carelog/replay/replay.hpp"

namespace carelog::replay {
namespace json = boost::json;

namespace {

// Names that hold a secret, a password hash or a sealed secret, wherever they appear. (Session ids
// and token hashes stay: SHA-256 of random tokens identify, they do not open anything.)
constexpr std::array<std::string_view, 7> secret_names = {"password",    "password_hash", "temporary_password",
                                                          "totp_secret", "secret",        "secret_sealed",
                                                          "token"};

bool is_secret(std::string_view name, const json::value& v) {
    for (auto n : secret_names)
        if (name == n) return true;
    if (name.ends_with("_sealed")) return true;
    return v.is_string() && v.get_string().starts_with("$argon2");
}

template <std::size_t... I>
std::vector<std::string> names_of(std::index_sequence<I...>) {
    return {std::string(events::event_type_name(events::payload(std::in_place_index<I>)))...};
}

}  // namespace

void scrub_secrets(json::value& v) {
    if (auto* o = v.if_object()) {
        for (auto it = o->begin(); it != o->end();) {
            if (is_secret(it->key(), it->value())) {
                it = o->erase(it);
            } else {
                scrub_secrets(it->value());
                ++it;
            }
        }
    } else if (auto* a = v.if_array()) {
        for (auto& x : *a) scrub_secrets(x);
    }
}

std::vector<std::string> event_type_names() {
    return names_of(std::make_index_sequence<std::variant_size_v<events::payload>>{});
}

bool export_filter::matches(const events::envelope& e) const {
    if (agency && e.agency_id != *agency) return false;
    if (from && e.occurred_at < *from) return false;
    if (to && e.occurred_at > *to) return false;
    if (event_type && events::event_type_name(e.data) != *event_type) return false;
    if (aggregate_id && e.aggregate_id != *aggregate_id) return false;
    return true;
}

json::object export_line(const events::envelope& e, int partition, std::int64_t offset) {
    json::value v = events::listing_json(e);
    scrub_secrets(v);  // listing_json leaves password hashes out already; this keeps it that way
    auto& o = v.as_object();
    o["partition"] = partition;
    o["offset"] = offset;
    return std::move(o);
}

exporter::exporter(std::string topic, export_filter filter, std::function<void(const problem&)> on_problem)
    : topic_(std::move(topic)), filter_(std::move(filter)), on_problem_(std::move(on_problem)) {}

std::optional<std::string> exporter::add(const record_view& r) {
    auto e = events::decode(r.value);
    if (!e) {
        if (filter_.agency && *filter_.agency != r.key) return std::nullopt;
        problems_.push_back(problem{topic_, r.partition, r.offset, std::string(r.key),
                                    "undecodable record left out of the export: " + e.error().detail});
        if (on_problem_) on_problem_(problems_.back());
        return std::nullopt;
    }
    if (!filter_.matches(*e)) return std::nullopt;
    ++exported_;
    return json::serialize(export_line(*e, r.partition, r.offset));
}

}  // namespace carelog::replay
