#include "carelog/base/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace carelog {

namespace {
// One digest context per thread, with SHA-256 fetched once: EVP_DigestInit_ex(ctx, EVP_sha256())
// looks the algorithm up in OpenSSL's provider store on every call (a lock and a hash lookup),
// which cost more than hashing a 600-byte event.
struct local_hasher {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    local_hasher() {
        if (!md || !ctx) throw std::runtime_error("SHA-256 unavailable");
    }
    ~local_hasher() {
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
    }
    local_hasher(const local_hasher&) = delete;
    local_hasher& operator=(const local_hasher&) = delete;
};
}  // namespace

sha256_digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts) {
    thread_local local_hasher h;
    sha256_digest out{};
    unsigned int len = 0;
    bool ok = EVP_DigestInit_ex2(h.ctx, h.md, nullptr) == 1;
    for (const auto& p : parts) ok = ok && EVP_DigestUpdate(h.ctx, p.data(), p.size()) == 1;
    ok = ok && EVP_DigestFinal_ex(h.ctx, out.data(), &len) == 1;
    if (!ok || len != out.size()) throw std::runtime_error("SHA-256 failed");
    return out;
}

sha256_digest sha256(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) { return sha256({a, b}); }

sha256_digest sha256(std::span<const std::uint8_t> data) { return sha256({data}); }

sha256_digest sha256(std::string_view data) {
    return sha256(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static const char* hex = "0123456789abcdef";
    std::string s;
    s.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        s.push_back(hex[b >> 4]);
        s.push_back(hex[b & 0xF]);
    }
    return s;
}

bool from_hex(std::string_view hex, std::span<std::uint8_t> out) {
    if (hex.size() != out.size() * 2) return false;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

}  // namespace carelog
