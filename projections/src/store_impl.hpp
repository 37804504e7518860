#pragma once
// The projections store's inside, shared by the files that make it up:
//   store.cpp           open, the consumer side (apply_batch: chain check, quarantine, the visitor
//                       that hands each record to the read models it feeds), offsets, local state
//   store_listing.hpp   the paging the directory listings share (cursor, page, index walk, name search)
// and one file per read model:
//   store_agencies.cpp  agency settings: agency views, slugs, locations, programs
//   store_staff.cpp     the staff directory: views, indexes, the listing, history, as_of
//   store_clients.cpp   clients: views, indexes, the list by visibility, assignments, history, as_of
//   store_portal.cpp    the client portal: invitations, portal accounts
//   store_threads.cpp   messaging: threads and their messages
//   store_kiosk.cpp     kiosk sessions
//   store_identity.cpp  identity: staff and portal sessions, reset links, kiosk tokens by hash
//   store_audit.cpp     the audit trail: changes and record views by time, actor and subject
// Each read model's file holds both what it writes (store::impl::apply_*) and what it answers.
//
// Key layout. (a, b, ...) is a keys::tuple (order-preserving, any bytes allowed in a component);
// beN(x) is x as N/8 big-endian bytes, so numeric order is byte order.
//
//   column family  key                                                 value
//   default        "format"                                            "6" (layout version)
//   offsets        be32(partition)                                     be64(next offset to consume)
//                  "x" be32(partition)                                 the same, of the access topic
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
//   agencies       ("e", agency_id) be64(sequence)                     the agency's own events as envelope
//                                                                      bytes (agency_as_of folds them)
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
//   audit          see store_audit.cpp (changes and views by time, actor, subject)
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
// batch. A clean close flushes what the memtables hold. The node's local state is written with
// the WAL (put_local of one namespace: the topic's name and partition count), except the writer's
// snapshots (put_local of several namespaces), which the writer rebuilds from the topic as the
// read models are: after a crash it reads the snapshots of the last flush and replays the log
// from the offsets stored with them.

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
#include <shared_mutex>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agency_settings.hpp"
#include "carelog/base/text.hpp"
#include "carelog/events/envelope_codec.hpp"
#include "carelog/events/event_json.hpp"
#include "json_util.hpp"
#include "keys.hpp"
#include "page_cache.hpp"
#include "client_views.hpp"
#include "staff_directory.hpp"


namespace carelog::projections {

inline std::string status_text(const char* what, const rocksdb::Status& s) {
    return std::string("rocksdb ") + what + ": " + s.ToString();
}

inline std::string offset_key(int partition) { return keys::be32(static_cast<std::uint32_t>(partition)); }

// Collects the Puts and Deletes of a batch of records by (family, key), keeping only the last
// write of each key, so a read through it (get) sees what earlier records of the same batch wrote:
// many records are applied read-modify-write and written once. write() hands RocksDB one
// WriteBatch of the surviving writes in key order: a key a batch rewrites (an agency's chain
// link, a view several records change) is inserted into the memtable once, and sorted inserts
// reuse the skiplist's last position instead of searching from the top.
// Every byte of a value is copied once more into the WriteBatch and again into the memtable, so
// the set copies no more than it must: a value built for the write is moved in (put_moved), and
// bytes that outlive the set (a record's envelope, in the consumer's batch until apply_batch
// returns) are referred to (put_borrowed).
// The keys lie end to end in one buffer and are found by hash; they are sorted once, at write().
// A tree of nodes (std::map) would compare long shared prefixes (family, agency) at every level of
// every insert and walk cold nodes at the end (docs/performance.md, "Rebuild: the appliers' write
// set without a tree").
class write_set {
public:
    void put(rocksdb::ColumnFamilyHandle* cf, std::string_view k, std::string_view v) {
        auto& e = slot_for(cf, k);
        bytes_ += v.size();
        e.owned.assign(v);
        e.is = entry::kind::owned;
    }
    void put_moved(rocksdb::ColumnFamilyHandle* cf, std::string_view k, std::string&& v) {
        auto& e = slot_for(cf, k);
        bytes_ += v.size();
        e.owned = std::move(v);
        e.is = entry::kind::owned;
    }
    // `v` must stay valid until write() returned.
    void put_borrowed(rocksdb::ColumnFamilyHandle* cf, std::string_view k, std::string_view v) {
        auto& e = slot_for(cf, k);
        bytes_ += v.size();
        e.owned.clear();
        e.borrowed = v;
        e.is = entry::kind::borrowed;
    }
    void del(rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        auto& e = slot_for(cf, k);
        e.owned.clear();
        e.is = entry::kind::deleted;
    }
    // The value as the batch would leave it: the batch's own write, else the database's.
    result<std::optional<std::string>> get(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        set_probe(cf, k);
        if (const auto at = find(probe_, std::hash<std::string_view>{}(probe_)); at != none) {
            const auto& e = entries_[at];
            if (e.is == entry::kind::deleted) return std::optional<std::string>();
            return std::optional<std::string>(std::string(e.value()));
        }
        std::string value;
        auto s = db.Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(k.data(), k.size()), &value);
        if (s.IsNotFound()) return std::optional<std::string>();
        if (!s.ok()) return fail(errc::internal, status_text("get", s));
        return std::optional<std::string>(std::move(value));
    }
    bool empty() const { return entries_.empty(); }
    // `wal`: false for what can be rebuilt from the topic (see "Durability" above).
    result<void> write(rocksdb::DB& db, bool wal = true) {
        // In (family, key) order: the family id leads each stored key, big-endian. The keys are
        // sorted as views beside their entries' indexes, so a comparison reads no entry.
        std::vector<std::pair<std::string_view, std::uint32_t>> order;
        order.reserve(entries_.size());
        for (std::uint32_t i = 0; i < entries_.size(); ++i) order.emplace_back(key_of(entries_[i]), i);
        std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        // Sized once: a WriteBatch grows by doubling, copying what it holds at every step. The
        // size is counted as the set is written (a value written over counts twice).
        rocksdb::WriteBatch batch(12 + bytes_);  // 12: the batch's header
        for (const auto& [stored_key, i] : order) {
            const auto& e = entries_[i];
            const auto k = stored_key.substr(sizeof(std::uint32_t));
            const rocksdb::Slice key(k.data(), k.size());
            const auto v = e.value();
            auto s = e.is == entry::kind::deleted ? batch.Delete(e.cf, key)
                                                  : batch.Put(e.cf, key, rocksdb::Slice(v.data(), v.size()));
            if (!s.ok()) return fail(errc::internal, status_text("batch", s));
        }
        rocksdb::WriteOptions wo;
        wo.disableWAL = !wal;
        auto s = db.Write(wo, &batch);
        if (!s.ok()) return fail(errc::internal, status_text("write", s));
        return {};
    }

private:
    struct entry {
        rocksdb::ColumnFamilyHandle* cf = nullptr;
        std::size_t key_at = 0, key_size = 0;  // in keys_: the family id, then the key
        enum class kind : std::uint8_t { owned, borrowed, deleted } is = kind::owned;
        std::string owned;          // the value when the set holds it (put, put_moved)
        std::string_view borrowed;  // bytes that outlive the set (put_borrowed)
        // Read where it is each time: moving the entry (the vector grows) moves a short `owned`.
        std::string_view value() const { return is == kind::borrowed ? borrowed : std::string_view(owned); }
    };
    static constexpr std::uint32_t none = ~std::uint32_t{0};

    std::string_view key_of(const entry& e) const { return std::string_view(keys_).substr(e.key_at, e.key_size); }
    // Big-endian family id, then the key: sorted, (family, key order). Built in one reused buffer,
    // so a lookup allocates nothing.
    void set_probe(rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        const std::uint32_t id = cf->GetID();
        probe_.clear();
        for (int shift = 24; shift >= 0; shift -= 8) probe_.push_back(static_cast<char>((id >> shift) & 0xff));
        probe_.append(k);
    }
    // Open addressing: each slot holds an entry's index + 1 (0: empty) and its hash.
    struct slot {
        std::uint32_t index_plus_1 = 0;
        std::uint32_t hash = 0;
    };
    std::uint32_t find(std::string_view key, std::size_t h) const {
        if (slots_.empty()) return none;
        const auto mask = slots_.size() - 1;
        for (auto i = h & mask;; i = (i + 1) & mask) {
            const auto& s = slots_[i];
            if (s.index_plus_1 == 0) return none;
            if (s.hash == static_cast<std::uint32_t>(h) && key_of(entries_[s.index_plus_1 - 1]) == key)
                return s.index_plus_1 - 1;
        }
    }
    void place(std::uint32_t index, std::size_t h) {
        const auto mask = slots_.size() - 1;
        auto i = h & mask;
        while (slots_[i].index_plus_1 != 0) i = (i + 1) & mask;
        slots_[i] = slot{index + 1, static_cast<std::uint32_t>(h)};
    }
    entry& slot_for(rocksdb::ColumnFamilyHandle* cf, std::string_view k) {
        set_probe(cf, k);
        const auto h = std::hash<std::string_view>{}(probe_);
        if (const auto at = find(probe_, h); at != none) {
            entries_[at].cf = cf;
            return entries_[at];
        }
        if ((entries_.size() + 1) * 2 > slots_.size()) grow();
        entry e;
        e.cf = cf;
        e.key_at = keys_.size();
        e.key_size = probe_.size();
        keys_.append(probe_);
        bytes_ += probe_.size() + 16;  // the key and the record's framing
        entries_.push_back(std::move(e));
        place(static_cast<std::uint32_t>(entries_.size() - 1), h);
        return entries_.back();
    }
    void grow() {
        slots_.assign(slots_.empty() ? 1024 : slots_.size() * 2, slot{});
        for (std::uint32_t i = 0; i < entries_.size(); ++i)
            place(i, std::hash<std::string_view>{}(key_of(entries_[i])));
    }

    std::vector<entry> entries_;  // in first-write order
    std::vector<slot> slots_;
    std::string keys_;
    std::string probe_;
    std::size_t bytes_ = 0;  // what a WriteBatch of the set holds, at most
};

// A stored envelope (a history entry): RocksDB values sit at any address, and events::decode reads
// an unaligned one from an aligned copy.
inline result<events::envelope> decode_stored(std::string_view v) {
    return events::decode(std::span(reinterpret_cast<const std::uint8_t*>(v.data()), v.size()));
}

template <class T>
T or_throw(result<T>&& r) {
    if (!r) throw store_error(r.error().detail);
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

// Which history keeps a record's envelope: the agency's own events (agencies, ("e", agency)
// be64(sequence)), a staff member's (staff_events) or a client's (client_events), keyed as the
// layout above says; none for an event of the agency that feeds no view (a LoginFailed or
// PortalLoginFailed for an unknown username). The byte is the audit change's tag.
enum class history_kind : char { none = 'e', agency = 'a', staff = 's', client = 'c' };

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
    rocksdb::ColumnFamilyHandle* audit = nullptr;

    // apply/advance are read-modify-write. apply_batch takes it shared: its callers give
    // concurrent calls records of disjoint partitions, and everything a record reads and writes
    // belongs to its agency, so to one partition. put_local takes it shared too: it reads nothing
    // and writes only the local family, which nothing else writes (the writer's snapshot thread
    // writes its snapshots there while both appliers catch up; an exclusive lock made it wait for
    // a moment when neither held the lock). Everything else takes it exclusively.
    // Queries take no lock (RocksDB is thread-safe; list_staff reads from a snapshot).
    std::shared_mutex write_mu;
    std::atomic<std::uint64_t> applied{0};
    std::mutex listeners_mu;
    std::vector<change_listener> listeners;
    // Listing pages kept until their agency's next applied record (page_cache.hpp).
    page_cache pages{default_page_cache_bytes};

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
        const rocksdb::Slice start(prefix.data(), prefix.size());
        for (it->Seek(start); it->Valid(); it->Next()) {
            auto k = it->key().ToStringView();
            if (!k.starts_with(prefix)) break;
            if (!fn(k, it->value().ToStringView())) break;
        }
        if (!it->status().ok()) return fail(errc::internal, status_text("iterate", it->status()));
        return {};
    }

    // A view as of a time: fold(view, event) over the stored envelopes under prefix (one
    // aggregate's events, in order) whose occurred_at <= as_of. `what` names them in errors.
    template <class Fold>
    std::optional<json::object> fold_as_of(rocksdb::ColumnFamilyHandle* cf, std::string_view prefix, micros as_of,
                                           Fold&& fold, const char* what) const {
        std::optional<json::object> view;
        std::optional<std::string> corrupt;
        auto r = scan(cf, prefix, [&](std::string_view, std::string_view v) {
            auto e = decode_stored(v);
            if (!e) return !(corrupt = e.error().detail);
            if (e->occurred_at <= as_of) fold(view, *e);
            return true;
        });
        if (!r) throw store_error(r.error().detail);
        if (corrupt) throw store_error(std::string("stored ") + what + " event does not decode: " + *corrupt);
        return view;
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

    // ---- the projections of one record: each read model keeps what its events say ----
    result<void> apply_agency(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes);
    result<void> apply_staff(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes);
    // The client's view and history. True when the record is news to the client's views; false
    // for a re-published record (at or below the view's version), whose history entry alone is
    // rewritten: the client's other read models skip it as well.
    result<bool> apply_client(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes);
    // The client's other read models and identity: each one's events change it, any other event
    // leaves it as it is.
    result<void> apply_portal(write_set& w, const events::envelope& e);
    result<void> apply_threads(write_set& w, const events::envelope& e);
    result<void> apply_kiosk(write_set& w, const events::envelope& e);
    result<void> apply_identity(write_set& w, const events::envelope& e);

    // Read-modify-write of the JSON view `key` through the batch; an absent view stays absent.
    template <class Fn>
    result<void> update_json(write_set& w, rocksdb::ColumnFamilyHandle* cf, const std::string& key, Fn&& fn) const {
        auto v = read_json(w, cf, key);
        if (!v) return std::unexpected(v.error());
        if (!*v) return {};
        fn(**v);
        w.put(cf, key, json::serialize(**v));
        return {};
    }
    // The views ("kind", agency, id) in the clients family of the ids an index entry lists under
    // prefix (a client's invitations, threads or kiosk sessions), in index order.
    json::array views_listed(const std::string& kind, const std::string& agency, const std::string& prefix) const {
        std::vector<std::string> ids;
        or_throw(scan(client_index, prefix, [&](std::string_view, std::string_view v) {
            ids.emplace_back(v);
            return true;
        }));
        json::array out;
        for (const auto& id : ids)
            if (auto v = or_throw(read_json(clients, keys::make(kind, agency, id)))) out.emplace_back(std::move(*v));
        return out;
    }
    // Every applied event is a change in the audit trail (store_audit.cpp), which refers to the
    // history entry that apply_* wrote for it (`where`) instead of storing its bytes again.
    void apply_audit_change(write_set& w, const events::envelope& e, std::span<const std::uint8_t> bytes,
                            history_kind where);
    // The envelope bytes of the audit change stored under ("t", agency) + suffix as `value`.
    result<std::string> change_envelope(const std::string& agency, std::string_view suffix,
                                        std::string_view value) const;
};

// The events of one aggregate kept under (agency, id) be64(version) be64(sequence) in `cf`, with
// aggregate_version > after_version, oldest first.
std::vector<events::envelope> events_after(const store::impl& s, rocksdb::ColumnFamilyHandle* cf,
                                           const std::string& agency_id, const std::string& id,
                                           std::uint64_t after_version, const char* what);

}  // namespace carelog::projections
