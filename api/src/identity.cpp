// The identity read path (see identity.hpp): tokens, the folded staff identity state and its cache,
// TOTP with liboath, the dummy password check.
#include "identity.hpp"

#include <liboath/oath.h>
#include <sodium.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "carelog/api/password_policy.hpp"
#include "carelog/base/ids.hpp"
#include "carelog/base/secrets.hpp"
#include "carelog/base/sha256.hpp"
#include "carelog/projections/store.hpp"
#include "handlers.hpp"

namespace carelog::api {

// Staff members' folded state by "agency/staff", and clients' (portal.cpp) by "agency/client": ids
// are UUIDs, so the two never collide. Entries are immutable (shared, never copied per request)
// and stay fresh until the projections store applies an event of their aggregate (stale: the next
// lookup folds only the events after the entry's version) or a settings event of their agency.
// A lookup that folds races with the projection thread; the agency's change counter, read before
// the fold and compared at put, keeps a fold that may have missed a change from being kept as
// fresh. Past a bound the entries are dropped wholesale (a cold fold is only slower). Beside them,
// each staff session's basis (its principal as of a folded state) by its token's digest, ended by
// the same events that make that state stale, so a request with a known token skips the owner and
// state lookups and the principal's assembly (session_principal).
class identity_cache {
public:
    using state_ptr = std::shared_ptr<const aggregates::agency_state>;
    using session_basis_ptr = std::shared_ptr<const detail::session_basis>;
    struct lookup {
        state_ptr state;  // null when not cached
        bool fresh = false;
        std::uint64_t generation = 0;  // the agency's change counter when looked up
    };

    // Subscribes to the store's changes once (the first lookup through a context).
    void attach(projections::store& store) {
        if (attached_.load(std::memory_order_acquire)) return;
        std::lock_guard lock(mu_);
        if (attached_.load(std::memory_order_relaxed)) return;
        std::weak_ptr<identity_cache> self = weak_from_this_;
        store.add_change_listener([self](const std::vector<projections::changed_aggregate>& changed) {
            if (auto cache = self.lock()) cache->changed(changed);
        });
        attached_.store(true, std::memory_order_release);
    }
    void set_self(const std::shared_ptr<identity_cache>& self) { weak_from_this_ = self; }

    lookup get(const std::string& key, const std::string& agency) {
        std::lock_guard lock(mu_);
        lookup l;
        auto& a = agencies_[agency];
        l.generation = a.changes;
        auto it = states_.find(key);
        if (it == states_.end()) return l;
        l.state = it->second.state;
        l.fresh = it->second.fresh && it->second.settings == a.settings;
        return l;
    }
    void put(const std::string& key, const std::string& agency, state_ptr s, std::uint64_t generation) {
        std::lock_guard lock(mu_);
        if (states_.size() > max_entries) {
            states_.clear();
            sessions_.clear();  // changed() sets a kept session's flag through its entry in states_
        }
        const auto& a = agencies_[agency];
        auto& e = states_[key];
        if (e.stale) *e.stale = true;  // a session basis folded from the entry it replaces
        e = entry{std::move(s), a.changes == generation, a.settings, std::make_shared<bool>(false)};
    }

    // A staff session's basis by the SHA-256 of its bearer token, while it holds: the state it was
    // built from is still the staff member's current, fresh entry (no event of theirs applied
    // since) and the agency's settings have not changed. Null otherwise.
    session_basis_ptr session(const sha256_digest& token_digest) {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(token_digest);
        if (it == sessions_.end()) return nullptr;
        const auto& c = it->second;
        if (*c.stale || c.agency->settings != c.settings) {
            sessions_.erase(it);
            return nullptr;
        }
        return c.basis;
    }
    // Keeps `basis` for its token when the state it was built from is the current, fresh entry of
    // `key` ("agency/staff"); otherwise (an event applied meanwhile) it is used once and not kept.
    void remember_session(const sha256_digest& token_digest, const std::string& key, const std::string& agency,
                          session_basis_ptr basis) {
        std::lock_guard lock(mu_);
        auto it = states_.find(key);
        if (it == states_.end() || it->second.state != basis->state || !it->second.fresh) return;
        auto& a = agencies_[agency];
        if (it->second.settings != a.settings) return;
        if (sessions_.size() > max_sessions) sessions_.clear();
        sessions_.insert_or_assign(token_digest, cached_session{std::move(basis), it->second.stale, &a, a.settings});
    }
    // The owner (staff or client id) of a session id or kiosk token hash: it never changes, so it
    // is kept until the bound; whether the session is still good is the owner's folded state's call.
    std::optional<std::string> owner(const std::string& key) {
        std::lock_guard lock(mu_);
        auto it = owners_.find(key);
        if (it == owners_.end()) return std::nullopt;
        return it->second;
    }
    void remember_owner(const std::string& key, const std::string& owner) {
        std::lock_guard lock(mu_);
        if (owners_.size() > max_entries) owners_.clear();
        owners_.emplace(key, owner);
    }

private:
    void changed(const std::vector<projections::changed_aggregate>& changed) {
        std::lock_guard lock(mu_);
        for (const auto& c : changed) {
            auto& a = agencies_[c.agency_id];
            ++a.changes;
            if (c.aggregate_type == "Agency") {
                // The settings and the slug are part of every folded state of the agency.
                if (c.event_type == "AgencyCreated" || c.event_type == "AgencySettingsChanged") ++a.settings;
                continue;
            }
            if (auto it = states_.find(c.agency_id + "/" + c.aggregate_id); it != states_.end()) {
                it->second.fresh = false;
                if (it->second.stale) *it->second.stale = true;
            }
        }
    }

    struct entry {
        state_ptr state;
        bool fresh = false;
        std::uint64_t settings = 0;  // the agency's settings counter it was folded with
        // Set (under mu_) when the entry goes stale or is replaced: the session bases built from
        // it share the flag.
        std::shared_ptr<bool> stale;
    };
    struct agency_counters {
        std::uint64_t changes = 0;   // every applied event of the agency
        std::uint64_t settings = 0;  // its settings events
    };
    static constexpr std::size_t max_entries = 100000;
    // Kept sessions: a basis that went stale holds its old state until its token comes again or
    // the map is cleared, so the bound is what caps that memory (a cleared session only folds anew).
    static constexpr std::size_t max_sessions = 10000;
    std::mutex mu_;
    std::atomic<bool> attached_{false};
    std::weak_ptr<identity_cache> weak_from_this_;
    std::unordered_map<std::string, entry> states_;
    std::unordered_map<std::string, agency_counters> agencies_;
    std::unordered_map<std::string, std::string> owners_;
    struct cached_session {
        session_basis_ptr basis;
        std::shared_ptr<bool> stale;    // its state entry's flag
        const agency_counters* agency;  // agencies_ never erases: the address holds
        std::uint64_t settings;         // the agency's settings counter when kept
    };
    struct digest_hash {
        std::size_t operator()(const sha256_digest& d) const noexcept {
            std::size_t h;
            std::memcpy(&h, d.data(), sizeof h);  // a digest's bytes are already uniform
            return h;
        }
    };
    std::unordered_map<sha256_digest, cached_session, digest_hash> sessions_;
};

std::shared_ptr<identity_cache> make_identity_cache() {
    auto c = std::make_shared<identity_cache>();
    c->set_self(c);
    return c;
}

namespace detail {

std::string new_agency_token(const std::string& agency_id) { return agency_id + "." + random_token(); }

std::optional<std::string> token_agency(std::string_view token) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos || token.size() > 200) return std::nullopt;
    std::string agency(token.substr(0, dot));
    if (!is_uuid(agency) || dot + 1 >= token.size()) return std::nullopt;
    return agency;
}

folded_state fold_state(app_context& ctx, const std::string& agency_id, const std::string& id, fold_kind kind) {
    ctx.identity->attach(ctx.store);
    const std::string key = agency_id + "/" + id;
    auto l = ctx.identity->get(key, agency_id);
    if (l.state && l.fresh) return l.state;
    auto view = ctx.store.agency(agency_id);
    if (!view) return nullptr;
    auto s = l.state ? std::make_shared<aggregates::agency_state>(*l.state) : std::make_shared<aggregates::agency_state>();
    s->id = agency_id;
    s->exists = true;
    std::uint64_t from = 0;
    if (kind == fold_kind::staff) {
        if (auto it = s->staff.find(id); it != s->staff.end()) from = it->second.version;
        for (const auto& e : ctx.store.staff_events(agency_id, id, from)) aggregates::evolve(*s, e);
        if (!s->staff.contains(id)) return nullptr;
    } else {
        if (auto it = s->clients.find(id); it != s->clients.end()) from = it->second.version;
        for (const auto& e : ctx.store.client_events(agency_id, id, from)) aggregates::evolve(*s, e);
        if (!s->clients.contains(id)) return nullptr;
    }
    if (auto st = view->find("settings"); st != view->end() && st->value().is_object())
        s->settings = settings_from_view(st->value().as_object());
    else
        s->settings = settings_from_view(boost::json::object{});
    if (auto slug = view->find("slug"); slug != view->end() && slug->value().is_string())
        s->slug = std::string(slug->value().as_string());
    ctx.identity->put(key, agency_id, s, l.generation);
    return s;
}

folded_state identity_state(app_context& ctx, const std::string& agency_id, const std::string& staff_id) {
    return fold_state(ctx, agency_id, staff_id, fold_kind::staff);
}

std::optional<session_ground> ground_of(app_context& ctx, char kind, std::string_view token, const std::string& hash) {
    auto agency = token_agency(token);
    if (!agency) return std::nullopt;
    auto owner = session_owner(ctx, kind, *agency, hash);
    if (!owner) return std::nullopt;
    auto state = fold_state(ctx, *agency, *owner, kind == 's' ? fold_kind::staff : fold_kind::client);
    if (!state) return std::nullopt;
    return session_ground{std::move(*agency), std::move(*owner), std::move(state)};
}

std::shared_ptr<const session_basis> cached_session(app_context& ctx, const sha256_digest& token_digest) {
    ctx.identity->attach(ctx.store);
    return ctx.identity->session(token_digest);
}

void remember_session(app_context& ctx, const sha256_digest& token_digest, const std::string& agency_id,
                      const std::string& staff_id, std::shared_ptr<const session_basis> basis) {
    ctx.identity->remember_session(token_digest, agency_id + "/" + staff_id, agency_id, std::move(basis));
}

std::optional<std::string> session_owner(app_context& ctx, char kind, const std::string& agency_id,
                                         const std::string& hash) {
    const std::string key = std::string(1, kind) + "/" + agency_id + "/" + hash;
    if (auto known = ctx.identity->owner(key)) return known;
    std::optional<std::string> owner;
    switch (kind) {
        case 's': owner = ctx.store.session_staff(agency_id, hash); break;
        case 'p': owner = ctx.store.portal_session_client(agency_id, hash); break;
        case 'k': owner = ctx.store.kiosk_token_client(agency_id, hash); break;
        default: break;
    }
    if (owner) ctx.identity->remember_owner(key, *owner);
    return owner;
}

namespace {
bool oath_ready() {
    static const bool ok = oath_init() == OATH_OK;
    return ok;
}
}  // namespace

totp_match check_totp(std::string_view secret, std::string_view code, micros now) {
    if (!oath_ready() || code.size() != 6) return {};
    for (char c : code)
        if (c < '0' || c > '9') return {};
    std::string otp(code);
    int pos = 0;
    auto r = oath_totp_validate2(secret.data(), secret.size(), static_cast<time_t>(now / 1'000'000), 30, 0, 1, &pos,
                                 otp.c_str());
    if (r < 0) return {};
    return {true, aggregates::totp_step_at(now) + pos};
}

totp_secret new_totp_secret() {
    totp_secret s;
    s.raw.resize(20);
    randombytes_buf(s.raw.data(), s.raw.size());
    char* out = nullptr;
    size_t len = 0;
    if (oath_ready() && oath_base32_encode(s.raw.data(), s.raw.size(), &out, &len) == OATH_OK && out) {
        s.base32.assign(out, len);
        sodium_memzero(out, len);
        std::free(out);
    }
    while (!s.base32.empty() && s.base32.back() == '=') s.base32.pop_back();
    return s;
}

void wipe(std::string& s) {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
    s.clear();
}

bool is_stale_check(const error& e) { return e.code == errc::stale; }

}  // namespace detail
}  // namespace carelog::api
