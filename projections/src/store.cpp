// The projections store: RocksDB read models fed record by record from the event topic. The key
// layout, durability and the chain are described in store_impl.hpp; each read model lives in its
// own file (store_impl.hpp lists them). This file opens the store, applies batches of records (the
// chain check, the quarantine, the visitor that hands each record to the read models it feeds),
// and keeps offsets, the quarantine and the node's local state.
#include "store_impl.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/metadata.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#include <rocksdb/write_buffer_manager.h>

#include "carelog/base/metric_text.hpp"
#include "carelog/base/shared_object.hpp"

namespace carelog::projections {

namespace {

constexpr const char* cf_names[] = {"offsets",    "agencies", "staff",        "staff_index",   "staff_events",
                                    "quarantine", "local",    "clients",      "client_index",  "client_events",
                                    "messages",   "identity",     "chain",        "audit"};
// A store of another layout is refused at open ("rebuild it from the topic"): an index added later
// would lack the entries of the records applied before it (docs/operations.md: delete the data dir).
constexpr std::string_view format_version = "6";

// The visitor of apply(): one overload per event type, each naming the read models it feeds. It
// answers which history kept the record's envelope (the audit trail's change refers to it there).
struct record_applier {
    store::impl& s;
    write_set& w;
    const events::envelope& e;
    std::span<const std::uint8_t> bytes;
    using kept = result<history_kind>;
    using read_model = result<void> (store::impl::*)(write_set&, const events::envelope&);

    kept agency() { return kept_in(s.apply_agency(w, e, bytes), history_kind::agency); }
    kept staff(std::initializer_list<read_model> also = {}) {
        for (auto m : also)
            if (auto r = (s.*m)(w, e); !r) return std::unexpected(r.error());
        return kept_in(s.apply_staff(w, e, bytes), history_kind::staff);
    }
    // The client's view and history, then the client's other read models the event feeds, unless
    // the client's views have seen the record already (apply_client).
    kept client(std::initializer_list<read_model> also = {}) {
        auto news = s.apply_client(w, e, bytes);
        if (!news) return std::unexpected(news.error());
        if (*news)
            for (auto m : also)
                if (auto r = (s.*m)(w, e); !r) return std::unexpected(r.error());
        return history_kind::client;
    }
    static kept kept_in(result<void>&& r, history_kind where) {
        if (!r) return std::unexpected(r.error());
        return where;
    }
    static constexpr read_model portal = &store::impl::apply_portal;
    static constexpr read_model threads = &store::impl::apply_threads;
    static constexpr read_model kiosk = &store::impl::apply_kiosk;
    static constexpr read_model identity = &store::impl::apply_identity;

    kept operator()(const events::AgencyCreated&) { return agency(); }
    kept operator()(const events::AgencySettingsChanged&) { return agency(); }
    kept operator()(const events::LocationAdded&) { return agency(); }
    kept operator()(const events::ProgramAdded&) { return agency(); }
    kept operator()(const events::StaffCreated&) { return staff(); }
    kept operator()(const events::StaffProfileUpdated&) { return staff(); }
    kept operator()(const events::RoleAssigned&) { return staff(); }
    kept operator()(const events::StaffTypeSet&) { return staff(); }
    kept operator()(const events::StaffLocationsSet&) { return staff(); }
    kept operator()(const events::StaffProgramsSet&) { return staff(); }
    kept operator()(const events::ModulePermissionGranted&) { return staff(); }
    kept operator()(const events::ModulePermissionRevoked&) { return staff(); }
    kept operator()(const events::StaffDeactivated&) { return staff(); }

    kept operator()(const events::ClientAdded&) { return client(); }
    kept operator()(const events::StaffAssignedToClient&) { return client(); }
    kept operator()(const events::StaffUnassignedFromClient&) { return client(); }
    kept operator()(const events::PortalSessionTouched&) { return client(); }
    kept operator()(const events::InvitationSent&) { return client({portal}); }
    kept operator()(const events::InvitationResent&) { return client({portal}); }
    kept operator()(const events::InvitationRevoked&) { return client({portal}); }
    kept operator()(const events::InvitationAccepted&) { return client({portal}); }
    kept operator()(const events::PortalUsernameChosen&) { return client({portal}); }
    kept operator()(const events::PortalAccountLocked&) { return client({portal}); }
    kept operator()(const events::PortalAccountUnlocked&) { return client({portal}); }
    kept operator()(const events::PortalPasswordChanged&) { return client({portal}); }
    kept operator()(const events::PortalLoginSucceeded&) { return client({portal, identity}); }
    kept operator()(const events::PortalSessionEnded&) { return client({identity}); }
    kept operator()(const events::PortalPasswordResetRequested&) { return client({identity}); }
    kept operator()(const events::MessageSent&) { return client({threads}); }
    kept operator()(const events::KioskSessionStarted&) { return client({kiosk, identity}); }
    kept operator()(const events::KioskFormSubmitted&) { return client({kiosk}); }
    // A PortalLoginFailed for an unknown username belongs to the agency: it feeds no client.
    kept operator()(const events::PortalLoginFailed&) {
        if (e.aggregate_type == "Agency") return history_kind::none;
        return client({portal});
    }
    // Identity events (PasswordChanged, LoginSucceeded, SessionEnded, ...): the staff member's
    // history and view version; sessions and reset links also by their hash (store_identity.cpp).
    // A LoginFailed for an unknown username belongs to the agency (envelope aggregate_type
    // "Agency"): it feeds no staff view.
    kept operator()(const events::LoginSucceeded&) { return staff({identity}); }
    kept operator()(const events::SessionEnded&) { return staff({identity}); }
    kept operator()(const events::PasswordResetRequested&) { return staff({identity}); }
    template <class Identity>
    kept operator()(const Identity&) {
        if (e.aggregate_type == "Agency") return history_kind::none;
        return staff();
    }
};

// Where a key's memtable insert starts looking: each family's memtable keeps the position of the
// last insert per prefix, and an insert near it climbs only a few levels of the skiplist instead
// of searching it from the top. The prefix is the key's first tuple component, and the second one
// too when the first is a kind tag ("c", "t", ...): so it names the agency (or the namespace of the
// local family) and the kind of entry, and there are at most a few per agency (each costs the
// memtable ~250 bytes). Keys of one agency sit together and many grow with time (the audit trail's
// entries, histories, the chain link and offsets rewritten in place), so live batches, which touch
// a few keys of many agencies, insert next to their agency's last key. A key that is not a tuple
// (the chain's agency id, a partition's offset) is its own prefix. Only a hint: an insert checks
// it and searches from where it brackets the key, so any prefix is correct.
class insert_hint_prefix final : public rocksdb::SliceTransform {
public:
    const char* Name() const override { return "carelog.insert_hint_prefix"; }
    rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
        const std::string_view k(key.data(), key.size());
        auto end = component_end(k, 0);
        if (end != std::string_view::npos && end - keys::terminator.size() <= 2) {
            const auto second = component_end(k, end);
            if (second != std::string_view::npos) end = second;
        }
        return end == std::string_view::npos ? key : rocksdb::Slice(key.data(), end);
    }
    bool InDomain(const rocksdb::Slice&) const override { return true; }

private:
    // The end of the component starting at `from` (past its terminator), npos if there is none.
    static std::size_t component_end(std::string_view k, std::size_t from) {
        for (auto z = k.find('\0', from); z != std::string_view::npos && z + 1 < k.size(); z = k.find('\0', z + 2))
            if (k[z + 1] == keys::terminator[1]) return z + 2;
        return std::string_view::npos;
    }
};

}  // namespace

// ---------------------------------------------------------------- open / close

store::store(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
store::~store() = default;

std::string store::library_in_use() {
    using version_fn = std::string (*)(bool);
    const version_fn fn = &rocksdb::GetRocksVersionAsString;
    return "RocksDB " + fn(true) + " from " + shared_object_of(reinterpret_cast<const void*>(fn));
}

result<std::unique_ptr<store>> store::open(const std::string& dir) {
    rocksdb::Options opts;
    opts.create_if_missing = true;
    opts.create_missing_column_families = true;
    // The read models are written without the WAL (they are rebuilt from the topic): all families
    // are flushed together, so what survives a crash is always a consistent cut with its offsets.
    opts.atomic_flush = true;
    // Memory: every family's memtables together stay under 128 MiB (14 families at RocksDB's
    // default of 64 MiB each, twice, would allow 1.8 GiB). The bound holds strictly: a write
    // waits while memtables, those being flushed included, hold that much, so appliers catching up
    // faster than the flush thread writes do not pile up immutable memtables (a rebuild's peak RSS
    // ~30-80 MiB lower, docs/performance.md, "Rebuild: the appliers' write set without a tree").
    // The WAL, which only the node's local state uses, is bounded too. Point lookups (views by id,
    // identity hashes) skip files with a bloom filter; one 64 MiB block cache serves every
    // family. The cache is RocksDB's HyperClockCache: a lookup takes no lock (the LRU cache locks
    // a shard's mutex on every lookup and release, once per block a read touches); its table is
    // sized for 4 KiB entries, the point-lookup families' block size and below the index
    // families' 16 KiB. A 50-row list costs its io thread 2-7 µs less, a read by id up to 1.7 µs
    // (docs/performance.md, "One idle timer per connection; the block cache without locks").
    opts.write_buffer_manager =
        std::make_shared<rocksdb::WriteBufferManager>(128u << 20, nullptr, /*allow_stall=*/true);
    opts.write_buffer_size = 32u << 20;
    opts.max_total_wal_size = 64u << 20;
    // Catching up, two appliers fill memtables faster than one flush thread empties them: room for
    // four per family before writes stop (the 128 MiB above bounds them all together).
    opts.max_write_buffer_number = 4;
    // Universal (tiered) compaction: sorted runs of similar size are merged, and everything once
    // the newer runs hold twice the oldest (max_size_amplification_percent 200, RocksDB's
    // default), so a byte is rewritten a few times over the store's life. Under leveled
    // compaction each level-0 compaction rewrites most of a family: new clients, their histories
    // and index entries land next to every agency's last key, so a flush overlaps every file of
    // the level below. At saturation RocksDB's background threads cost ~45 us per command under
    // leveled and ~20 us under universal (docs/performance.md, "Saturation held longer"). The
    // price is disk: up to three times the live data between full merges, and reads that look
    // into more sorted runs (bloom filters answer point lookups' misses).
    opts.compaction_style = rocksdb::kCompactionStyleUniversal;
    opts.compaction_options_universal.max_size_amplification_percent = 200;
    // Merges start at 8 sorted runs, not 4, and take at least 4 runs of similar size, not 2: a
    // byte is rewritten about half as often before the full merge (at saturation compactions
    // wrote 0.55-0.87 of what flushes wrote instead of 1.5-1.7, and carelogd spent 3.5-11 us
    // less per command; a rebuild's compactions 4.6 s instead of 7.1 s). The price is up to twice as many
    // runs to read: a 50-row client list costs ~3 us more, point lookups did not change
    // (docs/performance.md, "Fewer, wider merges").
    opts.level0_file_num_compaction_trigger = 8;
    opts.compaction_options_universal.min_merge_width = 4;
    // Compactions read their inputs front to back: in 2 MiB reads, not one pread(2) per 4 KiB
    // block (RocksDB 7.8 reads them without readahead: ~2.5 preads per command at saturation).
    opts.compaction_readahead_size = 2u << 20;
    // Every file LZ4, flushes included: the views (JSON) shrink about four times and the envelopes
    // (ids repeated across an event's fields) almost three, and on machines where a byte written
    // into a new page-cache page costs more than compressing it (VMs that hand freed memory back to
    // their host), fewer bytes is what makes flushes and compactions cheaper: at saturation RocksDB's
    // background threads spent 11-18 us per command less (docs/performance.md, "LZ4 in every file").
    opts.compression = rocksdb::kLZ4Compression;
    rocksdb::BlockBasedTableOptions table;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.block_cache = rocksdb::HyperClockCacheOptions(64u << 20, 4u << 10).MakeSharedCache();
    opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Live batches are small and spread over many agencies, so without a hint nearly every key
    // is a memtable insert searched from the skiplist's top, most of the appliers' CPU at
    // saturation (see insert_hint_prefix).
    opts.memtable_insert_with_hint_prefix_extractor = std::make_shared<insert_hint_prefix>();

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
    for (const auto& n : names) {
        rocksdb::ColumnFamilyOptions cf(opts);
        if (n == "clients" || n == "staff") {
            // Applying an event reads its aggregate's view first, and a new aggregate's view is
            // in no memtable: a bloom filter over the memtable's keys answers that miss without
            // a search of each memtable's skiplist.
            cf.memtable_whole_key_filtering = true;
            cf.memtable_prefix_bloom_size_ratio = 0.02;
        }
        if (n == "client_index" || n == "staff_index") {
            // The listings read these families a page at a time (a 50-row client page is ~17 KB
            // of name-order entries holding views): blocks of 16 KB instead of 4 KB make a page
            // one or two blocks to find in the cache and step across, not five.
            rocksdb::BlockBasedTableOptions scanned = table;
            scanned.block_size = 16u << 10;
            cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(scanned));
        }
        if (n == "audit") {
            // The trail's records of views (a drain's views of one agency, ~100s of KB each) are
            // written once and never change: kept in blob files, flushed once and never rewritten
            // by compaction, which then moves only their keys and the small index entries. Under
            // reads, rewriting them was most of the views' cost in RocksDB's background threads.
            // LZ4 as the deeper levels: the trail is kept for years, and a record's views repeat
            // most of their strings. Records under 4 KB (a quiet agency's drains) stay in the
            // family's files. Garbage collection moves the blobs of the oldest quarter of the blob
            // files when compaction meets them, so years of flushes do not leave as many small
            // blob files behind.
            cf.enable_blob_files = true;
            cf.min_blob_size = 4096;
            cf.blob_file_size = 64u << 20;
            cf.blob_compression_type = rocksdb::kLZ4Compression;
            cf.enable_blob_garbage_collection = true;
        }
        descriptors.emplace_back(n, cf);
    }

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
    p->audit = handle("audit");

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
// sequence, naming the last record's hash, its own hash (`recomputed` from its bytes), and keyed
// by its agency. "" when it is; the reason when it is not.
std::string chain_problem(const events::envelope& e, const sha256_digest& recomputed, std::string_view key,
                          const std::optional<chain_link>& link) {
    if (!key.empty() && key != e.agency_id)
        return "keyed " + std::string(key) + " but names agency " + e.agency_id;
    const std::uint64_t last = link ? link->sequence : 0;
    if (e.sequence != last + 1)
        return "sequence " + std::to_string(e.sequence) + " does not follow the agency's last applied sequence " +
               std::to_string(last);
    const sha256_digest none{};
    if (e.prev_hash != (link ? link->hash : none)) return "prev_hash is not the hash of the agency's last record";
    if (recomputed != e.hash) return "hash does not match the record's bytes";
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
    std::shared_lock lock(impl_->write_mu);  // see write_mu: callers keep concurrent partitions apart
    // RocksDB counts every operation in thread-local perf counters unless told not to; nothing
    // reads them, and on this path they cost a few percent.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
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

        // Decoded and its hash recomputed in one pass: one verification, one aligned copy.
        auto checked = events::decode_and_hash(rec.value);
        const events::envelope* env = checked ? &checked->decoded : nullptr;
        std::string reason;
        std::optional<chain_link>* link = nullptr;
        if (!checked) {
            reason = checked.error().detail;
        } else {
            auto it = links.find(env->agency_id);
            if (it == links.end()) {
                auto l = impl_->chain_of(w, env->agency_id);
                if (!l) return std::unexpected(l.error());
                it = links.emplace(env->agency_id, std::move(*l)).first;
            }
            link = &it->second;
            reason = chain_problem(*env, checked->recomputed, rec.key, *link);
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
            auto kept = std::visit(record_applier{*impl_, w, *env, rec.value}, env->data);
            if (!kept) return std::unexpected(kept.error());
            impl_->apply_audit_change(w, *env, rec.value, *kept);
        } catch (const std::exception& ex) {
            // Nothing was written: the batch is dropped, the offsets do not move.
            return fail(errc::internal, std::string("applying partition ") + std::to_string(rec.partition) +
                                            " offset " + std::to_string(rec.offset) + ": " + ex.what());
        }
        *link = chain_link{env->sequence, env->hash};
        w.put_moved(impl_->chain, env->agency_id, link_value(**link));
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
    // The kept listing pages of every agency this batch wrote to are no longer the answer; they go
    // before anyone waiting for the batch is answered (see page_cache.hpp).
    for (const auto& [agency, link] : links)
        if (link) impl_->pages.changed(agency);
    if (!out.changed.empty()) {
        std::lock_guard listeners(impl_->listeners_mu);
        for (const auto& f : impl_->listeners) f(out.changed);
    }
    return out;
}

void store::keep_pages(std::size_t max_bytes) { impl_->pages.set_max_bytes(max_bytes); }

std::string store::page_cache_metrics_text() const {
    const auto t = impl_->pages.totals();
    std::string s;
    constexpr std::string_view lookups = "carelog_projection_page_cache_lookups_total";
    metric_text::family(s, lookups, "counter",
                        "Listing pages asked for that could be kept, by whether a kept page answered.");
    metric_text::sample(s, lookups, R"({outcome="hit"})", t.hits);
    metric_text::sample(s, lookups, R"({outcome="miss"})", t.misses);
    metric_text::single(s, "carelog_projection_page_cache_pages", "gauge", "Listing pages kept in memory.", t.pages);
    metric_text::single(s, "carelog_projection_page_cache_bytes", "gauge", "Bytes of the listing pages kept in memory.",
                        t.bytes);
    return s;
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

result<void> store::flush_memtables() {
    rocksdb::FlushOptions wait;
    wait.wait = true;
    if (auto s = impl_->db->Flush(wait, impl_->handles); !s.ok())
        return fail(errc::unavailable, "flushing the projections store: " + s.ToString());
    return {};
}

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

std::uint64_t store::applied_count() const { return impl_->applied.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------- the families requests read

namespace {
std::vector<std::pair<const char*, rocksdb::ColumnFamilyHandle*>> read_families(const store::impl& s) {
    return {{"clients", s.clients}, {"client_index", s.client_index}, {"staff", s.staff},
            {"staff_index", s.staff_index}, {"identity", s.identity}};
}

// Level 0's files are a run each; a deeper level, when it holds files, is one run.
int sorted_runs(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::ColumnFamilyMetaData meta;
    db.GetColumnFamilyMetaData(cf, &meta);
    int runs = 0;
    for (const auto& level : meta.levels)
        runs += level.level == 0 ? static_cast<int>(level.files.size()) : (level.files.empty() ? 0 : 1);
    return runs;
}
}  // namespace

std::vector<std::pair<std::string, int>> store::read_family_runs() const {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& [name, cf] : read_families(*impl_)) out.emplace_back(name, sorted_runs(*impl_->db, cf));
    return out;
}

result<void> store::merge_read_families(const std::atomic<bool>& cancel) {
    rocksdb::CompactRangeOptions o;
    // Automatic compactions go on beside it; it never makes the appliers' writes stall.
    o.exclusive_manual_compaction = false;
    o.allow_write_stall = false;
    // RocksDB only reads the flag; its declaration asks for a pointer to non-const.
    o.canceled = const_cast<std::atomic<bool>*>(&cancel);
    for (const auto& [name, cf] : read_families(*impl_)) {
        if (cancel.load()) return fail(errc::unavailable, "merging the read families: cancelled");
        if (sorted_runs(*impl_->db, cf) <= 1) continue;
        auto s = impl_->db->CompactRange(o, cf, nullptr, nullptr);
        if (s.IsManualCompactionPaused() || cancel.load())
            return fail(errc::unavailable, std::string("merging ") + name + ": cancelled");
        if (!s.ok()) return fail(errc::unavailable, std::string("merging ") + name + ": " + s.ToString());
    }
    return {};
}

// ---------------------------------------------------------------- local state

result<void> store::put_local(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs) {
    std::shared_lock lock(impl_->write_mu);  // see write_mu: reads nothing, writes only `local`
    write_set w;
    const auto prefix = keys::make(ns);
    for (const auto& [k, v] : kvs) w.put(impl_->local, prefix + k, v);
    return w.write(*impl_->db);
}

result<void> store::put_local(
    const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>& batches) {
    std::shared_lock lock(impl_->write_mu);  // see write_mu: reads nothing, writes only `local`
    write_set w;
    for (const auto& [ns, kvs] : batches) {
        const auto prefix = keys::make(ns);
        for (const auto& [k, v] : kvs) w.put(impl_->local, prefix + k, v);
    }
    return w.write(*impl_->db, /*wal=*/false);  // see store.hpp: what it holds is rebuilt from the topic
}

std::vector<std::pair<std::string, std::string>> store::scan_local(const std::string& ns,
                                                                   const std::string& prefix) const {
    std::vector<std::pair<std::string, std::string>> out;
    each_local(ns, prefix, [&](std::string_view k, std::string_view v) { out.emplace_back(k, v); });
    return out;
}

void store::each_local(const std::string& ns, const std::string& prefix,
                       const std::function<void(std::string_view, std::string_view)>& fn) const {
    const auto ns_prefix = keys::make(ns);
    or_throw(impl_->scan(impl_->local, ns_prefix + prefix, [&](std::string_view k, std::string_view v) {
        fn(k.substr(ns_prefix.size()), v);
        return true;
    }));
}

std::optional<std::string> store::get_local(const std::string& ns, const std::string& key) const {
    return or_throw(impl_->read(impl_->local, keys::make(ns) + key));
}


}  // namespace carelog::projections
