// The aggregates of one kind in an agency's state (its staff, its clients), by id.
//
// Everywhere but the writer every aggregate is in memory and this is a plain map. The writer keeps
// only the recently used ones in memory and gives the map a `source` that reads any other back from
// its snapshot store, so a lookup a rule makes finds every aggregate that exists, in memory or not:
// `decide` and `evolve` stay unaware of what is in memory. The map also holds every id it has
// (compactly, as 64-bit hashes), so asking for an id that does not exist (a new client, a created
// staff member in a rebuild) never reaches the source.
//
// Iteration sees what is in memory only. No rule iterates: agency-wide questions go through the
// indexes of agency_state. The auditors' rebuild and the tests hold everything in memory.
// References to values stay valid while an aggregate is read back; iterators may not.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace carelog::aggregates {

// A set of 64-bit id hashes, open addressing: 16 bytes per id at most, no allocation per id.
// Two ids with the same hash count once; that only makes a lookup of the second ask the source.
class id_hash_set {
public:
    bool contains(std::uint64_t h) const {
        if (slots_.empty()) return false;
        h = h ? h : 1;
        for (std::size_t i = h & mask(); slots_[i] != 0; i = (i + 1) & mask())
            if (slots_[i] == h) return true;
        return false;
    }
    bool insert(std::uint64_t h) {
        h = h ? h : 1;
        if ((size_ + 1) * 2 > slots_.size()) grow();
        std::size_t i = h & mask();
        for (; slots_[i] != 0; i = (i + 1) & mask())
            if (slots_[i] == h) return false;
        slots_[i] = h;
        ++size_;
        return true;
    }
    std::size_t size() const { return size_; }
    void reserve(std::size_t n) {
        while (n * 2 > slots_.size()) grow();
    }
    void clear() {
        slots_.clear();
        size_ = 0;
    }
    bool operator==(const id_hash_set& o) const {
        if (size_ != o.size_) return false;
        for (auto h : slots_)
            if (h != 0 && !o.contains(h)) return false;
        return true;
    }

private:
    std::size_t mask() const { return slots_.size() - 1; }
    void grow() {
        std::vector<std::uint64_t> old(slots_.empty() ? 16 : slots_.size() * 2, 0);
        old.swap(slots_);
        for (auto h : old)
            if (h != 0) {
                std::size_t i = h & mask();
                while (slots_[i] != 0) i = (i + 1) & mask();
                slots_[i] = h;
            }
    }
    std::vector<std::uint64_t> slots_;  // 0 = empty; a hash of 0 is stored as 1
    std::size_t size_ = 0;
};

template <class T>
class aggregate_map {
public:
    using map_type = std::unordered_map<std::string, T>;
    using iterator = typename map_type::iterator;
    using const_iterator = typename map_type::const_iterator;
    using value_type = typename map_type::value_type;
    // Reads an aggregate that is not in memory: its last committed state, nullopt when it has none.
    using source = std::function<std::optional<T>(const std::string& id)>;

    // ---- lookups: an aggregate that exists but is not in memory is read back first ----
    iterator find(const std::string& id) { return find_hashed(id, hash(id)); }
    const_iterator find(const std::string& id) const { return const_cast<aggregate_map*>(this)->find(id); }
    bool contains(const std::string& id) const { return find(id) != end(); }
    std::size_t count(const std::string& id) const { return contains(id) ? 1 : 0; }
    T& at(const std::string& id) {
        auto it = find(id);
        if (it == end()) throw std::out_of_range("no aggregate '" + id + "'");
        return it->second;
    }
    const T& at(const std::string& id) const { return const_cast<aggregate_map*>(this)->at(id); }

    // ---- what is in memory ----
    iterator begin() { return resident_.begin(); }
    iterator end() { return resident_.end(); }
    const_iterator begin() const { return resident_.begin(); }
    const_iterator end() const { return resident_.end(); }
    // How many exist, in memory or not.
    std::size_t size() const { return ids_.size(); }
    bool empty() const { return ids_.size() == 0; }
    std::size_t resident() const { return resident_.size(); }
    bool in_memory(const std::string& id) const { return resident_.contains(id); }
    // The aggregate if it is in memory, end() if not: nothing is read back and no use is counted
    // (the writer's snapshots read what changed, which is always in memory, without it looking used).
    iterator find_resident(const std::string& id) { return resident_.find(id); }

    // ---- changes ----
    // `value` is forwarded, not taken, so `emplace(x.id, std::move(x))` reads the id first.
    template <class V>
    std::pair<iterator, bool> emplace(const std::string& id, V&& value) {
        ids_.insert(hash(id));
        return resident_.emplace(id, std::forward<V>(value));
    }
    template <class V>
    std::pair<iterator, bool> insert_or_assign(const std::string& id, V&& value) {
        ids_.insert(hash(id));
        return resident_.insert_or_assign(id, std::forward<V>(value));
    }
    void reserve(std::size_t n) {
        ids_.reserve(n);
        if (!source_) resident_.reserve(n);
    }

    // ---- the writer's memory management ----
    // Where aggregates not in memory are read from; without one, every aggregate is in memory.
    void set_source(source s) { source_ = std::make_shared<const source>(std::move(s)); }
    bool has_source() const { return source_ != nullptr; }
    // Records that `id` exists without holding it: it is read from the source when asked for.
    void add_absent(const std::string& id) { ids_.insert(hash(id)); }
    void reserve_ids(std::size_t n) { ids_.reserve(n); }
    // Drops `id` from memory (it must be readable from the source). False when it was not in memory.
    bool evict(const std::string& id) { return resident_.erase(id) > 0; }
    // Whether `id` was looked up since the last forget_use (tracked only with a source).
    bool used_recently(const std::string& id) const { return used_.contains(hash(id)); }
    void forget_use() { used_.clear(); }

    bool operator==(const aggregate_map& o) const { return ids_ == o.ids_ && resident_ == o.resident_; }

private:
    static std::uint64_t hash(const std::string& id) { return std::hash<std::string>{}(id); }
    // An id not among ids_ is nowhere: the common lookup of a new aggregate's id ends in the
    // compact hash set, without a probe of the resident map. Every resident id is among ids_.
    iterator find_hashed(const std::string& id, std::uint64_t h) {
        if (source_) used_.insert(h);
        if (!ids_.contains(h)) return resident_.end();
        auto it = resident_.find(id);
        if (it != resident_.end() || !source_) return it;
        auto loaded = (*source_)(id);
        if (!loaded) return resident_.end();
        return resident_.emplace(id, std::move(*loaded)).first;
    }

    map_type resident_;
    id_hash_set ids_;   // every id, in memory or not
    id_hash_set used_;  // looked up since forget_use (only with a source)
    std::shared_ptr<const source> source_;
};

}  // namespace carelog::aggregates
