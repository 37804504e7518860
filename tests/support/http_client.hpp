// A small blocking HTTP/1.1 client for integration tests and benchmarks (Boost.Beast), one
// connection per client, reconnecting when the server closed it. Every connect, write and read is
// bounded by `timeout`: a server that never answers fails the caller (beast::error::timeout)
// instead of holding a test or a benchmark for good.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace carelog::testing {

struct http_reply {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names

    boost::json::value json() const { return boost::json::parse(body); }
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class http_client {
public:
    http_client(std::string host, unsigned short port) : host_(std::move(host)), port_(port) {}

    std::map<std::string, std::string> default_headers;
    std::chrono::seconds timeout{120};

    http_reply request(const std::string& method, const std::string& target, const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {},
                       const std::string& content_type = "application/json") {
        namespace http = boost::beast::http;
        for (int attempt = 0; attempt < 2; ++attempt) {
            try {
                ensure_connected();
                http::request<http::string_body> req{http::string_to_verb(method), target, 11};
                req.set(http::field::host, host_);
                req.keep_alive(true);
                for (const auto& [k, v] : default_headers) req.set(k, v);
                for (const auto& [k, v] : headers) req.set(k, v);
                if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
                    req.set(http::field::content_type, content_type);
                    req.body() = body;
                    req.prepare_payload();
                }
                boost::beast::flat_buffer buf;
                http::response_parser<http::string_body> parser;
                parser.body_limit(64u << 20);
                bounded([&](auto done) { http::async_write(*stream_, req, done); });
                bounded([&](auto done) { http::async_read(*stream_, buf, parser, done); });
                auto res = parser.release();
                http_reply out;
                out.status = static_cast<int>(res.result_int());
                out.body = res.body();
                for (const auto& f : res) {
                    std::string name(f.name_string());
                    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                    out.headers[name] = std::string(f.value());
                }
                if (!res.keep_alive()) stream_.reset();
                return out;
            } catch (const boost::system::system_error& e) {
                stream_.reset();
                // A closed keep-alive connection is tried once more; a request that timed out may
                // have been acted on, so it is not sent again.
                if (attempt == 1 || e.code() == boost::beast::error::timeout) throw;
            }
        }
        return {};
    }

    http_reply get(const std::string& target, const std::map<std::string, std::string>& h = {}) {
        return request("GET", target, "", h);
    }
    http_reply post(const std::string& target, const boost::json::value& body,
                    const std::map<std::string, std::string>& h = {}) {
        return request("POST", target, boost::json::serialize(body), h);
    }
    http_reply put(const std::string& target, const boost::json::value& body,
                   const std::map<std::string, std::string>& h = {}) {
        return request("PUT", target, boost::json::serialize(body), h);
    }
    http_reply patch(const std::string& target, const boost::json::value& body,
                     const std::map<std::string, std::string>& h = {}) {
        return request("PATCH", target, boost::json::serialize(body), h);
    }

private:
    // Runs one asynchronous operation on this client's own io_context under the stream's timer,
    // throwing what it failed with.
    template <class Start>
    void bounded(Start start) {
        boost::system::error_code ec;
        stream_->expires_after(timeout);
        start([&ec](const boost::system::error_code& e, auto&&...) { ec = e; });
        ioc_.restart();
        ioc_.run();
        if (ec) throw boost::system::system_error(ec);
    }

    void ensure_connected() {
        if (stream_) return;
        boost::asio::ip::tcp::resolver resolver(ioc_);
        auto endpoints = resolver.resolve(host_, std::to_string(port_));
        stream_.emplace(ioc_);
        bounded([&](auto done) { stream_->async_connect(endpoints, done); });
    }

    std::string host_;
    unsigned short port_;
    boost::asio::io_context ioc_;
    std::optional<boost::beast::tcp_stream> stream_;
};

}  // namespace carelog::testing
