// The clients read models: client views and their indexes (client_views), invitations, portal
// accounts, threads and messages, kiosk sessions, each client's events, and the portal-session and
// kiosk-token lookups.
#include "store_impl.hpp"

namespace carelog::projections {

// One Client event: the client view (+ its n / s / t index entries), the view the event names
// (invitation, portal account, thread + message, kiosk session) and the client's history. An event
// at or below the client view's version was applied already (a re-published record): only the
// history entry (keyed by version) is rewritten, to the same bytes.
result<void> store::impl::apply_client(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    namespace ik = client_views::index_kind;
    const auto& agency = e.agency_id;
    const auto ckey = keys::make("c", agency, e.aggregate_id);
    auto old = read_json(w, clients, ckey);
    if (!old) return std::unexpected(old.error());

    keys::tuple hk;
    hk.add(agency).add(e.aggregate_id).raw(keys::be64(e.aggregate_version)).raw(keys::be64(e.sequence));
    w.put_borrowed(client_events, hk.str(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));

    const bool fresh_client = !*old;
    if (*old && u64_of(**old, "version") >= e.aggregate_version) return {};
    std::optional<json::object> view = *old;
    const auto at = format_rfc3339(e.occurred_at);
    const auto seq = keys::be64(e.sequence);

    // read-modify-write of one other view in the clients family
    auto update = [&](const std::string& key, auto&& fn) -> result<void> {
        auto v = read_json(w, clients, key);
        if (!v) return std::unexpected(v.error());
        if (!*v) return {};
        fn(**v);
        w.put(clients, key, json::serialize(**v));
        return {};
    };
    result<void> r;
    std::visit(
        overloaded{
            [&](const events::InvitationSent& x) {
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
                w.put(client_index, keys::make(ik::invitations, agency, e.aggregate_id) + seq, x.invitation_id);
            },
            [&](const events::InvitationResent& x) {
                r = update(keys::make("i", agency, x.invitation_id), [&](json::object& i) {
                    i["sent_at"] = at;
                    i["expires_at"] = format_rfc3339(x.expires_at);
                    i["expires_at_us"] = x.expires_at;
                    i["resent_count"] = u64_of(i, "resent_count") + 1;
                });
            },
            [&](const events::InvitationRevoked& x) {
                r = update(keys::make("i", agency, x.invitation_id), [&](json::object& i) {
                    i["status"] = "revoked";
                    i["revoked_at"] = at;
                });
            },
            [&](const events::InvitationAccepted& x) {
                r = update(keys::make("i", agency, x.invitation_id), [&](json::object& i) {
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
            },
            [&](const events::PortalUsernameChosen& x) {
                r = update(keys::make("a", agency, x.portal_account_id),
                           [&](json::object& a) { a["username"] = x.username; });
                w.put(client_index, keys::make(ik::username, agency, ascii_lower(x.username)), x.portal_account_id);
            },
            [&](const events::PortalLoginSucceeded& x) {
                // A portal bearer token finds its client by hash; whether the session is still good
                // is the domain's call (aggregates::check_portal_session over the folded client).
                w.put(identity, keys::make("p", agency, x.session_id), e.aggregate_id);
                r = update(keys::make("a", agency, x.portal_account_id), [&](json::object& a) {
                    a["last_login_at"] = at;
                    a["failed_logins"] = 0;
                });
            },
            [&](const events::PortalLoginFailed& x) {
                if (x.reason != events::portal_login_failure::bad_password) return;
                r = update(keys::make("a", agency, x.portal_account_id),
                           [&](json::object& a) { a["failed_logins"] = u64_of(a, "failed_logins") + 1; });
            },
            [&](const events::PortalAccountLocked& x) {
                r = update(keys::make("a", agency, x.portal_account_id), [&](json::object& a) {
                    a["locked"] = true;
                    a["locked_until"] = x.until == 0 ? json::value(nullptr) : json::value(format_rfc3339(x.until));
                });
            },
            [&](const events::PortalAccountUnlocked& x) {
                r = update(keys::make("a", agency, x.portal_account_id), [&](json::object& a) {
                    a["locked"] = false;
                    a["locked_until"] = nullptr;
                    a["failed_logins"] = 0;
                });
            },
            [&](const events::PortalSessionEnded& x) { w.del(identity, keys::make("p", agency, x.session_id)); },
            [&](const events::PortalPasswordResetRequested& x) {
                w.put(identity, keys::make("pr", agency, x.token_hash), e.aggregate_id);
            },
            [&](const events::PortalPasswordChanged& x) {
                r = update(keys::make("a", agency, x.portal_account_id),
                           [&](json::object& a) { a["require_password_change"] = x.require_change_next_logon; });
            },
            [&](const events::MessageSent& x) {
                const auto tkey = keys::make("th", agency, x.thread_id);
                auto t = read_json(w, clients, tkey);
                if (!t) {
                    r = std::unexpected(t.error());
                    return;
                }
                json::object thread;
                if (*t) {
                    thread = std::move(**t);
                } else {
                    thread = json::object{{"id", x.thread_id},        {"client_id", e.aggregate_id},
                                          {"staff_id", x.staff_id},   {"started_at", at},
                                          {"started_seq", e.sequence}, {"staff_ids", json::array{}},
                                          {"message_count", 0}};
                    w.put(client_index,
                          keys::make(ik::client_threads, agency, e.aggregate_id) + seq + keys::make(x.thread_id),
                          x.thread_id);
                }
                // the thread is listed for its staff member and for every staff member who wrote in it
                auto& listed = thread["staff_ids"].as_array();
                auto list_for = [&](const std::string& staff_id) {
                    for (const auto& v : listed)
                        if (v.is_string() && v.get_string() == staff_id) return;
                    listed.emplace_back(staff_id);
                    w.put(client_index,
                          keys::make(ik::staff_threads, agency, staff_id) + keys::be64(u64_of(thread, "started_seq")) +
                              keys::make(x.thread_id),
                          x.thread_id);
                };
                list_for(str_of(thread, "staff_id"));
                if (x.sender_kind == events::sender_kind::staff) list_for(x.sender_id);
                thread["last_message_at"] = at;
                thread["message_count"] = u64_of(thread, "message_count") + 1;
                w.put(clients, tkey, json::serialize(thread));
                w.put(messages, keys::make(agency, x.thread_id) + seq,
                      json::serialize(json::object{{"id", x.message_id},
                                                   {"thread_id", x.thread_id},
                                                   {"client_id", e.aggregate_id},
                                                   {"sender_kind", x.sender_kind},
                                                   {"sender_id", x.sender_id},
                                                   {"body", x.body},
                                                   {"sent_at", at}}));
            },
            [&](const events::KioskSessionStarted& x) {
                // Kept after submission and expiry: the domain (find_live_kiosk) says what it opens.
                w.put(identity, keys::make("k", agency, x.token_hash), e.aggregate_id);
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
                w.put(client_index, keys::make(ik::kiosks, agency, e.aggregate_id) + seq, x.kiosk_session_id);
            },
            [&](const events::KioskFormSubmitted& x) {
                r = update(keys::make("k", agency, x.kiosk_session_id), [&](json::object& k) {
                    k["submitted"] = true;
                    k["submitted_at"] = at;
                    boost::system::error_code ec;
                    auto v = json::parse(x.answers, ec);
                    k["answers"] = ec ? json::value(x.answers) : std::move(v);
                });
            },
            [](const auto&) {},
        },
        e.data);
    if (!r) return r;
    client_views::evolve(view, e);
    if (!view) return {};  // an event before ClientAdded: history only
    const auto before = fresh_client ? std::set<std::string>{} : client_views::index_keys(agency, **old);
    const auto after = client_views::index_keys(agency, *view);
    // The name-order entry covers the list: it holds the view itself, so listing the agency reads
    // one index range and no view by key.
    auto stored = json::serialize(*view);
    const auto listed = keys::make(client_views::index_kind::by_name, agency) + client_views::order_suffix(*view);
    for (const auto& k : before)
        if (!after.contains(k)) w.del(client_index, k);
    for (const auto& k : after)
        if (k == listed)
            w.put(client_index, k, stored);
        else if (!before.contains(k))
            w.put(client_index, k, "");
    w.put_moved(clients, ckey, std::move(stored));
    return {};
}

// ---------------------------------------------------------------- client queries

namespace {

// Values of every index entry under prefix (ids of a per-client or per-staff list), in key order.
std::vector<std::string> index_values(const store::impl& s, const std::string& prefix) {
    std::vector<std::string> out;
    or_throw(s.scan(s.client_index, prefix, [&](std::string_view, std::string_view v) {
        out.emplace_back(v);
        return true;
    }));
    return out;
}

std::optional<json::object> stored(const store::impl& s, const std::string& key) {
    return or_throw(s.read_json(s.clients, key));
}

json::array views_of(const store::impl& s, const std::string& kind, const std::string& agency_id,
                     const std::vector<std::string>& ids) {
    json::array out;
    for (const auto& id : ids)
        if (auto v = stored(s, keys::make(kind, agency_id, id))) out.emplace_back(std::move(*v));
    return out;
}

json::object thread_out(json::object t) {
    t.erase("started_seq");
    return t;
}

}  // namespace

std::optional<json::object> store::client(const std::string& agency_id, const std::string& client_id) const {
    return stored(*impl_, keys::make("c", agency_id, client_id));
}

std::optional<json::object> store::client_for(const std::string& agency_id, const std::string& client_id,
                                              const client_viewer& viewer) const {
    auto v = client(agency_id, client_id);
    if (!v || !client_views::visible(*v, viewer)) return std::nullopt;
    return v;
}

std::optional<std::string> store::client_text_for(const std::string& agency_id, const std::string& client_id,
                                                   const client_viewer& viewer) const {
    const auto scope = client_views::scope_of(viewer.staff_type);
    if (scope == client_scope::none) return std::nullopt;
    auto text = or_throw(impl_->read(impl_->clients, keys::make("c", agency_id, client_id)));
    if (!text || scope == client_scope::all) return text;
    auto view = parse_object(*text);
    if (!view) throw store_error("corrupt JSON value in the projections store");
    if (!client_views::visible(*view, viewer)) return std::nullopt;
    return text;
}

result<page> store::list_clients(const std::string& agency_id, const client_viewer& viewer, const client_filter& f,
                                 int limit, const std::optional<std::string>& cursor) const {
    namespace ik = client_views::index_kind;
    if (limit < 1 || limit > 500) return fail(error::validation("limit", "must be between 1 and 500"));
    std::optional<std::string> after;
    if (cursor) {
        auto raw = keys::base64url_decode(*cursor);
        auto parts = raw ? keys::parse(*raw) : std::nullopt;
        if (!parts || parts->size() != 3) return fail(errc::malformed, "the cursor is not one this server gave out");
        after = std::move(*raw);
    }
    page out;
    const auto scope = client_views::scope_of(viewer.staff_type);
    if (scope == client_scope::none) return out;

    const auto q_words = f.q ? staff_directory::query_words(*f.q) : std::vector<std::string>{};
    // Everyone in name order is the same page for every viewer who sees all: it may be kept
    // (page_cache.hpp), and the agency's version is taken before the store is read.
    const bool keepable = q_words.empty() && scope == client_scope::all && f.stored_bytes;
    std::string kept_key;
    std::uint64_t version = 0;
    if (keepable) {
        kept_key = page_cache::key_of("clients", {}, limit, after.value_or(""));
        auto found = impl_->pages.find(agency_id, kept_key);
        if (found.kept) return *found.kept;
        version = found.version;
    }
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    std::string last;
    std::optional<error> failure;
    // Index entries are candidates; the view decides (visibility and the name query).
    auto emit = [&](const std::string& suffix) -> bool {
        auto parts = keys::parse(suffix);
        if (!parts || parts->size() != 3) return true;
        auto view = impl_->read_json(impl_->clients, keys::make("c", agency_id, (*parts)[2]), snap);
        if (!view) {
            failure = view.error();
            return false;
        }
        if (!*view || !client_views::visible(**view, viewer) || !client_views::matches(**view, q_words)) return true;
        if (out.items.size() == static_cast<std::size_t>(limit)) {
            out.next_cursor = keys::base64url_encode(last);
            return false;
        }
        out.items.emplace_back(std::move(**view));
        last = suffix;
        return true;
    };

    if (!q_words.empty()) {
        // Name search: the clients having, for every word, a token starting with it.
        std::optional<std::set<std::string>> found;
        const auto base = keys::make(ik::name_token, agency_id);
        for (const auto& word : q_words) {
            std::set<std::string> hits;
            auto r = impl_->scan(
                impl_->client_index, base + keys::escape(word),
                [&](std::string_view k, std::string_view) {
                    auto parts = keys::parse(k.substr(base.size()));
                    if (!parts || parts->size() != 4) return true;
                    auto suffix = keys::make((*parts)[1], (*parts)[2], (*parts)[3]);
                    if (!found || found->contains(suffix)) hits.insert(std::move(suffix));
                    return true;
                },
                snap);
            if (!r) return std::unexpected(r.error());
            found = std::move(hits);
        }
        for (auto it = after ? found->upper_bound(*after) : found->begin(); it != found->end(); ++it)
            if (!emit(*it)) break;
    } else if (keepable) {
        // Everyone listed in name order: the name-order entries hold the views (a store written
        // before they did has empty values; those views are read by key), handed on as the bytes
        // they are stored as: one range read, no parse, no print.
        auto r = impl_->scan_after(
            impl_->client_index, keys::make(ik::by_name, agency_id), after,
            [&](std::string_view suffix, std::string_view value) {
                std::string bytes(value);
                if (bytes.empty()) {
                    auto parts = keys::parse(suffix);
                    if (!parts || parts->size() != 3) return true;
                    auto v = impl_->read(impl_->clients, keys::make("c", agency_id, (*parts)[2]), snap);
                    if (!v) {
                        failure = v.error();
                        return false;
                    }
                    if (!*v) return true;
                    bytes = std::move(**v);
                }
                if (out.stored.size() == static_cast<std::size_t>(limit)) {
                    out.next_cursor = keys::base64url_encode(last);
                    return false;
                }
                out.stored.push_back(std::move(bytes));
                last = std::string(suffix);
                return true;
            },
            snap);
        if (!r) return std::unexpected(r.error());
        if (!failure) impl_->pages.keep(agency_id, version, std::move(kept_key), std::make_shared<const page>(out));
    } else {
        const auto prefix = scope == client_scope::all ? keys::make(ik::by_name, agency_id)
                                                       : keys::make(ik::assigned, agency_id, viewer.staff_id);
        auto r = impl_->scan_after(
            impl_->client_index, prefix, after,
            [&](std::string_view suffix, std::string_view) { return emit(std::string(suffix)); }, snap);
        if (!r) return std::unexpected(r.error());
    }
    if (failure) return fail(*failure);
    return out;
}

std::vector<std::string> store::assigned_client_ids(const std::string& agency_id, const std::string& staff_id) const {
    std::vector<std::string> out;
    const auto prefix = keys::make(client_views::index_kind::assigned, agency_id, staff_id);
    or_throw(impl_->scan(impl_->client_index, prefix, [&](std::string_view k, std::string_view) {
        if (auto parts = keys::parse(k.substr(prefix.size())); parts && parts->size() == 3) out.push_back((*parts)[2]);
        return true;
    }));
    return out;
}

std::optional<json::object> store::invitation(const std::string& agency_id, const std::string& invitation_id,
                                              micros now) const {
    auto v = stored(*impl_, keys::make("i", agency_id, invitation_id));
    if (!v) return std::nullopt;
    return client_views::invitation_at(std::move(*v), now);
}

json::array store::client_invitations(const std::string& agency_id, const std::string& client_id, micros now) const {
    json::array out;
    for (auto& v : views_of(*impl_, "i", agency_id,
                            index_values(*impl_, keys::make(client_views::index_kind::invitations, agency_id, client_id))))
        out.emplace_back(client_views::invitation_at(std::move(v.as_object()), now));
    return out;
}

std::optional<json::object> store::portal_account(const std::string& agency_id,
                                                  const std::string& portal_account_id) const {
    return stored(*impl_, keys::make("a", agency_id, portal_account_id));
}

std::optional<json::object> store::portal_account_by_username(const std::string& agency_id,
                                                              const std::string& username) const {
    auto id = or_throw(impl_->read(impl_->client_index, keys::make(client_views::index_kind::username, agency_id,
                                                                   ascii_lower(trim(username)))));
    if (!id) return std::nullopt;
    return portal_account(agency_id, *id);
}

std::optional<json::object> store::thread(const std::string& agency_id, const std::string& thread_id) const {
    auto t = stored(*impl_, keys::make("th", agency_id, thread_id));
    if (!t) return std::nullopt;
    return thread_out(std::move(*t));
}

json::array store::client_threads(const std::string& agency_id, const std::string& client_id) const {
    json::array out;
    for (auto& v : views_of(*impl_, "th", agency_id,
                            index_values(*impl_, keys::make(client_views::index_kind::client_threads, agency_id, client_id))))
        out.emplace_back(thread_out(std::move(v.as_object())));
    return out;
}

json::array store::staff_threads(const std::string& agency_id, const std::string& staff_id) const {
    json::array out;
    for (auto& v : views_of(*impl_, "th", agency_id,
                            index_values(*impl_, keys::make(client_views::index_kind::staff_threads, agency_id, staff_id))))
        out.emplace_back(thread_out(std::move(v.as_object())));
    return out;
}

result<page> store::thread_messages(const std::string& agency_id, const std::string& thread_id, int limit,
                                    const std::optional<std::string>& cursor) const {
    // Keys are (agency, thread) be64(sequence): a cursor is the sequence to start at.
    const auto prefix = keys::make(agency_id, thread_id);
    std::string start = prefix;
    if (cursor) {
        auto raw = keys::base64url_decode(*cursor);
        if (!raw || raw->size() != 8) return fail(errc::malformed, "the cursor is not one this server gave out");
        start += *raw;
    }
    const auto n = static_cast<std::size_t>(std::clamp(limit, 1, 500));
    page out;
    rocksdb::ReadOptions ro;
    std::string upper = keys::prefix_successor(prefix);
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->messages));
    for (it->Seek(start); it->Valid(); it->Next()) {
        auto k = it->key().ToStringView();
        if (!k.starts_with(prefix) || k.size() != prefix.size() + 8) break;
        if (out.items.size() == n) {
            out.next_cursor = keys::base64url_encode(std::string(k.substr(prefix.size())));
            break;
        }
        auto o = parse_object(it->value().ToStringView());
        if (!o) throw store_error("corrupt message in the projections store");
        out.items.emplace_back(std::move(*o));
    }
    if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
    return out;
}

std::optional<json::object> store::kiosk_session(const std::string& agency_id, const std::string& kiosk_id,
                                                 micros now) const {
    auto v = stored(*impl_, keys::make("k", agency_id, kiosk_id));
    if (!v) return std::nullopt;
    return client_views::kiosk_at(std::move(*v), now);
}

json::array store::client_kiosk_sessions(const std::string& agency_id, const std::string& client_id,
                                         micros now) const {
    json::array out;
    for (auto& v : views_of(*impl_, "k", agency_id,
                            index_values(*impl_, keys::make(client_views::index_kind::kiosks, agency_id, client_id))))
        out.emplace_back(client_views::kiosk_at(std::move(v.as_object()), now));
    return out;
}

json::array store::client_history(const std::string& agency_id, const std::string& client_id) const {
    json::array out;
    std::optional<std::string> corrupt;
    or_throw(impl_->scan(impl_->client_events, keys::make(agency_id, client_id), [&](std::string_view, std::string_view v) {
        auto e = decode_stored(v);
        if (!e) return !(corrupt = e.error().detail);
        out.emplace_back(events::listing_json(*e));
        return true;
    }));
    if (corrupt) throw store_error("stored client event does not decode: " + *corrupt);
    return out;
}

result<std::size_t> store::client_index_problems() const {
    namespace ik = client_views::index_kind;
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    std::set<std::string> expected;
    std::size_t problems = 0;
    auto r = impl_->scan(
        impl_->clients, keys::make("c"),
        [&](std::string_view k, std::string_view v) {
            auto parts = keys::parse(k);
            auto view = parse_object(v);
            if (!parts || parts->size() != 3 || !view) {
                ++problems;
                return true;
            }
            expected.merge(client_views::index_keys((*parts)[1], *view));
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    for (auto kind : {ik::by_name, ik::assigned, ik::name_token}) {
        r = impl_->scan(
            impl_->client_index, keys::make(kind),
            [&](std::string_view k, std::string_view v) {
                if (expected.erase(std::string(k)) == 0) ++problems;
                // A name-order entry holds its client's view, byte for byte.
                if (kind == ik::by_name && !v.empty()) {
                    auto parts = keys::parse(k);
                    auto view = parts && parts->size() == 5
                                    ? impl_->read(impl_->clients, keys::make("c", (*parts)[1], (*parts)[4]), snap)
                                    : result<std::optional<std::string>>(std::optional<std::string>());
                    if (!view || !*view || **view != v) ++problems;
                }
                return true;
            },
            snap);
        if (!r) return std::unexpected(r.error());
    }
    return problems + expected.size();
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

std::optional<json::object> store::client_as_of(const std::string& agency_id, const std::string& client_id,
                                                micros as_of) const {
    return impl_->fold_as_of(impl_->client_events, keys::make(agency_id, client_id), as_of,
                             [](std::optional<json::object>& v, const events::envelope& e) { client_views::evolve(v, e); },
                             "client");
}

std::vector<events::envelope> store::client_events(const std::string& agency_id, const std::string& client_id,
                                                   std::uint64_t after_version) const {
    return events_after(*impl_, impl_->client_events, agency_id, client_id, after_version, "client");
}

}  // namespace carelog::projections
