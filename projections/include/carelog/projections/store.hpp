// The read side: RocksDB read models fed by the event topic, and the node's local state.
// RocksDB stays behind this pimpl; nothing above projections/ includes a RocksDB header.
//
// Read models (all scoped by agency id):
//   agency settings view, locations, programs, slug -> agency id
//   staff directory: by id, by username (case-insensitive), filtered by role / type / location /
//   program, text search on names; the staff member's events (history) and state as of a time
//   clients: by id; listed in name order filtered by what the caller may see, with name
//   search; assignments (staff -> clients); invitations with their state at read time; portal
//   accounts (by username, case-insensitive); message threads and messages; kiosk sessions; the
//   client's events (history)
//   quarantined (poisoned) records with their partition and offset
//   identity: session id -> staff, reset token hash -> staff, portal session id -> client, kiosk
//   token hash -> client (hashes only, never tokens)
// Every applied record and its source offset go into one WriteBatch: after a crash the store
// resumes exactly where its data ends (nothing applied twice, nothing skipped).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "carelog/base/errc.hpp"
#include "carelog/base/sha256.hpp"
#include "carelog/events/events.hpp"

namespace carelog::projections {

// Thrown by the query functions (which return plain values) when RocksDB fails to read or a
// stored value is corrupt: a 500 at the top of the HTTP session, never a silently empty answer.
// The consumer side (apply, advance, put_local) returns errc::internal instead.
struct store_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct staff_filter {
    std::optional<std::string> role;
    std::optional<std::string> type;
    std::optional<std::string> location_id;
    std::optional<std::string> program_id;
    std::optional<std::string> q;  // case- and accent-insensitive prefix of first/last name or username
    std::optional<bool> active;
};

// Who asks for clients: SPEC §1, administration types see every client, therapy_counseling staff
// only the clients assigned to them (others: none). Built by the API from the session's staff.
enum class client_scope { all, assigned, none };
struct client_viewer {
    std::string staff_id;
    std::string staff_type;
};
struct client_filter {
    std::optional<std::string> q;  // case- and accent-insensitive prefixes of first/last name words
    // Answer the items as their stored JSON text (page::stored) where the index alone decides
    // what is listed, instead of parsed into page::items: the HTTP edge copies them through.
    bool stored_bytes = false;
};

// Listing pages kept per agency (store::keep_pages): 16 MiB, ~1,000 pages of 50 clients.
inline constexpr std::size_t default_page_cache_bytes = 16u << 20;

struct page {
    boost::json::array items;
    // The items as stored JSON objects, in order, when the caller asked for stored bytes (then
    // `items` is empty).
    std::vector<std::string> stored;
    std::optional<std::string> next_cursor;  // opaque; pass back as `cursor`
};

enum class apply_outcome { applied, quarantined, skipped_duplicate };

// A record as read from the topic: where it is, its bytes, its key (the agency id; empty when not
// known, e.g. in tests that feed bytes).
struct incoming_record {
    int partition = 0;
    std::int64_t offset = 0;
    std::span<const std::uint8_t> value;
    std::string_view key;
};

// An agency's last applied record: what the next one must follow.
struct chain_link {
    std::uint64_t sequence = 0;
    sha256_digest hash{};
};

struct quarantined_record {
    int partition = 0;
    std::int64_t offset = 0;
    std::string reason;
    micros at = 0;
};

// What a batch changed: the aggregate of each applied record, so that caches of folded state
// (the API's session principals) drop exactly what changed.
struct changed_aggregate {
    std::string agency_id;
    std::string aggregate_type;
    std::string aggregate_id;
    std::string_view event_type;  // events::event_type_name (static text)
};
using change_listener = std::function<void(const std::vector<changed_aggregate>&)>;

struct batch_outcome {
    std::size_t applied = 0;
    std::size_t skipped = 0;                           // below the stored offset: seen before
    std::vector<quarantined_record> quarantined;        // in offset order, with their reasons
    std::vector<changed_aggregate> changed;             // one per applied record, in order
    std::vector<std::pair<int, std::int64_t>> next_offsets;  // per partition covered: the next offset
};

// The audit listing (store_audit.cpp): changes (every applied event) and record views (the access
// topic), filtered; at most one of actor/subject picks the index, everything else is checked.
enum class audit_kind { change, view };
struct audit_filter {
    std::optional<std::string> actor_id;
    std::optional<std::string> subject_id;   // the aggregate of a change, the client/staff of a view
    std::optional<std::string> event_type;   // "ClientAdded", ..., "RecordViewed"
    std::optional<audit_kind> kind;
    std::optional<micros> from;              // occurred_at >= from
    std::optional<micros> to;                // occurred_at < to
    bool newest_first = true;
};

// What apply_access_batch did: views applied, records refused (undecodable, or keyed by another
// agency than they name: never applied), the next offsets of the partitions covered.
struct access_outcome {
    std::size_t applied = 0;
    std::vector<quarantined_record> rejected;
    std::vector<std::pair<int, std::int64_t>> next_offsets;
};

class store {
public:
    // Opens (creating if missing) the RocksDB database in `dir`.
    static result<std::unique_ptr<store>> open(const std::string& dir);
    // The RocksDB this process runs: its version and the file it was loaded from.
    static std::string library_in_use();
    ~store();
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    // ---- the consumer side ----
    // Applies records in order: verify + decode, check the agency's chain, update every read
    // model; all of it and the next offsets of the partitions covered in one WriteBatch. A record
    // that fails to decode or does not continue its agency's chain is quarantined (recorded with
    // its partition, offset and reason, never applied) and the offset still advances. A record
    // below the stored next offset is skipped (never applied twice). On an error nothing is
    // written and the offsets do not move: the caller applies the same records again.
    // Calls may run at the same time on several threads when no two of them hold records of the
    // same partition (an agency's records all live in one partition).
    result<batch_outcome> apply_batch(std::span<const incoming_record> records, micros now);
    // Called after each batch is written, on the applying thread, before apply_batch returns (so
    // before anyone waiting for the batch is answered), with what the batch changed.
    void add_change_listener(change_listener f);
    // One record (apply_batch of one).
    result<apply_outcome> apply(int partition, std::int64_t offset, std::span<const std::uint8_t> value,
                                micros now);
    // Advances the stored offset without a record (e.g. past transaction markers); no-op if lower.
    result<void> advance(int partition, std::int64_t next_offset);
    // The next offset to consume for a partition (0 when nothing was applied yet).
    std::int64_t next_offset(int partition) const;
    // Writes what every memtable holds to files and lets go of the memtables (atomically, as
    // every flush of this store): once a node has caught up, the memory its catch-up filled goes
    // back instead of waiting for later writes to fill and flush it. Writes go on meanwhile.
    result<void> flush_memtables();

    // ---- queries (JSON view models, field names of SPEC §3) ----
    std::optional<std::string> agency_id_by_slug(const std::string& slug) const;
    // {id, name, slug, version, created_at, updated_at, admin_staff_id? (first org_admin created),
    //  settings:{client_portal_enabled, messaging_enabled, password_policy:{...},
    //  lockout:{threshold, minutes}, session_idle_minutes, password_expiry_days, mfa_required_roles, services}}
    std::optional<boost::json::object> agency(const std::string& agency_id) const;
    boost::json::array locations(const std::string& agency_id) const;  // [{id, name, address}]
    boost::json::array programs(const std::string& agency_id) const;   // [{id, name}]

    // {id, username, first_name, middle_name, last_name, gender, position, email, role, type,
    //  location_ids, program_ids, permissions:{client_portal, messaging}, active, version,
    //  require_password_change, hire_date, phones, npi, supervisor_id, created_at, updated_at}
    std::optional<boost::json::object> staff(const std::string& agency_id, const std::string& staff_id) const;
    // The same view as its stored JSON text (what staff() parses): served as it is.
    std::optional<std::string> staff_text(const std::string& agency_id, const std::string& staff_id) const;
    std::optional<std::string> staff_id_by_username(const std::string& agency_id, const std::string& username) const;
    // Ordered by username; limit 1..500.
    result<page> list_staff(const std::string& agency_id, const staff_filter& f, int limit,
                            const std::optional<std::string>& cursor) const;
    // The staff member's events, oldest first, as event listings (events::listing_json).
    boost::json::array staff_history(const std::string& agency_id, const std::string& staff_id) const;
    // The same a page at a time (limit 1..500; cursor: the previous page's next_cursor).
    result<page> staff_history_page(const std::string& agency_id, const std::string& staff_id, int limit,
                                    const std::optional<std::string>& cursor) const;
    // The staff view built from the events with occurred_at <= as_of; nullopt if none.
    // The agency view (its settings) built from its events with occurred_at <= as_of; nullopt if none.
    std::optional<boost::json::object> agency_as_of(const std::string& agency_id, micros as_of) const;
    std::optional<boost::json::object> staff_as_of(const std::string& agency_id, const std::string& staff_id,
                                                    micros as_of) const;

    // ---- clients and the client portal (JSON shapes in docs/clients.md) ----
    // A client view: {id, first_name, last_name, date_of_birth, email, phone, external_id, staff_ids,
    //  portal_account_id, portal_username, version, created_at, updated_at} (absent values null).
    std::optional<boost::json::object> client(const std::string& agency_id, const std::string& client_id) const;
    // The same, or nullopt when the viewer may not see it (answer 404, as for a missing client).
    std::optional<boost::json::object> client_for(const std::string& agency_id, const std::string& client_id,
                                                  const client_viewer& viewer) const;
    // client_for's view as its stored JSON text, served as it is (parsed only when the viewer sees
    // assigned clients only).
    std::optional<std::string> client_text_for(const std::string& agency_id, const std::string& client_id,
                                               const client_viewer& viewer) const;
    // Clients the viewer may see, ordered by last name, first name, id; limit 1..500; cursor from the
    // previous page.
    result<page> list_clients(const std::string& agency_id, const client_viewer& viewer, const client_filter& f,
                              int limit, const std::optional<std::string>& cursor) const;
    // The ids of the clients assigned to a staff member, in name order.
    std::vector<std::string> assigned_client_ids(const std::string& agency_id, const std::string& staff_id) const;
    // Invitations: {id, client_id, email, state: sent|registered|expired|revoked, sent_at,
    //  expires_at, resent_count, revoked_at, accepted_at, portal_account_id}; state at `now`.
    std::optional<boost::json::object> invitation(const std::string& agency_id, const std::string& invitation_id,
                                                  micros now) const;
    boost::json::array client_invitations(const std::string& agency_id, const std::string& client_id,
                                          micros now) const;  // oldest first
    // Portal accounts: {id, client_id, username, created_at, last_login_at, locked, locked_until,
    //  failed_logins} (never the password hash).
    std::optional<boost::json::object> portal_account(const std::string& agency_id,
                                                      const std::string& portal_account_id) const;
    std::optional<boost::json::object> portal_account_by_username(const std::string& agency_id,
                                                                  const std::string& username) const;
    // Threads: {id, client_id, staff_id, started_at, last_message_at, message_count}, oldest first.
    std::optional<boost::json::object> thread(const std::string& agency_id, const std::string& thread_id) const;
    boost::json::array client_threads(const std::string& agency_id, const std::string& client_id) const;
    // Threads whose staff member this is, or into which they wrote.
    boost::json::array staff_threads(const std::string& agency_id, const std::string& staff_id) const;
    // Messages: {id, thread_id, client_id, sender_kind, sender_id, body, sent_at}, oldest first;
    // limit 1..500; cursor from the previous page.
    result<page> thread_messages(const std::string& agency_id, const std::string& thread_id, int limit,
                                 const std::optional<std::string>& cursor) const;
    // Kiosk sessions: {id, client_id, form_id, document_id, appointment_id, started_by, started_at,
    //  expires_at, state: active|expired|submitted, submitted_at, answers}; state at `now`.
    std::optional<boost::json::object> kiosk_session(const std::string& agency_id, const std::string& kiosk_id,
                                                     micros now) const;
    boost::json::array client_kiosk_sessions(const std::string& agency_id, const std::string& client_id,
                                             micros now) const;  // oldest first
    // The client's events, oldest first, as event listings (events::listing_json).
    boost::json::array client_history(const std::string& agency_id, const std::string& client_id) const;
    // The same a page at a time (limit 1..500; cursor: the previous page's next_cursor).
    result<page> client_history_page(const std::string& agency_id, const std::string& client_id, int limit,
                                     const std::optional<std::string>& cursor) const;
    // The client view built from the client's events with occurred_at <= as_of; nullopt if none.
    std::optional<boost::json::object> client_as_of(const std::string& agency_id, const std::string& client_id,
                                                     micros as_of) const;
    // Consistency check like staff_index_problems, for the n / s / t client indexes.
    result<std::size_t> client_index_problems() const;
    // ---- identity lookups (the API folds the events with aggregates::evolve and asks the domain's
    // check_session / find_reset_token whether a session or link is still good) ----
    // The staff member of a session id (token hash) recorded by LoginSucceeded; none once the
    // session ended (SessionEnded removes it).
    std::optional<std::string> session_staff(const std::string& agency_id, const std::string& session_id) const;
    // The staff member a reset link (token hash) was sent to (also once used or expired).
    std::optional<std::string> reset_token_staff(const std::string& agency_id, const std::string& token_hash) const;
    // The client whose portal account a reset link (token hash) was sent to (also once used or
    // expired; aggregates::find_portal_reset_token says whether it is still good).
    std::optional<std::string> portal_reset_token_client(const std::string& agency_id, const std::string& token_hash) const;
    // The staff member's events with aggregate_version > after_version, oldest first (decoded).
    std::vector<events::envelope> staff_events(const std::string& agency_id, const std::string& staff_id,
                                               std::uint64_t after_version) const;
    // ---- portal and kiosk lookups (the API folds the client's events and asks the domain's
    // check_portal_session / find_live_kiosk what a token opens) ----
    // The client of a portal session id (token hash) recorded by PortalLoginSucceeded; none once
    // the session ended (PortalSessionEnded removes it).
    std::optional<std::string> portal_session_client(const std::string& agency_id, const std::string& session_id) const;
    // The client of a kiosk token hash (KioskSessionStarted); also once submitted or expired.
    std::optional<std::string> kiosk_token_client(const std::string& agency_id, const std::string& token_hash) const;
    // The client's events with aggregate_version > after_version, oldest first (decoded).
    std::vector<events::envelope> client_events(const std::string& agency_id, const std::string& client_id,
                                                std::uint64_t after_version) const;

    // ---- the audit trail ----
    // Record views from the access topic, in order, with the next offsets of the partitions they
    // cover (kept apart from the event topic's), in one WriteBatch; a record below the stored
    // offset is skipped.
    result<access_outcome> apply_access_batch(std::span<const incoming_record> records);
    std::int64_t next_access_offset(int partition) const;  // of the access topic
    // Changes and views of the agency as event listings (events::listing_json) with `kind`
    // ("change" | "view"), newest or oldest first; limit 1..500; errc::malformed for a cursor this
    // listing did not give. A page may hold fewer items than `limit` (or none) and still a
    // next_cursor: a query examines a bounded number of entries per call.
    result<page> audit_events(const std::string& agency_id, const audit_filter& f, int limit,
                              const std::optional<std::string>& cursor) const;

    std::vector<quarantined_record> quarantined() const;
    // Consistency check (ops and tests): recomputes every staff view's index entries and counts
    // those missing from the staff indexes plus those left there that no view accounts for. 0 when
    // the indexes are right. Reads everything: not for the request path.
    result<std::size_t> staff_index_problems() const;
    std::uint64_t applied_count() const;  // records applied since open (for metrics)

    // ---- listing pages kept in memory ----
    // A listing page whose answer depends on the agency's state and the parameters alone (the
    // staff directory with any filter; the client list of a viewer who sees every client, without
    // a name query) is kept until the agency's next applied record; a page asked for again before
    // that is answered from memory, the same answer the store would give. At most max_bytes of
    // pages (default_page_cache_bytes at open); 0 keeps none.
    void keep_pages(std::size_t max_bytes);
    // carelog_projection_page_cache_* lines for /metrics.
    std::string page_cache_metrics_text() const;

    // ---- the shape of the families requests read ----
    // The families a request reads by key or in order (the client and staff views, their listing
    // indexes, the identity lookups), each with the number of sorted runs it holds now: a point
    // read consults every run's filter, and a listing merges every run as it steps.
    std::vector<std::pair<std::string, int>> read_family_runs() const;
    // Merges each of those families that holds more than one sorted run into one run. Blocking.
    // `cancel` set from another thread ends it early (errc::unavailable); what was merged by then
    // stays merged, and nothing a read sees changes either way.
    result<void> merge_read_families(const std::atomic<bool>& cancel);

    // ---- local state of this node (not a read model): opaque blobs under a namespace ----
    // Used by the command path for its per-partition snapshots: all blobs and the offset in one batch.
    result<void> put_local(const std::string& ns, const std::vector<std::pair<std::string, std::string>>& kvs);
    // The same for several namespaces, in one batch: (namespace, its blobs) each, and without the
    // WAL, like the read models: only for what the topic can give back (the writer's snapshots).
    // The families flush together, so after a crash the store holds some earlier flush's batches
    // whole (a snapshot's entries with the offset they reflect) and nothing of the later ones.
    result<void> put_local(
        const std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>& batches);
    std::vector<std::pair<std::string, std::string>> scan_local(const std::string& ns, const std::string& prefix) const;
    // fn(key without ns, value) for each key under prefix in key order; the views live for the call.
    void each_local(const std::string& ns, const std::string& prefix,
                    const std::function<void(std::string_view, std::string_view)>& fn) const;
    std::optional<std::string> get_local(const std::string& ns, const std::string& key) const;

    struct impl;

private:
    explicit store(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace carelog::projections
