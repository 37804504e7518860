// The web console's built files (web/ built by Vite), loaded into memory once at start and served
// by handle() for GET requests outside the API: files by their path, and index.html for every other
// page path (the single-page app routes in the browser: /, /staff, /portal/register, /reset, ...).
// Hashed build output under /assets/ is cached for a year (immutable); index.html is revalidated on
// every load (no-cache + ETag). A file's precompressed neighbour `<name>.gz` (made by ops/build when
// it is smaller) is sent to clients that accept gzip. Every answer carries a strict
// Content-Security-Policy: the console loads nothing but its own files and talks only to its origin.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "carelog/api/app.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api {

class static_site {
public:
    // Reads every regular file under `dir` (symbolic links are not followed). errc::not_found when
    // `dir` has no index.html.
    static result<std::shared_ptr<const static_site>> load(const std::filesystem::path& dir);

    // The answer for a GET of a non-API path; nullopt for other methods and for paths under /v1.
    std::optional<http_response> answer(const http_request& req) const;

    std::size_t file_count() const noexcept { return files_.size(); }

    static constexpr const char* content_security_policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

private:
    struct file {
        std::string body;
        std::string gzipped;  // empty = not worth it
        std::string content_type;
        std::string etag;
    };
    std::map<std::string, file, std::less<>> files_;  // "/assets/index-1a2b.js" -> file
};

}  // namespace carelog::api
