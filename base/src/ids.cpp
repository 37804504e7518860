// UUIDv7 generation, clock, RFC 3339 formatting and parsing.
#include "carelog/base/ids.hpp"

#include <openssl/sha.h>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace carelog {

bool is_uuid(std::string_view s) noexcept {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

micros system_clock::now() {
    using namespace std::chrono;
    return duration_cast<microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {
// The random part of ids, drawn from the kernel 64 ids at a time instead of a getrandom(2) per
// id (a syscall on the writer's lane for every event). Ids are public names, not secrets; tokens
// and keys take their bytes from libsodium directly.
struct random_pool {
    unsigned char bytes[1024];
    std::size_t used = sizeof bytes;
    void take(unsigned char* out, std::size_t n) {
        if (used + n > sizeof bytes) {
            randombytes_buf(bytes, sizeof bytes);
            used = 0;
        }
        std::memcpy(out, bytes + used, n);
        sodium_memzero(bytes + used, n);
        used += n;
    }
};
}  // namespace

std::string random_ids::next_uuid() {
    static const bool ready = sodium_init() >= 0;
    (void)ready;
    thread_local random_pool pool;
    unsigned char b[16];
    pool.take(b, sizeof b);
    auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);  // version 7
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // variant 10
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[b[i] >> 4]);
        out.push_back(hex[b[i] & 0xF]);
    }
    return out;
}

std::string uuid_v5(std::string_view name) {
    // carelog's namespace UUID: 6f1c0b7e-5a0d-4c8e-9b51-7d3f2a9c4e10
    static const unsigned char ns[16] = {0x6f, 0x1c, 0x0b, 0x7e, 0x5a, 0x0d, 0x4c, 0x8e,
                                         0x9b, 0x51, 0x7d, 0x3f, 0x2a, 0x9c, 0x4e, 0x10};
    std::string input(reinterpret_cast<const char*>(ns), 16);
    input.append(name);
    unsigned char h[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), h);
    h[6] = static_cast<unsigned char>((h[6] & 0x0F) | 0x50);
    h[8] = static_cast<unsigned char>((h[8] & 0x3F) | 0x80);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[h[i] >> 4]);
        out.push_back(hex[h[i] & 0xF]);
    }
    return out;
}

std::string format_rfc3339(micros t) {
    // Civil time from the count (std::chrono's calendar, no gmtime_r and no printf: every view a
    // projection stores formats its times here).
    using namespace std::chrono;
    const sys_time<microseconds> tp{microseconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss<microseconds> hms{tp - day};
    const int y = static_cast<int>(ymd.year());
    const auto frac = static_cast<long>(hms.subseconds().count());
    if (y < 0 || y > 9999) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lldZ", y, static_cast<unsigned>(ymd.month()),
                      static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                      static_cast<long>(hms.minutes().count()), static_cast<long long>(hms.seconds().count()));
        std::string out(buf);
        out.insert(out.size() - 1, "." + std::to_string(1000000 + frac).substr(1));
        return out;
    }
    std::string out(27, '0');  // YYYY-MM-DDTHH:MM:SS.ffffffZ
    auto put = [&](std::size_t at, long v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
    };
    put(0, y, 4);
    out[4] = '-';
    put(5, static_cast<unsigned>(ymd.month()), 2);
    out[7] = '-';
    put(8, static_cast<unsigned>(ymd.day()), 2);
    out[10] = 'T';
    put(11, hms.hours().count(), 2);
    out[13] = ':';
    put(14, hms.minutes().count(), 2);
    out[16] = ':';
    put(17, static_cast<long>(hms.seconds().count()), 2);
    out[19] = '.';
    put(20, frac, 6);
    out[26] = 'Z';
    return out;
}

bool parse_rfc3339(std::string_view s, micros& out) {
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    auto digits = [&](std::size_t pos, std::size_t n, int& v) {
        if (pos + n > s.size()) return false;
        v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            v = v * 10 + (s[i] - '0');
        }
        return true;
    };
    int Y, M, D, h, m, sec;
    if (!digits(0, 4, Y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, M) || s[7] != '-' || !digits(8, 2, D) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, m) ||
        s[16] != ':' || !digits(17, 2, sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 60) return false;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > mdays[M - 1] + (M == 2 && leap ? 1 : 0)) return false;
    std::size_t pos = 19;
    long frac = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 6) {
                frac = frac * 10 + (s[pos] - '0');
                ++n;
            }
            ++pos;
        }
        if (n == 0) return false;
        while (n < 6) {
            frac *= 10;
            ++n;
        }
    }
    long offset = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(pos + 4, 2, om))
            return false;
        offset = (oh * 3600L + om * 60L) * (s[pos] == '+' ? 1 : -1);
        pos += 6;
    } else {
        return false;
    }
    if (pos != s.size()) return false;
    // days from civil (Howard Hinnant)
    int y = Y - (M <= 2);
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * static_cast<unsigned>(M + (M > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(D) - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    long days = era * 146097L + static_cast<long>(doe) - 719468L;
    long secs = days * 86400L + h * 3600L + m * 60L + sec - offset;
    out = static_cast<micros>(secs) * 1000000 + frac;
    return true;
}

}  // namespace carelog
