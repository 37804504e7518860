#include "carelog/api/static_files.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <boost/beast/http/field.hpp>

#include "carelog/api/request.hpp"
#include "carelog/base/sha256.hpp"

namespace carelog::api {
namespace {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

constexpr std::uintmax_t max_file_size = 32u << 20;

std::string content_type_of(const fs::path& p) {
    static const std::map<std::string, std::string, std::less<>> types = {
        {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},           {".webmanifest", "application/manifest+json"},
        {".svg", "image/svg+xml"},               {".png", "image/png"},
        {".ico", "image/x-icon"},                {".jpg", "image/jpeg"},
        {".woff2", "font/woff2"},                {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
    };
    auto it = types.find(p.extension().string());
    return it == types.end() ? "application/octet-stream" : it->second;
}

result<std::string> read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return fail(errc::internal, "cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool accepts_gzip(const http_request& req) {
    auto h = header(req, "Accept-Encoding");
    if (!h) return false;
    // "gzip" listed and not refused with q=0
    std::string_view v = *h;
    for (std::size_t pos = 0; pos < v.size();) {
        auto comma = v.find(',', pos);
        auto item = v.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        pos = comma == std::string_view::npos ? v.size() : comma + 1;
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        auto semi = item.find(';');
        auto coding = item.substr(0, semi);
        while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
        if (coding != "gzip") continue;
        if (semi == std::string_view::npos) return true;
        auto params = item.substr(semi + 1);
        auto q = params.find("q=");
        if (q == std::string_view::npos) return true;
        auto num = params.substr(q + 2);
        return std::strtod(std::string(num.substr(0, num.find_first_of(" ;"))).c_str(), nullptr) > 0;
    }
    return false;
}

std::string short_hex(const sha256_digest& d) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < 12; ++i) {
        out += digits[d[i] >> 4];
        out += digits[d[i] & 0xf];
    }
    return out + "\"";
}

}  // namespace

result<std::shared_ptr<const static_site>> static_site::load(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "index.html", ec))
        return fail(errc::not_found, "no index.html in " + dir.string());
    // The console's source (web/) has an index.html too, beside its package.json, its
    // node_modules and its tests: none of that is for a browser, and node_modules alone is
    // ~100 MB that would sit in memory.
    if (fs::exists(dir / "package.json", ec))
        return fail(errc::validation,
                    dir.string() + " is the web console's source, not its build (ops/build builds it into build/web)");
    auto site = std::make_shared<static_site>();
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::none, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const auto& entry = *it;
        const fs::path& p = entry.path();
        if (p.filename().native().starts_with('.')) {  // hidden files and folders are never served
            if (entry.is_directory()) it.disable_recursion_pending();
            continue;
        }
        if (entry.is_symlink() || !entry.is_regular_file()) continue;
        if (p.extension() == ".gz") continue;  // read with the file it compresses
        if (entry.file_size() > max_file_size) return fail(errc::internal, p.string() + " is too large to serve");
        auto body = read_all(p);
        if (!body) return std::unexpected(body.error());
        file f;
        f.body = std::move(*body);
        f.content_type = content_type_of(p);
        f.etag = short_hex(sha256(f.body));
        fs::path gz = p;
        gz += ".gz";
        if (fs::is_regular_file(gz, ec) && !fs::is_symlink(gz, ec)) {
            auto z = read_all(gz);
            if (!z) return std::unexpected(z.error());
            if (z->size() < f.body.size()) f.gzipped = std::move(*z);
        }
        std::string key = "/" + fs::relative(p, dir).generic_string();
        site->files_.emplace(std::move(key), std::move(f));
    }
    if (ec) return fail(errc::internal, "reading " + dir.string() + ": " + ec.message());
    return std::shared_ptr<const static_site>(std::move(site));
}

std::optional<http_response> static_site::answer(const http_request& req) const {
    if (req.method() != http::verb::get) return std::nullopt;
    std::string_view target(req.target().data(), req.target().size());
    auto path = target.substr(0, target.find_first_of("?#"));
    if (path == "/v1" || path.starts_with("/v1/")) return std::nullopt;

    const file* f = nullptr;
    bool hashed = false;
    if (auto it = files_.find(path); it != files_.end() && path != "/index.html") {
        f = &it->second;
        hashed = path.starts_with("/assets/");
    } else if (path.starts_with("/assets/") || path.find('.') != std::string_view::npos) {
        return std::nullopt;  // a missing file is 404, never the page
    } else {
        f = &files_.at("/index.html");
    }

    http_response res{http::status::ok, req.version()};
    res.set(http::field::content_type, f->content_type);
    res.set(http::field::cache_control, hashed ? "public, max-age=31536000, immutable" : "no-cache");
    res.set(http::field::etag, f->etag);
    res.set("Content-Security-Policy", content_security_policy);
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");  // page URLs carry invitation and reset tokens
    res.set("X-Frame-Options", "DENY");
    if (!f->gzipped.empty()) res.set(http::field::vary, "Accept-Encoding");
    if (auto inm = header(req, "If-None-Match"); inm && *inm == f->etag) {
        res.result(http::status::not_modified);
        return res;
    }
    if (!f->gzipped.empty() && accepts_gzip(req)) {
        res.set(http::field::content_encoding, "gzip");
        res.body() = f->gzipped;
    } else {
        res.body() = f->body;
    }
    return res;
}

}  // namespace carelog::api
