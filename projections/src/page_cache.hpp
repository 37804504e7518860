#pragma once
// Listing pages kept in memory per agency, as a static file server keeps a file in the page cache:
// a page read from the store is kept until the next applied record of its agency, so a page asked
// for again before that is answered without a read of the index.
//
// Exactness: store::apply_batch calls changed(agency) for every agency of a written batch, after
// the batch is in RocksDB and before anyone waiting for it is answered, which drops the agency's
// pages and moves its version on. A reader takes the version (find(), when nothing is kept)
// before it reads the store, and keep() only holds a page whose agency's version is still that
// one. A page read across a change is therefore never kept, and a kept page is always the store's
// answer as of the last applied record of its agency: read-your-own-writes holds as it does for
// reads of the store.
//
// Bounded: at most `max_bytes` of page bytes; beyond that the oldest kept pages go first. With
// max_bytes 0 nothing is kept.
#include <carelog/projections/store.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace carelog::projections {

class page_cache {
public:
    explicit page_cache(std::size_t max_bytes = 0);

    // What a listing is keyed by besides its agency: which listing, every parameter that decides
    // its answer (`params`, each present one as its own component), the limit and the cursor.
    static std::string key_of(std::string_view listing, std::initializer_list<const std::optional<std::string>*> params,
                              int limit, std::string_view after);

    // The page kept for (agency, key), if any; otherwise the agency's version now, to pass to
    // keep() with the page then read from the store (so it is taken before that read).
    struct lookup {
        std::shared_ptr<const page> kept;
        std::uint64_t version = 0;
    };
    lookup find(const std::string& agency, const std::string& key) const;
    // Keeps p unless the agency changed since find() gave `version`.
    void keep(const std::string& agency, std::uint64_t version, std::string key, std::shared_ptr<const page> p);
    // A batch with records of the agency has been written: its pages are no longer the answer.
    void changed(const std::string& agency);

    void set_max_bytes(std::size_t max_bytes);

    struct counts {
        std::uint64_t hits = 0, misses = 0;
        std::size_t pages = 0, bytes = 0;
    };
    counts totals() const;

private:
    struct held {
        std::shared_ptr<const page> p;
        std::size_t bytes;  // bytes_of, taken once when kept
    };
    struct agency_pages {
        std::uint64_t version = 0;
        std::unordered_map<std::string, held> pages;
    };
    static std::size_t bytes_of(const std::string& key, const page& p);
    void evict_locked();

    mutable std::mutex mu_;
    std::size_t max_bytes_;
    std::size_t bytes_ = 0, pages_ = 0;
    mutable std::uint64_t hits_ = 0, misses_ = 0;
    std::unordered_map<std::string, agency_pages> agencies_;
    // Kept pages in the order they were kept, (agency, key, version): the oldest go first when
    // over budget; an entry whose page is gone (dropped by changed()) is skipped.
    struct kept {
        std::string agency, key;
        std::uint64_t version;
    };
    std::deque<kept> order_;
};

}  // namespace carelog::projections
