// The web console's files as carelogd serves them: pages fall back to index.html, hashed assets
// are cached for good, gzip when accepted, a strict CSP, and the API untouched.
#include "api_fixture.hpp"

#include <fstream>

#include "carelog/api/static_files.hpp"

using namespace carelog;
using namespace carelog::api;
using namespace carelog::api::testing;
using http::verb;

namespace {

void write(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

const std::string index_html = "<!doctype html><title>carelog</title><script type=module src=/assets/index-abc123.js></script>";
const std::string script = "console.log('carelog');" + std::string(2000, ' ');

struct site_fixture : api_fixture {
    temp_dir web;
    site_fixture() {
        write(std::filesystem::path(web.str()) / "index.html", index_html);
        write(std::filesystem::path(web.str()) / "assets" / "index-abc123.js", script);
        write(std::filesystem::path(web.str()) / "assets" / "index-abc123.js.gz", "GZIPPED-BYTES");
        write(std::filesystem::path(web.str()) / "assets" / "style-9f.css", "body{}");
        write(std::filesystem::path(web.str()) / "assets" / "style-9f.css.gz", "a gzip larger than the file itself");
        write(std::filesystem::path(web.str()) / "favicon.svg", "<svg/>");
        auto site = static_site::load(std::filesystem::path(web.str()));
        REQUIRE(site.has_value());
        ctx->web = *site;
    }
};

}  // namespace

TEST_CASE("web: pages answer index.html, never cached without revalidation, with a strict CSP", "[api][web]") {
    site_fixture f;
    for (const char* page : {"/", "/staff", "/clients/import", "/portal", "/portal/register?token=abc.def", "/reset?token=x.y"}) {
        INFO(page);
        auto res = f.request(verb::get, page);
        REQUIRE(res.result_int() == 200);
        CHECK(res.body() == index_html);
        CHECK(header_of(res, "Content-Type") == "text/html; charset=utf-8");
        CHECK(header_of(res, "Cache-Control") == "no-cache");
        const std::string csp = header_of(res, "Content-Security-Policy");
        CHECK(csp.find("default-src 'none'") != std::string::npos);
        CHECK(csp.find("script-src 'self'") != std::string::npos);
        CHECK(csp.find("unsafe-inline") == std::string::npos);
        CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
        CHECK(header_of(res, "Referrer-Policy") == "no-referrer");
        CHECK(header_of(res, "X-Content-Type-Options") == "nosniff");
    }
    // a revalidation with the ETag answers 304 without the page
    auto etag = header_of(f.request(verb::get, "/"), "ETag");
    REQUIRE(!etag.empty());
    auto again = f.request(verb::get, "/portal", "", {{"If-None-Match", etag}});
    CHECK(again.result_int() == 304);
    CHECK(again.body().empty());
}

TEST_CASE("web: hashed assets are immutable, gzip goes to clients that accept it and only where it pays", "[api][web]") {
    site_fixture f;
    auto plain = f.request(verb::get, "/assets/index-abc123.js");
    REQUIRE(plain.result_int() == 200);
    CHECK(plain.body() == script);
    CHECK(header_of(plain, "Content-Type") == "text/javascript; charset=utf-8");
    CHECK(header_of(plain, "Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(header_of(plain, "Content-Encoding").empty());
    CHECK(header_of(plain, "Vary") == "Accept-Encoding");

    auto zipped = f.request(verb::get, "/assets/index-abc123.js", "", {{"Accept-Encoding", "br, gzip, deflate"}});
    CHECK(zipped.body() == "GZIPPED-BYTES");
    CHECK(header_of(zipped, "Content-Encoding") == "gzip");
    auto refused = f.request(verb::get, "/assets/index-abc123.js", "", {{"Accept-Encoding", "gzip;q=0"}});
    CHECK(refused.body() == script);

    // a .gz that is not smaller is not used
    auto css = f.request(verb::get, "/assets/style-9f.css", "", {{"Accept-Encoding", "gzip"}});
    CHECK(css.body() == "body{}");
    CHECK(header_of(css, "Content-Encoding").empty());
    CHECK(header_of(css, "Content-Type") == "text/css; charset=utf-8");
    // files outside assets/ are revalidated
    CHECK(header_of(f.request(verb::get, "/favicon.svg"), "Cache-Control") == "no-cache");
}

TEST_CASE("web: missing files are 404 problems, the API is untouched, other methods are not pages", "[api][web]") {
    site_fixture f;
    CHECK(is_problem(f.request(verb::get, "/assets/index-gone.js"), 404));
    CHECK(is_problem(f.request(verb::get, "/robots.txt"), 404));
    CHECK(is_problem(f.request(verb::get, "/assets/../../etc/passwd"), 404));
    CHECK(is_problem(f.request(verb::get, "/v1/nothing-here"), 404));
    CHECK(is_problem(f.request(verb::get, "/v1/staff"), 401));
    auto health = f.request(verb::get, "/healthz");
    CHECK(health.result_int() == 200);
    CHECK(header_of(health, "Cache-Control") == "no-store");
    CHECK(is_problem(f.request(verb::post, "/portal", "{}"), 404));
    // the gzip files themselves are not pages of their own
    CHECK(is_problem(f.request(verb::get, "/assets/index-abc123.js.gz"), 404));
}

TEST_CASE("web: without index.html there is nothing to serve, and no site means API only", "[api][web]") {
    temp_dir empty;
    auto none = static_site::load(std::filesystem::path(empty.str()));
    REQUIRE(!none.has_value());
    CHECK(none.error().code == errc::not_found);
    api_fixture f;
    CHECK(is_problem(f.request(verb::get, "/"), 404));
}

TEST_CASE("web: the console's source is refused, and hidden files are never served", "[api][web]") {
    temp_dir source;
    const std::filesystem::path src(source.str());
    write(src / "index.html", index_html);
    write(src / "package.json", R"({"name":"carelog-web"})");
    write(src / "node_modules" / "react" / "index.js", "module.exports = {};");
    auto refused = static_site::load(src);
    REQUIRE(!refused.has_value());
    CHECK(refused.error().code == errc::validation);
    CHECK(refused.error().detail.find("source") != std::string::npos);

    temp_dir built;
    const std::filesystem::path out(built.str());
    write(out / "index.html", index_html);
    write(out / "assets" / "index-abc123.js", script);
    write(out / ".env", "SECRET=1");
    write(out / ".vite" / "manifest.json", "{}");
    write(out / "assets" / ".cache", "x");
    auto site = static_site::load(out);
    REQUIRE(site.has_value());
    CHECK((*site)->file_count() == 2);
    api_fixture f;
    f.ctx->web = *site;
    CHECK(f.request(verb::get, "/assets/index-abc123.js").body() == script);
    CHECK(is_problem(f.request(verb::get, "/.env"), 404));
    CHECK(is_problem(f.request(verb::get, "/.vite/manifest.json"), 404));
    CHECK(is_problem(f.request(verb::get, "/assets/.cache"), 404));
}
