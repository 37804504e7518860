// The messaging read models: threads (listed for their client, their staff member and every staff
// member who wrote in them) and their messages, oldest first, paged.
#include "store_impl.hpp"

namespace carelog::projections {

result<void> store::impl::apply_threads(write_set& w, const events::envelope& e) {
    const auto* x = std::get_if<events::MessageSent>(&e.data);
    if (!x) return {};
    namespace ik = client_views::index_kind;
    const auto& agency = e.agency_id;
    const auto at = format_rfc3339(e.occurred_at);
    const auto tkey = keys::make("th", agency, x->thread_id);
    auto t = read_json(w, clients, tkey);
    if (!t) return std::unexpected(t.error());
    json::object thread;
    if (*t) {
        thread = std::move(**t);
    } else {
        thread = json::object{{"id", x->thread_id},         {"client_id", e.aggregate_id},
                              {"staff_id", x->staff_id},    {"started_at", at},
                              {"started_seq", e.sequence}, {"staff_ids", json::array{}},
                              {"message_count", 0}};
        w.put(client_index,
              keys::make(ik::client_threads, agency, e.aggregate_id) + keys::be64(e.sequence) + keys::make(x->thread_id),
              x->thread_id);
    }
    // the thread is listed for its staff member and for every staff member who wrote in it
    auto& listed = thread["staff_ids"].as_array();
    auto list_for = [&](const std::string& staff_id) {
        for (const auto& v : listed)
            if (v.is_string() && v.get_string() == staff_id) return;
        listed.emplace_back(staff_id);
        w.put(client_index,
              keys::make(ik::staff_threads, agency, staff_id) + keys::be64(u64_of(thread, "started_seq")) +
                  keys::make(x->thread_id),
              x->thread_id);
    };
    list_for(str_of(thread, "staff_id"));
    if (x->sender_kind == events::sender_kind::staff) list_for(x->sender_id);
    thread["last_message_at"] = at;
    thread["message_count"] = u64_of(thread, "message_count") + 1;
    w.put(clients, tkey, json::serialize(thread));
    w.put(messages, keys::make(agency, x->thread_id) + keys::be64(e.sequence),
          json::serialize(json::object{{"id", x->message_id},
                                       {"thread_id", x->thread_id},
                                       {"client_id", e.aggregate_id},
                                       {"sender_kind", x->sender_kind},
                                       {"sender_id", x->sender_id},
                                       {"body", x->body},
                                       {"sent_at", at}}));
    return {};
}

// ---------------------------------------------------------------- thread queries

namespace {
json::object thread_out(json::object t) {
    t.erase("started_seq");
    return t;
}
}  // namespace

std::optional<json::object> store::thread(const std::string& agency_id, const std::string& thread_id) const {
    auto t = or_throw(impl_->read_json(impl_->clients, keys::make("th", agency_id, thread_id)));
    if (!t) return std::nullopt;
    return thread_out(std::move(*t));
}

json::array store::client_threads(const std::string& agency_id, const std::string& client_id) const {
    json::array out;
    for (auto& v :
         impl_->views_listed("th", agency_id, keys::make(client_views::index_kind::client_threads, agency_id, client_id)))
        out.emplace_back(thread_out(std::move(v.as_object())));
    return out;
}

json::array store::staff_threads(const std::string& agency_id, const std::string& staff_id) const {
    json::array out;
    for (auto& v :
         impl_->views_listed("th", agency_id, keys::make(client_views::index_kind::staff_threads, agency_id, staff_id)))
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

}  // namespace carelog::projections
