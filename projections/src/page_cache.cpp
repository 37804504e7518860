#include "page_cache.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>

#include "keys.hpp"

namespace carelog::projections {

page_cache::page_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

std::string page_cache::key_of(std::string_view listing, std::initializer_list<const std::optional<std::string>*> params,
                               int limit, std::string_view after) {
    keys::tuple k;
    k.add(listing);
    for (const auto* p : params) k.add(*p ? "+" + **p : std::string("-"));  // absent and "" differ
    k.add(std::to_string(limit)).add(after);
    return k.str();
}

page_cache::lookup page_cache::find(const std::string& agency, const std::string& key) const {
    std::lock_guard lock(mu_);
    auto a = agencies_.find(agency);
    if (a == agencies_.end()) {
        ++misses_;
        return {};
    }
    if (auto p = a->second.pages.find(key); p != a->second.pages.end()) {
        ++hits_;
        return {p->second.p, a->second.version};
    }
    ++misses_;
    return {nullptr, a->second.version};
}

std::size_t page_cache::bytes_of(const std::string& key, const page& p) {
    std::size_t n = key.size() + p.next_cursor.value_or("").size();
    for (const auto& s : p.stored) n += s.size();
    for (const auto& v : p.items) n += boost::json::serialize(v).size();  // parsed views: about their text
    return n;
}

void page_cache::keep(const std::string& agency, std::uint64_t version, std::string key, std::shared_ptr<const page> p) {
    const std::size_t size = bytes_of(key, *p);
    std::lock_guard lock(mu_);
    if (size > max_bytes_) return;  // also: nothing is kept at 0
    auto& a = agencies_[agency];
    if (a.version != version) return;  // the agency changed while the page was read
    auto [it, inserted] = a.pages.try_emplace(key, held{std::move(p), size});
    if (!inserted) return;  // another reader kept the same answer first
    bytes_ += size;
    ++pages_;
    order_.push_back({agency, std::move(key), version});
    evict_locked();
}

void page_cache::changed(const std::string& agency) {
    std::lock_guard lock(mu_);
    auto& a = agencies_[agency];
    ++a.version;
    for (const auto& [key, h] : a.pages) bytes_ -= h.bytes;
    pages_ -= a.pages.size();
    a.pages.clear();
}

void page_cache::set_max_bytes(std::size_t max_bytes) {
    std::lock_guard lock(mu_);
    max_bytes_ = max_bytes;
    evict_locked();
}

void page_cache::evict_locked() {
    // The oldest kept pages go first; entries whose page changed() already dropped are skipped.
    while (bytes_ > max_bytes_ && !order_.empty()) {
        auto k = std::move(order_.front());
        order_.pop_front();
        auto a = agencies_.find(k.agency);
        if (a == agencies_.end() || a->second.version != k.version) continue;
        auto p = a->second.pages.find(k.key);
        if (p == a->second.pages.end()) continue;
        bytes_ -= p->second.bytes;
        --pages_;
        a->second.pages.erase(p);
    }
    // The order keeps one entry per page kept since; once most of them name dropped pages, only
    // the live ones stay, so it stays within a small multiple of the pages held.
    if (order_.size() > 2 * pages_ + 64) {
        std::erase_if(order_, [&](const kept& k) {
            auto a = agencies_.find(k.agency);
            return a == agencies_.end() || a->second.version != k.version || !a->second.pages.contains(k.key);
        });
    }
}

page_cache::counts page_cache::totals() const {
    std::lock_guard lock(mu_);
    return {hits_, misses_, pages_, bytes_};
}

}  // namespace carelog::projections
