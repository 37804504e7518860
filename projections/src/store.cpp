// The projections store: RocksDB read models fed record by record from the event topic.
//
// Key layout. (a, b, ...) is a keys::tuple (order-preserving, any bytes allowed in a component);
// beN(x) is x as N/8 big-endian bytes, so numeric order is byte order.
//
//   column family  key                                                 value
//   default        "format"                                            "3" (layout version; 3 added the
//                                                                      agencies' chain links)
//   offsets        be32(partition)                                     be64(next offset to consume)
//   agencies       ("a", agency_id)                                    agency view JSON
//                  ("s", lower(slug))                                  agency_id
//                  ("l", agency_id, location_id)                       {id, name, address}
//                  ("p", agency_id, program_id)                        {id, name}
//   staff          (agency_id, staff_id)                               staff view JSON
//   staff_index    (kind, agency_id, [value,] lower(username), id)     "" (see staff_directory.hpp)
//                    u: all staff   r: role   t: type   l: location_id   p: program_id
//                    a: active "1"/"0"   n: name token (folded, lower-case)
//   staff_events   (agency_id, staff_id) be64(aggregate_version)       the envelope bytes as on the
//                  be64(sequence)                                      topic (verified FlatBuffers)
//   clients        ("c", agency_id, client_id)                         client view JSON
//                  ("i", agency_id, invitation_id)                     invitation JSON (status; state at read)
//                  ("a", agency_id, portal_account_id)                 portal account JSON
//                  ("th", agency_id, thread_id)                        thread JSON
//                  ("k", agency_id, kiosk_session_id)                  kiosk session JSON
//   client_index   see client_views.hpp (name order, assignments, name tokens, per-client lists)
//   client_events  (agency_id, client_id) be64(version) be64(sequence) the envelope bytes
//   messages       (agency_id, thread_id) be64(sequence)               message JSON
//   identity       ("s", agency_id, session_id)                        staff_id (LoginSucceeded; deleted by
//                                                                      SessionEnded)
//                  ("r", agency_id, reset token hash)                  staff_id (PasswordResetRequested)
//                  ("p", agency_id, portal session id)                 client_id (PortalLoginSucceeded;
//                                                                      deleted by PortalSessionEnded)
//                  ("k", agency_id, kiosk token hash)                  client_id (KioskSessionStarted)
//   chain          agency_id                                           be64(sequence) hash: the agency's last
//                                                                      applied record
//   quarantine     be32(partition) be64(offset)                        {partition, offset, reason, at}
//   local          (namespace) raw key                                 opaque blob
//
// Every index key of a staff member ends in (lower(username), id), so each index lists staff in
// username order and a list cursor is that pair. The staff member's events are kept as envelope
// bytes (not listing JSON) so that staff_history renders them with events::listing_json (no
// password hash) and staff_as_of folds them through staff_directory::evolve, the same function
// apply uses: one code path for "apply an event to a staff view".
//
// The chain: a record is applied only when it continues its agency's hash chain (next sequence,
// prev_hash = the last record's hash, its hash recomputed from its bytes, keyed by its agency);
// any other record is quarantined with its reason and never applied, so a record produced to the
// topic by someone other than the agency's writer cannot open a session or change a view unless it
// continues the chain exactly (docs/security.md says what that leaves to the broker's ACLs).
//
// Durability: the changes of a batch of records (one consumer poll) and the next offsets of the
// partitions it covers go into one WriteBatch. Reads during apply go through the batch (write_set
// keeps what it wrote), so each record sees the records before it. The read models are derived
// from the topic, so their batches skip the WAL, and the database flushes all column families
// atomically (atomic_flush): after a crash of the process or the machine the store is the state of
// some earlier flush, read models and offsets together, and the consumer re-reads exactly the
// records after it. Nothing is applied twice and nothing is skipped, without paying a WAL write per
// batch. A clean close flushes what the memtables hold. The node's local state (put_local: writer
// snapshots, the topic's name and partition count) is written with the WAL.
#include "carelog/projections/store.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdint>
#include <mutex>
#include <map>
#include <set>
#include <unordered_map>

#include "agency_settings.hpp"
#include "carelog/base/text.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/events/event_json.hpp"
#include "json_util.hpp"
#include "keys.hpp"
#include "client_views.hpp"
#include "staff_directory.hpp"

namespace carelog::projections {
namespace {

constexpr const char* cf_names[] = {"offsets",    "agencies", "staff",        "staff_index",   "staff_events",
                                    "quarantine", "local",    "clients",      "client_index",  "client_events",
                                    "messages",   "identity",     "chain"};
// A store of another layout is refused at open ("rebuild it from the topic"): an index added later
// would lack the entries of the records applied before it (docs/operations.md: delete the data dir).
constexpr std::string_view format_version = "3";

std::string status_text(const char* what, const rocksdb::Status& s) {
    return std::string("rocksdb ") + what + ": " + s.ToString();
}

std::string offset_key(int partition) { return keys::be32(static_cast<std::uint32_t>(partition)); }

// Collects Put/Delete into one batch and keeps the first failure, which is checked before the
// batch is written (WriteBatch::Put returns a Status in RocksDB 7). It also keeps what the batch
// wrote by (family, key), so a read through it (get) sees what earlier records of the same batch
// wrote: many records are applied read-modify-write into one batch and written once.
class write_set {
public:
    void put(rocksdb::ColumnFamilyHandle* cf, std::string_view k, std::string_view v) {
        keep(batch_.Put(cf, rocksdb::Slice(k.data(), k.size()), rocksdb::Slice(v.data(), v.size())));
        written_[slot(cf, k)] = std::string(v);
    }
    void del(rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        keep(batch_.Delete(cf, rocksdb::Slice(k.data(), k.size())));
        written_[slot(cf, k)] = std::nullopt;
    }
    // The value as the batch would leave it: the batch's own write, else the database's.
    result<std::optional<std::string>> get(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        if (auto it = written_.find(slot(cf, k)); it != written_.end()) return it->second;
        std::string value;
        auto s = db.Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(k.data(), k.size()), &value);
        if (s.IsNotFound()) return std::optional<std::string>();
        if (!s.ok()) return fail(errc::internal, status_text("get", s));
        return std::optional<std::string>(std::move(value));
    }
    bool empty() const { return batch_.Count() == 0; }
    // `wal`: false for what can be rebuilt from the topic (see "Durability" above).
    result<void> write(rocksdb::DB& db, bool wal = true) {
        if (!first_error_.ok()) return fail(errc::internal, status_text("batch", first_error_));
        rocksdb::WriteOptions wo;
        wo.disableWAL = !wal;
        auto s = db.Write(wo, &batch_);
        if (!s.ok()) return fail(errc::internal, status_text("write", s));
        return {};
    }

private:
    static std::string slot(rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        std::string s(sizeof(std::uint32_t), '\0');
        const std::uint32_t id = cf->GetID();
        std::memcpy(s.data(), &id, sizeof id);
        s.append(k);
        return s;
    }
    void keep(rocksdb::Status s) {
        if (!s.ok() && first_error_.ok()) first_error_ = std::move(s);
    }
    rocksdb::WriteBatch batch_;
    std::unordered_map<std::string, std::optional<std::string>> written_;
    rocksdb::Status first_error_;
};

// FlatBuffers reads scalars in place, so the buffer must be aligned (the verifier checks offsets
// relative to the buffer start, not the address). RocksDB values and Kafka payloads can sit at any
// address: those decode from an aligned copy.
result<events::envelope> decode_aligned(std::span<const std::uint8_t> bytes) {
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 8 == 0) return events::decode(bytes);
    std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());  // operator new: 16-byte aligned
    return events::decode(copy);
}

result<events::envelope> decode_stored(std::string_view v) {
    return decode_aligned(std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
}

}  // namespace

struct store::impl {
    rocksdb::DB* db = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    rocksdb::ColumnFamilyHandle* offsets = nullptr;
    rocksdb::ColumnFamilyHandle* agencies = nullptr;
    rocksdb::ColumnFamilyHandle* staff = nullptr;
    rocksdb::ColumnFamilyHandle* staff_index = nullptr;
    rocksdb::ColumnFamilyHandle* staff_events = nullptr;
    rocksdb::ColumnFamilyHandle* quarantine = nullptr;
    rocksdb::ColumnFamilyHandle* local = nullptr;
    rocksdb::ColumnFamilyHandle* clients = nullptr;
    rocksdb::ColumnFamilyHandle* client_index = nullptr;
    rocksdb::ColumnFamilyHandle* client_events = nullptr;
    rocksdb::ColumnFamilyHandle* messages = nullptr;
    rocksdb::ColumnFamilyHandle* identity = nullptr;
    rocksdb::ColumnFamilyHandle* chain = nullptr;

    // apply/advance/put_local are read-modify-write: one writer at a time. Queries take no lock
    // (RocksDB is thread-safe; list_staff reads from a snapshot).
    std::mutex write_mu;
    std::atomic<std::uint64_t> applied{0};
    std::mutex listeners_mu;
    std::vector<change_listener> listeners;

    ~impl() {
        if (!db) return;
        // Closing on destruction has no one to report to; the WAL makes an unclean close safe.
        for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
        db->Close().PermitUncheckedError();
        delete db;
    }

    // ---- reads ----
    result<std::optional<std::string>> read(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                                            const rocksdb::Snapshot* snap = nullptr) const {
        rocksdb::ReadOptions ro;
        ro.snapshot = snap;
        std::string value;
        auto s = db->Get(ro, cf, rocksdb::Slice(key.data(), key.size()), &value);
        if (s.IsNotFound()) return std::optional<std::string>();
        if (!s.ok()) return fail(errc::internal, status_text("get", s));
        return std::optional<std::string>(std::move(value));
    }

    // Calls fn(key, value) for every key starting with prefix, in order, while fn returns true.
    template <class Fn>
    result<void> scan(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, Fn&& fn,
                      const rocksdb::Snapshot* snap = nullptr) const {
        rocksdb::ReadOptions ro;
        ro.snapshot = snap;
        std::string upper = keys::prefix_successor(prefix);
        rocksdb::Slice upper_slice(upper);
        if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
        for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
            auto k = it->key().ToStringView();
            if (!k.starts_with(prefix)) break;
            if (!fn(k, it->value().ToStringView())) break;
        }
        if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
        return {};
    }

    result<std::optional<json::object>> read_json(rocksdb::ColumnFamilyHandle* cf, std::string_view key,
                                                  const rocksdb::Snapshot* snap = nullptr) const {
        auto v = read(cf, key, snap);
        if (!v) return std::unexpected(v.error());
        if (!*v) return std::optional<json::object>();
        auto o = parse_object(**v);
        if (!o) return fail(errc::internal, "corrupt JSON value in the projections store");
        return o;
    }

    // The same read inside apply: through the batch being built, so it sees the batch's records.
    result<std::optional<json::object>> read_json(write_set& w, rocksdb::ColumnFamilyHandle* cf,
                                                  std::string_view key) const {
        auto v = w.get(*db, cf, key);
        if (!v) return std::unexpected(v.error());
        if (!*v) return std::optional<json::object>();
        auto o = parse_object(**v);
        if (!o) return fail(errc::internal, "corrupt JSON value in the projections store");
        return o;
    }

    result<std::int64_t> stored_offset(int partition) const {
        auto v = read(offsets, offset_key(partition));
        if (!v) return std::unexpected(v.error());
        if (!*v) return std::int64_t{0};
        if ((*v)->size() != 8) return fail(errc::internal, "corrupt offset for partition " + std::to_string(partition));
        return static_cast<std::int64_t>(keys::read_be64(**v));
    }

    void put_offset(write_set& w, int partition, std::int64_t next) {
        w.put(offsets, offset_key(partition), keys::be64(static_cast<std::uint64_t>(next)));
    }

    // The agency's last applied record (sequence, hash), as the batch being built leaves it.
    result<std::optional<chain_link>> chain_of(write_set& w, const std::string& agency) const;

    // ---- the projections of one record ----
    result<void> apply_agency(write_set& w, const events::envelope& e);
    result<void> apply_staff(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes);
    result<void> apply_client(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes);
};

namespace {

template <class T>
T or_throw(result<T>&& r) {
    if (!r) throw store_error(r.error().detail);
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// The visitor of apply(): one overload per event type, each naming the read models it feeds.
struct record_applier {
    store::impl& s;
    write_set& w;
    const events::envelope& e;
    std::span<const std::uint8_t> bytes;

    result<void> operator()(const events::AgencyCreated&) { return s.apply_agency(w, e); }
    result<void> operator()(const events::AgencySettingsChanged&) { return s.apply_agency(w, e); }
    result<void> operator()(const events::LocationAdded& l) {
        w.put(s.agencies, keys::make("l", e.agency_id, l.location_id),
              json::serialize(json::object{{"id", l.location_id}, {"name", l.name}, {"address", l.address}}));
        return s.apply_agency(w, e);
    }
    result<void> operator()(const events::ProgramAdded& p) {
        w.put(s.agencies, keys::make("p", e.agency_id, p.program_id),
              json::serialize(json::object{{"id", p.program_id}, {"name", p.name}}));
        return s.apply_agency(w, e);
    }
    result<void> operator()(const events::StaffCreated&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::StaffProfileUpdated&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::RoleAssigned&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::StaffTypeSet&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::StaffLocationsSet&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::StaffProgramsSet&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::ModulePermissionGranted&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::ModulePermissionRevoked&) { return s.apply_staff(w, e, bytes); }
    result<void> operator()(const events::StaffDeactivated&) { return s.apply_staff(w, e, bytes); }
    // Clients and the client portal: the client's views and indexes and its history (client_views).
    // A PortalLoginFailed for an unknown username belongs to the agency: it feeds no client.
#define CARELOG_CLIENT_EVENT(T) \
    result<void> operator()(const events::T&) { return s.apply_client(w, e, bytes); }
    CARELOG_CLIENT_EVENT(ClientAdded)
    CARELOG_CLIENT_EVENT(StaffAssignedToClient)
    CARELOG_CLIENT_EVENT(StaffUnassignedFromClient)
    CARELOG_CLIENT_EVENT(InvitationSent)
    CARELOG_CLIENT_EVENT(InvitationResent)
    CARELOG_CLIENT_EVENT(InvitationRevoked)
    CARELOG_CLIENT_EVENT(InvitationAccepted)
    CARELOG_CLIENT_EVENT(PortalUsernameChosen)
    CARELOG_CLIENT_EVENT(PortalLoginSucceeded)
    CARELOG_CLIENT_EVENT(PortalAccountLocked)
    CARELOG_CLIENT_EVENT(PortalAccountUnlocked)
    CARELOG_CLIENT_EVENT(PortalSessionEnded)
    CARELOG_CLIENT_EVENT(MessageSent)
    CARELOG_CLIENT_EVENT(KioskSessionStarted)
    CARELOG_CLIENT_EVENT(KioskFormSubmitted)
    CARELOG_CLIENT_EVENT(PortalSessionTouched)
#undef CARELOG_CLIENT_EVENT
    result<void> operator()(const events::PortalLoginFailed&) {
        if (e.aggregate_type == "Agency") return {};
        return s.apply_client(w, e, bytes);
    }
    // Identity events (PasswordChanged, LoginSucceeded, SessionEnded, ...): the staff member's
    // history and view version. A LoginFailed for an unknown username belongs to the agency
    // (envelope aggregate_type "Agency"): it feeds no staff view.
    // Sessions and reset links are also indexed by their hash, so a bearer token or a reset link
    // finds its staff member; whether it is still good is the domain's call (aggregates::
    // check_session / find_reset_token over the staff member's folded events).
    result<void> operator()(const events::LoginSucceeded& x) {
        w.put(s.identity, keys::make("s", e.agency_id, x.session_id), e.aggregate_id);
        return s.apply_staff(w, e, bytes);
    }
    result<void> operator()(const events::SessionEnded& x) {
        w.del(s.identity, keys::make("s", e.agency_id, x.session_id));
        return s.apply_staff(w, e, bytes);
    }
    result<void> operator()(const events::PasswordResetRequested& x) {
        w.put(s.identity, keys::make("r", e.agency_id, x.token_hash), e.aggregate_id);
        return s.apply_staff(w, e, bytes);
    }
    template <class Identity>
    result<void> operator()(const Identity&) {
        if (e.aggregate_type == "Agency") return {};
        return s.apply_staff(w, e, bytes);
    }
};

}  // namespace

result<void> store::impl::apply_agency(write_set& w, const events::envelope& e) {
    const auto key = keys::make("a", e.agency_id);
    auto old = read_json(w, agencies, key);
    if (!old) return std::unexpected(old.error());
    std::optional<json::object> view = *old;
    agency_settings::evolve(view, e);
    if (!view) return {};
    const auto old_slug = *old ? ascii_lower(str_of(**old, "slug")) : std::string();
    const auto new_slug = ascii_lower(str_of(*view, "slug"));
    if (old_slug != new_slug && !old_slug.empty()) w.del(agencies, keys::make("s", old_slug));
    if (!new_slug.empty()) w.put(agencies, keys::make("s", new_slug), e.agency_id);
    w.put(agencies, key, json::serialize(*view));
    return {};
}

result<void> store::impl::apply_staff(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes) {
    const auto key = keys::make(e.agency_id, e.aggregate_id);
    auto old = read_json(w, staff, key);
    if (!old) return std::unexpected(old.error());
    std::optional<json::object> view = *old;
    staff_directory::evolve(view, e);

    if (view) {
        const auto before = *old ? staff_directory::index_keys(e.agency_id, **old) : std::set<std::string>{};
        const auto after = staff_directory::index_keys(e.agency_id, *view);
        for (const auto& k : before)
            if (!after.contains(k)) w.del(staff_index, k);
        for (const auto& k : after)
            if (!before.contains(k)) w.put(staff_index, k, "");
        w.put(staff, key, json::serialize(*view));
    }

    // The agency's founding admin (the first org_admin created in it) is part of the agency view:
    // agency creation decides AgencyCreated and then the admin's StaffCreated.
    if (view && !*old && std::holds_alternative<events::StaffCreated>(e.data) && str_of(*view, "role") == "org_admin") {
        const auto akey = keys::make("a", e.agency_id);
        auto agency = read_json(w, agencies, akey);
        if (!agency) return std::unexpected(agency.error());
        if (*agency && str_of(**agency, "admin_staff_id").empty()) {
            (**agency)["admin_staff_id"] = e.aggregate_id;
            w.put(agencies, akey, json::serialize(**agency));
        }
    }

    // The history keeps every event of the staff member, also one that came before StaffCreated.
    keys::tuple hk;
    hk.add(e.agency_id).add(e.aggregate_id).raw(keys::be64(e.aggregate_version)).raw(keys::be64(e.sequence));
    w.put(staff_events, hk.str(),
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return {};
}

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
    w.put(client_events, hk.str(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));

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
    auto set_staff = [&](const std::string& staff_id, bool assigned) {
        if (!view) return;
        json::array ids;
        bool present = false;
        if (auto* a = view->if_contains("staff_ids"); a && a->is_array())
            for (const auto& x : a->get_array()) {
                if (x.is_string() && x.get_string() == staff_id) {
                    present = true;
                    if (!assigned) continue;
                }
                ids.push_back(x);
            }
        if (assigned && !present) ids.emplace_back(staff_id);
        (*view)["staff_ids"] = std::move(ids);
    };

    result<void> r;
    std::visit(
        overloaded{
            [&](const events::ClientAdded& c) {
                if (!view) view = client_views::created_view(e, c);
            },
            [&](const events::StaffAssignedToClient& x) { set_staff(x.staff_id, true); },
            [&](const events::StaffUnassignedFromClient& x) { set_staff(x.staff_id, false); },
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
                                                   {"failed_logins", 0}}));
                if (view) (*view)["portal_account_id"] = x.portal_account_id;
            },
            [&](const events::PortalUsernameChosen& x) {
                r = update(keys::make("a", agency, x.portal_account_id),
                           [&](json::object& a) { a["username"] = x.username; });
                w.put(client_index, keys::make(ik::username, agency, ascii_lower(x.username)), x.portal_account_id);
                if (view) (*view)["portal_username"] = x.username;
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
    if (!view) return {};  // an event before ClientAdded: history only

    (*view)["version"] = e.aggregate_version;
    (*view)["updated_at"] = at;
    const auto before = fresh_client ? std::set<std::string>{} : client_views::index_keys(agency, **old);
    const auto after = client_views::index_keys(agency, *view);
    for (const auto& k : before)
        if (!after.contains(k)) w.del(client_index, k);
    for (const auto& k : after)
        if (!before.contains(k)) w.put(client_index, k, "");
    w.put(clients, ckey, json::serialize(*view));
    return {};
}

// ---------------------------------------------------------------- open / close

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

result<std::unique_ptr<store>> store::open(const std::string& dir) {
    rocksdb::Options opts;
    opts.create_if_missing = true;
    opts.create_missing_column_families = true;
    // The read models are written without the WAL (they are rebuilt from the topic): all families
    // are flushed together, so what survives a crash is always a consistent cut with its offsets.
    opts.atomic_flush = true;
    // Memory: every family's memtables together stay under 128 MiB (13 families at RocksDB's
    // default of 64 MiB each, twice, would allow 1.6 GiB); the WAL, which only the node's local
    // state uses, is bounded too. Point lookups (views by id, identity hashes) skip files with a
    // bloom filter; one 64 MiB block cache serves every family.
    opts.db_write_buffer_size = 128u << 20;
    opts.write_buffer_size = 32u << 20;
    opts.max_total_wal_size = 64u << 20;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.block_cache = rocksdb::NewLRUCache(64u << 20);
    opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

    // Open every family the directory already has (a newer layout may have added some) plus ours.
    std::vector<std::string> names;
    auto listed = rocksdb::DB::ListColumnFamilies(opts, dir, &names);
    if (!listed.ok()) {
        listed.PermitUncheckedError();  // a new directory has no families yet
        names.clear();
    }
    if (std::find(names.begin(), names.end(), rocksdb::kDefaultColumnFamilyName) == names.end())
        names.insert(names.begin(), rocksdb::kDefaultColumnFamilyName);
    for (const char* n : cf_names)
        if (std::find(names.begin(), names.end(), n) == names.end()) names.emplace_back(n);

    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions(opts));

    auto p = std::make_unique<impl>();
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(opts), dir, descriptors, &p->handles, &p->db);
    if (!s.ok()) return fail(errc::internal, status_text(("open " + dir).c_str(), s));

    auto handle = [&](std::string_view name) {
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return p->handles[i];
        return static_cast<rocksdb::ColumnFamilyHandle*>(nullptr);
    };
    p->meta = handle(rocksdb::kDefaultColumnFamilyName);
    p->offsets = handle("offsets");
    p->agencies = handle("agencies");
    p->staff = handle("staff");
    p->staff_index = handle("staff_index");
    p->staff_events = handle("staff_events");
    p->quarantine = handle("quarantine");
    p->local = handle("local");
    p->clients = handle("clients");
    p->client_index = handle("client_index");
    p->client_events = handle("client_events");
    p->messages = handle("messages");
    p->identity = handle("identity");
    p->chain = handle("chain");

    auto fmt = p->read(p->meta, "format");
    if (!fmt) return std::unexpected(fmt.error());
    if (!*fmt) {
        write_set w;
        w.put(p->meta, "format", format_version);
        if (auto r = w.write(*p->db); !r) return std::unexpected(r.error());
    } else if (**fmt != format_version) {
        return fail(errc::internal, "projections store in " + dir + " has layout " + **fmt + ", this build reads " +
                                        std::string(format_version) + ": rebuild it from the topic");
    }
    return std::unique_ptr<store>(new store(std::move(p)));
}

// ---------------------------------------------------------------- consumer side

namespace {
// What a record must be to be applied after `link` (the agency's last applied record): the next
// sequence, naming the last record's hash, its own hash recomputed from its bytes, and keyed by
// its agency. "" when it is; the reason when it is not.
std::string chain_problem(const events::envelope& e, std::span<const std::uint8_t> bytes, std::string_view key,
                          const std::optional<chain_link>& link) {
    if (!key.empty() && key != e.agency_id)
        return "keyed " + std::string(key) + " but names agency " + e.agency_id;
    const std::uint64_t last = link ? link->sequence : 0;
    if (e.sequence != last + 1)
        return "sequence " + std::to_string(e.sequence) + " does not follow the agency's last applied sequence " +
               std::to_string(last);
    const sha256_digest none{};
    if (e.prev_hash != (link ? link->hash : none)) return "prev_hash is not the hash of the agency's last record";
    auto h = events::compute_hash(bytes);
    if (!h || *h != e.hash) return "hash does not match the record's bytes";
    return {};
}

std::string link_value(const chain_link& l) {
    return keys::be64(l.sequence) + std::string(reinterpret_cast<const char*>(l.hash.data()), l.hash.size());
}
}  // namespace

result<std::optional<chain_link>> store::impl::chain_of(write_set& w, const std::string& agency) const {
    auto v = w.get(*db, chain, agency);
    if (!v) return std::unexpected(v.error());
    if (!*v) return std::optional<chain_link>();
    if ((*v)->size() != 8 + 32) return fail(errc::internal, "corrupt chain link for agency " + agency);
    chain_link l;
    l.sequence = keys::read_be64(**v);
    std::copy((*v)->begin() + 8, (*v)->end(), l.hash.begin());
    return std::optional<chain_link>(l);
}

result<batch_outcome> store::apply_batch(std::span<const incoming_record> records, micros now) {
    std::lock_guard lock(impl_->write_mu);
    write_set w;
    batch_outcome out;
    std::map<int, std::int64_t> next;  // per partition: the next offset, read once per batch
    std::unordered_map<std::string, std::optional<chain_link>> links;  // per agency, as the batch leaves it
    for (const auto& rec : records) {
        auto n = next.find(rec.partition);
        if (n == next.end()) {
            auto stored = impl_->stored_offset(rec.partition);
            if (!stored) return std::unexpected(stored.error());
            n = next.emplace(rec.partition, *stored).first;
        }
        if (rec.offset < n->second) {
            ++out.skipped;
            continue;
        }
        n->second = rec.offset + 1;

        auto env = decode_aligned(rec.value);
        std::string reason;
        std::optional<chain_link>* link = nullptr;
        if (!env) {
            reason = env.error().detail;
        } else {
            auto it = links.find(env->agency_id);
            if (it == links.end()) {
                auto l = impl_->chain_of(w, env->agency_id);
                if (!l) return std::unexpected(l.error());
                it = links.emplace(env->agency_id, std::move(*l)).first;
            }
            link = &it->second;
            reason = chain_problem(*env, rec.value, rec.key, *link);
        }
        if (!reason.empty()) {
            json::object q{{"partition", rec.partition}, {"offset", rec.offset}, {"reason", reason}, {"at", now}};
            w.put(impl_->quarantine, keys::be32(static_cast<std::uint32_t>(rec.partition)) +
                                         keys::be64(static_cast<std::uint64_t>(rec.offset)),
                  json::serialize(q));
            out.quarantined.push_back({rec.partition, rec.offset, std::move(reason), now});
            continue;
        }

        try {
            auto r = std::visit(record_applier{*impl_, w, *env, rec.value}, env->data);
            if (!r) return std::unexpected(r.error());
        } catch (const std::exception& ex) {
            // Nothing was written: the batch is dropped, the offsets do not move.
            return fail(errc::internal, std::string("applying partition ") + std::to_string(rec.partition) +
                                            " offset " + std::to_string(rec.offset) + ": " + ex.what());
        }
        *link = chain_link{env->sequence, env->hash};
        w.put(impl_->chain, env->agency_id, link_value(**link));
        out.changed.push_back({env->agency_id, env->aggregate_type, env->aggregate_id,
                               events::event_type_name(env->data)});
        ++out.applied;
    }
    for (const auto& [p, off] : next) {
        impl_->put_offset(w, p, off);
        out.next_offsets.emplace_back(p, off);
    }
    if (w.empty()) return out;
    if (auto r = w.write(*impl_->db, /*wal=*/false); !r) return std::unexpected(r.error());
    impl_->applied.fetch_add(out.applied, std::memory_order_relaxed);
    if (!out.changed.empty()) {
        std::lock_guard listeners(impl_->listeners_mu);
        for (const auto& f : impl_->listeners) f(out.changed);
    }
    return out;
}

void store::add_change_listener(change_listener f) {
    std::lock_guard lock(impl_->listeners_mu);
    impl_->listeners.push_back(std::move(f));
}

result<apply_outcome> store::apply(int partition, std::int64_t offset, std::span<const std::uint8_t> value,
                                   micros now) {
    const incoming_record rec{partition, offset, value, {}};
    auto r = apply_batch(std::span(&rec, 1), now);
    if (!r) return std::unexpected(r.error());
    if (r->applied) return apply_outcome::applied;
    if (!r->quarantined.empty()) return apply_outcome::quarantined;
    return apply_outcome::skipped_duplicate;
}

result<void> store::advance(int partition, std::int64_t next_offset) {
    std::lock_guard lock(impl_->write_mu);
    auto cur = impl_->stored_offset(partition);
    if (!cur) return std::unexpected(cur.error());
    if (next_offset <= *cur) return {};
    write_set w;
    impl_->put_offset(w, partition, next_offset);
    return w.write(*impl_->db, /*wal=*/false);
}

std::int64_t store::next_offset(int partition) const { return or_throw(impl_->stored_offset(partition)); }

// ---------------------------------------------------------------- agency queries

std::optional<std::string> store::agency_id_by_slug(const std::string& slug) const {
    return or_throw(impl_->read(impl_->agencies, keys::make("s", ascii_lower(slug))));
}

std::optional<json::object> store::agency(const std::string& agency_id) const {
    return or_throw(impl_->read_json(impl_->agencies, keys::make("a", agency_id)));
}

namespace {
json::array scan_objects(const store::impl& s, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix) {
    json::array out;
    bool corrupt = false;
    or_throw(s.scan(cf, prefix, [&](std::string_view, std::string_view v) {
        auto o = parse_object(v);
        if (!o) return !(corrupt = true);
        out.emplace_back(std::move(*o));
        return true;
    }));
    if (corrupt) throw store_error("corrupt JSON value in the projections store");
    return out;
}
}  // namespace

json::array store::locations(const std::string& agency_id) const {
    return scan_objects(*impl_, impl_->agencies, keys::make("l", agency_id));
}

json::array store::programs(const std::string& agency_id) const {
    return scan_objects(*impl_, impl_->agencies, keys::make("p", agency_id));
}

// ---------------------------------------------------------------- staff queries

std::optional<json::object> store::staff(const std::string& agency_id, const std::string& staff_id) const {
    return or_throw(impl_->read_json(impl_->staff, keys::make(agency_id, staff_id)));
}

std::optional<std::string> store::staff_id_by_username(const std::string& agency_id,
                                                       const std::string& username) const {
    const auto prefix = keys::make(staff_directory::index_kind::username, agency_id, ascii_lower(username));
    std::optional<std::string> id;
    or_throw(impl_->scan(impl_->staff_index, prefix, [&](std::string_view k, std::string_view) {
        if (auto parts = keys::parse(k.substr(prefix.size())); parts && parts->size() == 1) id = (*parts)[0];
        return false;
    }));
    return id;
}

namespace {

// Walks the staff whose order suffix is in every one of the sorted index ranges `prefixes`
// (leapfrog intersection: each range is ordered by (username, id), so the walk seeks every
// iterator to the largest suffix any of them is at, and emits a suffix when all agree). The most
// selective index bounds the work. Starts strictly after `after` when given; stops when emit
// returns false.
template <class Emit>
result<void> intersect(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const rocksdb::Snapshot* snap,
                       const std::vector<std::string>& prefixes, const std::optional<std::string>& after,
                       Emit&& emit) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    std::vector<std::unique_ptr<rocksdb::Iterator>> its;
    for (std::size_t i = 0; i < prefixes.size(); ++i) its.emplace_back(db.NewIterator(ro, cf));

    auto check = [&]() -> result<void> {
        for (auto& it : its)
            if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
        return {};
    };
    // The first suffix >= target (> target when exclusive) in range i, or nullopt at its end.
    auto seek = [&](std::size_t i, const std::string& target, bool exclusive) -> std::optional<std::string> {
        std::string k = prefixes[i] + target;
        if (exclusive) k.push_back('\0');  // no (username, id) suffix lies between target and this
        its[i]->Seek(k);
        if (!its[i]->Valid()) return std::nullopt;
        auto key = its[i]->key().ToStringView();
        if (!key.starts_with(prefixes[i])) return std::nullopt;
        return std::string(key.substr(prefixes[i].size()));
    };

    std::string target = after.value_or("");
    bool exclusive = after.has_value();
    for (;;) {
        std::string highest;
        bool agree = true;
        for (std::size_t i = 0; i < its.size(); ++i) {
            auto s = seek(i, target, exclusive);
            if (!s) return check();
            if (i > 0 && *s != highest) agree = false;
            if (i == 0 || *s > highest) highest = std::move(*s);
        }
        if (agree) {
            if (!emit(highest)) return check();
            exclusive = true;
        } else {
            exclusive = false;
        }
        target = std::move(highest);
    }
}

}  // namespace

result<page> store::list_staff(const std::string& agency_id, const staff_filter& f, int limit,
                               const std::optional<std::string>& cursor) const {
    if (limit < 1 || limit > 500) return fail(error::validation("limit", "must be between 1 and 500"));
    std::optional<std::string> after;
    if (cursor) {
        auto raw = keys::base64url_decode(*cursor);
        auto parts = raw ? keys::parse(*raw) : std::nullopt;
        if (!parts || parts->size() != 2) return fail(errc::malformed, "the cursor is not one this server gave out");
        after = std::move(*raw);
    }

    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    const auto q_words = f.q ? staff_directory::query_words(*f.q) : std::vector<std::string>{};

    page out;
    std::string last;
    std::optional<error> failure;
    // Index entries are candidates; the view decides (every filter is checked on it).
    auto emit = [&](const std::string& suffix) -> bool {
        auto parts = keys::parse(suffix);
        if (!parts || parts->size() != 2) return true;
        auto view = impl_->read_json(impl_->staff, keys::make(agency_id, (*parts)[1]), snap);
        if (!view) {
            failure = view.error();
            return false;
        }
        if (!*view || !staff_directory::matches(**view, f, q_words)) return true;
        if (out.items.size() == static_cast<std::size_t>(limit)) {
            out.next_cursor = keys::base64url_encode(last);
            return false;
        }
        out.items.emplace_back(std::move(**view));
        last = suffix;
        return true;
    };

    if (!q_words.empty()) {
        // Name search: the staff having, for every word, a token starting with it. Token ranges
        // are ordered by token, not username, so the (usually small) matches are collected.
        std::optional<std::set<std::string>> found;
        const auto base = keys::make(staff_directory::index_kind::name_token, agency_id);
        for (const auto& w : q_words) {
            std::set<std::string> hits;
            auto r = impl_->scan(
                impl_->staff_index, base + keys::escape(w),
                [&](std::string_view k, std::string_view) {
                    auto parts = keys::parse(k.substr(base.size()));
                    if (parts && parts->size() == 3 && (!found || found->contains(keys::make((*parts)[1], (*parts)[2]))))
                        hits.insert(keys::make((*parts)[1], (*parts)[2]));
                    return true;
                },
                snap);
            if (!r) return std::unexpected(r.error());
            found = std::move(hits);
        }
        for (auto it = after ? found->upper_bound(*after) : found->begin(); it != found->end(); ++it)
            if (!emit(*it)) break;
    } else {
        std::vector<std::string> prefixes;
        using namespace staff_directory;
        if (f.role) prefixes.push_back(keys::make(index_kind::role, agency_id, *f.role));
        if (f.type) prefixes.push_back(keys::make(index_kind::type, agency_id, *f.type));
        if (f.location_id) prefixes.push_back(keys::make(index_kind::location, agency_id, *f.location_id));
        if (f.program_id) prefixes.push_back(keys::make(index_kind::program, agency_id, *f.program_id));
        if (f.active) prefixes.push_back(keys::make(index_kind::active, agency_id, *f.active ? "1" : "0"));
        if (prefixes.empty()) prefixes.push_back(keys::make(index_kind::username, agency_id));
        auto r = intersect(*impl_->db, impl_->staff_index, snap, prefixes, after, emit);
        if (!r) return std::unexpected(r.error());
    }
    if (failure) return fail(*failure);
    return out;
}

json::array store::staff_history(const std::string& agency_id, const std::string& staff_id) const {
    json::array out;
    std::optional<std::string> corrupt;
    or_throw(impl_->scan(impl_->staff_events, keys::make(agency_id, staff_id),
                         [&](std::string_view, std::string_view v) {
                             auto e = decode_stored(v);
                             if (!e) return !(corrupt = e.error().detail);
                             out.emplace_back(events::listing_json(*e));
                             return true;
                         }));
    if (corrupt) throw store_error("stored staff event does not decode: " + *corrupt);
    return out;
}

std::optional<json::object> store::staff_as_of(const std::string& agency_id, const std::string& staff_id,
                                               micros as_of) const {
    std::optional<json::object> view;
    std::optional<std::string> corrupt;
    or_throw(impl_->scan(impl_->staff_events, keys::make(agency_id, staff_id),
                         [&](std::string_view, std::string_view v) {
                             auto e = decode_stored(v);
                             if (!e) return !(corrupt = e.error().detail);
                             if (e->occurred_at <= as_of) staff_directory::evolve(view, *e);
                             return true;
                         }));
    if (corrupt) throw store_error("stored staff event does not decode: " + *corrupt);
    return view;
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

    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    const auto q_words = f.q ? staff_directory::query_words(*f.q) : std::vector<std::string>{};
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
    } else {
        const auto prefix = scope == client_scope::all ? keys::make(ik::by_name, agency_id)
                                                       : keys::make(ik::assigned, agency_id, viewer.staff_id);
        rocksdb::ReadOptions ro;
        ro.snapshot = snap;
        std::string upper = keys::prefix_successor(prefix);
        rocksdb::Slice upper_slice(upper);
        ro.iterate_upper_bound = &upper_slice;
        std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->client_index));
        std::string start = prefix + after.value_or("");
        if (after) start.push_back('\0');  // strictly after the cursor's suffix
        for (it->Seek(start); it->Valid(); it->Next()) {
            auto k = it->key().ToStringView();
            if (!k.starts_with(prefix)) break;
            if (!emit(std::string(k.substr(prefix.size())))) break;
        }
        if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
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
            [&](std::string_view k, std::string_view) {
                if (expected.erase(std::string(k)) == 0) ++problems;
                return true;
            },
            snap);
        if (!r) return std::unexpected(r.error());
    }
    return problems + expected.size();
}

// ---------------------------------------------------------------- identity lookups

std::optional<std::string> store::session_staff(const std::string& agency_id, const std::string& session_id) const {
    return or_throw(impl_->read(impl_->identity, keys::make("s", agency_id, session_id)));
}

std::optional<std::string> store::reset_token_staff(const std::string& agency_id, const std::string& token_hash) const {
    return or_throw(impl_->read(impl_->identity, keys::make("r", agency_id, token_hash)));
}

namespace {
// The events of one aggregate kept under (agency, id) be64(version) be64(sequence) in `cf`, with
// aggregate_version > after_version, oldest first.
std::vector<events::envelope> events_after(const store::impl& s, rocksdb::ColumnFamilyHandle* cf,
                                           const std::string& agency_id, const std::string& id,
                                           std::uint64_t after_version, const char* what) {
    std::vector<events::envelope> out;
    std::optional<std::string> corrupt;
    const auto prefix = keys::make(agency_id, id);
    rocksdb::ReadOptions ro;
    std::string upper = keys::prefix_successor(prefix);
    rocksdb::Slice upper_slice(upper);
    if (!upper.empty()) ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(s.db->NewIterator(ro, cf));
    for (it->Seek(prefix + keys::be64(after_version + 1)); it->Valid(); it->Next()) {
        if (!it->key().ToStringView().starts_with(prefix)) break;
        auto e = decode_stored(it->value().ToStringView());
        if (!e) {
            corrupt = e.error().detail;
            break;
        }
        out.push_back(std::move(*e));
    }
    if (!it->status().ok()) throw store_error(status_text("iterate", it->status()));
    if (corrupt) throw store_error(std::string("stored ") + what + " event does not decode: " + *corrupt);
    return out;
}
}  // namespace

std::vector<events::envelope> store::staff_events(const std::string& agency_id, const std::string& staff_id,
                                                  std::uint64_t after_version) const {
    return events_after(*impl_, impl_->staff_events, agency_id, staff_id, after_version, "staff");
}

std::optional<std::string> store::portal_session_client(const std::string& agency_id,
                                                        const std::string& session_id) const {
    return or_throw(impl_->read(impl_->identity, keys::make("p", agency_id, session_id)));
}

std::optional<std::string> store::kiosk_token_client(const std::string& agency_id,
                                                     const std::string& token_hash) const {
    return or_throw(impl_->read(impl_->identity, keys::make("k", agency_id, token_hash)));
}

std::vector<events::envelope> store::client_events(const std::string& agency_id, const std::string& client_id,
                                                   std::uint64_t after_version) const {
    return events_after(*impl_, impl_->client_events, agency_id, client_id, after_version, "client");
}

// ---------------------------------------------------------------- quarantine, metrics

std::vector<quarantined_record> store::quarantined() const {
    std::vector<quarantined_record> out;
    or_throw(impl_->scan(impl_->quarantine, "", [&](std::string_view, std::string_view v) {
        if (auto o = parse_object(v)) {
            quarantined_record q;
            q.partition = static_cast<int>(o->at("partition").to_number<std::int64_t>());
            q.offset = o->at("offset").to_number<std::int64_t>();
            q.reason = str_of(*o, "reason");
            q.at = o->at("at").to_number<std::int64_t>();
            out.push_back(std::move(q));
        }
        return true;
    }));
    return out;
}

result<std::size_t> store::staff_index_problems() const {
    rocksdb::ManagedSnapshot snapshot(impl_->db);
    const auto* snap = snapshot.snapshot();
    std::set<std::string> expected;
    std::size_t problems = 0;
    auto r = impl_->scan(
        impl_->staff, "",
        [&](std::string_view k, std::string_view v) {
            auto parts = keys::parse(k);
            auto view = parse_object(v);
            if (!parts || parts->size() != 2 || !view) {
                ++problems;  // a view that cannot be read cannot be indexed
                return true;
            }
            expected.merge(staff_directory::index_keys((*parts)[0], *view));
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    r = impl_->scan(
        impl_->staff_index, "",
        [&](std::string_view k, std::string_view) {
            if (expected.erase(std::string(k)) == 0) ++problems;  // stale entry
            return true;
        },
        snap);
    if (!r) return std::unexpected(r.error());
    return problems + expected.size();  // + missing entries
}

std::uint64_t store::applied_count() const { return impl_->applied.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- local state

result<void> store::put_local(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::lock_guard lock(impl_->write_mu);
    write_set w;
    const auto prefix = keys::make(ns);
    for (const auto& [k, v] : kvs) w.put(impl_->local, prefix + k, v);
    return w.write(*impl_->db);
}

std::vector<std::pair<std::string, std::string>> store::scan_local(const std::string& ns,
                                                                   const std::string& prefix) const {
    std::vector<std::pair<std::string, std::string>> out;
    const auto ns_prefix = keys::make(ns);
    or_throw(impl_->scan(impl_->local, ns_prefix + prefix, [&](std::string_view k, std::string_view v) {
        out.emplace_back(std::string(k.substr(ns_prefix.size())), std::string(v));
        return true;
    }));
    return out;
}

std::optional<std::string> store::get_local(const std::string& ns, const std::string& key) const {
    return or_throw(impl_->read(impl_->local, keys::make(ns) + key));
}

}  // namespace carelog::projections
